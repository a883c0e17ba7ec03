/**
 * Loads the classical keystroke score's weights (models/keystroke-classical): manifest kind
 * "keystroke-classical", whose file is JSON
 *   { "version"?: string, "components": ["rpp", "app", "ahold", "arp", "sm"],
 *     "weights": [5 finite numbers, not all 0], "globalThreshold": n, "window": W }
 * The fused score is -(sum w[k] z[k]) over the profile's z-normalised distance components in
 * the native order `components` names (native/biometrics/keystroke.h). A keystroke profile's
 * threshold is calibrated on this score when it is enrolled, so a profile records the sha256 of
 * the file it was enrolled under (`ModalityProfile.classicalSha256`); under other weights the
 * daemon recalibrates it first. models/keystroke-fusion's fusedWeight was fit on this score too.
 * `globalThreshold` (the FIT half's EER point at `window` keystrokes) is for evaluation; the
 * daemon uses per-profile thresholds.
 *
 * Synchronous. Throws `SentinelError('SENTINEL_E_CONFIG')` naming the file for invalid content
 * (and, through `loadModel`, for a hash mismatch). The returned `weights` array is the caller's.
 */
import path from 'node:path';
import { loadJsonModel } from './manifest.js';

export const KEYSTROKE_CLASSICAL_KIND = 'keystroke-classical';
export const KEYSTROKE_CLASSICAL_DIR = 'keystroke-classical';
/** The fused score's components, in the native order (keystroke.h `Component`). */
export const KEYSTROKE_COMPONENTS: readonly string[] = ['rpp', 'app', 'ahold', 'arp', 'sm'];
/**
 * The weights every profile enrolled before they were a model was calibrated with (the
 * compiled fused-v1): a profile without `classicalSha256` is scored only under this version.
 */
export const KEYSTROKE_CLASSICAL_V1 = 'keystroke-fused-v1';

export interface KeystrokeClassicalModel {
  version: string;
  /** sha256 of the weights file (what a profile records). */
  sha256: string;
  /** KEYSTROKE_COMPONENTS.length weights, for the native scorer. */
  weights: Float64Array;
  globalThreshold: number;
  window: number;
}

export function loadKeystrokeClassical(modelsDir: string): KeystrokeClassicalModel {
  const { m, o, fail } = loadJsonModel(path.join(modelsDir, KEYSTROKE_CLASSICAL_DIR), KEYSTROKE_CLASSICAL_KIND);
  const comps = o['components'];
  if (!Array.isArray(comps) || comps.length !== KEYSTROKE_COMPONENTS.length || comps.some((c, i) => c !== KEYSTROKE_COMPONENTS[i])) {
    fail(`"components" must be ${JSON.stringify(KEYSTROKE_COMPONENTS)} (the native scorer's order), got ${JSON.stringify(comps)}`);
  }
  const w = o['weights'];
  if (!Array.isArray(w) || w.length !== KEYSTROKE_COMPONENTS.length || w.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
    fail(`"weights" must be ${KEYSTROKE_COMPONENTS.length} finite numbers`);
  }
  // All zeros would score every window 0: every profile's threshold 0, nobody told apart.
  if ((w as number[]).every((x) => x === 0)) fail('"weights" are all 0');
  const gt = o['globalThreshold'];
  if (typeof gt !== 'number' || !Number.isFinite(gt)) fail('"globalThreshold" must be a finite number');
  const W = o['window'];
  if (typeof W !== 'number' || !Number.isInteger(W) || W < 10 || W > 10000) fail('"window" must be an integer 10..10000');
  return { version: m.manifest.version, sha256: m.manifest.sha256, weights: Float64Array.from(w as number[]), globalThreshold: gt as number, window: W as number };
}

/**
 * Why a keystroke profile's threshold does not belong to the loaded weights, or null when it
 * does: it was calibrated under another weights file (or, recording none, under fused-v1 while
 * another version is loaded). The daemon then recalibrates it under the loaded weights.
 */
export function classicalMismatch(model: KeystrokeClassicalModel, profileSha256: string | undefined): string | null {
  if (profileSha256 === undefined) {
    return model.version === KEYSTROKE_CLASSICAL_V1
      ? null
      : `the keystroke profile was calibrated under ${KEYSTROKE_CLASSICAL_V1}, but models/${KEYSTROKE_CLASSICAL_DIR} holds ${model.version}`;
  }
  return profileSha256 === model.sha256
    ? null
    : `the keystroke profile was calibrated under other classical weights (${profileSha256.slice(0, 12)}…; models/${KEYSTROKE_CLASSICAL_DIR} holds ${model.version}, ${model.sha256.slice(0, 12)}…)`;
}
