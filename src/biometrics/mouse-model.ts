/**
 * Mouse model: one-class enrollment from the user's own actions (with the shipped population
 * model in models/mouse) and streaming block scoring (docs/biometrics.md, "Mouse method" and
 * "Session subject"). Thin typed layer over the addon's enrollMouse, addMouseSitting and
 * MouseScorer.
 *
 * Contract
 * - `loadMousePopulation(modelsDir)` is synchronous; it verifies the manifest's sha256 and kind
 *   and throws SentinelError SENTINEL_E_CONFIG otherwise.
 * - `enrollMouseProfile` is asynchronous (libuv pool); SENTINEL_E_BIO_ENROLL when the actions
 *   are too few to calibrate.
 * - `addMouseSitting` is asynchronous (libuv pool): another sitting of the same user added to an
 *   enrolled profile (histogram method, profile version 3). SENTINEL_E_BIO_ENROLL when the
 *   sitting is shorter than four blocks; SENTINEL_E_BIO_PROFILE for a malformed profile, one that
 *   cannot take sittings (version 2, another method) or another population.
 * - `MouseStream.push` is synchronous and returns impostor probabilities (0.5 at the user's
 *   threshold, as for keystrokes); its constructor throws SENTINEL_E_BIO_PROFILE for a malformed
 *   profile.
 */
import path from 'node:path';
import { addon, ACTION_META_STRIDE, type RawMouseMethod, type RawMouseProfileInfo, type RawMouseScorer } from '../binding.js';
import { fromNative, SentinelError } from '../errors.js';
import { loadModelOfKind } from '../models/manifest.js';
import { impostorProbability } from './keystroke-model.js';
import type { ModalityProfile } from './profile-file.js';

export const DEFAULT_MOUSE_BLOCK = 20;
export const DEFAULT_MOUSE_METHOD: RawMouseMethod = 'histLlr';

export interface MouseEnrollment {
  bytes: Uint8Array;
  threshold: number;
  genuineSd: number;
  blockActions: number;
  calibrationBlocks: number;
}

/** The shipped population model (models/mouse), verified against its manifest. */
export function loadMousePopulation(modelsDir: string): Uint8Array {
  return new Uint8Array(loadModelOfKind(path.join(modelsDir, 'mouse'), 'mouse-population').bytes);
}

export function actionCount(actionMeta: Float64Array): number {
  return actionMeta.length / ACTION_META_STRIDE;
}

export async function enrollMouseProfile(
  actions: Float32Array,
  actionMeta: Float64Array,
  population: Uint8Array | null,
  options: { method?: RawMouseMethod; blockActions?: number; frr?: number } = {},
): Promise<MouseEnrollment> {
  const blockActions = options.blockActions ?? DEFAULT_MOUSE_BLOCK;
  const need = 4 * blockActions;
  if (actionCount(actionMeta) < need) {
    throw new SentinelError('SENTINEL_E_BIO_ENROLL', `mouse enrollment needs at least ${need} actions for ${blockActions}-action blocks, got ${actionCount(actionMeta)}`);
  }
  try {
    const r = await addon().enrollMouse(actions, actionMeta, population, {
      method: options.method ?? DEFAULT_MOUSE_METHOD,
      blockActions,
      frr: options.frr ?? 0.05,
    });
    return { bytes: r.profile, threshold: r.threshold, genuineSd: r.genuineSd, blockActions, calibrationBlocks: r.calibrationBlocks };
  } catch (err) {
    throw fromNative(err, 'SENTINEL_E_BIO_PROFILE', 'SENTINEL_E_BIO_ENROLL');
  }
}

/**
 * Sittings of a serialized mouse profile, and with `population` whether it was enrolled with it
 * (what `addMouseSitting` needs); SENTINEL_E_BIO_PROFILE when either is malformed.
 */
export function mouseProfileInfo(profile: Uint8Array, population: Uint8Array | null = null): RawMouseProfileInfo {
  try {
    return addon().mouseProfileInfo(profile, population);
  } catch (err) {
    throw fromNative(err, 'SENTINEL_E_BIO_PROFILE', 'SENTINEL_E_INVALID_ARGUMENT');
  }
}

