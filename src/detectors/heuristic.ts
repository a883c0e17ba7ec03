/**
 * The heuristic detector: passes through the score the native engine already computed.
 *
 * Contract
 * - score = meta[i*META_STRIDE] (the native heuristic, 1 − exp(−Σ contributions)), clamped to [0, 1];
 *   a NaN is scored 0. No model runs, but `score` is async to fit `Detector`.
 * - explain = top-k of the row's heuristic contributions (positive ones only), descending.
 * - `version` / `sha256` come from the heuristic model manifest (models/heuristic), so audit
 *   records name the weights the engine was given. Holds no reference to any batch.
 * - Throws `SentinelError('SENTINEL_E_INVALID_ARGUMENT')` for a malformed batch, a row outside
 *   it or a bad k; `SentinelError('SENTINEL_E_CONFIG')` from the constructor for an empty
 *   version or a sha256 that is not 64 hex digits.
 */
import { META_STRIDE, checkBatch, checkIdentity, checkRow, topK, type Contribution, type Detector, type DetectorIdentity, type ScoringBatch } from './detector.js';

export class HeuristicDetector implements Detector {
  readonly name = 'heuristic';
  readonly version: string;
  readonly sha256: string;

  /** `manifest`: the heuristic model's manifest (or anything with its version and sha256). */
  constructor(manifest: DetectorIdentity) {
    checkIdentity('heuristic detector', manifest);
    this.version = manifest.version;
    this.sha256 = manifest.sha256;
  }

  score(batch: ScoringBatch, out: Float32Array): Promise<void> {
    try {
      checkBatch(batch, out);
    } catch (err) {
      return Promise.reject(err);
    }
    const { n, meta } = batch;
    for (let i = 0; i < n; i++) {
      const s = meta[i * META_STRIDE] as number;
      out[i] = s > 1 ? 1 : s >= 0 ? s : 0;
    }
    return Promise.resolve();
  }

  explain(batch: ScoringBatch, i: number, k: number): Contribution[] {
    checkRow(batch, i, k);
    checkBatch(batch);
    const c = batch.contribNames.length;
    return topK(batch.contribNames, batch.contrib, i * c, k);
  }
}
