// The learned keystroke embedding through ONNX Runtime (on the embedder's worker thread): the
// shipped model reproduces PyTorch's output on fixed chunks, independently of how chunks are
// batched; bad models are refused with their codes; the embedded stream scores exactly the
// windows the native scorer scores, whatever the batch boundaries; and the combined score ranks
// the enrolled synthetic typist above another one.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_RECORD_STRIDE, KeyFlag, KeyRec } from '../../src/binding.js';
import { chunkStarts, EMBED_CHUNK, EMBED_DIM, EMBED_INPUTS, embeddingInputs, KeystrokeEmbedder, similarity } from '../../src/biometrics/keystroke-embedder.js';
import { EmbeddedKeystrokeStream, openKeystrokeEmbedding, type KeystrokeEmbeddingModels } from '../../src/biometrics/keystroke-embedded-stream.js';
import { enrollKeystrokeProfile, KeystrokeStream } from '../../src/biometrics/keystroke-model.js';
import { fusionThreshold, loadKeystrokeFusion } from '../../src/models/keystroke-fusion-model.js';
import { ROOT } from '../support/daemon-process.js';
import { decodeEvents } from '../support/decode-events.js';
import { cleanupStack } from '../support/cleanups.js';
import { keyEvents, typedKeystrokes } from '../support/input-events.js';

const MODELS = path.join(ROOT, 'models');
const cleanups = cleanupStack();
let models: KeystrokeEmbeddingModels;

beforeAll(async () => {
  models = await openKeystrokeEmbedding(MODELS);
});
afterAll(async () => {
  await models?.embedder.close();
});

function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'sentinel-ksembed-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function keysOf(seed: number, n: number, startUs: number, noise: number, kp: string, offset = 0): Float64Array {
  return decodeEvents(keyEvents(typedKeystrokes(seed, n, startUs, noise, offset)), kp).keys;
}

/** A models directory holding `bytes` as the embedder, with a manifest whose hash matches them. */
function modelsWithEmbedder(bytes: Buffer): string {
  const d = tempDir();
  mkdirSync(path.join(d, 'keystroke-embed'));
  writeFileSync(path.join(d, 'keystroke-embed', 'keystroke_embed.onnx'), bytes);
  const manifest = JSON.parse(readFileSync(path.join(MODELS, 'keystroke-embed', 'manifest.json'), 'utf8')) as Record<string, unknown>;
  manifest['sha256'] = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(path.join(d, 'keystroke-embed', 'manifest.json'), JSON.stringify(manifest));
  mkdirSync(path.join(d, 'keystroke-fusion'));
  for (const f of ['fusion.json', 'manifest.json']) copyFileSync(path.join(MODELS, 'keystroke-fusion', f), path.join(d, 'keystroke-fusion', f));
  return d;
}

