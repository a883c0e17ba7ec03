/**
 * Joining drained input batches (enrollment and tests collect several drains, then enroll or
 * score once). Synchronous; the result is a new batch owned by the caller.
 */
import { ACTION_META_STRIDE, ActionMeta, type RawInputBatch } from '../binding.js';

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

/** The device numbers (ActionMeta.Device) of the first `n` actions (all by default), in order of first appearance. */
export function actionDevices(actionMeta: Float64Array, n = actionMeta.length / ACTION_META_STRIDE): number[] {
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) seen.add(actionMeta[i * ACTION_META_STRIDE + ActionMeta.Device] as number);
  return [...seen];
}

export interface SelectedActions {
  actions: Float32Array;
  actionMeta: Float64Array;
  /** Actions left out, by device number. */
  refused: Map<number, number>;
}

/**
 * The actions whose device `keep` accepts, in order. When every action is kept the arrays are
 * the ones given (no copy); otherwise new arrays owned by the caller.
 */
export function selectActions(actions: Float32Array, actionMeta: Float64Array, keep: (device: number) => boolean): SelectedActions {
  const n = actionMeta.length / ACTION_META_STRIDE;
  const nf = n > 0 ? actions.length / n : 0;
  const refused = new Map<number, number>();
  const kept: number[] = [];
  for (let i = 0; i < n; i++) {
    const dev = actionMeta[i * ACTION_META_STRIDE + ActionMeta.Device] as number;
    if (keep(dev)) kept.push(i);
    else refused.set(dev, (refused.get(dev) ?? 0) + 1);
  }
  if (kept.length === n) return { actions, actionMeta, refused };
  const outA = new Float32Array(kept.length * nf);
  const outM = new Float64Array(kept.length * ACTION_META_STRIDE);
  kept.forEach((i, k) => {
    outA.set(actions.subarray(i * nf, (i + 1) * nf), k * nf);
    outM.set(actionMeta.subarray(i * ACTION_META_STRIDE, (i + 1) * ACTION_META_STRIDE), k * ACTION_META_STRIDE);
  });
  return { actions: outA, actionMeta: outM, refused };
}
