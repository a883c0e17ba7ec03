/** Pieces of the workload lab that need no mount: record decoding, files-lost accounting, ROC AUC. */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeEventBatches, fsEvent, HEADER_SIZE } from '../../src/protocol/index.js';
import { writeTraceLine } from '../../src/trace/parse.js';
import { decodeEventBatch } from '../../src/protocol/decode-events.js';
import { countLost } from '../../src/lab/runner.js';
import { createVictims } from '../../src/lab/victims.js';
import { rocAuc } from '../../src/lab/eval.js';

describe('lab building blocks', () => {
  it('decodeEventBatch inverts encodeEventBatches (trace lines identical)', () => {
    const events = [
      fsEvent({ pid: 42, ppid: 7, uid: 1000, sid: 42, start: 123456n, ts: 1700000000123456789n, comm: 'node', op: 'write', path: '/m/a.txt', offset: 4096n, len: 512n, size: 8192n, entropy: 7.5, sample: new Uint8Array([1, 2, 3]), headerBefore: new Uint8Array([0x25, 0x50]) }),
      fsEvent({ pid: 43, op: 'rename', path: '/m/a.txt', path2: '/m/a.txt.locked', result: -1, comm: 'x' }),
      fsEvent({ pid: 44, op: 'close', path: '/m/b', flags: 0o101, headerAfter: new Uint8Array(256).fill(9) }),
    ];
    const { bytes, frames } = encodeEventBatches(events, 1);
    expect(frames).toBe(1);
    const decoded = decodeEventBatch(bytes.subarray(HEADER_SIZE));
    expect(decoded.map(writeTraceLine)).toEqual(events.map(writeTraceLine));
    expect(() => decodeEventBatch(bytes.subarray(HEADER_SIZE, bytes.length - 1))).toThrow();
  });

  it('a victim is lost when its bytes are gone, not when it is only renamed', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-lablost-'));
    try {
      const v = createVictims(dir, { seed: 5, files: 6, sizeScale: 0.05 });
      expect(v).toHaveLength(6);
      expect(countLost(dir, v)).toBe(0);
      const [a, b, c] = v as [typeof v[0], typeof v[0], typeof v[0]];
      renameSync(path.join(dir, a.rel), path.join(dir, a.rel + '.locked'));
      expect(countLost(dir, v)).toBe(0);
      writeFileSync(path.join(dir, b.rel), 'overwritten');
      unlinkSync(path.join(dir, c.rel));
      expect(countLost(dir, v)).toBe(2);
      // Deterministic from the seed (the SQLite file aside, whose header carries a library version).
      const again = path.join(dir, 'again');
      expect(createVictims(again, { seed: 5, files: 6, sizeScale: 0.05 }).filter((x) => x.kind !== 'sqlite').map((x) => x.sha256)).toEqual(v.filter((x) => x.kind !== 'sqlite').map((x) => x.sha256));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rocAuc: perfect, inverted, ties, chance', () => {
    expect(rocAuc([0.9, 0.8], [0.1, 0.2])).toBe(1);
    expect(rocAuc([0.1], [0.9])).toBe(0);
    expect(rocAuc([0.5, 0.5], [0.5, 0.5])).toBe(0.5);
    expect(rocAuc([0.9, 0.3], [0.5, 0.1])).toBe(0.75);
    expect(rocAuc([], [0.1])).toBeNull();
  });
});
