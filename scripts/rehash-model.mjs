#!/usr/bin/env node
// Recomputes the sha256 of a model directory's file into its manifest.json, after a deliberate
// change to the model file: `node scripts/rehash-model.mjs models/heuristic`.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node scripts/rehash-model.mjs <model dir>');
  process.exit(2);
}
const manifestPath = path.join(dir, 'manifest.json');
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
const sha256 = createHash('sha256').update(readFileSync(path.join(dir, manifest.file))).digest('hex');
if (manifest.sha256 === sha256) {
  console.log(`${manifestPath}: unchanged (${sha256})`);
} else {
  manifest.sha256 = sha256;
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  console.log(`${manifestPath}: sha256 now ${sha256}`);
}
