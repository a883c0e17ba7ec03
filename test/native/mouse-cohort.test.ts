// The several-users mouse model through the addon (fitMouseCohort, MouseCohortScorer): fitted
// on the libuv pool from three synthetic users' one-class profiles, it scores a member's own
// fresh actions as genuine and another member's as an impostor's; fitting is deterministic; bad
// members, a malformed model and another population are refused with their codes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fitMouseCohort, MouseCohortStream, type MouseCohortFit } from '../../src/biometrics/mouse-cohort.js';
import { enrollMouseProfile, loadMousePopulation } from '../../src/biometrics/mouse-model.js';
import { cleanupStack } from '../support/cleanups.js';
import { ROOT } from '../support/daemon-process.js';
import { decodeEvents } from '../support/decode-events.js';
import { mouseSession } from '../support/input-events.js';
import { modelsWithOtherPopulation } from '../support/other-population.js';

const cleanups = cleanupStack();
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'sentinel-cohort-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const ROUNDS = 60; // enough for three synthetic users; the daemon fits 200

describe('several-users mouse model (addon)', () => {
  const pop = loadMousePopulation(path.join(ROOT, 'models'));

  async function enrolled(dir: string, seeds: number[]): Promise<{ user: string; mouse: Uint8Array }[]> {
    const kp = path.join(dir, 'bio.key');
    const out = [];
    for (const s of seeds) {
      const d = decodeEvents(mouseSession(s, 320, 1e6, 3 + s), kp);
      out.push({ user: `user${s}`, mouse: (await enrollMouseProfile(d.actions, d.actionMeta, pop)).bytes });
    }
    return out;
  }

  it('scores each member above the other members, with a cross-fitted calibration', async () => {
    const dir = tempDir();
    const kp = path.join(dir, 'bio.key');
    const members = await enrolled(dir, [1, 2, 3]);
    const fit = await fitMouseCohort(members, pop, { rounds: ROUNDS });
    expect(fit.members.map((m) => m.user)).toEqual(['user1', 'user2', 'user3']);
    for (const m of fit.members) {
      expect(Number.isFinite(m.threshold)).toBe(true);
      expect(m.genuineSd).toBeGreaterThan(0);
      expect(m.calibrationBlocks).toBeGreaterThanOrEqual(40);
      expect(m.enrolledFar).toBeLessThan(0.2);
    }
    const score = (f: MouseCohortFit, as: string, seed: number): number[] => {
      const d = decodeEvents(mouseSession(seed, 80, 9e8, 77), kp);
      return new MouseCohortStream(f, pop, as).push(d.actions, d.actionMeta);
    };
    for (const [as, own, other] of [['user1', 1, 2], ['user2', 2, 3], ['user3', 3, 1]] as const) {
      const genuine = score(fit, as, own);
      expect(genuine.length).toBeGreaterThanOrEqual(10);
      expect(mean(genuine)).toBeLessThan(0.5);
      expect(mean(score(fit, as, other))).toBeGreaterThan(0.9);
    }
    const again = await fitMouseCohort(members, pop, { rounds: ROUNDS });
    expect(Buffer.from(again.model).equals(Buffer.from(fit.model))).toBe(true);
    // maxActions keeps each member's newest 200 actions: 4 held-out chunks of 50, each giving
    // blocks of 20 every 5 actions, (50 - 20) / 5 + 1 = 7, so 28 calibration blocks.
    const newest = await fitMouseCohort(members, pop, { rounds: ROUNDS, maxActions: 200 });
    for (const [i, m] of newest.members.entries()) {
      expect(m.calibrationBlocks).toBe(28);
      expect(m.calibrationBlocks).toBeLessThan(fit.members[i]!.calibrationBlocks);
    }
  });

  it('refuses bad members, a malformed model, a non-member and another population', async () => {
    const dir = tempDir();
    const kp = path.join(dir, 'bio.key');
    const members = await enrolled(dir, [1, 2]);
    await expect(fitMouseCohort(members.slice(0, 1), pop)).rejects.toMatchObject({ code: 'SENTINEL_E_INVALID_ARGUMENT' });
    await expect(fitMouseCohort([members[0]!, { ...members[1]!, user: 'user1' }], pop)).rejects.toMatchObject({ code: 'SENTINEL_E_INVALID_ARGUMENT' });
    const m0 = members[0]!;
    await expect(fitMouseCohort([{ ...m0, mouse: m0.mouse.subarray(0, m0.mouse.length - 1) }, members[1]!], pop)).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_PROFILE' });
    await expect(fitMouseCohort(members, pop.subarray(0, 1000))).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_PROFILE' });
    // Written before profiles kept a quantised enrollment (SMO1 version 2): nothing to fit on.
    const v2 = new Uint8Array(readFileSync(path.join(ROOT, 'test', 'fixtures', 'native', 'mouse-profile-v2.smo1')));
    await expect(fitMouseCohort([{ user: 'old', mouse: v2 }, members[1]!], pop)).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_ENROLL', message: expect.stringMatching(/version 2/) });
    // Too short for four held-out chunks of two blocks each.
    const short = decodeEvents(mouseSession(4, 130, 1e6, 9), kp);
    const shortProfile = (await enrollMouseProfile(short.actions, short.actionMeta, pop)).bytes;
    await expect(fitMouseCohort([{ user: 'short', mouse: shortProfile }, members[1]!], pop)).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_ENROLL', message: expect.stringMatching(/too short/) });
    // A member enrolled under another release's population.
    const other = loadMousePopulation(modelsWithOtherPopulation(dir));
    const d = decodeEvents(mouseSession(5, 320, 1e6, 8), kp);
    const foreign = (await enrollMouseProfile(d.actions, d.actionMeta, other)).bytes;
    await expect(fitMouseCohort([{ user: 'foreign', mouse: foreign }, members[1]!], pop)).rejects.toMatchObject({ code: 'SENTINEL_E_BIO_ENROLL', message: expect.stringMatching(/another population/) });

    const fit = await fitMouseCohort(members, pop, { rounds: 20 });
    expect(() => new MouseCohortStream(fit, pop, 'nobody')).toThrow(expect.objectContaining({ code: 'SENTINEL_E_INVALID_ARGUMENT' }));
    expect(() => new MouseCohortStream({ ...fit, model: fit.model.subarray(0, fit.model.length - 1) }, pop, 'user1')).toThrow(expect.objectContaining({ code: 'SENTINEL_E_BIO_PROFILE' }));
    const wrongVersion = fit.model.slice();
    wrongVersion[4] = 9;
    expect(() => new MouseCohortStream({ ...fit, model: wrongVersion }, pop, 'user1')).toThrow(expect.objectContaining({ code: 'SENTINEL_E_BIO_PROFILE' }));
    expect(() => new MouseCohortStream(fit, other, 'user1')).toThrow(expect.objectContaining({ code: 'SENTINEL_E_BIO_PROFILE', message: expect.stringMatching(/another population/) }));
  });
});
