/**
 * Fusion: combines the detectors' scores into one calibrated score per row.
 *
 *   fused = sigmoid(bias + Σ_d w_d · logit(clamp(s_d, 1e-6, 1 − 1e-6)))
 *
 * computed in float64 and stored as float32. The identity model — bias 0 and exactly one
 * detector with weight 1 — passes that detector's scores through unchanged, so
 * {bias 0, weights {heuristic: 1}} reproduces the heuristic score exactly (the formula alone
 * would turn 0 into 1e-6 and 1 into 1 − 1e-6).
 *
 * Contract
 * - The constructor validates detectors against the model and throws
 *   `SentinelError('SENTINEL_E_CONFIG')`: duplicate detector names, a detector named "fusion"
 *   (reserved for the model's own hash), a detector without a weight, a weight naming no
 *   detector, a non-finite weight or bias, a missing version or sha256.
 * - `score` is async: every detector scores the batch concurrently into its own fresh
 *   Float32Array (returned in `perDetector`, owned by the caller); it rejects with the first
 *   detector's error, or SENTINEL_E_INVALID_ARGUMENT for a malformed batch or a detector score
 *   outside [0, 1] (NaN included) — a broken detector is reported, never silently clamped.
 * - `explain` is sync: each weighted detector's top-k for row i, each value multiplied by that
 *   detector's weight (its share of the fused logit), merged and cut to the k largest.
 *   Detectors with weight 0 (shadow) are not asked.
 * - Keeps no reference to any batch; the detector list and model are copied at construction.
 */
import { SentinelError } from '../errors.js';
import { checkBatch, checkIdentity, checkRow, type Detector, type ScoringBatch } from '../detectors/detector.js';

export interface FusionModel {
  version: string;
  sha256: string;
  bias: number;
  weights: Record<string, number>;
}

export interface FusedScores {
  fused: Float32Array;
  perDetector: Map<string, Float32Array>;
}

export interface FusedContribution {
  detector: string;
  name: string;
  value: number;
}

/** Name under which the fusion model's own hash appears in `modelHashes()`. */
export const FUSION_HASH_KEY = 'fusion';

const EPS = 1e-6;

export function logit(p: number): number {
  const q = p < EPS ? EPS : p > 1 - EPS ? 1 - EPS : p;
  return Math.log(q / (1 - q));
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

function configError(message: string): never {
  throw new SentinelError('SENTINEL_E_CONFIG', `fusion: ${message}`);
}

export class Fusion {
  private readonly detectors: readonly Detector[];
  private readonly weights: Float64Array;
  private readonly bias: number;
  private readonly model: Readonly<FusionModel>;
  private readonly identity: boolean;

  constructor(detectors: Detector[], model: FusionModel) {
    checkIdentity('fusion model', model);
    if (typeof model.bias !== 'number' || !Number.isFinite(model.bias)) configError(`bias must be a finite number, got ${String(model.bias)}`);
    if (typeof model.weights !== 'object' || model.weights === null) configError('weights must be an object of detector name → number');
    if (detectors.length === 0) configError('at least one detector is required');
    const names = new Set<string>();
    for (const d of detectors) {
      if (d.name === FUSION_HASH_KEY) configError(`a detector may not be named "${FUSION_HASH_KEY}"`);
      if (names.has(d.name)) configError(`two detectors are named "${d.name}"`);
      names.add(d.name);
      if (!Object.prototype.hasOwnProperty.call(model.weights, d.name)) configError(`detector "${d.name}" has no weight in fusion model ${model.version}`);
    }
    for (const [name, w] of Object.entries(model.weights)) {
      if (!names.has(name)) configError(`fusion model ${model.version} weights unknown detector "${name}" (detectors: ${[...names].join(', ')})`);
      if (typeof w !== 'number' || !Number.isFinite(w)) configError(`weight of "${name}" must be a finite number, got ${String(w)}`);
    }
    this.detectors = [...detectors];
    this.weights = Float64Array.from(this.detectors, (d) => model.weights[d.name] as number);
    this.bias = model.bias;
    this.model = Object.freeze({ version: model.version, sha256: model.sha256, bias: model.bias, weights: { ...model.weights } });
    this.identity = this.detectors.length === 1 && this.bias === 0 && this.weights[0] === 1;
  }

  async score(batch: ScoringBatch): Promise<FusedScores> {
    checkBatch(batch);
    const { n } = batch;
    const outs = this.detectors.map(() => new Float32Array(n));
    await Promise.all(this.detectors.map((d, j) => d.score(batch, outs[j] as Float32Array)));
    const perDetector = new Map<string, Float32Array>();
    this.detectors.forEach((d, j) => {
      const out = outs[j] as Float32Array;
      for (let i = 0; i < n; i++) {
        const s = out[i] as number;
        if (!(s >= 0 && s <= 1)) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `detector "${d.name}" scored row ${i} as ${s}; scores must be in [0, 1]`);
      }
      perDetector.set(d.name, out);
    });

    const fused = new Float32Array(n);
    if (this.identity) {
      fused.set(outs[0] as Float32Array);
    } else {
      for (let i = 0; i < n; i++) {
        let z = this.bias;
        for (let j = 0; j < outs.length; j++) {
          const w = this.weights[j] as number;
          if (w !== 0) z += w * logit((outs[j] as Float32Array)[i] as number);
        }
        fused[i] = sigmoid(z);
      }
    }
    return { fused, perDetector };
  }

  explain(batch: ScoringBatch, i: number, k: number): FusedContribution[] {
    checkRow(batch, i, k);
    const all: FusedContribution[] = [];
    this.detectors.forEach((d, j) => {
      const w = this.weights[j] as number;
      if (w === 0) return;
      for (const c of d.explain(batch, i, k)) all.push({ detector: d.name, name: c.name, value: c.value * w });
    });
    all.sort((a, b) => b.value - a.value);
    return all.slice(0, k);
  }

  /** Detector name → its model sha256, plus "fusion" → the fusion model's sha256. */
  modelHashes(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const d of this.detectors) out[d.name] = d.sha256;
    out[FUSION_HASH_KEY] = this.model.sha256;
    return out;
  }

  /** Fusion model version (for metrics and audit). */
  get version(): string {
    return this.model.version;
  }
}
