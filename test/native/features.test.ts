import { describe, expect, it } from 'vitest';
import { A, at, collect, connect, feat, newEngine, processRow, randomBytes, sendEvents, textBytes, type DueRow } from './helpers.js';
import type { FsEvent } from '../../src/protocol/index.js';

/** Feeds the events in one batch and returns the final row of process `pid`. */
function rowAfter(events: FsEvent[], pid = events[0]?.pid ?? 0, setup?: (e: ReturnType<typeof newEngine>) => void): DueRow {
  const e = newEngine();
  setup?.(e);
  const c = connect(e);
  const res = sendEvents(e, c, events);
  expect(res.rejected).toBe(0);
  return processRow(collect(e), pid);
}

/** Feeds each event in its own batch and returns the process row after each. */
function rowsAfterEach(events: FsEvent[], pid: number): DueRow[] {
  const e = newEngine();
  const c = connect(e);
  return events.map((ev, i) => {
    sendEvents(e, c, [ev], i + 10);
    return processRow(collect(e), pid);
  });
}

describe('sampleStats', () => {
  it('matches Shannon entropy and chi-square computed in JS', () => {
    for (const sample of [randomBytes(4096, 1), textBytes(1000), new Uint8Array(300).fill(7), randomBytes(17, 3)]) {
      const h = new Array<number>(256).fill(0);
      for (const b of sample) h[b]!++;
      const n = sample.length;
      let ent = 0;
      let chi = 0;
      for (const c of h) {
        if (c) ent -= (c / n) * Math.log2(c / n);
        chi += (c - n / 256) ** 2 / (n / 256);
      }
      const s = A.sampleStats(sample);
      expect(s.entropy).toBeCloseTo(ent, 4);
      expect(s.chiSquare / chi).toBeCloseTo(1, 4);
    }
    expect(A.sampleStats(new Uint8Array(0))).toEqual({ entropy: 0, chiSquare: 0 });
  });
});

