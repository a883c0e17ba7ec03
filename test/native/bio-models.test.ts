// The keystroke and mouse models through the addon: enrollment on the libuv pool separates two
// synthetic users; profiles round-trip and a truncated or altered one is refused with its code;
// too little input is refused at enrollment.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { addon } from '../../src/binding.js';
import { enrollKeystrokeProfile, KeystrokeStream } from '../../src/biometrics/keystroke-model.js';
import { concatInputBatches } from '../../src/biometrics/input-batch.js';
import { enrollMouseProfile, loadMousePopulation, MouseStream } from '../../src/biometrics/mouse-model.js';
import { ROOT } from '../support/daemon-process.js';
import { cleanupStack } from '../support/cleanups.js';
import { encodeInputEvents, keyEvents, mouseSession, typedKeystrokes } from '../support/input-events.js';

const cleanups = cleanupStack();

function keyPath(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'sentinel-biomodels-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return path.join(d, 'bio.key');
}

function decodeAll(events: ReturnType<typeof mouseSession>, kp: string): { keys: Float64Array; actions: Float32Array; actionMeta: Float64Array } {
  const parts = [];
  for (let i = 0; i < events.length; i += 9000) parts.push(addon().decodeInputEvents(encodeInputEvents(events.slice(i, i + 9000)), { keyPath: kp }));
  return concatInputBatches(parts);
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('keystroke model (addon)', () => {
  it('separates the enrolled typist from another one on held-out text', async () => {
    const kp = keyPath();
    const enroll = decodeAll(keyEvents(typedKeystrokes(1, 600, 1e6, 11)), kp);
    const profile = await enrollKeystrokeProfile(enroll.keys);
    const genuine = new KeystrokeStream(profile).push(decodeAll(keyEvents(typedKeystrokes(1, 400, 5e8, 99, 37)), kp).keys);
    const impostor = new KeystrokeStream(profile).push(decodeAll(keyEvents(typedKeystrokes(2, 400, 5e8, 99, 37)), kp).keys);
    expect(genuine.length).toBeGreaterThanOrEqual(10);
    expect(impostor.length).toBe(genuine.length);
    expect(mean(genuine)).toBeLessThan(0.5);
    expect(mean(impostor)).toBeGreaterThan(0.9);
  });

  it('refuses too few keystrokes, and a truncated or altered profile', async () => {
    const kp = keyPath();
    const few = decodeAll(keyEvents(typedKeystrokes(1, 150, 1e6, 11)), kp);
    await expect(enrollKeystrokeProfile(few.keys)).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_ENROLL' });
    const profile = await enrollKeystrokeProfile(decodeAll(keyEvents(typedKeystrokes(1, 600, 1e6, 11)), kp).keys);
    expect(() => new KeystrokeStream(profile.subarray(0, profile.length - 3))).toThrow(expect.objectContaining({ code: 'SENTINEL_E_BIO_PROFILE' }));
    const wrongVersion = profile.slice();
    wrongVersion[4] = 9;
    expect(() => new KeystrokeStream(wrongVersion)).toThrow(expect.objectContaining({ code: 'SENTINEL_E_BIO_PROFILE' }));
  });
});

describe('mouse model (addon, one-class with the shipped population)', () => {
  it('separates the enrolled mouse user from two others', async () => {
    const kp = keyPath();
    const pop = loadMousePopulation(path.join(ROOT, 'models'));
    const en = decodeAll(mouseSession(1, 200, 1e6, 3), kp);
    const m = await enrollMouseProfile(en.actions, en.actionMeta, pop);
    expect(m.calibrationBlocks).toBeGreaterThanOrEqual(4);
    const score = (seed: number): number[] => {
      const d = decodeAll(mouseSession(seed, 60, 9e8, 77), kp);
      return new MouseStream(m.bytes, m.threshold, m.genuineSd).push(d.actions, d.actionMeta);
    };
    const genuine = score(1);
    expect(genuine.length).toBeGreaterThanOrEqual(8);
    expect(mean(genuine)).toBeLessThan(0.5);
    expect(mean(score(2))).toBeGreaterThan(0.9);
    expect(mean(score(3))).toBeGreaterThan(0.9);
  });

  it('refuses too few actions, a method without its population, and a truncated profile or population', async () => {
    const kp = keyPath();
    const pop = loadMousePopulation(path.join(ROOT, 'models'));
    const few = decodeAll(mouseSession(1, 40, 1e6, 3), kp);
    await expect(enrollMouseProfile(few.actions, few.actionMeta, pop)).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_ENROLL' });
    const en = decodeAll(mouseSession(1, 200, 1e6, 3), kp);
    await expect(enrollMouseProfile(en.actions, en.actionMeta, pop.subarray(0, 1000))).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_PROFILE' });
    await expect(enrollMouseProfile(en.actions, en.actionMeta, null)).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_ENROLL' });
    const m = await enrollMouseProfile(en.actions, en.actionMeta, null, { method: 'robustZ' });
    expect(() => new MouseStream(m.bytes.subarray(0, m.bytes.length - 1), m.threshold, m.genuineSd)).toThrow(
      expect.objectContaining({ code: 'SENTINEL_E_BIO_PROFILE' }),
    );
  });
});
