#!/usr/bin/env node
// Keystroke scores of every Aalto TEST window against every TEST typist's profile, through the
// daemon's own code (dist/, `npm run build:ts`): the native KeystrokeScorer's fused score and
// the shipped combined score (fused + the learned embedding's similarity, models/keystroke-*).
// What a host with several enrolled typists could do with its other users' profiles (a cohort
// score, docs/biometrics.md, "Keystrokes: several enrolled typists as a cohort") is measured
// from this matrix by scripts/bio/keystroke_cohort.py.
//
// Input: `aalto_eval --dump DIR` (records.tsv). Profiles are enrolled as keystroke_replay.mjs
// enrolls them (window 100, frr 0.05, the embedder's reference); windows are the typists' test
// keystrokes cut into non-overlapping 100-keystroke windows, as there.
//
// usage: node scripts/bio/keystroke_cohort.mjs DIR > matrix.tsv   (profile owner window fused combined)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = (p) => import(path.join(root, 'dist', 'src', ...p.split('/')));
const { enrollKeystrokeProfile, KeystrokeStream } = await dist('biometrics/keystroke-model.js');
const { combinedScore, openKeystrokeEmbedding } = await dist('biometrics/keystroke-embedded-stream.js');
const { embeddingInputs, similarity, EMBED_INPUTS } = await dist('biometrics/keystroke-embedder.js');
const { KEY_RECORD_STRIDE } = await dist('binding.js');

const dir = process.argv[2];
if (!dir) throw new Error('usage: keystroke_cohort.mjs DIR');
const W = 100;

const users = new Map();
const lines = readFileSync(path.join(dir, 'records.tsv'), 'utf8').split('\n');
lines.shift();
for (const line of lines) {
  if (!line) continue;
  const f = line.split('\t');
  if (f[0] !== 'test') continue;
  let u = users.get(f[1]);
  if (!u) users.set(f[1], (u = { e: [], t: [] }));
  const flags = Number(f[5]) | (Number(f[6]) << 1) | (Number(f[7]) << 2);
  u[f[2]].push(Number(f[13]), flags, Number(f[8]), Number(f[9]), Number(f[10]), Number(f[11]), Number(f[12]));
}
const models = await openKeystrokeEmbedding(path.join(root, 'models'));
const params = models.fusion.windows.get(W);
const profiles = [];
for (const [id, u] of users) {
  u.e = Float64Array.from(u.e);
  u.t = Float64Array.from(u.t);
  profiles.push({ id, stream: new KeystrokeStream(await enrollKeystrokeProfile(u.e, { window: W, frr: 0.05 }), 1), reference: await models.embedder.reference(u.e) });
}
const out = ['profile\towner\twindow\tfused\tcombined'];
for (const [owner, u] of users) {
  const n = Math.floor(u.t.length / KEY_RECORD_STRIDE / W);
  if (!n) continue;
  const keys = u.t.subarray(0, n * W * KEY_RECORD_STRIDE);
  const inputs = embeddingInputs(keys);
  if (inputs.length !== n * W * EMBED_INPUTS) throw new Error('unexpected embedding input shape');
  const vectors = await models.embedder.windowVectors(inputs, n, W);
  for (const p of profiles) {
    for (let w = 0; w < n; w++) {
      p.stream.reset();
      const [fused] = p.stream.pushScores(keys.subarray(w * W * KEY_RECORD_STRIDE, (w + 1) * W * KEY_RECORD_STRIDE));
      const combined = combinedScore(params, fused, similarity(vectors, w, p.reference));
      out.push(`${p.id}\t${owner}\t${w}\t${fused.toFixed(5)}\t${combined.toFixed(5)}`);
    }
  }
}
await models.embedder.close();
process.stdout.write(out.join('\n') + '\n');
