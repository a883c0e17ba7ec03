// The several-users mouse model's background file (src/biometrics/mouse-background.ts) through
// the addon: synthetic users' real one-class profiles written and read back; a single enrolled
// user fitted against the background scores their own fresh mouse as genuine and an outsider's
// (a user in neither the model nor the background) as an impostor's; every malformed file is
// refused with SENTINEL_E_BIO_PROFILE and says what is wrong. With two enrolled users and the
// background, each user is told from the other and from an outsider.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeMouseBackground, loadMouseBackground, parseMouseBackground } from '../../src/biometrics/mouse-background.js';
import { fitMouseCohort, MouseCohortStream } from '../../src/biometrics/mouse-cohort.js';
import { enrollMouseProfile, loadMousePopulation } from '../../src/biometrics/mouse-model.js';
import { catchError } from '../support/catch-error.js';
import { cleanupStack } from '../support/cleanups.js';
import { ROOT } from '../support/daemon-process.js';
import { decodeEvents } from '../support/decode-events.js';
import { mouseSession } from '../support/input-events.js';
import { modelsWithOtherPopulation } from '../support/other-population.js';

const cleanups = cleanupStack();
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const ROUNDS = 60; // enough for synthetic users; the daemon fits 200

function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'sentinel-mouse-bg-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