describe('per-window features on crafted sequences', () => {
  it('3 writes of known entropy: counts, bytes, mean entropy, high-entropy writes, distinct files', () => {
    const r = rowAfter([
      at(0, { pid: 10, op: 'write', path: '/d/a', len: 100n, entropy: 6 }),
      at(10, { pid: 10, op: 'write', path: '/d/b', len: 200n, entropy: 7 }),
      at(20, { pid: 10, op: 'write', path: '/d/a', len: 300n, entropy: 8 }),
    ]);
    for (const w of ['w1s', 'w10s', 'w60s']) {
      expect(feat(r, `${w}.ops`)).toBe(3);
      expect(feat(r, `${w}.writes`)).toBe(3);
      expect(feat(r, `${w}.reads`)).toBe(0);
      expect(feat(r, `${w}.write_bytes`)).toBe(600);
      expect(feat(r, `${w}.mean_entropy`)).toBeCloseTo(7, 5);
      expect(feat(r, `${w}.high_entropy_writes`)).toBe(1);
      expect(feat(r, `${w}.distinct_files`)).toBe(2);
      expect(feat(r, `${w}.distinct_dirs`)).toBe(1);
    }
    expect(feat(r, 'life.events')).toBe(3);
    expect(feat(r, 'life.age_s')).toBeCloseTo(0.02, 6);
    expect(feat(r, 'life.files_written')).toBe(2);
    expect(feat(r, 'life.high_entropy_writes')).toBe(1);
  });

  it('takes entropy from the sample when the record has none; uniform writes need >= 256 random bytes', () => {
    const allBytes = new Uint8Array(4096).map((_, i) => i & 0xff);
    const text = textBytes(4096);
    const r = rowAfter([
      at(0, { pid: 11, op: 'write', path: '/s/a', sample: allBytes }),
      at(1, { pid: 11, op: 'write', path: '/s/b', sample: text }),
      at(2, { pid: 11, op: 'write', path: '/s/c', sample: randomBytes(4096, 9) }),
      at(3, { pid: 11, op: 'write', path: '/s/d', sample: randomBytes(100, 9) }),
    ]);
    const expected = (8 + A.sampleStats(text).entropy + A.sampleStats(randomBytes(4096, 9)).entropy + A.sampleStats(randomBytes(100, 9)).entropy) / 4;
    expect(feat(r, 'w1s.mean_entropy')).toBeCloseTo(expected, 3);
    expect(feat(r, 'w1s.uniform_writes')).toBe(2); // all-bytes (chi2 0) and 4 KiB random; not text, not 100 bytes
    expect(feat(r, 'w1s.high_entropy_writes')).toBe(2);
  });

  it('record entropy field wins over the sample for entropy', () => {
    const r = rowAfter([at(0, { pid: 12, op: 'write', path: '/e/a', entropy: 1.5, sample: randomBytes(4096, 2) })]);
    expect(feat(r, 'w1s.mean_entropy')).toBeCloseTo(1.5, 5);
    expect(feat(r, 'w1s.high_entropy_writes')).toBe(0);
    expect(feat(r, 'w1s.uniform_writes')).toBe(1);
  });

  it('renames: extension changes and rare extensions', () => {
    const r = rowAfter([
      at(0, { pid: 13, op: 'rename', path: '/h/a.docx', path2: '/h/a.docx.k3x9q' }),
      at(1, { pid: 13, op: 'rename', path: '/h/b.txt', path2: '/h/c.TXT' }),
      at(2, { pid: 13, op: 'rename', path: '/h/d.tmp', path2: '/h/d.so' }),
      at(3, { pid: 13, op: 'create', path: '/h/e.weird1' }),
      at(4, { pid: 13, op: 'create', path: '/h/f.pdf' }),
      at(5, { pid: 13, op: 'rename', path: '/h/g', path2: '/h/.hidden' }),
    ]);
    expect(feat(r, 'w1s.renames')).toBe(4);
    expect(feat(r, 'w1s.ext_changes')).toBe(2); // docx -> k3x9q, tmp -> so (txt -> TXT is the same; none -> none)
    expect(feat(r, 'w1s.rare_ext')).toBe(2); // k3x9q, weird1
    expect(feat(r, 'w1s.creates')).toBe(2);
    expect(feat(r, 'life.ext_changes')).toBe(2);
  });

  it('an extension stops being rare after 32 sightings engine-wide', () => {
    const e = newEngine();
    const c = connect(e);
    sendEvents(e, c, Array.from({ length: 20 }, (_, i) => at(i, { pid: 14, op: 'create', path: `/x/${i}.zzq` })));
    sendEvents(e, c, Array.from({ length: 20 }, (_, i) => at(100 + i, { pid: 15, op: 'create', path: `/y/${i}.ZZQ` })));
    const rows = collect(e);
    expect(feat(processRow(rows, 14), 'w1s.rare_ext')).toBe(20);
    expect(feat(processRow(rows, 15), 'w1s.rare_ext')).toBe(12);
  });

  it('windows expire on event time: 1 s, 10 s and 60 s', () => {
    const r = rowsAfterEach(
      [
        at(0, { pid: 20, op: 'write', path: '/w/a', entropy: 7.5 }),
        at(950, { pid: 20, op: 'read', path: '/w/b' }),
        at(1000, { pid: 20, op: 'read', path: '/w/c' }),
        at(1500, { pid: 20, op: 'read', path: '/w/b' }),
        at(12_000, { pid: 20, op: 'read', path: '/w/c' }),
        at(70_000, { pid: 20, op: 'read', path: '/w/a' }),
      ],
      20,
    );
    const f = (i: number, n: string): number => feat(r[i] as DueRow, n);
    expect(f(1, 'w1s.ops')).toBe(2);
    expect(f(2, 'w1s.ops')).toBe(2); // t=0 fell out of [100 ms, 1100 ms)
    expect(f(2, 'w1s.writes')).toBe(0);
    expect(f(2, 'w1s.mean_entropy')).toBe(0);
    expect(f(2, 'w10s.writes')).toBe(1);
    expect(f(3, 'w1s.ops')).toBe(3); // 950, 1000, 1500 are in [600 ms, 1600 ms)
    expect(f(3, 'w10s.ops')).toBe(4);
    expect(f(3, 'w10s.mean_entropy')).toBeCloseTo(7.5, 5);
    expect(f(4, 'w10s.ops')).toBe(1);
    expect(f(4, 'w10s.writes')).toBe(0);
    expect(f(4, 'w60s.ops')).toBe(5);
    expect(f(4, 'w60s.writes')).toBe(1);
    expect(f(5, 'w60s.ops')).toBe(1);
    expect(f(5, 'w60s.writes')).toBe(0);
    expect(f(5, 'w60s.distinct_files')).toBe(1);
    expect(f(5, 'w10s.ops')).toBe(1);
    expect(f(5, 'life.events')).toBe(6);
    expect(f(5, 'life.age_s')).toBeCloseTo(70, 5);
  });

  it('distinct files and dirs count a path again once its last touch left the window', () => {
    const r = rowsAfterEach(
      [
        at(0, { pid: 30, op: 'read', path: '/a/x' }),
        at(10, { pid: 30, op: 'read', path: '/a/y' }),
        at(20, { pid: 30, op: 'read', path: '/a/x' }),
        at(30, { pid: 30, op: 'read', path: '/b/z' }),
        at(1500, { pid: 30, op: 'read', path: '/a/x' }),
      ],
      30,
    );
    expect(feat(r[3] as DueRow, 'w1s.distinct_files')).toBe(3);
    expect(feat(r[3] as DueRow, 'w1s.distinct_dirs')).toBe(2);
    expect(feat(r[4] as DueRow, 'w1s.distinct_files')).toBe(1);
    expect(feat(r[4] as DueRow, 'w1s.distinct_dirs')).toBe(1);
    expect(feat(r[4] as DueRow, 'w10s.distinct_files')).toBe(3);
    expect(feat(r[4] as DueRow, 'w10s.distinct_dirs')).toBe(2);
  });

  it('read_then_overwrite counts each read file once, for writes and truncates', () => {
    const r = rowAfter([
      at(0, { pid: 40, op: 'read', path: '/r/a' }),
      at(1, { pid: 40, op: 'write', path: '/r/a' }),
      at(2, { pid: 40, op: 'write', path: '/r/a' }),
      at(3, { pid: 40, op: 'write', path: '/r/b' }),
      at(4, { pid: 40, op: 'truncate', path: '/r/c' }),
      at(5, { pid: 40, op: 'read', path: '/r/d' }),
      at(6, { pid: 40, op: 'truncate', path: '/r/d' }),
      at(7, { pid: 40, op: 'read', path: '/r/e' }),
      at(8, { pid: 40, op: 'rename', path: '/r/e', path2: '/r/e2' }),
      at(9, { pid: 40, op: 'write', path: '/r/e2' }),
    ]);
    expect(feat(r, 'w1s.read_then_overwrite')).toBe(3); // a, d, e (via its rename to e2)
    expect(feat(r, 'w1s.writes')).toBe(4);
    expect(feat(r, 'w1s.truncates')).toBe(2);
    expect(feat(r, 'life.read_then_overwrite')).toBe(3);
  });

  it('create_then_delete: unlink of a read file while other files were written', () => {
    const r = rowAfter([
      at(0, { pid: 50, op: 'read', path: '/c/orig.doc' }),
      at(1, { pid: 50, op: 'unlink', path: '/c/orig.doc' }), // nothing else written yet
      at(2, { pid: 50, op: 'read', path: '/c/o2.doc' }),
      at(3, { pid: 50, op: 'create', path: '/c/o2.doc.enc' }),
      at(4, { pid: 50, op: 'write', path: '/c/o2.doc.enc', entropy: 7.99 }),
      at(5, { pid: 50, op: 'unlink', path: '/c/o2.doc' }),
      at(6, { pid: 50, op: 'unlink', path: '/c/never-read' }),
    ]);
    expect(feat(r, 'w1s.create_then_delete')).toBe(1);
    expect(feat(r, 'w1s.unlinks')).toBe(3);
  });

  it('note_spread: the same note basename created in >= 3 directories', () => {
    const note = (ms: number, dir: string): FsEvent => at(ms, { pid: 60, op: 'create', path: `${dir}/HOW_TO_DECRYPT.txt` });
    const r = rowAfter([
      note(0, '/n/1'),
      note(1, '/n/2'),
      at(2, { pid: 60, op: 'create', path: '/n/1/index.js' }),
      at(3, { pid: 60, op: 'create', path: '/n/2/index.js' }),
      at(4, { pid: 60, op: 'create', path: '/n/3/index.js' }),
      note(5, '/n/3'),
      note(6, '/n/4'),
      note(7, '/n/1'),
    ]);
    expect(feat(r, 'w1s.note_spread')).toBe(3);
    expect(feat(r, 'w1s.creates')).toBe(8);
  });

  it('decoy touches (path or path2) count and make the subject due at once', () => {
    const e = newEngine({ dueEveryEvents: 1000, dueEveryMs: 1e9 });
    e.setDecoys(['/home/u/Documents/.~canary.docx', '/srv/decoy.xlsx']);
    const c = connect(e);
    sendEvents(e, c, [at(0, { pid: 70, op: 'read', path: '/home/u/Documents/report.docx' })]);
    expect(e.stats().dueSubjects).toBe(0);
    sendEvents(e, c, [at(1, { pid: 70, op: 'read', path: '/home/u/Documents/.~canary.docx' })]);
    expect(e.stats().dueSubjects).toBe(2);
    sendEvents(e, c, [at(2, { pid: 70, op: 'rename', path: '/tmp/x', path2: '/srv/decoy.xlsx' }), at(3, { pid: 70, op: 'read', path: '/srv/decoy.xlsx.not' })]);
    const r = processRow(collect(e), 70);
    expect(feat(r, 'w1s.decoy_touches')).toBe(2);
    expect(feat(r, 'life.decoy_touches')).toBe(2);
    expect(r.score).toBeGreaterThan(0.95);
    e.setDecoys([]);
    sendEvents(e, c, [at(4, { pid: 70, op: 'read', path: '/srv/decoy.xlsx' })]);
  });

  it('type changes by magic class, and entropy rise against header_before or the last read', () => {
    const pdf = new Uint8Array(Buffer.from('%PDF-1.4\n%\u00e2\u00e3\n1 0 obj << /Type /Catalog >> endobj\n'.repeat(4), 'latin1'));
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Array<number>(56).fill(0)]);
    const rnd = randomBytes(256, 5);
    const text = textBytes(256);
    const r = rowAfter([
      at(0, { pid: 80, op: 'write', path: '/t/a.pdf', entropy: 7.95, headerBefore: pdf, headerAfter: rnd }), // type change + rise
      at(1, { pid: 80, op: 'write', path: '/t/b.png', entropy: 7.95, headerBefore: png, headerAfter: png }), // same class; rise (png header low entropy)
      at(2, { pid: 80, op: 'write', path: '/t/c.bin', entropy: 7.95, headerBefore: rnd, headerAfter: rnd }), // no rise (7.2 + 2 > 7.95)
      at(3, { pid: 80, op: 'read', path: '/t/d.txt', entropy: 4.2 }),
      at(4, { pid: 80, op: 'write', path: '/t/d.txt', entropy: 7.9 }), // rise against the read
      at(5, { pid: 80, op: 'write', path: '/t/e.txt', entropy: 7.9, headerBefore: text, headerAfter: text }), // rise, no type change
      at(6, { pid: 80, op: 'setattr', path: '/t/f.txt', headerBefore: text, headerAfter: pdf }), // text -> pdf: a change on any op
    ]);
    expect(feat(r, 'w1s.type_changes')).toBe(2);
    expect(feat(r, 'w1s.entropy_rise')).toBe(4);
  });

  it('encoded writes: base64 / hex of random data, not text or low-entropy base64', () => {
    const b64 = new Uint8Array(Buffer.from(Buffer.from(randomBytes(3000, 1)).toString('base64').slice(0, 4096)));
    const hex = new Uint8Array(Buffer.from(Buffer.from(randomBytes(2000, 2)).toString('hex')));
    const b64Lines = new Uint8Array(Buffer.from(Buffer.from(randomBytes(2000, 3)).toString('base64').replace(/(.{76})/g, '$1\n')));
    const zeros = new Uint8Array(Buffer.from(Buffer.alloc(3000).toString('base64')));
    const r = rowAfter([
      at(0, { pid: 90, op: 'write', path: '/b/1', sample: b64 }),
      at(1, { pid: 90, op: 'write', path: '/b/2', sample: hex }),
      at(2, { pid: 90, op: 'write', path: '/b/3', sample: b64Lines }),
      at(3, { pid: 90, op: 'write', path: '/b/4', sample: textBytes(4096) }),
      at(4, { pid: 90, op: 'write', path: '/b/5', sample: zeros }),
      at(5, { pid: 90, op: 'write', path: '/b/6', sample: b64.subarray(0, 100) }),
    ]);
    expect(feat(r, 'w1s.encoded_writes')).toBe(3);
    expect(feat(r, 'w1s.high_entropy_writes')).toBe(0); // base64 bytes are ~6 bits/byte: that is why the feature exists
  });

  it('collectDue meta: score, last ts in ms, global index, kind', () => {
    const e = newEngine();
    const c = connect(e);
    sendEvents(e, c, [at(0, { pid: 95, op: 'read', path: '/m/a' }), at(250.5, { pid: 96, op: 'read', path: '/m/b' }), at(300, { pid: 95, op: 'read', path: '/m/c' })]);
    const rows = collect(e);
    const p95 = processRow(rows, 95);
    const p96 = processRow(rows, 96);
    const tree = rows.find((r) => r.info.kind === 'tree') as DueRow;
    expect(p95.lastIndex).toBe(2);
    expect(p96.lastIndex).toBe(1);
    expect(tree.lastIndex).toBe(2);
    expect(p96.lastTsMs).toBe(1_700_000_000_000 + 250.5);
    expect(p95.kind).toBe(0);
    expect(tree.kind).toBe(1);
    expect(p95.score).toBeGreaterThanOrEqual(0);
    expect(p95.score).toBeLessThan(0.05);
    // Indices continue across connections.
    const c2 = connect(e);
    sendEvents(e, c2, [at(400, { pid: 97, op: 'read', path: '/m/d' })]);
    expect(processRow(collect(e), 97).lastIndex).toBe(3);
  });
});
