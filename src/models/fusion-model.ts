/**
 * Loads a fusion model directory (models/fusion): manifest kind "fusion", whose file is JSON
 *   { "version"?: string, "bias": number, "weights": { "<detector name>": number } }
 * `version` in the file, when present, must equal the manifest's version.
 *
 * Synchronous. Throws `SentinelError('SENTINEL_E_CONFIG')` naming the file for any invalid
 * content (and, through `loadModel`, for a hash mismatch). Whether the weights match the
 * running detectors is checked later, by `new Fusion(...)`.
 */
import type { FusionModel } from '../fusion/fusion.js';
import { loadJsonModel } from './manifest.js';

export const FUSION_KIND = 'fusion';

export function loadFusionModel(dir: string): FusionModel {
  const { m, o, fail } = loadJsonModel(dir, FUSION_KIND);
  const bias = o['bias'];
  if (typeof bias !== 'number' || !Number.isFinite(bias)) fail('"bias" must be a finite number');
  const w = o['weights'];
  if (typeof w !== 'object' || w === null || Array.isArray(w)) fail('"weights" must be an object of detector name → number');
  const weights: Record<string, number> = {};
  for (const [k, v] of Object.entries(w as Record<string, unknown>)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(`weights.${k} must be a finite number`);
    weights[k] = v as number;
  }
  return { version: m.manifest.version, sha256: m.manifest.sha256, bias: bias as number, weights };
}
