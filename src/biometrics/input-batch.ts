/**
 * Joining drained input batches (enrollment and tests collect several drains, then enroll or
 * score once). Synchronous; the result is a new batch owned by the caller.
 */
import type { RawInputBatch } from '../binding.js';

type Flat = Float64Array | Float32Array;

function concat<T extends Flat>(parts: readonly T[], make: (n: number) => T): T {
  const out = make(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function concatFloat64(parts: readonly Float64Array[]): Float64Array {
  return concat(parts, (n) => new Float64Array(n));
}

export function concatFloat32(parts: readonly Float32Array[]): Float32Array {
  return concat(parts, (n) => new Float32Array(n));
}

/** Keys, actions and action metadata of `batches` in order (device events are left out). */
export function concatInputBatches(batches: readonly Pick<RawInputBatch, 'keys' | 'actions' | 'actionMeta'>[]): Pick<RawInputBatch, 'keys' | 'actions' | 'actionMeta'> {
  return {
    keys: concatFloat64(batches.map((b) => b.keys)),
    actions: concatFloat32(batches.map((b) => b.actions)),
    actionMeta: concatFloat64(batches.map((b) => b.actionMeta)),
  };
}