describe('keystroke embedder (ONNX Runtime on a worker thread)', () => {
  it('reproduces the training framework on fixed chunks, however the chunks are batched', async () => {
    const ref = JSON.parse(readFileSync(path.join(ROOT, 'test', 'fixtures', 'models', 'keystroke-embed-reference.json'), 'utf8')) as { records: number[]; embedding: number[]; modelSha256: string };
    expect(ref.modelSha256).toBe(models.embedder.sha256);
    const records = Float32Array.from(ref.records);
    const both = await models.embedder.embedChunks(records, 2);
    expect(both.length).toBe(2 * EMBED_DIM);
    for (let i = 0; i < both.length; i++) expect(both[i]).toBeCloseTo(ref.embedding[i] as number, 4);
    const per = EMBED_CHUNK * EMBED_INPUTS;
    const first = await models.embedder.embedChunks(records.slice(0, per), 1);
    const second = await models.embedder.embedChunks(records.slice(per), 1);
    for (let d = 0; d < EMBED_DIM; d++) {
      expect(first[d]).toBeCloseTo(both[d] as number, 5);
      expect(second[d]).toBeCloseTo(both[EMBED_DIM + d] as number, 5);
    }
    // Unit length, as the reference and the fusion weights assume.
    expect(Math.hypot(...first)).toBeCloseTo(1, 4);
  });

  it('feeds the model timings and flags only, zero where the record has none', () => {
    const keys = new Float64Array(2 * KEY_RECORD_STRIDE);
    keys[KeyRec.Flags] = KeyFlag.Hold | KeyFlag.Backspace;
    keys[KeyRec.HoldMs] = 91;
    keys[KeyRec.PpMs] = 777; // no digraph flag: not fed
    keys[KeyRec.MonoBucket] = 5;
    keys[KEY_RECORD_STRIDE + KeyRec.Flags] = KeyFlag.Hold | KeyFlag.Digraph;
    keys[KEY_RECORD_STRIDE + KeyRec.HoldMs] = 120;
    keys[KEY_RECORD_STRIDE + KeyRec.PpMs] = 210;
    keys[KEY_RECORD_STRIDE + KeyRec.RpMs] = -15;
    expect(Array.from(embeddingInputs(keys))).toEqual([91, 0, 0, 1, 0, 1, 120, 210, -15, 1, 1, 0]);
    expect(chunkStarts(49)).toEqual([]);
    expect(chunkStarts(100)).toEqual([0, 25, 50]);
  });

  it('refuses a wrong-length request, a model that is not ONNX, and a model file whose hash differs', async () => {
    await expect(models.embedder.embedChunks(new Float32Array(7), 1)).rejects.toMatchObject({ code: 'SENTINEL_E_INVALID_ARGUMENT' });
    await expect(KeystrokeEmbedder.open(modelsWithEmbedder(Buffer.from('not an onnx model')))).rejects.toMatchObject({ code: 'SENTINEL_E_MODEL_RUNTIME' });
    const altered = modelsWithEmbedder(readFileSync(path.join(MODELS, 'keystroke-embed', 'keystroke_embed.onnx')));
    writeFileSync(path.join(altered, 'keystroke-embed', 'keystroke_embed.onnx'), 'changed after the manifest');
    await expect(KeystrokeEmbedder.open(altered)).rejects.toMatchObject({ code: 'SENTINEL_E_CONFIG' });
    // A fusion fit for another embedder is refused as a pair.
    const other = readFileSync(path.join(MODELS, 'keystroke-embed', 'keystroke_embed.onnx'));
    const paired = modelsWithEmbedder(Buffer.concat([other, Buffer.alloc(0)]));
    const fusionJson = JSON.parse(readFileSync(path.join(paired, 'keystroke-fusion', 'fusion.json'), 'utf8')) as Record<string, unknown>;
    fusionJson['embedderSha256'] = 'a'.repeat(64);
    const text = JSON.stringify(fusionJson);
    writeFileSync(path.join(paired, 'keystroke-fusion', 'fusion.json'), text);
    const fm = JSON.parse(readFileSync(path.join(paired, 'keystroke-fusion', 'manifest.json'), 'utf8')) as Record<string, unknown>;
    fm['sha256'] = createHash('sha256').update(text).digest('hex');
    writeFileSync(path.join(paired, 'keystroke-fusion', 'manifest.json'), JSON.stringify(fm));
    await expect(openKeystrokeEmbedding(paired)).rejects.toThrow(/was fit for the embedder a{64}/);
  });

  it('rejects requests after close', async () => {
    const e = await KeystrokeEmbedder.open(MODELS);
    await e.close();
    await expect(e.embedChunks(new Float32Array(EMBED_CHUNK * EMBED_INPUTS), 1)).rejects.toMatchObject({ code: 'SENTINEL_E_MODEL_RUNTIME' });
  });
});

