import { describe, expect, it } from 'vitest';
import { Fusion, logit, sigmoid, type FusionModel } from '../../src/fusion/fusion.js';
import { HeuristicDetector } from '../../src/detectors/heuristic.js';
import { SentinelError } from '../../src/errors.js';
import { fixedDetector, makeBatch } from './batch-helpers.js';

const heuristic = (): HeuristicDetector => new HeuristicDetector({ version: 'heuristic-v1', sha256: 'a'.repeat(64) });
const model = (weights: Record<string, number>, bias = 0): FusionModel => ({ version: 'fusion-test', sha256: 'f'.repeat(64), bias, weights });

function configError(fn: () => unknown, match: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SentinelError);
    expect((err as SentinelError).code).toBe('SENTINEL_E_CONFIG');
    expect((err as SentinelError).message).toMatch(match);
    return;
  }
  throw new Error('expected SENTINEL_E_CONFIG');
}

describe('Fusion', () => {
  it('bias 0 and heuristic weight 1 reproduce the heuristic score exactly, including 0 and 1', async () => {
    const scores = [0, 1e-9, 0.1, 0.5, 0.73, 0.999999, 1];
    const f = new Fusion([heuristic()], model({ heuristic: 1 }));
    const b = makeBatch(scores);
    const { fused, perDetector } = await f.score(b);
    expect(Array.from(fused)).toEqual(scores.map(Math.fround));
    expect(Array.from(perDetector.get('heuristic') ?? [])).toEqual(scores.map(Math.fround));
    expect(fused).not.toBe(perDetector.get('heuristic'));
  });

  it('the general formula with one weight-1 detector is the clamped identity', async () => {
    // A zero-weight second detector forces the general path.
    const f = new Fusion([heuristic(), fixedDetector('other', [0.9, 0.9, 0.9])], model({ heuristic: 1, other: 0 }));
    const { fused } = await f.score(makeBatch([0, 0.3, 1]));
    expect(fused[0]).toBeCloseTo(1e-6, 9);
    expect(fused[1]).toBe(Math.fround(0.3));
    expect(fused[2]).toBeCloseTo(1 - 1e-6, 6);
  });

  it('combines two detectors in logit space', async () => {
    const f = new Fusion([heuristic(), fixedDetector('iforest', [0.2, 0.9])], model({ heuristic: 0.5, iforest: 2 }, -0.25));
    const { fused, perDetector } = await f.score(makeBatch([0.8, 0.4]));
    const want = (h: number, i: number): number => Math.fround(sigmoid(-0.25 + 0.5 * logit(Math.fround(h)) + 2 * logit(Math.fround(i))));
    expect(fused[0]).toBe(want(0.8, 0.2));
    expect(fused[1]).toBe(want(0.4, 0.9));
    expect(Array.from(perDetector.keys())).toEqual(['heuristic', 'iforest']);
    expect(fused[1]).toBeGreaterThan(0.9);
  });

  it('explains across detectors by weighted value, descending, cut to k', () => {
    const names = ['entropy', 'rename', 'decoy'];
    const b = makeBatch([0.9], names, [[0.4, 0.1, 0.3]]);
    const f = new Fusion([heuristic(), fixedDetector('seq', [], [{ name: 'gru', value: 0.3 }, { name: 'tiny', value: 0.01 }]), fixedDetector('shadow', [], [{ name: 'x', value: 100 }])], model({ heuristic: 1, seq: 2, shadow: 0 }));
    expect(f.explain(b, 0, 3)).toEqual([
      { detector: 'seq', name: 'gru', value: 0.6 },
      { detector: 'heuristic', name: 'entropy', value: Math.fround(0.4) },
      { detector: 'heuristic', name: 'decoy', value: Math.fround(0.3) },
    ]);
    expect(f.explain(b, 0, 1)).toHaveLength(1);
    expect(() => f.explain(b, 1, 3)).toThrow(SentinelError);
  });

  it('reports every model hash, fusion included', () => {
    const f = new Fusion([heuristic(), fixedDetector('iforest', [], [], 'c'.repeat(64))], model({ heuristic: 1, iforest: 1 }));
    expect(f.modelHashes()).toEqual({ heuristic: 'a'.repeat(64), iforest: 'c'.repeat(64), fusion: 'f'.repeat(64) });
    expect(f.version).toBe('fusion-test');
  });

  it('refuses unknown weights, unweighted detectors and other bad models', () => {
    configError(() => new Fusion([heuristic()], model({ heuristic: 1, gru: 1 })), /unknown detector "gru"/);
    configError(() => new Fusion([heuristic(), fixedDetector('gru', [])], model({ heuristic: 1 })), /"gru" has no weight/);
    configError(() => new Fusion([heuristic(), heuristic()], model({ heuristic: 1 })), /two detectors/);
    configError(() => new Fusion([], model({})), /at least one/);
    configError(() => new Fusion([heuristic()], model({ heuristic: Number.NaN })), /finite/);
    configError(() => new Fusion([heuristic()], model({ heuristic: 1 }, Number.POSITIVE_INFINITY)), /bias/);
    configError(() => new Fusion([fixedDetector('fusion', [])], model({ fusion: 1 })), /may not be named/);
    configError(() => new Fusion([heuristic()], { ...model({ heuristic: 1 }), sha256: 'nope' }), /sha256/);
  });

  it('rejects when a detector fails', async () => {
    const bad = { ...fixedDetector('bad', []), score: () => Promise.reject(new SentinelError('SENTINEL_E_IO', 'model crashed')) };
    const f = new Fusion([heuristic(), bad], model({ heuristic: 1, bad: 1 }));
    await expect(f.score(makeBatch([0.5]))).rejects.toThrow('model crashed');
  });

  it('rejects a detector score outside [0, 1], naming the detector and row', async () => {
    const f = new Fusion([heuristic(), fixedDetector('broken', [0.5, Number.NaN])], model({ heuristic: 1, broken: 1 }));
    await expect(f.score(makeBatch([0.5, 0.5]))).rejects.toThrow(/detector "broken" scored row 1 as NaN/);
    const g = new Fusion([fixedDetector('big', [1.5])], model({ big: 1 }));
    await expect(g.score(makeBatch([0.5]))).rejects.toMatchObject({ code: 'SENTINEL_E_INVALID_ARGUMENT' });
  });

  it('handles an empty batch', async () => {
    const f = new Fusion([heuristic()], model({ heuristic: 1 }));
    const { fused } = await f.score(makeBatch([]));
    expect(fused.length).toBe(0);
  });
});
