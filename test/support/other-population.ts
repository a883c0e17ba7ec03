/**
 * A copy of the project's models directory under `dir` whose mouse population model differs from
 * the shipped one (its first weight changed, the manifest's sha256 updated to match), as another
 * release's models would: it loads, but a profile enrolled with the shipped population was not
 * enrolled with it. Returns the copy's path; the caller removes `dir`.
 */
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './daemon-process.js';

export function modelsWithOtherPopulation(dir: string): string {
  const models = path.join(dir, 'models');
  cpSync(path.join(ROOT, 'models'), models, { recursive: true });
  const popFile = path.join(models, 'mouse', 'population.bin');
  const pop = readFileSync(popFile);
  // bytes 16..19: the first feature weight (after magic, version, schema and feature count)
  pop.writeFloatLE(pop.readFloatLE(16) * 0.5 + 0.25, 16);
  writeFileSync(popFile, pop);
  const manifestFile = path.join(models, 'mouse', 'manifest.json');
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(manifestFile, JSON.stringify({ ...manifest, sha256: createHash('sha256').update(pop).digest('hex') }));
  return models;
}
