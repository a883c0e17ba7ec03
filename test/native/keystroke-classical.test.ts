// The classical keystroke weights reach the native scorer: models/keystroke-classical holds
// exactly the compiled fused-v1 the evaluation tools use; a profile scored with those weights
// scores as with the addon's default, other weights move every score and the calibrated
// threshold, recalibrating a profile under other weights gives the bytes enrolling under them
// gives, and bad weights are refused before the addon (SENTINEL_E_INVALID_ARGUMENT) and by it
// (TypeError / RangeError).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addon } from '../../src/binding.js';
import { enrollKeystrokeProfile, KeystrokeStream, recalibrateKeystrokeProfile } from '../../src/biometrics/keystroke-model.js';
import { loadKeystrokeClassical } from '../../src/models/keystroke-classical-model.js';
import { keyEvents, typedKeystrokes } from '../support/input-events.js';
import { decodeEvents } from '../support/decode-events.js';
import { catchError } from '../support/catch-error.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OTHER = Float64Array.from([1, 1, 0.5, 0.5, 0.1]);
let dir: string;
let enrollKeys: Float64Array;
let testKeys: Float64Array;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sentinel-ksweights-'));
  const keyPath = path.join(dir, 'key');
  enrollKeys = decodeEvents(keyEvents(typedKeystrokes(1, 600, 1_000_000, 11)), keyPath).keys;
  testKeys = decodeEvents(keyEvents(typedKeystrokes(2, 300, 900_000_000, 5, 41)), keyPath).keys;
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('classical keystroke weights in the addon', () => {
  it('ships the compiled fused-v1 weights and threshold in models/keystroke-classical', () => {
    const shipped = loadKeystrokeClassical(path.join(ROOT, 'models'));
    const compiled = addon().biometricsConstants();
    expect(Array.from(shipped.weights)).toEqual(Array.from(compiled.keystrokeFusedV1Weights));
    expect(shipped.globalThreshold).toBe(compiled.keystrokeFusedV1GlobalThreshold);
  });

  it('scores with the given weights: the shipped ones as the default, others differently', async () => {
    const shipped = loadKeystrokeClassical(path.join(ROOT, 'models')).weights;
    const byDefault = await enrollKeystrokeProfile(enrollKeys);
    const withShipped = await enrollKeystrokeProfile(enrollKeys, { weights: shipped });
    expect(Buffer.from(withShipped).equals(Buffer.from(byDefault))).toBe(true);
    const a = new KeystrokeStream(byDefault, 25).pushScores(testKeys);
    const b = new KeystrokeStream(byDefault, 25, shipped).pushScores(testKeys);
    expect(a.length).toBeGreaterThan(5);
    expect(Array.from(b)).toEqual(Array.from(a));
    const c = new KeystrokeStream(byDefault, 25, OTHER).pushScores(testKeys);
    expect(c).toHaveLength(a.length);
    for (let i = 0; i < a.length; i++) expect(c[i]).not.toBe(a[i]);
    // The threshold is calibrated under the enrollment's weights.
    const other = await enrollKeystrokeProfile(enrollKeys, { weights: OTHER });
    expect(new KeystrokeStream(other, 25, OTHER).info.threshold).not.toBe(new KeystrokeStream(byDefault, 25).info.threshold);
  });

  it('recalibrates a profile under other weights to exactly what enrolling under them gives', async () => {
    const byDefault = await enrollKeystrokeProfile(enrollKeys);
    const underOther = await enrollKeystrokeProfile(enrollKeys, { weights: OTHER });
    expect(Buffer.from(underOther).equals(Buffer.from(byDefault))).toBe(false);
    expect(Buffer.from(recalibrateKeystrokeProfile(byDefault, 0.05, OTHER)).equals(Buffer.from(underOther))).toBe(true);
    expect(Buffer.from(recalibrateKeystrokeProfile(underOther, 0.05)).equals(Buffer.from(byDefault))).toBe(true);
    // Another false-reject rate moves the threshold only.
    const at10 = new KeystrokeStream(recalibrateKeystrokeProfile(byDefault, 0.1), 25).info;
    expect(at10.threshold).toBeGreaterThan(new KeystrokeStream(byDefault, 25).info.threshold);
    expect(catchError(() => recalibrateKeystrokeProfile(byDefault.subarray(0, 40), 0.05))).toMatchObject({ code: 'SENTINEL_E_BIO_PROFILE' });
    expect(catchError(() => recalibrateKeystrokeProfile(byDefault, 1))).toMatchObject({ code: 'SENTINEL_E_INVALID_ARGUMENT' });
    expect(catchError(() => recalibrateKeystrokeProfile(byDefault, 0.05, Float64Array.from([1, 2])))).toMatchObject({ code: 'SENTINEL_E_INVALID_ARGUMENT' });
  });

  it('refuses bad weights in TypeScript and in the addon', async () => {
    const profile = await enrollKeystrokeProfile(enrollKeys);
    for (const w of [Float64Array.from([1, 2, 3, 4]), Float64Array.from([1, 2, 3, 4, Number.NaN])]) {
      expect(catchError(() => new KeystrokeStream(profile, 25, w))).toMatchObject({ code: 'SENTINEL_E_INVALID_ARGUMENT' });
      await expect(enrollKeystrokeProfile(enrollKeys, { weights: w })).rejects.toMatchObject({ code: 'SENTINEL_E_INVALID_ARGUMENT' });
    }
    const raw = addon();
    expect(() => new raw.KeystrokeScorer(profile, 25, new Float32Array(5) as unknown as Float64Array)).toThrow(TypeError);
    expect(() => new raw.KeystrokeScorer(profile, 25, Float64Array.from([1, 2, 3]))).toThrow(RangeError);
    expect(() => new raw.KeystrokeScorer(profile, 25, Float64Array.from([1, 2, 3, 4, Infinity]))).toThrow(RangeError);
    expect(() => raw.enrollKeystrokes(enrollKeys, 100, 0.05, Float64Array.from([1]))).toThrow(RangeError);
    expect(() => raw.recalibrateKeystrokes(profile, 0.05, Float64Array.from([1, 2, 3, 4, Number.NaN]))).toThrow(RangeError);
  });
});
