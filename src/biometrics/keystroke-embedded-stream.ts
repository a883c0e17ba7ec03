/**
 * Keystroke scoring with the learned embedding (docs/biometrics.md, "Learned keystroke
 * embedding"): each window's classical fused score (native `KeystrokeScorer`) is combined with
 * the similarity between the window's embedding and the profile's reference,
 *   s = fusedWeight · clip(fused, ±30) + similarityWeight · similarity + bias,
 * with weights fit on typists the embedder never saw, and turned into an impostor probability
 * at the threshold that rejects the profile's false-reject rate of those typists' genuine windows.
 *
 * Contract
 * - The constructor is synchronous and throws SENTINEL_E_BIO_PROFILE for a bad native profile,
 *   SENTINEL_E_INVALID_ARGUMENT for a bad stride or a reference of the wrong length. `params`
 *   must be the fusion's entry for the profile's window (`embeddingFit` picks it).
 * - `push(keys)` is asynchronous (the embedding runs on the embedder's worker thread); calls are
 *   processed in order, each batch after the previous one. It resolves the impostor
 *   probabilities of the windows the batch completed, in order; it rejects SENTINEL_E_MODEL_RUNTIME
 *   when the embedder fails. `keys` is read during the call only.
 * - `reset()` forgets the buffered window (takes effect for batches pushed after it).
 */
import type { RawKeystrokeScorer, RawKeystrokeScorerInfo } from '../binding.js';
import { SentinelError } from '../errors.js';
import { fusionThreshold, fusionWindow, KEYSTROKE_FUSION_DIR, loadKeystrokeFusion, type KeystrokeFusionModel, type KeystrokeFusionWindow } from '../models/keystroke-fusion-model.js';
import { EMBED_DIM, EMBED_INPUTS, embeddingInputs, KeystrokeEmbedder, similarity } from './keystroke-embedder.js';
import { impostorProbability, openKeystrokeScorer } from './keystroke-model.js';

const FUSED_CLIP = 30;

/** The combined score of a window from its fused score and its similarity to the reference. */
export function combinedScore(params: KeystrokeFusionWindow, fused: number, similarity: number): number {
  return params.fusedWeight * Math.max(-FUSED_CLIP, Math.min(FUSED_CLIP, fused)) + params.similarityWeight * similarity + params.bias;
}

export interface EmbeddedWindowScore {
  fused: number;
  similarity: number;
  combined: number;
  impostor: number;
}

export class EmbeddedKeystrokeStream {
  private readonly raw: RawKeystrokeScorer;
  readonly info: Readonly<RawKeystrokeScorerInfo>;
  readonly threshold: number;
  /** Model inputs of the last `window` records (what a window ending in the next batch starts with). */
  private recent = new Float32Array(0);
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    profile: Uint8Array,
    private readonly reference: Float32Array,
    private readonly params: KeystrokeFusionWindow,
    private readonly embedder: KeystrokeEmbedder,
    frr: number,
    stride?: number,
    /** The classical score's weights, those the profile was enrolled under (default fused-v1). */
    weights?: Float64Array,
  ) {
    if (reference.length !== EMBED_DIM) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `keystroke reference must have ${EMBED_DIM} numbers, has ${reference.length}`);
    this.raw = openKeystrokeScorer(profile, stride, weights);
    this.info = Object.freeze(this.raw.info());
    this.threshold = fusionThreshold(params, frr);
  }

  /** Scores (fused, similarity, combined, impostor probability) of the windows this batch completed. */
  pushScores(keys: Float64Array): Promise<EmbeddedWindowScore[]> {
    // The native window buffer advances now, in call order; the embedding of the same windows is
    // chained so that results come back in order even if a caller does not await.
    const { scores, ends } = this.raw.pushWindows(keys);
    const W = this.info.window;
    const batch = embeddingInputs(keys);
    const prev = this.recent.length / EMBED_INPUTS;
    const all = new Float32Array(this.recent.length + batch.length);
    all.set(this.recent);
    all.set(batch, this.recent.length);
    const windows = new Float32Array(scores.length * W * EMBED_INPUTS);
    ends.forEach((e, i) => {
      const end = prev + e + 1;
      windows.set(all.subarray((end - W) * EMBED_INPUTS, end * EMBED_INPUTS), i * W * EMBED_INPUTS);
    });
    const total = all.length / EMBED_INPUTS;
    this.recent = all.slice(Math.max(0, total - W) * EMBED_INPUTS);
    const run = this.queue.then(async () => {
      if (!scores.length) return [];
      const v = await this.embedder.windowVectors(windows, scores.length, W);
      return Array.from(scores, (fused, i) => {
        const sim = similarity(v, i, this.reference);
        const combined = combinedScore(this.params, fused, sim);
        return { fused, similarity: sim, combined, impostor: impostorProbability(combined, this.threshold, this.params.genuineSd) };
      });
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Impostor probabilities of the windows this batch completed. */
  async push(keys: Float64Array): Promise<number[]> {
    return (await this.pushScores(keys)).map((s) => s.impostor);
  }

  reset(): void {
    this.raw.reset();
    this.recent = new Float32Array(0);
  }
}

/** The two shipped models the embedded score needs. */
export interface KeystrokeEmbeddingModels {
  embedder: KeystrokeEmbedder;
  fusion: KeystrokeFusionModel;
}

/**
 * Loads models/keystroke-fusion and starts the embedder of models/keystroke-embed; refuses a
 * pair whose fusion parameters were fit for another embedder. Asynchronous; rejects with
 * SENTINEL_E_CONFIG or SENTINEL_E_MODEL_RUNTIME.
 */
export async function openKeystrokeEmbedding(modelsDir: string): Promise<KeystrokeEmbeddingModels> {
  const fusion = loadKeystrokeFusion(modelsDir);
  const embedder = await KeystrokeEmbedder.open(modelsDir);
  if (embedder.sha256 !== fusion.embedderSha256) {
    await embedder.close();
    throw new SentinelError('SENTINEL_E_CONFIG', `models/${KEYSTROKE_FUSION_DIR} was fit for the embedder ${fusion.embedderSha256}, but models/keystroke-embed holds ${embedder.sha256}`);
  }
  return { embedder, fusion };
}

/**
 * What a keystroke profile is scored with under the loaded models: its reference and the fusion
 * parameters of its window, or why it cannot use the embedding (no reference in the profile, a
 * reference from another embedder, a window the fusion was not fit for).
 */
export function embeddingFit(
  models: KeystrokeEmbeddingModels,
  k: { window: number; embedding?: { modelSha256: string; reference: readonly number[] } },
): { reference: Float32Array; params: KeystrokeFusionWindow } | { why: string } {
  if (!k.embedding) return { why: 'the keystroke profile has no embedding reference (enrolled without the embedder; run sentinel enroll again to use it)' };
  if (k.embedding.modelSha256 !== models.embedder.sha256) {
    return { why: `the keystroke profile's embedding reference comes from another embedder (${k.embedding.modelSha256.slice(0, 12)}…, shipped ${models.embedder.sha256.slice(0, 12)}…); run sentinel enroll again` };
  }
  const params = fusionWindow(models.fusion, k.window);
  return typeof params === 'string' ? { why: params } : { reference: Float32Array.from(k.embedding.reference), params };
}
