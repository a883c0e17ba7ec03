import { describe, expect, it } from 'vitest';
import { HeuristicDetector } from '../../src/detectors/heuristic.js';
import { checkBatch, topK } from '../../src/detectors/detector.js';
import { SentinelError } from '../../src/errors.js';
import { makeBatch } from './batch-helpers.js';
import { META_STRIDE } from '../../src/binding.js';

const id = { version: 'heuristic-v1', sha256: 'a'.repeat(64) };

describe('HeuristicDetector', () => {
  it('scores meta[i*4], clamped to [0, 1], NaN as 0, only the first n rows', async () => {
    const d = new HeuristicDetector(id);
    const b = makeBatch([0, 0.25, 1, 0.999], [], [], 2);
    b.meta[4 * META_STRIDE] = 0.7; // spare row, not part of the batch
    const out = new Float32Array(6).fill(-1);
    await d.score(b, out);
    expect(Array.from(out)).toEqual([0, 0.25, 1, Math.fround(0.999), -1, -1]);
    const odd = makeBatch([1.5, -0.5, Number.NaN]);
    const o2 = new Float32Array(3);
    await d.score(odd, o2);
    expect(Array.from(o2)).toEqual([1, 0, 0]);
  });

  it('takes name, version and sha256 from its manifest', () => {
    const d = new HeuristicDetector(id);
    expect([d.name, d.version, d.sha256]).toEqual(['heuristic', 'heuristic-v1', 'a'.repeat(64)]);
    expect(() => new HeuristicDetector({ version: '', sha256: 'a'.repeat(64) })).toThrow(SentinelError);
    expect(() => new HeuristicDetector({ version: 'v', sha256: 'XYZ' })).toThrow(/sha256/);
  });

  it('explains with the top-k positive contributions, descending, ties in name order', () => {
    const d = new HeuristicDetector(id);
    const names = ['a', 'b', 'c', 'd', 'e'];
    const b = makeBatch([0.5, 0.9], names, [
      [0.1, 0, 0.5, 0.5, -1],
      [0.3, 0.2, 0.1, 0, 0.9],
    ]);
    expect(d.explain(b, 0, 3)).toEqual([
      { name: 'c', value: 0.5 },
      { name: 'd', value: 0.5 },
      { name: 'a', value: Math.fround(0.1) },
    ]);
    expect(d.explain(b, 0, 10).map((c) => c.name)).toEqual(['c', 'd', 'a']);
    expect(d.explain(b, 1, 2).map((c) => c.name)).toEqual(['e', 'a']);
    expect(d.explain(b, 1, 0)).toEqual([]);
  });

  it('refuses a row outside the batch, a bad k and short arrays', async () => {
    const d = new HeuristicDetector(id);
    const b = makeBatch([0.5], ['a'], [[1]]);
    expect(() => d.explain(b, 1, 3)).toThrow(SentinelError);
    expect(() => d.explain(b, 0, -1)).toThrow(/k must be/);
    await expect(d.score(b, new Float32Array(0))).rejects.toThrow(/output holds 0/);
    expect(() => checkBatch({ ...b, n: 2 })).toThrow(/ids/);
  });

  it('topK reads one row at an offset', () => {
    expect(topK(['x', 'y'], [9, 9, 1, 2], 2, 5)).toEqual([
      { name: 'y', value: 2 },
      { name: 'x', value: 1 },
    ]);
  });
});
