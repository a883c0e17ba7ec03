// `sentinel enroll --add` end to end, with the real CLI (and the daemon loading the result): a
// first sitting enrolls typing and the mouse "event-mouse"; a second sitting from a recording of
// another pointer ("event-trackball") is added to the mouse model only. The profile then holds
// two sittings, the summed samples and both identities, a recalibrated threshold, and the
// keystroke modality exactly as it was. Every refusal (--keys with --add, another --block, no
// profile, a version-2 mouse model, another release's population model, a bad mouse.sittings,
// too short a sitting) leaves the file byte-identical.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyFingerprint, loadProfile, saveProfile } from '../../src/biometrics/profile-file.js';
import { ROOT, runCli, startDaemonProcess, type DaemonProcess } from '../support/daemon-process.js';
import { encodeInputEvents, keyEvents, mouseSession, typedKeystrokes } from '../support/input-events.js';
import { modelsWithOtherPopulation } from '../support/other-population.js';
import type { ModalityJson, ProfileJson } from '../../src/biometrics/profile-file.js';
import { NO_SEAT } from '../support/biometrics-config.js';
import { bioWorkspace } from '../support/bio-workspace.js';

interface Summary {
  user: string;
  profile: string;
  keystrokes: number;
  actions: number;
  mouse: { block: number; threshold: number; genuineSd: number; devices: string[] | null; sittings: number } | null;
  sittings: number;
  added: boolean;
}

