/**
 * Loads the keystroke fusion parameters (models/keystroke-fusion): manifest kind
 * "keystroke-fusion", whose file is JSON
 *   { "version"?: string, "embedderSha256": "<sha256 of the ONNX embedder>",
 *     "classicalVersion"?: "<models/keystroke-classical version the fusedWeight was fit on>",
 *     "windows": { "<W>": { "fusedWeight": n, "similarityWeight": n, "bias": n,
 *                           "genuineQuantiles": [99 increasing numbers], "genuineSd": n > 0 } } }
 * One entry per window length W the parameters were fit for (scripts/bio/keystroke_learned.py,
 * on typists held out of the embedder's training). `genuineQuantiles[k]` is the combined score
 * that k+1 % of those typists' genuine windows fall below: the threshold for a false-reject
 * rate of k+1 %. Without "classicalVersion" the fusion was fit on the compiled fused-v1 score.
 *
 * Synchronous. Throws `SentinelError('SENTINEL_E_CONFIG')` naming the file for invalid content
 * (and, through `loadModel`, for a hash mismatch).
 */
import path from 'node:path';
import { loadJsonModel } from './manifest.js';
import { KEYSTROKE_CLASSICAL_V1 } from './keystroke-classical-model.js';

export const KEYSTROKE_FUSION_KIND = 'keystroke-fusion';
export const KEYSTROKE_FUSION_DIR = 'keystroke-fusion';
const QUANTILES = 99;

export interface KeystrokeFusionWindow {
  fusedWeight: number;
  similarityWeight: number;
  bias: number;
  genuineQuantiles: number[];
  genuineSd: number;
}

export interface KeystrokeFusionModel {
  version: string;
  sha256: string;
  embedderSha256: string;
  /** The classical weights' version the fusion was fit on (models/keystroke-classical). */
  classicalVersion: string;
  windows: ReadonlyMap<number, KeystrokeFusionWindow>;
}

export function loadKeystrokeFusion(modelsDir: string): KeystrokeFusionModel {
  const { m, o, fail } = loadJsonModel(path.join(modelsDir, KEYSTROKE_FUSION_DIR), KEYSTROKE_FUSION_KIND);
  const sha = o['embedderSha256'];
  if (typeof sha !== 'string' || !/^[0-9a-f]{64}$/.test(sha)) fail('"embedderSha256" must be 64 lowercase hex digits');
  const w = o['windows'];
  if (typeof w !== 'object' || w === null || Array.isArray(w)) fail('"windows" must be an object of window length → parameters');
  const windows = new Map<number, KeystrokeFusionWindow>();
  for (const [k, v] of Object.entries(w as Record<string, unknown>)) {
    const W = Number(k);
    if (!Number.isInteger(W) || W < 1) fail(`windows key ${JSON.stringify(k)} must be a positive integer`);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`windows.${k} must be an object`);
    const e = v as Record<string, unknown>;
    const num = (f: string): number => {
      const x = e[f];
      if (typeof x !== 'number' || !Number.isFinite(x)) fail(`windows.${k}.${f} must be a finite number`);
      return x as number;
    };
    const q = e['genuineQuantiles'];
    if (!Array.isArray(q) || q.length !== QUANTILES || !q.every((x, i) => typeof x === 'number' && Number.isFinite(x) && (i === 0 || x >= (q[i - 1] as number)))) {
      fail(`windows.${k}.genuineQuantiles must be ${QUANTILES} non-decreasing finite numbers`);
    }
    const sd = num('genuineSd');
    if (!(sd > 0)) fail(`windows.${k}.genuineSd must be > 0`);
    windows.set(W, { fusedWeight: num('fusedWeight'), similarityWeight: num('similarityWeight'), bias: num('bias'), genuineQuantiles: [...(q as number[])], genuineSd: sd });
  }
  if (!windows.size) fail('"windows" is empty');
  const cv = o['classicalVersion'] ?? KEYSTROKE_CLASSICAL_V1;
  if (typeof cv !== 'string' || cv.length === 0) fail('"classicalVersion" must be a non-empty string');
  return { version: m.manifest.version, sha256: m.manifest.sha256, embedderSha256: sha as string, classicalVersion: cv as string, windows };
}

/** The parameters fit for W-keystroke windows, or why there are none (a sentence for logs and status). */
export function fusionWindow(fusion: KeystrokeFusionModel, W: number): KeystrokeFusionWindow | string {
  return fusion.windows.get(W) ?? `the keystroke embedding is calibrated for ${[...fusion.windows.keys()].join(', ')}-keystroke windows, not ${W}`;
}

/** The combined-score threshold that rejects a share `frr` of genuine windows (linear between percentiles). */
export function fusionThreshold(w: KeystrokeFusionWindow, frr: number): number {
  const q = w.genuineQuantiles;
  const x = Math.min(QUANTILES, Math.max(1, frr * 100)) - 1;
  const lo = Math.floor(x);
  const hi = Math.min(QUANTILES - 1, lo + 1);
  const a = q[lo] as number;
  const b = q[hi] as number;
  return a + (b - a) * (x - lo);
}