export interface MouseSittingResult extends MouseEnrollment {
  /** Sittings the profile is now built from. */
  sittings: number;
}

/**
 * Most recent mouse actions a profile keeps across added sittings (its quantised enrollment,
 * 89 bytes each: about 1.8 MB at the cap); older ones leave the model first.
 */
export const MAX_ENROLLED_MOUSE_ACTIONS = 20_000;

/**
 * Adds one more sitting (`actions`) to an enrolled mouse profile. `population` must be the one
 * the profile was enrolled with and `blockActions` its block. Resolves with the new profile,
 * modelled and calibrated as enrolling on every sitting's actions at once would be (at most
 * `maxActions`, default MAX_ENROLLED_MOUSE_ACTIONS, the most recent kept); the input profile is
 * not changed.
 */
export async function addMouseSitting(
  profile: Uint8Array,
  actions: Float32Array,
  actionMeta: Float64Array,
  population: Uint8Array,
  options: { blockActions?: number; frr?: number; maxActions?: number } = {},
): Promise<MouseSittingResult> {
  const blockActions = options.blockActions ?? DEFAULT_MOUSE_BLOCK;
  const need = 4 * blockActions;
  const maxActions = options.maxActions ?? MAX_ENROLLED_MOUSE_ACTIONS;
  if (!Number.isInteger(maxActions) || (maxActions !== 0 && maxActions < need)) {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `maxActions must be 0 (keep every action) or an integer of at least ${need} (four blocks), got ${maxActions}`);
  }
  if (actionCount(actionMeta) < need) {
    throw new SentinelError('SENTINEL_E_BIO_ENROLL', `a mouse sitting needs at least ${need} actions for ${blockActions}-action blocks, got ${actionCount(actionMeta)}`);
  }
  try {
    const r = await addon().addMouseSitting(profile, actions, actionMeta, population, {
      blockActions,
      frr: options.frr ?? 0.05,
      maxActions,
    });
    return {
      bytes: r.profile,
      threshold: r.threshold,
      genuineSd: r.genuineSd,
      blockActions,
      calibrationBlocks: r.calibrationBlocks,
      sittings: r.sittings,
    };
  } catch (err) {
    throw fromNative(err, 'SENTINEL_E_BIO_PROFILE', 'SENTINEL_E_BIO_ENROLL');
  }
}

/**
 * The mouse modality of a profile after a sitting was added to `base`: the new model and its
 * calibration, `actions` more samples, the same block, and `base`'s false-reject rate and
 * device identities unless `over` gives others. A base without devices keeps none (every device
 * is scored).
 */
export function withSitting(base: ModalityProfile, r: MouseSittingResult, actions: number, over: { frr?: number; devices?: string[] } = {}): ModalityProfile {
  const devices = base.devices ? (over.devices ?? base.devices) : undefined;
  return {
    bytes: r.bytes,
    samples: base.samples + actions,
    window: base.window,
    frr: over.frr ?? base.frr,
    threshold: r.threshold,
    genuineSd: r.genuineSd,
    ...(devices ? { devices: [...devices] } : {}),
    sittings: r.sittings,
  };
}

export class MouseStream {
  private readonly raw: RawMouseScorer;

  /** Scores a block every `stride` actions (default a quarter of the block). */
  constructor(
    profile: Uint8Array,
    private readonly threshold: number,
    private readonly genuineSd: number,
    blockActions = DEFAULT_MOUSE_BLOCK,
    stride = Math.max(1, Math.floor(blockActions / 4)),
  ) {
    try {
      this.raw = new (addon().MouseScorer)(profile, blockActions, stride);
    } catch (err) {
      throw fromNative(err, 'SENTINEL_E_BIO_PROFILE', 'SENTINEL_E_INVALID_ARGUMENT');
    }
  }

  /** Block scores (higher = more likely the enrolled user) completed by this batch. */
  pushScores(actions: Float32Array, actionMeta: Float64Array): Float64Array {
    return this.raw.push(actions, actionMeta);
  }

  /** Impostor probabilities of the blocks completed by this batch. */
  push(actions: Float32Array, actionMeta: Float64Array): number[] {
    return Array.from(this.raw.push(actions, actionMeta), (s) => impostorProbability(s, this.threshold, this.genuineSd));
  }
}
