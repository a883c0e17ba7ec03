/**
 * Loads the heuristic weights model (models/heuristic): manifest kind "heuristic-weights",
 * whose file (weights.json) is JSON
 *   { "version": string, "contributions": { "<contribution name>": weight >= 0 } }
 * (`contributions` is what `engine.setHeuristicWeights` takes; the engine checks the names.)
 *
 * Synchronous. Throws `SentinelError('SENTINEL_E_CONFIG')` naming the file: invalid content, a
 * version that differs from the manifest's, a negative or non-finite weight.
 */
import { loadJsonModel, type ModelManifest } from './manifest.js';

export const HEURISTIC_KIND = 'heuristic-weights';

export interface HeuristicModel {
  manifest: ModelManifest;
  version: string;
  sha256: string;
  contributions: Record<string, number>;
  path: string;
}

export function loadHeuristicModel(dir: string): HeuristicModel {
  const { m, o, fail } = loadJsonModel(dir, HEURISTIC_KIND);
  const c = o['contributions'];
  if (typeof c !== 'object' || c === null || Array.isArray(c)) fail('"contributions" must be an object of name → weight');
  const contributions: Record<string, number> = {};
  for (const [k, v] of Object.entries(c as Record<string, unknown>)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`contributions.${k} must be a finite number >= 0`);
    contributions[k] = v as number;
  }
  return { manifest: m.manifest, version: m.manifest.version, sha256: m.manifest.sha256, contributions, path: m.path };
}
