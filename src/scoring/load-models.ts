/**
 * Loads the shipped detection models from the models directory, each verified against its
 * manifest's sha256 (src/models/manifest.ts), and wires them: heuristic weights into the
 * native engine, the heuristic detector and the fusion model into a Fusion.
 *
 * Sync (start-up only). Throws SentinelError SENTINEL_E_CONFIG on any missing or altered model.
 */
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { Engine } from '../engine.js';
import { Fusion } from '../fusion/fusion.js';
import { HeuristicDetector } from '../detectors/heuristic.js';
import { loadHeuristicModel } from '../models/heuristic-model.js';
import { loadFusionModel } from '../models/fusion-model.js';

export interface DetectionModels {
  fusion: Fusion;
  /** sha256 over the effective configuration and model hashes, recorded with each run. */
  configHash(config: unknown): string;
}

export function loadDetectionModels(modelsDir: string, engine: Engine): DetectionModels {
  const heuristic = loadHeuristicModel(path.join(modelsDir, 'heuristic'));
  engine.setHeuristicWeights(heuristic.contributions);
  const fusion = new Fusion([new HeuristicDetector(heuristic.manifest)], loadFusionModel(path.join(modelsDir, 'fusion')));
  return {
    fusion,
    configHash: (config) => createHash('sha256').update(JSON.stringify({ config, models: fusion.modelHashes() })).digest('hex'),
  };
}
