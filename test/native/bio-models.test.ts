// The keystroke and mouse models through the addon: enrollment on the libuv pool separates two
// synthetic users; profiles round-trip and a truncated or altered one is refused with its code;
// too little input is refused at enrollment. A mouse sitting added to a profile gives the model
// of one enrollment from both sittings; profiles that cannot take one are refused.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { addon } from '../../src/binding.js';
import { enrollKeystrokeProfile, KeystrokeStream } from '../../src/biometrics/keystroke-model.js';
import { concatFloat32, concatFloat64 } from '../../src/biometrics/input-batch.js';
import { addMouseSitting, enrollMouseProfile, loadMousePopulation, mouseProfileInfo, MouseStream } from '../../src/biometrics/mouse-model.js';
import { ROOT } from '../support/daemon-process.js';
import { decodeEvents } from '../support/decode-events.js';
import { cleanupStack } from '../support/cleanups.js';
import { keyEvents, mouseSession, typedKeystrokes } from '../support/input-events.js';

const cleanups = cleanupStack();

function keyPath(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'sentinel-biomodels-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return path.join(d, 'bio.key');
}


const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('keystroke model (addon)', () => {
  it('separates the enrolled typist from another one on held-out text', async () => {
    const kp = keyPath();
    const enroll = decodeEvents(keyEvents(typedKeystrokes(1, 600, 1e6, 11)), kp);
    const profile = await enrollKeystrokeProfile(enroll.keys);
    const genuine = new KeystrokeStream(profile).push(decodeEvents(keyEvents(typedKeystrokes(1, 400, 5e8, 99, 37)), kp).keys);
    const impostor = new KeystrokeStream(profile).push(decodeEvents(keyEvents(typedKeystrokes(2, 400, 5e8, 99, 37)), kp).keys);
    expect(genuine.length).toBeGreaterThanOrEqual(10);
    expect(impostor.length).toBe(genuine.length);
    expect(mean(genuine)).toBeLessThan(0.5);
    expect(mean(impostor)).toBeGreaterThan(0.9);
  });

  it('refuses too few keystrokes, and a truncated or altered profile', async () => {
    const kp = keyPath();
    const few = decodeEvents(keyEvents(typedKeystrokes(1, 150, 1e6, 11)), kp);
    await expect(enrollKeystrokeProfile(few.keys)).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_ENROLL' });
    const profile = await enrollKeystrokeProfile(decodeEvents(keyEvents(typedKeystrokes(1, 600, 1e6, 11)), kp).keys);
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
    const en = decodeEvents(mouseSession(1, 200, 1e6, 3), kp);
    const m = await enrollMouseProfile(en.actions, en.actionMeta, pop);
    expect(m.calibrationBlocks).toBeGreaterThanOrEqual(4);
    const score = (seed: number): number[] => {
      const d = decodeEvents(mouseSession(seed, 60, 9e8, 77), kp);
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
    const few = decodeEvents(mouseSession(1, 40, 1e6, 3), kp);
    await expect(enrollMouseProfile(few.actions, few.actionMeta, pop)).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_ENROLL' });
    const en = decodeEvents(mouseSession(1, 200, 1e6, 3), kp);
    await expect(enrollMouseProfile(en.actions, en.actionMeta, pop.subarray(0, 1000))).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_PROFILE' });
    await expect(enrollMouseProfile(en.actions, en.actionMeta, null)).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_ENROLL' });
    const m = await enrollMouseProfile(en.actions, en.actionMeta, null, { method: 'robustZ' });
    expect(() => new MouseStream(m.bytes.subarray(0, m.bytes.length - 1), m.threshold, m.genuineSd)).toThrow(
      expect.objectContaining({ code: 'SENTINEL_E_BIO_PROFILE' }),
    );
  });
});

describe('mouse sittings (addon, addMouseSitting)', () => {
  type Acts = { actions: Float32Array; actionMeta: Float64Array };
  const join = (a: Acts, b: Acts): Acts => ({ actions: concatFloat32([a.actions, b.actions]), actionMeta: concatFloat64([a.actionMeta, b.actionMeta]) });
  const n = (a: Acts): number => a.actionMeta.length / 4;

  it('enroll(A) + add(B) is enroll(A+B): the same block scores, threshold and calibration; sittings count up; maxActions keeps the newest', async () => {
    const kp = keyPath();
    const pop = loadMousePopulation(path.join(ROOT, 'models'));
    const A = decodeEvents(mouseSession(1, 200, 1e6, 3), kp);
    const B = decodeEvents(mouseSession(1, 200, 6e8, 41), kp);
    const C = decodeEvents(mouseSession(1, 120, 9e8, 55), kp);
    const a = await enrollMouseProfile(A.actions, A.actionMeta, pop);
    const aBefore = a.bytes.slice();
    expect(mouseProfileInfo(a.bytes)).toMatchObject({ sittings: 1, canAddSittings: true, enrolledActions: n(A) });
    const ab = await addMouseSitting(a.bytes, B.actions, B.actionMeta, pop, { blockActions: 20, frr: 0.05 });
    expect(a.bytes).toEqual(aBefore); // the input profile is read, not changed
    expect(ab.sittings).toBe(2);
    expect(Number.isFinite(ab.threshold) && ab.genuineSd > 0).toBe(true);
    expect(mouseProfileInfo(ab.bytes)).toMatchObject({ sittings: 2, canAddSittings: true, enrolledActions: n(A) + n(B), threshold: ab.threshold });

    const whole = join(A, B);
    const once = await enrollMouseProfile(whole.actions, whole.actionMeta, pop);
    // Calibrated as the one-shot enrollment on both sittings: the same leave-out blocks.
    expect({ threshold: ab.threshold, genuineSd: ab.genuineSd, calibrationBlocks: ab.calibrationBlocks }).toEqual({
      threshold: once.threshold,
      genuineSd: once.genuineSd,
      calibrationBlocks: once.calibrationBlocks,
    });
    // Held-out actions of the user and of another one, each scored by both profiles.
    for (const seed of [1, 2]) {
      const d = decodeEvents(mouseSession(seed, 80, 2e9, 77), kp);
      const s1 = new MouseStream(ab.bytes, ab.threshold, ab.genuineSd).pushScores(d.actions, d.actionMeta);
      const s2 = new MouseStream(once.bytes, once.threshold, once.genuineSd).pushScores(d.actions, d.actionMeta);
      expect(s1.length).toBeGreaterThanOrEqual(10);
      expect(s1.length).toBe(s2.length);
      for (let i = 0; i < s1.length; i++) expect(Math.abs((s1[i] as number) - (s2[i] as number))).toBeLessThan(1e-9);
    }
    // The merged profile still separates the user from another one.
    const score = (p: typeof ab, seed: number): number[] => {
      const d = decodeEvents(mouseSession(seed, 60, 3e9, 78), kp);
      return new MouseStream(p.bytes, p.threshold, p.genuineSd).push(d.actions, d.actionMeta);
    };
    expect(mean(score(ab, 1))).toBeLessThan(0.5);
    expect(mean(score(ab, 2))).toBeGreaterThan(0.9);

    // A third sitting: still the one-shot enrollment on all three.
    const abc = await addMouseSitting(ab.bytes, C.actions, C.actionMeta, pop, { blockActions: 20, frr: 0.05 });
    expect(abc.sittings).toBe(3);
    const all = await enrollMouseProfile(join(whole, C).actions, join(whole, C).actionMeta, pop);
    expect([abc.threshold, abc.calibrationBlocks]).toEqual([all.threshold, all.calibrationBlocks]);
    const d = decodeEvents(mouseSession(1, 60, 4e9, 79), kp);
    const s3 = new MouseStream(abc.bytes, abc.threshold, abc.genuineSd).pushScores(d.actions, d.actionMeta);
    const s4 = new MouseStream(all.bytes, all.threshold, all.genuineSd).pushScores(d.actions, d.actionMeta);
    expect(Array.from(s3, (x, i) => Math.abs(x - (s4[i] as number)) < 1e-9)).toEqual(Array.from(s4, () => true));

    // maxActions: only the newest actions stay; here exactly sitting C's.
    const onlyC = await addMouseSitting(ab.bytes, C.actions, C.actionMeta, pop, { blockActions: 20, frr: 0.05, maxActions: n(C) });
    const c = await enrollMouseProfile(C.actions, C.actionMeta, pop);
    expect(mouseProfileInfo(onlyC.bytes)).toMatchObject({ sittings: 3, enrolledActions: n(C) });
    expect([onlyC.threshold, onlyC.calibrationBlocks]).toEqual([c.threshold, c.calibrationBlocks]);
    await expect(addMouseSitting(ab.bytes, C.actions, C.actionMeta, pop, { blockActions: 20, maxActions: 79 })).rejects.toMatchObject({ code: 'SENTINEL_E_INVALID_ARGUMENT' });
  });

  it('refuses a version-2 profile, too few actions, a malformed profile and another population', async () => {
    const kp = keyPath();
    const pop = loadMousePopulation(path.join(ROOT, 'models'));
    const B = decodeEvents(mouseSession(1, 200, 6e8, 41), kp);
    // Written by the build before sittings (SMO1 version 2, mouseSession(1, 200, 1e6, 3)): it
    // still loads and scores, but keeps no counts to add to.
    const v2 = new Uint8Array(readFileSync(path.join(ROOT, 'test', 'fixtures', 'native', 'mouse-profile-v2.smo1')));
    expect(Buffer.from(v2.subarray(0, 8)).toString('hex')).toBe('534d4f3102000000');
    expect(mouseProfileInfo(v2).canAddSittings).toBe(false);
    expect(new MouseStream(v2, 0, 1).pushScores(B.actions, B.actionMeta).length).toBeGreaterThan(0);
    await expect(addMouseSitting(v2, B.actions, B.actionMeta, pop)).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_PROFILE', message: expect.stringMatching(/version 2/) });

    const A = decodeEvents(mouseSession(1, 200, 1e6, 3), kp);
    const a = await enrollMouseProfile(A.actions, A.actionMeta, pop);
    const few = decodeEvents(mouseSession(1, 70, 6e8, 41), kp);
    expect(n(few)).toBeLessThan(80);
    await expect(addMouseSitting(a.bytes, few.actions, few.actionMeta, pop)).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_ENROLL' });
    // The addon checks it too, not only the TypeScript wrapper.
    await expect(addon().addMouseSitting(a.bytes, few.actions, few.actionMeta, pop, { blockActions: 20, frr: 0.05 })).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_ENROLL' });

    await expect(addMouseSitting(a.bytes.subarray(0, a.bytes.length - 1), B.actions, B.actionMeta, pop)).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_PROFILE' });
    const wrongMagic = a.bytes.slice();
    wrongMagic[0] = 0x58;
    await expect(addMouseSitting(wrongMagic, B.actions, B.actionMeta, pop)).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_PROFILE' });
    expect(() => mouseProfileInfo(wrongMagic)).toThrow(expect.objectContaining({ code: 'SENTINEL_E_BIO_PROFILE' }));
    await expect(addMouseSitting(a.bytes, B.actions, B.actionMeta, pop.subarray(0, 1000))).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_PROFILE' });

    // A valid population that is not the one the profile was enrolled with: its first weight changed.
    const other = pop.slice();
    const dv = new DataView(other.buffer, other.byteOffset, other.byteLength);
    dv.setFloat32(16, dv.getFloat32(16, true) * 0.5 + 0.25, true);
    const m2 = await enrollMouseProfile(B.actions, B.actionMeta, other); // it is a loadable population
    expect(m2.calibrationBlocks).toBeGreaterThanOrEqual(4);
    await expect(addMouseSitting(a.bytes, B.actions, B.actionMeta, other)).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_PROFILE', message: expect.stringMatching(/population/) });
    // mouseProfileInfo says so beforehand (what the daemon and enroll --add check).
    expect(mouseProfileInfo(a.bytes, pop).populationMatches).toBe(true);
    expect(mouseProfileInfo(a.bytes, other).populationMatches).toBe(false);
    expect(mouseProfileInfo(a.bytes).populationMatches).toBeNull();
    expect(mouseProfileInfo(v2, pop).populationMatches).toBe(false);
    expect(() => mouseProfileInfo(a.bytes, pop.subarray(0, 1000))).toThrow(expect.objectContaining({ code: 'SENTINEL_E_BIO_PROFILE' }));
    // A profile of another method keeps no counts either.
    const rz = await enrollMouseProfile(B.actions, B.actionMeta, null, { method: 'robustZ' });
    expect(mouseProfileInfo(rz.bytes).canAddSittings).toBe(false);
    await expect(addMouseSitting(rz.bytes, B.actions, B.actionMeta, pop)).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_PROFILE' });
  });
});