describe('mouse background (addon)', () => {
  const pop = loadMousePopulation(path.join(ROOT, 'models'));

  async function profile(seed: number, kp: string, population = pop): Promise<Uint8Array> {
    const d = decodeEvents(mouseSession(seed, 320, 1e6, 3 + seed), kp);
    return (await enrollMouseProfile(d.actions, d.actionMeta, population)).bytes;
  }

  it('lets one enrolled user be told from people the host never enrolled', async () => {
    const dir = tempDir();
    const kp = path.join(dir, 'bio.key');
    const file = path.join(dir, 'background.bin');
    writeFileSync(file, encodeMouseBackground([{ name: 'bg2', mouse: await profile(2, kp) }, { name: 'bg3', mouse: await profile(3, kp) }]));
    const background = loadMouseBackground(file, pop);
    expect(background.map((m) => m.user)).toEqual(['background/bg2', 'background/bg3']);

    const fit = await fitMouseCohort([{ user: 'alice', mouse: await profile(1, kp) }, ...background], pop, { rounds: ROUNDS });
    expect(fit.members.map((m) => m.user)).toEqual(['alice', 'background/bg2', 'background/bg3']);
    const score = (seed: number): number[] => {
      const d = decodeEvents(mouseSession(seed, 80, 9e8, 77), kp);
      return new MouseCohortStream(fit, pop, 'alice').push(d.actions, d.actionMeta);
    };
    const own = score(1);
    // Seed 4 is in neither the model nor the background: an outsider.
    const outsider = score(4);
    expect(own.length).toBeGreaterThanOrEqual(10);
    expect(mean(own)).toBeLessThan(0.5);
    expect(mean(outsider)).toBeGreaterThan(0.5);
    expect(mean(outsider)).toBeGreaterThan(mean(own) + 0.2);
  });

  it('with two enrolled users and a background, tells each user from the other and from an outsider', async () => {
    const dir = tempDir();
    const kp = path.join(dir, 'bio.key');
    const members = [
      { user: 'alice', mouse: await profile(1, kp) },
      { user: 'bob', mouse: await profile(5, kp) },
      { user: 'background/bg2', mouse: await profile(2, kp) },
      { user: 'background/bg3', mouse: await profile(3, kp) },
    ];
    const fit = await fitMouseCohort(members, pop, { rounds: ROUNDS, background: 2 });
    expect(fit.background).toBe(2);
    expect(fit.members.map((m) => m.user)).toEqual(members.map((m) => m.user));
    // The background is one class: its two members share its calibration.
    expect(fit.members[2]).toMatchObject({ threshold: fit.members[3]!.threshold, calibrationBlocks: fit.members[3]!.calibrationBlocks });
    const score = (seed: number, as: string): number => {
      const d = decodeEvents(mouseSession(seed, 80, 9e8, 78), kp);
      return mean(new MouseCohortStream(fit, pop, as).push(d.actions, d.actionMeta));
    };
    // Own mouse genuine; the other enrolled user and an outsider (seed 4: in neither the model
    // nor the background) impostors, for each user.
    for (const [user, own, other] of [['alice', 1, 5], ['bob', 5, 1]] as const) {
      expect(score(own, user)).toBeLessThan(0.5);
      expect(score(other, user)).toBeGreaterThan(0.5);
      expect(score(4, user)).toBeGreaterThan(0.5);
    }
    for (const background of [4, -1, 1.5]) {
      await expect(fitMouseCohort(members, pop, { background })).rejects.toMatchObject({ code: 'SENTINEL_E_INVALID_ARGUMENT', message: expect.stringMatching(/at least one enrolled user besides its background members/) });
    }
  });

  it('refuses a malformed, truncated, unknown-version or foreign file with what is wrong', async () => {
    const dir = tempDir();
    const kp = path.join(dir, 'bio.key');
    const good = encodeMouseBackground([{ name: 'bg2', mouse: await profile(2, kp) }]);
    expect(parseMouseBackground(good, pop)).toHaveLength(1);
    const refused = (bytes: Uint8Array, population = pop): { code: unknown; message: string } => {
      const e = catchError(() => parseMouseBackground(bytes, population, 'bg.bin')) as { code?: unknown; message: string };
      return { code: e.code, message: e.message };
    };
    const patched = (at: number, u32: number): Uint8Array => {
      const b = Buffer.from(good);
      b.writeUInt32LE(u32, at);
      return b;
    };
    expect(refused(Buffer.from('nope'))).toEqual({ code: 'SENTINEL_E_BIO_PROFILE', message: 'bg.bin: not a mouse background file (no "SMBG" header)' });
    expect(refused(patched(4, 2))).toEqual({ code: 'SENTINEL_E_BIO_PROFILE', message: 'bg.bin: version 2, this release reads version 1' });
    expect(refused(patched(8, 0)).message).toBe('bg.bin: 0 members, a background holds 1 to 32');
    expect(refused(patched(8, 2)).message).toBe('bg.bin: truncated at member 2 of 2');
    expect(refused(good.subarray(0, good.length - 1)).message).toMatch(/^bg\.bin: truncated in member "bg2"'s profile \(\d+ bytes, \d+ left\)$/);
    expect(refused(Buffer.concat([good, Buffer.from([0])])).message).toBe('bg.bin: 1 bytes after the last member');
    const twice = encodeMouseBackground([{ name: 'bg2', mouse: await profile(2, kp) }, { name: 'bg2', mouse: await profile(3, kp) }]);
    expect(refused(twice).message).toBe('bg.bin: member "bg2" appears twice');
    // A profile whose bytes are damaged, and one enrolled under another population.
    const damaged = Buffer.from(good);
    damaged.fill(0xff, 21, 29); // the profile's own header (it starts after 12 + 2 + 3 + 4 bytes)
    expect(refused(damaged)).toMatchObject({ code: 'SENTINEL_E_BIO_PROFILE', message: expect.stringMatching(/^bg\.bin: member "bg2": /) });
    const other = loadMousePopulation(modelsWithOtherPopulation(dir));
    expect(refused(good, other).message).toBe('bg.bin: member "bg2" was enrolled under another population model: rebuild it (scripts/bio/mouse_background.sh)');
    expect(catchError(() => loadMouseBackground(path.join(dir, 'missing.bin'), pop))).toMatchObject({ code: 'SENTINEL_E_IO' });
    expect(catchError(() => encodeMouseBackground([{ name: 'a/b', mouse: good }]))).toMatchObject({ code: 'SENTINEL_E_INVALID_ARGUMENT' });
  });
});
