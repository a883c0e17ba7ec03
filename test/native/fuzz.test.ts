/**
 * Robustness: mutated and random byte streams, cut at random places, never crash the engine,
 * and its counters stay consistent (every decoded record is accepted or rejected, errors by
 * code add up). Deterministic (seeded).
 */
import { describe, expect, it } from 'vitest';
import { Role, encodeEventBatches, encodeHello, encodeVerdictQuery, fsEvent } from '../../src/protocol/index.js';
import { T0, newEngine, prng } from './helpers.js';

function baseStream(r: () => number): Buffer {
  const events = Array.from({ length: 40 }, (_, i) =>
    fsEvent({
      ts: T0 + BigInt(i) * 1_000_000n,
      pid: 100 + (r() % 5),
      sid: r() % 3,
      ppid: r() % 4,
      op: (['read', 'write', 'create', 'rename', 'unlink', 'truncate'] as const)[r() % 6] as 'read',
      path: `/f/${r() % 9}.${['doc', 'x1', 'txt'][r() % 3]}`,
      path2: `/f/${r() % 9}.zz`,
      entropy: r() % 2 ? (r() % 80) / 10 : undefined,
      sample: r() % 4 === 0 ? new Uint8Array(300).map(() => r() & 0xff) : undefined,
      headerBefore: r() % 5 === 0 ? new Uint8Array(40).map(() => r() & 0xff) : undefined,
      headerAfter: r() % 5 === 0 ? new Uint8Array(40).map(() => r() & 0xff) : undefined,
    }),
  );
  return Buffer.concat([
    encodeHello(1, Role.Events | Role.Query | Role.Acks | Role.Subscribe, 1, 'fuzz'),
    encodeEventBatches(events, 2, 2048).bytes,
    encodeVerdictQuery(99, [{ pid: 100, start: 0n }]),
  ]);
}

describe('fuzz', () => {
  it('mutated streams in random chunks: no crash, consistent counters', () => {
    for (let iter = 0; iter < 400; iter++) {
      const r = prng(1000 + iter);
      const s = Buffer.from(baseStream(r));
      // Mutate: flip bytes, but mostly leave the first frame (HELLO) alone.
      const flips = 1 + (r() % 6);
      for (let k = 0; k < flips; k++) {
        const at = 26 + (r() % (s.length - 26));
        s[at] = r() & 0xff;
      }
      const e = newEngine({ maxSubjects: 16, dueEveryEvents: 2 });
      const c = e.openConnection(0);
      let accepted = 0;
      let rejected = 0;
      let fatal = 0;
      for (let at = 0; at < s.length; ) {
        const n = 1 + (r() % 700);
        const res = e.ingest(c, s.subarray(at, at + n));
        accepted += res.accepted;
        rejected += res.rejected;
        if (res.fatal) fatal = res.fatal;
        at += n;
      }
      const st = e.stats();
      expect(st.eventsAccepted).toBe(accepted);
      expect(st.eventsRejected).toBe(rejected);
      expect(st.errorsByCode[6] ?? 0).toBe(rejected);
      expect(st.subjectsLive).toBeLessThanOrEqual(16);
      if (fatal) expect([1, 2, 3, 7]).toContain(fatal);
      const ids = new Uint32Array(64);
      e.collectDue(ids, new Float32Array(64 * 80), new Float32Array(64 * 20), new Float64Array(64 * 8));
      e.encodeStatePush(1);
      e.closeConnection(c);
    }
  });

  it('pure random bytes: fatal or nothing, never a crash', () => {
    for (let iter = 0; iter < 200; iter++) {
      const r = prng(5000 + iter);
      const e = newEngine();
      const c = e.openConnection(0);
      const hello = iter % 2 === 0;
      if (hello) e.ingest(c, encodeHello(1, 0xf, 1, 'x'));
      const junk = new Uint8Array(1 + (r() % 5000)).map(() => r() & 0xff);
      const res = e.ingest(c, junk);
      expect(res.accepted).toBe(0);
      if (res.fatal) expect([1, 2, 3, 7]).toContain(res.fatal);
    }
  });
});
