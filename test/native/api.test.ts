import { META_STRIDE } from '../../src/binding.js';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { A, CONTRIBS, at, collect, connect, newEngine, processRow, sendEvents } from './helpers.js';

describe('argument validation', () => {
  it('Engine options', () => {
    expect(() => new (A.Engine as unknown as new () => unknown)()).toThrow(TypeError);
    expect(() => new A.Engine(5 as never)).toThrow(TypeError);
    expect(() => new A.Engine({ maxSubjects: 'x' } as never)).toThrow(TypeError);
    expect(() => new A.Engine({ maxSubjects: 1 } as never)).toThrow(RangeError);
    expect(() => new A.Engine({ triggerScore: 2 } as never)).toThrow(RangeError);
    expect(() => new A.Engine({ dueEveryEvents: 0.5 } as never)).toThrow(RangeError);
    expect(() => new A.Engine({} as never)).not.toThrow();
  });

  it('connection and ingest arguments', () => {
    const e = newEngine();
    const c = e.openConnection(0);
    expect(() => e.openConnection('0' as never)).toThrow(TypeError);
    expect(() => e.ingest(c, 'abc' as never)).toThrow(TypeError);
    expect(() => e.ingest(c, new Uint16Array(4) as never)).toThrow(TypeError);
    expect(() => e.ingest(12345, new Uint8Array(4))).toThrow(RangeError);
    expect(() => e.ingest(-1, new Uint8Array(4))).toThrow(RangeError);
    expect(() => e.closeConnection(12345)).toThrow(RangeError);
    expect(e.ingest(c, new Uint8Array(0)).frames).toBe(0);
  });

  it('collectDue, setStates, verdict, subjectInfo, decoys, weights', () => {
    const e = newEngine();
    const c = connect(e);
    sendEvents(e, c, [at(0, { pid: 3, op: 'write', path: '/a' })]);
    const F = A.featureNames().length;
    const C = CONTRIBS.length;
    expect(() => e.collectDue(new Int32Array(2) as never, new Float32Array(2 * F), new Float32Array(2 * C), new Float64Array(8))).toThrow(TypeError);
    expect(() => e.collectDue(new Uint32Array(2), new Float64Array(2 * F) as never, new Float32Array(2 * C), new Float64Array(8))).toThrow(TypeError);
    expect(() => e.collectDue(new Uint32Array(2), new Float32Array(F), new Float32Array(2 * C), new Float64Array(8))).toThrow(RangeError);
    expect(() => e.collectDue(new Uint32Array(2), new Float32Array(2 * F), new Float32Array(C), new Float64Array(8))).toThrow(RangeError);
    expect(() => e.collectDue(new Uint32Array(2), new Float32Array(2 * F), new Float32Array(2 * C), new Float64Array(4))).toThrow(RangeError);
    expect(e.stats().dueSubjects).toBe(2); // nothing was taken by the failed calls
    expect(e.collectDue(new Uint32Array(2), new Float32Array(2 * F), new Float32Array(2 * C), new Float64Array(2 * META_STRIDE))).toBe(2);
    expect(() => e.setStates(new Uint32Array([1]), new Uint8Array([1, 2]))).toThrow(RangeError);
    expect(() => e.setStates(new Uint32Array([1]), new Uint8Array([4]))).toThrow(RangeError);
    expect(() => e.setStates([1] as never, new Uint8Array([1]))).toThrow(TypeError);
    expect(() => e.verdict('1' as never, 0)).toThrow(TypeError);
    expect(() => e.verdict(1, -1)).toThrow(RangeError);
    expect(() => e.verdict(1, 0.5)).toThrow(RangeError);
    expect(() => e.subjectInfo([1] as never)).toThrow(TypeError);
    expect(() => e.setDecoys('x' as never)).toThrow(TypeError);
    expect(() => e.setDecoys([1] as never)).toThrow(TypeError);
    expect(() => e.setDecoys([''])).toThrow(RangeError);
    expect(() => e.setHeuristicWeights(new Float64Array(C) as never)).toThrow(TypeError);
    expect(() => e.setHeuristicWeights(new Float32Array(C + 1))).toThrow(RangeError);
    expect(() => e.setHeuristicWeights(new Float32Array(C).fill(-1))).toThrow(RangeError);
    expect(() => e.setHeuristicWeights(new Float32Array(C).fill(NaN))).toThrow(RangeError);
    expect(() => e.encodeStatePush(-1)).toThrow(RangeError);
    expect(() => A.sampleStats([1, 2] as never)).toThrow(TypeError);
  });

  it('feature and contribution names are unique and stable in shape', () => {
    const f = A.featureNames();
    expect(new Set(f).size).toBe(f.length);
    for (const w of ['w1s', 'w10s', 'w60s']) for (const n of ['ops', 'write_bytes', 'mean_entropy', 'read_then_overwrite', 'decoy_touches']) expect(f).toContain(`${w}.${n}`);
    expect(f).toContain('life.events');
    expect(new Set(CONTRIBS).size).toBe(CONTRIBS.length);
  });
});

