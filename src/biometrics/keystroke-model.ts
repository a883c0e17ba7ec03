/**
 * Keystroke model: enrollment into a serialized profile and streaming scoring of key records
 * (docs/biometrics.md, "Keystroke method"). Thin typed layer over the addon's enrollKeystrokes,
 * recalibrateKeystrokes and KeystrokeScorer. `weights` everywhere: the fused score's weights
 * (models/keystroke-classical), default the compiled fused-v1.
 *
 * Contract
 * - `enrollKeystrokeProfile` is asynchronous (native work on the libuv pool) and rejects with
 *   SENTINEL_E_BIO_ENROLL when the records are too few to calibrate.
 * - `recalibrateKeystrokeProfile` is synchronous (microseconds) and returns a new profile.
 * - `KeystrokeStream` is synchronous: `push(keys)` scores the windows a batch completes (a few µs
 *   to tens of µs each) and returns impostor probabilities in [0, 1]. Its constructor throws
 *   SENTINEL_E_BIO_PROFILE for a malformed, truncated or unknown-version profile.
 * - Input arrays are read during the call only.
 */
import { addon, KEY_RECORD_STRIDE, type RawKeystrokeScorer, type RawKeystrokeScorerInfo } from '../binding.js';
import { fromNative, SentinelError } from '../errors.js';
import { concatFloat64 } from './input-batch.js';
import { KEYSTROKE_COMPONENTS } from '../models/keystroke-classical-model.js';

export const DEFAULT_KEYSTROKE_WINDOW = 100;
export const DEFAULT_ENROLL_FRR = 0.05;

/**
 * Maps a fused score to the probability-like impostor score the trust machine takes: 0.5 at the
 * user's calibrated threshold, rising by `slope` logits per genuine sd below it. The genuine sd
 * comes from the enrollment's own leave-one-window-out scores, so one slope serves every user.
 */
export function impostorProbability(score: number, threshold: number, genuineSd: number, slope = 2): number {
  const sd = genuineSd > 1e-6 ? genuineSd : 1;
  const z = (slope * (threshold - score)) / sd;
  const p = 1 / (1 + Math.exp(-z));
  return Math.min(1, Math.max(0, p));
}

/** Concatenates key-record arrays (each a multiple of KEY_RECORD_STRIDE long). */
export const concatKeyRecords = concatFloat64;

export function keyRecordCount(keys: Float64Array): number {
  return keys.length / KEY_RECORD_STRIDE;
}

/**
 * The fused score's weights (models/keystroke-classical, `loadKeystrokeClassical`), checked
 * before they reach the addon; absent: the compiled fused-v1.
 */
function checkWeights(weights: Float64Array | undefined): void {
  if (weights === undefined) return;
  if (!(weights instanceof Float64Array) || weights.length !== KEYSTROKE_COMPONENTS.length || !weights.every((x) => Number.isFinite(x))) {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `keystroke weights must be a Float64Array of ${KEYSTROKE_COMPONENTS.length} finite numbers`);
  }
}

export async function enrollKeystrokeProfile(
  keys: Float64Array,
  options: { window?: number; frr?: number; weights?: Float64Array } = {},
): Promise<Uint8Array> {
  const window = options.window ?? DEFAULT_KEYSTROKE_WINDOW;
  const frr = options.frr ?? DEFAULT_ENROLL_FRR;
  if (!Number.isInteger(window) || window < 10 || window > 10000) {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `keystroke window must be an integer 10..10000, got ${window}`);
  }
  if (!(frr > 0 && frr < 1)) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `frr must be in (0, 1), got ${frr}`);
  checkWeights(options.weights);
  const need = 2 * window;
  const have = keyRecordCount(keys);
  if (have < need) {
    throw new SentinelError('SENTINEL_E_BIO_ENROLL', `enrollment needs at least ${need} keystrokes for ${window}-keystroke windows, got ${have}`);
  }
  try {
    return await addon().enrollKeystrokes(keys, window, frr, options.weights);
  } catch (err) {
    throw new SentinelError('SENTINEL_E_BIO_ENROLL', (err as Error).message, { cause: err });
  }
}

/**
 * The profile calibrated again under `weights` at false-reject rate `frr` (its threshold only):
 * what enrolling the same keystrokes under those weights gives, so a release with other
 * classical weights needs no new enrollment. Synchronous (microseconds). Throws
 * SENTINEL_E_BIO_PROFILE for a bad profile, SENTINEL_E_INVALID_ARGUMENT for bad frr or weights.
 */
export function recalibrateKeystrokeProfile(profile: Uint8Array, frr: number, weights?: Float64Array): Uint8Array {
  if (!(frr > 0 && frr < 1)) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `frr must be in (0, 1), got ${frr}`);
  checkWeights(weights);
  try {
    return addon().recalibrateKeystrokes(profile, frr, weights);
  } catch (err) {
    throw fromNative(err, 'SENTINEL_E_BIO_PROFILE', 'SENTINEL_E_INVALID_ARGUMENT');
  }
}

/**
 * The native scorer of a serialized profile, scoring every `stride` keystrokes (default a quarter
 * of the profile's window) with `weights` (those the profile was enrolled under; default the
 * compiled fused-v1). Throws SENTINEL_E_BIO_PROFILE for a bad profile,
 * SENTINEL_E_INVALID_ARGUMENT for a bad stride or weights.
 */
export function openKeystrokeScorer(profile: Uint8Array, stride?: number, weights?: Float64Array): RawKeystrokeScorer {
  checkWeights(weights);
  try {
    const raw = new (addon().KeystrokeScorer)(profile, stride ?? 1, weights);
    // The default stride depends on the profile's window, known only once it is parsed.
    return stride === undefined ? new (addon().KeystrokeScorer)(profile, Math.max(1, Math.floor(raw.info().window / 4)), weights) : raw;
  } catch (err) {
    throw fromNative(err, 'SENTINEL_E_BIO_PROFILE', 'SENTINEL_E_INVALID_ARGUMENT');
  }
}

export class KeystrokeStream {
  private readonly raw: RawKeystrokeScorer;
  readonly info: Readonly<RawKeystrokeScorerInfo>;

  /**
   * `stride`: score a window every this many keystrokes (default a quarter of the window);
   * `weights`: the fused score's, those the profile was enrolled under (default fused-v1).
   */
  constructor(profile: Uint8Array, stride?: number, weights?: Float64Array) {
    this.raw = openKeystrokeScorer(profile, stride, weights);
    this.info = Object.freeze(this.raw.info());
  }

  /** Fused scores (higher = more likely the enrolled user) of the windows this batch completed. */
  pushScores(keys: Float64Array): Float64Array {
    return this.raw.push(keys);
  }

  /** Impostor probabilities of the windows this batch completed. */
  push(keys: Float64Array): number[] {
    const s = this.raw.push(keys);
    return Array.from(s, (v) => impostorProbability(v, this.info.threshold, this.info.genuineSd));
  }

  /** Forgets the buffered window (a new session, a long pause). */
  reset(): void {
    this.raw.reset();
  }
}