describe('sentinel enroll --add', () => {
  it('adds a second mouse sitting from another pointer; keystrokes kept byte-for-byte; the daemon scores both pointers', async () => {
    const t = bioWorkspace('sentinel-enroll-add-');
    let daemon: DaemonProcess | undefined;
    try {
      const kbd = t.rec('enroll-kbd', encodeInputEvents(keyEvents(typedKeystrokes(1, 600, 1_000_000, 11))));
      const mouse = t.rec('event-mouse', encodeInputEvents(mouseSession(1, 210, 1_000_000, 3)));
      const first = await t.enroll(['--user', 'alice', '--device', kbd, mouse]);
      expect(first.code, first.stderr).toBe(0);
      const s1 = JSON.parse(first.stdout) as Summary;
      expect(s1).toMatchObject({ sittings: 1, added: false, actions: 200, mouse: { devices: ['file:event-mouse'], sittings: 1 } });
      const before = JSON.parse(readFileSync(s1.profile, 'utf8')) as ProfileJson;
      expect(before.mouse?.sittings).toBe(1);

      const trackball = t.rec('event-trackball', encodeInputEvents(mouseSession(1, 210, 600_000_000, 41)));
      const add = await t.enroll(['--add', '--device', trackball]);
      expect(add.code, add.stderr).toBe(0);
      const s2 = JSON.parse(add.stdout) as Summary;
      expect(s2).toMatchObject({ user: 'alice', profile: s1.profile, keystrokes: 0, actions: 200, sittings: 2, added: true });
      expect(s2.mouse).toMatchObject({ block: 20, sittings: 2, devices: ['file:event-mouse', 'file:event-trackball'] });

      const after = JSON.parse(readFileSync(s1.profile, 'utf8')) as ProfileJson;
      expect(statSync(s1.profile).mode & 0o777).toBe(0o600);
      expect(readdirSync(path.dirname(s1.profile))).toEqual([path.basename(s1.profile)]); // no temporary file left
      expect({ user: after.user, createdMs: after.createdMs, keySha256: after.keySha256 }).toEqual({ user: before.user, createdMs: before.createdMs, keySha256: before.keySha256 });
      expect(before.keystroke?.embedding?.reference).toHaveLength(64);
      expect(after.keystroke).toEqual(before.keystroke); // data, sha256, calibration and embedding reference untouched
      const m0 = before.mouse as ModalityJson;
      const m1 = after.mouse as ModalityJson;
      expect(m1).toMatchObject({ sittings: 2, samples: 400, window: 20, frr: m0.frr, devices: ['file:event-mouse', 'file:event-trackball'] });
      expect(m1.sha256).not.toBe(m0.sha256);
      expect(Number.isFinite(m1.threshold) && Number.isFinite(m1.genuineSd) && (m1.genuineSd as number) > 0).toBe(true);
      expect(m1.threshold).not.toBe(m0.threshold); // recalibrated on the blocks of the new sitting
      expect(m1.threshold).toBe(s2.mouse?.threshold);
      // It loads as a valid profile (sha256, sittings, key).
      const loaded = loadProfile(s1.profile, keyFingerprint(path.join(t.data, 'bio.key')));
      expect(loaded.mouse?.sittings).toBe(2);

      // The daemon loads the grown profile and scores both pointers.
      daemon = await startDaemonProcess({ dataDir: t.data, extraArgs: ['--config', t.cfgFile] });
      const on = await daemon.waitLog((l) => l['event.action'] === 'biometrics_on');
      expect(on['mouseDevices']).toEqual(['file:event-mouse', 'file:event-trackball']);
      expect(on['keystroke']).toBe(true);
      expect(await daemon.stop()).toBe(0);
    } finally {
      daemon?.cleanup();
      t.done();
    }
  }, 120_000);

  it('refuses --keys with --add, another --block, a missing profile, a version-2 mouse model, a bad sittings field and a short sitting, writing nothing; keeps the app modality', async () => {
    const t = bioWorkspace('sentinel-enroll-add-');
    try {
      const mouse = t.rec('event-mouse', encodeInputEvents(mouseSession(1, 210, 1_000_000, 3)));
      const second = t.rec('event-trackball', encodeInputEvents(mouseSession(1, 210, 600_000_000, 41)));
      const base = ['--config', t.cfgFile, '--data-dir', t.data];

      // No profile yet.
      const none = await runCli(['enroll', '--add', ...base, '--user', 'alice', '--device', second]);
      expect(none.code).toBe(1);
      const profilePath = path.join(t.data, 'profiles', 'alice.json');
      expect(none.stderr).toContain(`sentinel: SENTINEL_E_BIO_PROFILE: no profile of alice to add to at ${profilePath}; run sentinel enroll --user alice first`);
      expect(existsSync(profilePath)).toBe(false);

      const first = await runCli(['enroll', ...base, '--user', 'alice', '--device', mouse, '--keys', '0']);
      expect(first.code, first.stderr).toBe(0);
      expect((JSON.parse(first.stdout) as Summary).profile).toBe(profilePath);
      const bytes = readFileSync(profilePath);
      const unchanged = (): void => {
        expect(readFileSync(profilePath).equals(bytes)).toBe(true);
        expect(readdirSync(path.dirname(profilePath))).toEqual(['alice.json']);
      };

      const keys = await runCli(['enroll', '--add', ...base, '--device', second, '--keys', '600']);
      expect(keys.code).toBe(1);
      expect(keys.stderr).toMatch(/sentinel: SENTINEL_E_INVALID_ARGUMENT: --keys cannot be given with --add: --add extends the mouse model only/);
      unchanged();

      const block = await runCli(['enroll', '--add', ...base, '--device', second, '--block', '25']);
      expect(block.code).toBe(1);
      expect(block.stderr).toMatch(/sentinel: SENTINEL_E_INVALID_ARGUMENT: --block 25 differs from the profile's mouse block \(20\)/);
      unchanged();

      // A sitting shorter than four blocks (the recording ends at 50 actions).
      const short = t.rec('event-short', encodeInputEvents(mouseSession(1, 50, 900_000_000, 42)));
      const few = await runCli(['enroll', '--add', ...base, '--device', short]);
      expect(few.code).toBe(1);
      expect(few.stderr).toMatch(/sentinel: SENTINEL_E_BIO_ENROLL: a mouse sitting needs at least 80 actions/);
      unchanged();

      // A profile whose mouse model was written before sittings (SMO1 version 2): refused before recording.
      const v2Path = path.join(t.dir, 'v2.json');
      const p = loadProfile(profilePath, keyFingerprint(path.join(t.data, 'bio.key')));
      const v2 = new Uint8Array(readFileSync(path.join(ROOT, 'test', 'fixtures', 'native', 'mouse-profile-v2.smo1')));
      saveProfile(v2Path, { ...p, mouse: { ...(p.mouse as NonNullable<typeof p.mouse>), bytes: v2 } });
      const v2Bytes = readFileSync(v2Path);
      const old = await runCli(['enroll', '--add', ...base, '--profile', v2Path, '--device', second]);
      expect(old.code).toBe(1);
      expect(old.stderr).toMatch(/sentinel: SENTINEL_E_BIO_PROFILE: .*written before sittings could be added \(version 2\).*enroll again without --add/);
      expect(readFileSync(v2Path).equals(v2Bytes)).toBe(true);

      // Another release's population model (here: the shipped one with its first weight changed,
      // manifest and all): the profile was enrolled with the shipped one, so --add is refused
      // before recording, and the file is untouched.
      const models = modelsWithOtherPopulation(t.dir);
      const otherCfg = path.join(t.dir, 'other-models.json');
      writeFileSync(otherCfg, JSON.stringify({ modelsDir: models, biometrics: { inputDir: path.join(t.dir, 'input'), ...NO_SEAT } }));
      const otherPop = await runCli(['enroll', '--add', '--config', otherCfg, '--data-dir', t.data, '--device', second]);
      expect(otherPop.code).toBe(1);
      expect(otherPop.stderr).toContain(`sentinel: SENTINEL_E_BIO_PROFILE: profile ${profilePath}: the mouse model was enrolled with another mouse population model than ${path.join(models, 'mouse')}`);
      unchanged();

      // A profile file whose mouse.sittings is not a positive integer is refused on load.
      for (const bad of [0, 1.5, '2', null]) {
        const j = JSON.parse(bytes.toString('utf8')) as { mouse: Record<string, unknown> };
        j.mouse['sittings'] = bad;
        const badPath = path.join(t.dir, 'bad-sittings.json');
        writeFileSync(badPath, JSON.stringify(j), { mode: 0o600 });
        const r = await runCli(['enroll', '--add', ...base, '--profile', badPath, '--device', second]);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(`sentinel: SENTINEL_E_BIO_PROFILE: profile ${badPath}: mouse.sittings must be a positive integer`);
        expect(readFileSync(badPath, 'utf8')).toBe(JSON.stringify(j));
      }
      unchanged();

      // The app modality (learned by the daemon) is kept as it is, and so is a mouse without
      // `devices` (a profile that scores every pointer stays that way).
      const withApp = loadProfile(profilePath, keyFingerprint(path.join(t.data, 'bio.key')));
      const { devices: _devices, ...mouseNoDevices } = withApp.mouse as NonNullable<typeof withApp.mouse>;
      saveProfile(profilePath, { ...withApp, mouse: mouseNoDevices, app: { bytes: new Uint8Array([1, 2, 3, 4]), samples: 250, window: 20, frr: 0.05, threshold: -1.5 } });
      const appBefore = (JSON.parse(readFileSync(profilePath, 'utf8')) as { app: unknown }).app;
      const ok = await runCli(['enroll', '--add', ...base, '--device', second, '--frr', '0.1']);
      expect(ok.code, ok.stderr).toBe(0);
      expect(JSON.parse(ok.stdout)).toMatchObject({ added: true, sittings: 2, kept: ['app'], keystroke: null, mouse: { devices: null } });
      const j = JSON.parse(readFileSync(profilePath, 'utf8')) as ProfileJson & { app: unknown };
      expect(j.app).toEqual(appBefore);
      expect(j.keystroke).toBeUndefined();
      expect(j.mouse).toMatchObject({ sittings: 2, samples: 400, frr: 0.1 });
      expect(j.mouse?.devices).toBeUndefined();
    } finally {
      t.done();
    }
  }, 120_000);
});
