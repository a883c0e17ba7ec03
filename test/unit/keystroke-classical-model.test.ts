// models/keystroke-classical: the loader refuses every malformed weights file with
// SENTINEL_E_CONFIG naming the file, and classicalMismatch decides which profiles' thresholds
// belong to the loaded weights (the same file, or fused-v1 for a profile that records none).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256Hex } from '../../src/models/hash.js';
import { classicalMismatch, KEYSTROKE_CLASSICAL_DIR, KEYSTROKE_CLASSICAL_V1, loadKeystrokeClassical } from '../../src/models/keystroke-classical-model.js';
import { catchError } from '../support/catch-error.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let models: string;

beforeEach(() => {
  models = mkdtempSync(path.join(tmpdir(), 'sentinel-ksclassical-'));
  mkdirSync(path.join(models, KEYSTROKE_CLASSICAL_DIR));
});
afterEach(() => {
  rmSync(models, { recursive: true, force: true });
});

const GOOD = { version: 'ks-test', components: ['rpp', 'app', 'ahold', 'arp', 'sm'], weights: [1, 2, 3, 4, 5], globalThreshold: -3, window: 100 };

/** Writes the weights file (as JSON text) and a manifest that matches it. */
function write(content: unknown, over: Record<string, unknown> = {}): string {
  const text = typeof content === 'string' ? content : JSON.stringify(content);
  const dir = path.join(models, KEYSTROKE_CLASSICAL_DIR);
  writeFileSync(path.join(dir, 'weights.json'), text);
  const sha256 = sha256Hex(Buffer.from(text));
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ name: 'k', version: 'ks-test', kind: 'keystroke-classical', file: 'weights.json', sha256, featureSchemaVersion: 1, ...over }));
  return sha256;
}

describe('loadKeystrokeClassical', () => {
  it('loads the shipped weights (fused-v1) and a valid file', () => {
    const shipped = loadKeystrokeClassical(path.join(ROOT, 'models'));
    expect(shipped.version).toBe(KEYSTROKE_CLASSICAL_V1);
    expect(shipped.weights).toBeInstanceOf(Float64Array);
    expect(shipped.weights).toHaveLength(5);
    const sha = write(GOOD);
    const m = loadKeystrokeClassical(models);
    expect(m).toMatchObject({ version: 'ks-test', sha256: sha, globalThreshold: -3, window: 100 });
    expect(Array.from(m.weights)).toEqual([1, 2, 3, 4, 5]);
  });

  it.each([
    ['components in another order', { ...GOOD, components: ['app', 'rpp', 'ahold', 'arp', 'sm'] }, /"components" must be \["rpp","app","ahold","arp","sm"\]/],
    ['four weights', { ...GOOD, weights: [1, 2, 3, 4] }, /"weights" must be 5 finite numbers/],
    ['a weight that is not a number', { ...GOOD, weights: [1, 2, 3, 4, '5'] }, /"weights" must be 5 finite numbers/],
    ['all weights 0', { ...GOOD, weights: [0, 0, 0, 0, 0] }, /"weights" are all 0/],
    ['no global threshold', { ...GOOD, globalThreshold: undefined }, /"globalThreshold" must be a finite number/],
    ['a window out of range', { ...GOOD, window: 5 }, /"window" must be an integer 10\.\.10000/],
    ['a version other than the manifest\'s', { ...GOOD, version: 'ks-other' }, /version "ks-other" differs from the manifest's "ks-test"/],
    ['not JSON', '{"weights": [1,', /weights\.json/],
  ])('refuses %s', (_what, content, message) => {
    write(content);
    const err = catchError(() => loadKeystrokeClassical(models));
    expect(err).toMatchObject({ code: 'SENTINEL_E_CONFIG' });
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain(path.join(models, KEYSTROKE_CLASSICAL_DIR));
  });

  it('refuses a manifest of another kind, and a file that does not match its manifest', () => {
    write(GOOD, { kind: 'keystroke-fusion' });
    expect(catchError(() => loadKeystrokeClassical(models))).toMatchObject({ code: 'SENTINEL_E_CONFIG', message: expect.stringMatching(/kind is "keystroke-fusion", expected "keystroke-classical"/) });
    write(GOOD, { sha256: '0'.repeat(64) });
    expect(catchError(() => loadKeystrokeClassical(models))).toMatchObject({ code: 'SENTINEL_E_CONFIG', message: expect.stringMatching(/has sha256 [0-9a-f]{64}, but its manifest says 0{64}/) });
  });
});

describe('classicalMismatch', () => {
  it('matches a profile to the file it recorded, and one that records none to fused-v1 only', () => {
    const sha = write(GOOD);
    const m = loadKeystrokeClassical(models);
    expect(classicalMismatch(m, sha)).toBeNull();
    expect(classicalMismatch(m, 'a'.repeat(64))).toBe(`the keystroke profile was calibrated under other classical weights (aaaaaaaaaaaa…; models/${KEYSTROKE_CLASSICAL_DIR} holds ks-test, ${sha.slice(0, 12)}…)`);
    expect(classicalMismatch(m, undefined)).toBe(`the keystroke profile was calibrated under ${KEYSTROKE_CLASSICAL_V1}, but models/${KEYSTROKE_CLASSICAL_DIR} holds ks-test`);
    expect(classicalMismatch(loadKeystrokeClassical(path.join(ROOT, 'models')), undefined)).toBeNull();
  });
});