describe('embedded keystroke stream', () => {
  it('scores the native scorer\'s windows, the same whatever the batch boundaries', async () => {
    const kp = path.join(tempDir(), 'bio.key');
    const profile = await enrollKeystrokeProfile(keysOf(1, 600, 1e6, 11, kp));
    const reference = await models.embedder.reference(keysOf(1, 600, 1e6, 11, kp));
    const params = models.fusion.windows.get(100);
    expect(params).toBeDefined();
    if (!params) return;
    const later = keysOf(1, 400, 5e8, 99, kp, 37);
    const whole = await new EmbeddedKeystrokeStream(profile, reference, params, models.embedder, 0.05).pushScores(later);
    const classical = new KeystrokeStream(profile).pushScores(later);
    expect(whole.length).toBe(classical.length);
    expect(whole.length).toBeGreaterThanOrEqual(10);
    whole.forEach((s, i) => expect(s.fused).toBeCloseTo(classical[i] as number, 9));

    // Batches of odd sizes, pushed without awaiting: the same windows, in order.
    const stream = new EmbeddedKeystrokeStream(profile, reference, params, models.embedder, 0.05);
    const n = later.length / KEY_RECORD_STRIDE;
    const pending = [];
    for (let at = 0, step = 7; at < n; at += step, step = (step * 3) % 41 + 1) {
      pending.push(stream.pushScores(later.subarray(at * KEY_RECORD_STRIDE, Math.min(n, at + step) * KEY_RECORD_STRIDE)));
    }
    const split = (await Promise.all(pending)).flat();
    expect(split.length).toBe(whole.length);
    split.forEach((s, i) => {
      expect(s.fused).toBeCloseTo(whole[i]?.fused as number, 9);
      expect(s.similarity).toBeCloseTo(whole[i]?.similarity as number, 5);
    });

    // The first window's similarity by hand: the window is the 100 records ending at the
    // native scorer's first scored record (window + stride - 1 = 124 records in).
    const first = embeddingInputs(later, 124 - 100, 100);
    const v = await models.embedder.windowVectors(first, 1, 100);
    expect(similarity(v, 0, reference)).toBeCloseTo(whole[0]?.similarity as number, 5);
    const c = whole[0];
    if (c) expect(c.combined).toBeCloseTo(params.fusedWeight * c.fused + params.similarityWeight * c.similarity + params.bias, 9);
    expect(new EmbeddedKeystrokeStream(profile, reference, params, models.embedder, 0.05).threshold).toBe(fusionThreshold(params, 0.05));
  });

  it('ranks the enrolled synthetic typist above another one', async () => {
    const kp = path.join(tempDir(), 'bio.key');
    const enroll = keysOf(1, 600, 1e6, 11, kp);
    const profile = await enrollKeystrokeProfile(enroll);
    const reference = await models.embedder.reference(enroll);
    const params = loadKeystrokeFusion(MODELS).windows.get(100);
    if (!params) throw new Error('no fusion parameters for 100-keystroke windows');
    const score = async (seed: number): Promise<number[]> =>
      (await new EmbeddedKeystrokeStream(profile, reference, params, models.embedder, 0.05).pushScores(keysOf(seed, 400, 5e8, 99, kp, 37))).map((s) => s.combined);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const genuine = await score(1);
    const impostor = await score(2);
    expect(mean(genuine)).toBeGreaterThan(mean(impostor));
    expect(Math.min(...genuine)).toBeGreaterThan(Math.max(...impostor));
  });

  it('rejects the windows of a batch when the embedder has gone, with its code', async () => {
    const kp = path.join(tempDir(), 'bio.key');
    const enroll = keysOf(1, 600, 1e6, 11, kp);
    const profile = await enrollKeystrokeProfile(enroll);
    const own = await KeystrokeEmbedder.open(MODELS);
    const reference = await own.reference(enroll);
    const params = models.fusion.windows.get(100);
    if (!params) throw new Error('no fusion parameters for 100-keystroke windows');
    const stream = new EmbeddedKeystrokeStream(profile, reference, params, own, 0.05);
    const later = keysOf(1, 400, 5e8, 99, kp, 37);
    expect((await stream.push(later.subarray(0, 200 * KEY_RECORD_STRIDE))).length).toBeGreaterThan(0);
    await own.close();
    await expect(stream.push(later.subarray(200 * KEY_RECORD_STRIDE))).rejects.toMatchObject({ code: 'SENTINEL_E_MODEL_RUNTIME' });
  });

  it('refuses a reference of the wrong length', async () => {
    const kp = path.join(tempDir(), 'bio.key');
    const profile = await enrollKeystrokeProfile(keysOf(1, 600, 1e6, 11, kp));
    const params = models.fusion.windows.get(100);
    if (!params) throw new Error('no fusion parameters for 100-keystroke windows');
    expect(() => new EmbeddedKeystrokeStream(profile, new Float32Array(3), params, models.embedder, 0.05)).toThrow(expect.objectContaining({ code: 'SENTINEL_E_INVALID_ARGUMENT' }));
  });
});
