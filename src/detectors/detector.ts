/**
 * The detector contract: one scoring batch in, one score per row out.
 *
 * Contract
 * - `ScoringBatch` arrays are owned by the caller (the scoring tick, filled by
 *   `engine.collectDue`) and may be larger than `n` rows; only rows 0..n-1 are meaningful.
 *   A detector reads them during `score`/`explain` only and keeps no reference.
 * - `score` is asynchronous (a model may run off the main thread) and fills out[0..n-1] with
 *   values in [0, 1]; it rejects with a `SentinelError` when it cannot score the batch.
 * - `explain` is synchronous and returns at most k contributions for row i, descending by value.
 * - `checkBatch` / `checkRow` throw `SentinelError('SENTINEL_E_INVALID_ARGUMENT')`;
 *   `checkIdentity` throws `SentinelError('SENTINEL_E_CONFIG')`.
 */
import { SentinelError } from '../errors.js';

export { META_STRIDE, Meta } from '../binding.js';
import { META_STRIDE } from '../binding.js';
import type { DueBatch } from '../engine.js';

/** What detectors score: the engine's due batch (src/engine.ts). */
export type ScoringBatch = DueBatch;

export interface Contribution {
  name: string;
  value: number;
}

export interface Detector {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
  /** Fills out[i] in [0, 1] for i < batch.n. */
  score(batch: ScoringBatch, out: Float32Array): Promise<void>;
  /** Top-k contributions for row i, descending. */
  explain(batch: ScoringBatch, i: number, k: number): Contribution[];
}

export interface DetectorIdentity {
  version: string;
  sha256: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function checkIdentity(who: string, id: DetectorIdentity): void {
  if (typeof id.version !== 'string' || id.version.length === 0) throw new SentinelError('SENTINEL_E_CONFIG', `${who}: version must be a non-empty string`);
  if (typeof id.sha256 !== 'string' || !SHA256_HEX.test(id.sha256)) throw new SentinelError('SENTINEL_E_CONFIG', `${who}: sha256 must be 64 lowercase hex digits, got ${String(id.sha256)}`);
}

function bad(message: string): never {
  throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', message);
}

/** Checks that every array of `batch` holds n rows and `out` (when given) n values. */
export function checkBatch(batch: ScoringBatch, out?: Float32Array): void {
  const { n } = batch;
  if (!Number.isInteger(n) || n < 0) bad(`batch.n must be an integer >= 0, got ${n}`);
  if (batch.ids.length < n) bad(`batch.ids holds ${batch.ids.length} ids, fewer than n = ${n}`);
  if (batch.rows.length < n * batch.featureNames.length) bad(`batch.rows holds ${batch.rows.length} values, fewer than n × ${batch.featureNames.length}`);
  if (batch.contrib.length < n * batch.contribNames.length) bad(`batch.contrib holds ${batch.contrib.length} values, fewer than n × ${batch.contribNames.length}`);
  if (batch.meta.length < n * META_STRIDE) bad(`batch.meta holds ${batch.meta.length} values, fewer than n × ${META_STRIDE}`);
  if (out !== undefined && out.length < n) bad(`output holds ${out.length} values, fewer than n = ${n}`);
}

/** Checks a row index and a k for `explain`. */
export function checkRow(batch: ScoringBatch, i: number, k: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= batch.n) bad(`row ${i} is outside the batch (n = ${batch.n})`);
  if (!Number.isInteger(k) || k < 0) bad(`k must be an integer >= 0, got ${k}`);
}

/**
 * The k largest positive values of values[offset .. offset + names.length), paired with their
 * names, descending; ties keep name order. Zero, negative and NaN values are left out, so fewer
 * than k entries may come back.
 */
export function topK(names: readonly string[], values: ArrayLike<number>, offset: number, k: number): Contribution[] {
  const all: { idx: number; value: number }[] = [];
  for (let j = 0; j < names.length; j++) {
    const v = values[offset + j] as number;
    if (v > 0) all.push({ idx: j, value: v });
  }
  all.sort((a, b) => b.value - a.value || a.idx - b.idx);
  return all.slice(0, k).map((x) => ({ name: names[x.idx] as string, value: x.value }));
}
