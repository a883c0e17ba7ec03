/**
 * The plain-TypeScript mirror (bench/ts-features.ts) and the native engine compute the same
 * rows from the same binary frames (no content samples): ids, feature rows (exactly, float32),
 * heuristic scores, global indices, evictions. Each side is a check on the other.
 */
import { describe, expect, it } from 'vitest';
import { encodeWorkload, makeEvents } from '../../bench/cases/native.js';
import { CONTRIBUTION_NAMES, FEATURE_COUNT, FEATURE_NAMES, TsFeatureEngine } from '../../bench/ts-features.js';
import { fsEvent, type FsEvent } from '../../src/protocol/index.js';
import { A, CONTRIBS, FEATURES } from './helpers.js';
import { META_STRIDE } from '../../src/binding.js';

/** Ransomware-like bursts (no samples) so the rarer counters and the heuristic are exercised. */
function bursts(t0Sec: number, n: number): FsEvent[] {
  const out: FsEvent[] = [];
  let ts = BigInt(t0Sec) * 1_000_000_000n;
  for (let i = 0; i < n; i++) {
    const pid = 90_000 + (i % 3);
    const f = `/home/v/docs/d${i % 5}/file${i}.docx`;
    const step = (op: FsEvent['op'], extra: Partial<FsEvent> = {}): void => {
      ts += 3_000_000n;
      out.push(fsEvent({ ts, pid, ppid: 1, sid: 4444, op, path: f, ...extra }));
    };
    step('read', { entropy: 4.1 });
    step('write', { entropy: 7.95, len: 65536n });
    if (i % 2) step('rename', { path2: `${f}.q${i % 4}z` });
    else {
      step('create', { path: `${f}.enc${i % 3}` });
      step('unlink');
    }
    if (i % 4 === 0) step('create', { path: `/home/v/docs/d${i % 5}/READ_ME.txt` });
    if (i % 7 === 0) step('truncate');
  }
  return out;
}

function compare(events: FsEvent[], opts: { dueEveryEvents: number; dueEveryMs: number; triggerScore: number; maxSubjects: number; idleEvictMs: number }): { rows: number; evicted: number } {
  const w = encodeWorkload(events, 16 * 1024);
  const nat = new A.Engine(opts);
  const conn = nat.openConnection(0);
  const ts = new TsFeatureEngine(opts);
  const cap = 4096;
  const F = FEATURE_COUNT;
  const C = CONTRIBUTION_NAMES.length;
  const bufs = () => ({ ids: new Uint32Array(cap), rows: new Float32Array(cap * F), contrib: new Float32Array(cap * C), meta: new Float64Array(cap * META_STRIDE) });
  const a = bufs();
  const b = bufs();
  let rows = 0;
  for (const chunk of w.chunks) {
    nat.ingest(conn, chunk);
    ts.ingest(chunk);
    expect(ts.subjectsLive).toBe(nat.stats().subjectsLive);
    expect(ts.dueCount).toBe(nat.stats().dueSubjects);
    const na = nat.collectDue(a.ids, a.rows, a.contrib, a.meta);
    const nb = ts.collectDue(b.ids, b.rows, b.contrib, b.meta);
    expect(nb).toBe(na);
    expect(Array.from(b.ids.subarray(0, nb))).toEqual(Array.from(a.ids.subarray(0, na)));
    for (let i = 0; i < na; i++) {
      const ra = a.rows.subarray(i * F, (i + 1) * F);
      const rb = b.rows.subarray(i * F, (i + 1) * F);
      for (let k = 0; k < F; k++) {
        if (ra[k] !== rb[k]) throw new Error(`subject ${a.ids[i]}: ${FEATURE_NAMES[k]} native ${ra[k]} vs ts ${rb[k]}`);
      }
      expect(b.meta[i * META_STRIDE]).toBeCloseTo(a.meta[i * META_STRIDE] as number, 5);
      expect(b.meta[i * META_STRIDE + 2]).toBe(a.meta[i * META_STRIDE + 2]);
      expect(b.meta[i * META_STRIDE + 3]).toBe(a.meta[i * META_STRIDE + 3])
      expect(b.meta[i * META_STRIDE + 4]).toBe(a.meta[i * META_STRIDE + 4]);
      for (let k = 0; k < C; k++) expect(b.contrib[i * C + k]).toBeCloseTo(a.contrib[i * C + k] as number, 5);
    }
    rows += na;
  }
  expect(ts.accepted).toBe(nat.stats().eventsAccepted);
  expect(ts.evicted).toBe(nat.stats().subjectsEvicted);
  return { rows, evicted: ts.evicted };
}

describe('TypeScript mirror == native (no samples)', () => {
  it('has the same schema', () => {
    expect(FEATURE_NAMES).toEqual(FEATURES);
    expect([...CONTRIBUTION_NAMES]).toEqual(CONTRIBS);
  });

  it('same rows on a realistic stream with bursts, window expiry and many subjects', () => {
    const events = [
      ...makeEvents(12_000, { samples: false, processes: 400, sessions: 40, meanStepNs: 400_000 }),
      ...bursts(1_700_000_006, 60),
      ...makeEvents(6_000, { samples: false, processes: 400, sessions: 40, seed: 9, t0Sec: 1_700_000_080, meanStepNs: 2_000_000 }),
    ];
    const r = compare(events, { dueEveryEvents: 16, dueEveryMs: 500, triggerScore: 0.6, maxSubjects: 100_000, idleEvictMs: 60_000 });
    expect(r.rows).toBeGreaterThan(1000);
  });

  it('same rows without sessions (trees keyed by parent, children of init as their own roots)', () => {
    const events = makeEvents(8_000, { samples: false, processes: 500, sessions: 0, meanStepNs: 300_000 });
    expect(events.some((e) => e.ppid === 1)).toBe(true);
    const r = compare(events, { dueEveryEvents: 8, dueEveryMs: 1000, triggerScore: 0.8, maxSubjects: 100_000, idleEvictMs: 60_000 });
    expect(r.rows).toBeGreaterThan(500);
  });

  it('same rows and evictions when the subject table is full', () => {
    const events = [...makeEvents(8_000, { samples: false, processes: 300, sessions: 60, meanStepNs: 300_000 }), ...bursts(1_700_000_003, 30)];
    const r = compare(events, { dueEveryEvents: 8, dueEveryMs: 1000, triggerScore: 0.8, maxSubjects: 64, idleEvictMs: 500 });
    expect(r.evicted).toBeGreaterThan(100);
  });
});