describe('heuristic weights', () => {
  const shipped = JSON.parse(readFileSync(new URL('../../models/heuristic/weights.json', import.meta.url), 'utf8')) as { version: string; contributions: Record<string, number> };

  function scenario(e: ReturnType<typeof newEngine>): ReturnType<typeof processRow> {
    const c = connect(e);
    const evs = [];
    for (let i = 0; i < 4; i++) {
      evs.push(at(i * 10, { pid: 9, op: 'read', path: `/w/${i}.doc` }));
      evs.push(at(i * 10 + 1, { pid: 9, op: 'write', path: `/w/${i}.doc`, entropy: 7.99 }));
      evs.push(at(i * 10 + 2, { pid: 9, op: 'rename', path: `/w/${i}.doc`, path2: `/w/${i}.doc.zz1` }));
      evs.push(at(i * 10 + 3, { pid: 9, op: 'unlink', path: `/w/x${i}` }));
    }
    sendEvents(e, c, evs);
    return processRow(collect(e), 9);
  }

  it('models/heuristic/weights.json names every contribution in order and equals the compiled defaults', () => {
    expect(shipped.version).toBe('heuristic-v2');
    expect(Object.keys(shipped.contributions)).toEqual(CONTRIBS);
    const def = scenario(newEngine());
    const e = newEngine();
    e.setHeuristicWeights(new Float32Array(CONTRIBS.map((n) => shipped.contributions[n] as number)));
    const loaded = scenario(e);
    expect(Array.from(loaded.contrib)).toEqual(Array.from(def.contrib));
    expect(def.score).toBeGreaterThan(0.5);
  });

  it('score = 1 - exp(-sum contributions); setHeuristicWeights replaces the weights', () => {
    const e = newEngine();
    const r = scenario(e);
    const sum = Array.from(r.contrib).reduce((a, b) => a + b, 0);
    expect(r.score).toBeCloseTo(1 - Math.exp(-sum), 5);
    for (const v of r.contrib) expect(v).toBeGreaterThanOrEqual(0);
    const e2 = newEngine();
    e2.setHeuristicWeights(new Float32Array(CONTRIBS.length));
    const z = scenario(e2);
    expect(z.score).toBe(0);
    expect(Array.from(z.contrib).every((v) => v === 0)).toBe(true);
    const e3 = newEngine();
    const w = new Float32Array(CONTRIBS.length);
    w[CONTRIBS.indexOf('overwrite_entropy')] = 2;
    e3.setHeuristicWeights(w);
    const only = scenario(e3);
    expect(only.contrib[CONTRIBS.indexOf('overwrite_entropy')]).toBeCloseTo(2, 6); // indicator saturated at 3 files
    expect(only.score).toBeCloseTo(1 - Math.exp(-2), 5);
  });
});

describe('per-environment state', () => {
  it('engines are independent', () => {
    const a = newEngine();
    const b = newEngine();
    const ca = connect(a);
    sendEvents(a, ca, [at(0, { pid: 1, op: 'read', path: '/x' })]);
    expect(a.stats().subjectsLive).toBe(2);
    expect(b.stats().subjectsLive).toBe(0);
    expect(b.stats().connections).toBe(0);
  });
});
