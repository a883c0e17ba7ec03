// Mouse learning by use, end to end with the real daemon and CLI: the mouse model is enrolled
// from one 200-action sitting (recording "event-mouse"); the daemon runs with
// biometrics.mouseLearnActions 100 (block 20). The same user's mouse through the enrolled pointer
// (a FIFO of that name) keeps the session Normal: once 100 of its actions are followed by two more
// blocks (40 actions, the holdback) in Normal, the daemon adds those 100 as a second sitting, rewrites the profile (sittings 2, samples 300, keystroke kept), audits
// `mouse_model_learned` and shows it in /v1/status and `sentinel status`. Another person's mouse
// through the same pointer moves the session out of Normal before a sitting fills: what was
// buffered is discarded and the profile file stays byte-identical; so it is when another
// person's typing, with no mouse action of theirs, moves it out of Normal. A `sentinel enroll --add`
// run while the daemon is up is picked up at once, and the daemon learns on from that model.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startDaemonProcess, type DaemonProcess } from '../support/daemon-process.js';
import { plugFifoDevice } from '../support/fifo-device.js';
import { encodeInputEvents, keyEvents, mouseSession, typedKeystrokes } from '../support/input-events.js';
import { MOUSE_VOTES_FROM_ONE_SITTING } from '../support/biometrics-config.js';
import { modelsWithOtherPopulation } from '../support/other-population.js';
import type { ModalityJson, ProfileJson } from '../../src/biometrics/profile-file.js';
import type { BiometricsStatus } from '../../daemon/biometrics.js';
import { bioWorkspace, type BioWorkspace } from '../support/bio-workspace.js';

interface Status {
  biometrics: BiometricsStatus;
}

/** The scenarios' workspace: mouse learning every 100 actions, no app modality. */
function setup(extra: Record<string, unknown> = {}): BioWorkspace {
  return bioWorkspace('sentinel-mouse-learn-', { lockCommand: ['/bin/true'], mouseLearnActions: 100, app: { enabled: false }, ...extra });
}

/** Enrolls alice's typing and her mouse (200 actions of synthetic user 1, identity file:event-mouse). */
async function enroll(t: BioWorkspace): Promise<void> {
  const kbd = t.rec('enroll-kbd', encodeInputEvents(keyEvents(typedKeystrokes(1, 600, 1_000_000, 11))));
  const mouse = t.rec('event-mouse', encodeInputEvents(mouseSession(1, 210, 1_000_000, 3)));
  const r = await t.enroll(['--user', 'alice', '--device', kbd, mouse]);
  expect(r.code, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ actions: 200, sittings: 1, mouse: { block: 20, devices: ['file:event-mouse'] } });
}

/**
 * Runs one scenario: a fresh setup(extra), `start()` (re)starting the daemon on it. On a failure
 * the daemon's last log lines are printed; the daemon and the directory are always cleaned up.
 */
async function scenario(extra: Record<string, unknown>, body: (t: BioWorkspace, start: () => Promise<DaemonProcess>) => Promise<void>): Promise<void> {
  const t = setup(extra);
  let daemon: DaemonProcess | undefined;
  const start = async (): Promise<DaemonProcess> => {
    daemon?.cleanup();
    daemon = await startDaemonProcess({ dataDir: t.data, extraArgs: ['--config', t.cfgFile] });
    return daemon;
  };
  try {
    await body(t, start);
  } catch (err) {
    console.error(daemon?.logs.slice(-20).map((l) => JSON.stringify(l)).join('\n'));
    throw err;
  } finally {
    daemon?.cleanup();
    t.done();
  }
}

/**
 * Alice enrolled, the daemon started (mouse learning on), then 60 of her actions: Normal, and
 * buffered for the next sitting (40 to 99 held; none discarded). Her profile's bytes as enrolled
 * come back with the daemon. (A stream whose blocks all clear the one-sitting threshold: this
 * model scores the synthetic user's blocks close to the score cap, so its threshold sits within
 * a point of most of them.)
 */
async function aliceHeld(
  t: BioWorkspace,
  start: () => Promise<DaemonProcess>,
): Promise<{ d: DaemonProcess; bytes: Buffer; held: number; status: () => Promise<Status['biometrics']> }> {
  await enroll(t);
  const bytes = readFileSync(t.profile('alice'));
  const d = await start();
  await d.waitLog((l) => l['event.action'] === 'mouse_learning_on');
  const status = async (): Promise<Status['biometrics']> => (await d.http<Status>('GET', '/v1/status')).body.biometrics;
  await plugFifoDevice(d, t.input, 'event-mouse', encodeInputEvents(mouseSession(1, 60, 900_000_000, 80)));
  const st = await status();
  expect(st.state).toBe('Normal');
  const held = st.mouseLearning.buffered;
  expect(held).toBeGreaterThanOrEqual(40);
  expect(held).toBeLessThan(100);
  expect(st.mouseLearning.discardedActions).toBe(0);
  return { d, bytes, held, status };
}

/** 150 actions of synthetic user 2 through the enrolled pointer; resolves once the session has left Normal. */
async function anotherPersonLeavesNormal(d: DaemonProcess, t: BioWorkspace, startUs: number, seed: number): Promise<void> {
  const left = d.waitLog((l) => l['event.action'] === 'transition' && l['subject.kind'] === 'session' && l['from'] === 'Normal');
  await plugFifoDevice(d, t.input, 'event-mouse', encodeInputEvents(mouseSession(2, 150, startUs, seed)));
  await left;
}

describe('mouse learning by use (daemon)', () => {
  it('learns a second sitting from 100 Normal-state actions: profile sittings 2 / samples 300, audited, in the status', async () => {
    await scenario({}, async (t, start) => {
      let daemon: DaemonProcess;
      await enroll(t);
      const before = JSON.parse(readFileSync(t.profile('alice'), 'utf8')) as ProfileJson;
      daemon = await start();
      const d = daemon;
      const on = await d.waitLog((l) => l['event.action'] === 'mouse_learning_on');
      expect(on).toMatchObject({ actions: 100, block: 20, holdback: 40, sittings: 1 });
      const status = async (): Promise<Status['biometrics']> => (await d.http<Status>('GET', '/v1/status')).body.biometrics;
      expect((await status()).mouseLearning).toEqual({ on: true, reason: null, buffered: 0, learnedSittings: 0, discardedActions: 0, failures: 0 });

      // Alice again, later, through the enrolled pointer. 120 actions: not yet a sitting (the
      // newest 40 are held back); 60 more: one sitting of the oldest 100. (Streams chosen so the
      // one-sitting model keeps alice Normal: it rejects a good share of her blocks, which is
      // why it needs more sittings.)
      await plugFifoDevice(d, t.input, 'event-mouse', encodeInputEvents(mouseSession(1, 120, 900_000_000, 77)));
      let st = await status();
      expect(st.state).toBe('Normal');
      expect(st.mouseLearning).toMatchObject({ on: true, learnedSittings: 0, discardedActions: 0 });
      expect(st.mouseLearning.buffered).toBeGreaterThanOrEqual(100);
      expect(st.mouseLearning.buffered).toBeLessThan(140);
      const learned = d.waitLog((l) => l['event.action'] === 'mouse_model_learned');
      await plugFifoDevice(d, t.input, 'event-mouse', encodeInputEvents(mouseSession(1, 60, 1_900_000_000, 82)));
      const line = await learned;
      expect(line).toMatchObject({ sittings: 2, actions: 100, samples: 300 });
      st = await status();
      expect(st.state).toBe('Normal');
      expect(st.blocksScored).toBeGreaterThan(0);
      expect(st.mouseLearning).toMatchObject({ on: true, reason: null, learnedSittings: 1, discardedActions: 0, failures: 0 });
      expect(st.mouseLearning.buffered).toBeGreaterThanOrEqual(20);
      expect(st.mouseLearning.buffered).toBeLessThan(100);
      expect(d.logs.filter((l) => l['event.action'] === 'mouse_model_learned')).toHaveLength(1);

      const after = JSON.parse(readFileSync(t.profile('alice'), 'utf8')) as ProfileJson;
      expect({ user: after.user, createdMs: after.createdMs, keySha256: after.keySha256 }).toEqual({ user: before.user, createdMs: before.createdMs, keySha256: before.keySha256 });
      expect(after.keystroke).toEqual(before.keystroke);
      const m0 = before.mouse as ModalityJson;
      const m1 = after.mouse as ModalityJson;
      expect(m1).toMatchObject({ sittings: 2, samples: 300, window: 20, frr: m0.frr, devices: ['file:event-mouse'] });
      expect(m1.sha256).not.toBe(m0.sha256);
      expect(m1.threshold).toBe(line['threshold']);

      const cli = await runCli(['status', '--data-dir', t.data]);
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout).toMatch(/^mouse learn on: \d+ actions buffered, 1 sittings learned, 0 actions discarded \(left Normal\), 0 failures$/m);
      // With two sittings (biometrics.mouseMinSittings 2, the default) the mouse takes part in the
      // session score: another person's mouse now moves the session out of Normal.
      expect(d.logs.filter((l) => l['event.action'] === 'mouse_fusion_on')).toEqual([expect.objectContaining({ sittings: 2, minSittings: 2 })]);
      expect(cli.stdout).toMatch(/^mouse fuse {2}on: 2 sittings$/m);
      st = await status();
      expect(st.mouseFusion).toMatchObject({ on: true, sittings: 2, minSittings: 2 });
      const notFusedBefore = st.mouseFusion.blocksNotFused;
      expect(notFusedBefore).toBeGreaterThan(0); // alice's blocks before the second sitting
      await anotherPersonLeavesNormal(d, t, 2_900_000_000, 79);
      st = await status();
      expect(st.state).not.toBe('Normal');
      expect(st.mouseFusion.blocksNotFused).toBe(notFusedBefore);
      expect(await d.stop()).toBe(0);

      const rows = t.sessionActions('mouse_model_learned');
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ result: 'ok', target: 'session alice', detail: { sittings: 2, actions: 100, samples: 300, threshold: m1.threshold } });

      // The next start loads the grown model.
      daemon = await start(); // stops the previous one
      expect(await daemon.waitLog((l) => l['event.action'] === 'mouse_learning_on')).toMatchObject({ sittings: 2 });
      expect((await daemon.http<Status>('GET', '/v1/status')).body.biometrics.mouseLearning).toMatchObject({ on: true, learnedSittings: 0 });
      expect(await daemon.stop()).toBe(0);
    });
  }, 120_000);

  it('does not learn when the profile was enrolled with another mouse population model, and says so', async () => {
    await scenario({}, async (t, start) => {
      await enroll(t);
      const cfg = JSON.parse(readFileSync(t.cfgFile, 'utf8')) as Record<string, unknown>;
      const models = modelsWithOtherPopulation(t.dir);
      writeFileSync(t.cfgFile, JSON.stringify({ ...cfg, modelsDir: models }));
      const d = await start();
      const off = await d.waitLog((l) => l['event.action'] === 'mouse_learning_off');
      expect(off['reason']).toBe(`mouse learning off: the profile's mouse model was enrolled with another mouse population model than ${path.join(models, 'mouse')} (another release's); re-enroll (sentinel enroll) to let the daemon learn`);
      const st = (await d.http<Status>('GET', '/v1/status')).body.biometrics;
      expect(st.mouseLearning).toMatchObject({ on: false, reason: off['reason'], learnedSittings: 0, failures: 0 });
      expect(st.modalities.map((m) => m.modality)).toContain('mouse'); // it still scores the mouse
    });
  }, 120_000);

  it("keeps a one-sitting mouse out of the session score, and does not learn another person's mouse it finds foreign on its own", async () => {
    await scenario({}, async (t, start) => {
      let daemon: DaemonProcess;
      await enroll(t);
      const bytes = readFileSync(t.profile('alice'));
      daemon = await start();
      const d = daemon;
      expect(await d.waitLog((l) => l['event.action'] === 'mouse_fusion_waiting')).toMatchObject({ sittings: 1, minSittings: 2 });
      await d.waitLog((l) => l['event.action'] === 'mouse_learning_on');
      const status = async (): Promise<Status['biometrics']> => (await d.http<Status>('GET', '/v1/status')).body.biometrics;
      expect((await status()).mouseFusion).toEqual({ on: false, sittings: 1, minSittings: 2, blocksNotFused: 0 });
      // 200 actions of synthetic user 2 through the enrolled pointer: twice a sitting.
      const foreign = d.waitLog((l) => l['event.action'] === 'mouse_shadow_restricted');
      await plugFifoDevice(d, t.input, 'event-mouse', encodeInputEvents(mouseSession(2, 200, 900_000_000, 78)));
      await foreign;
      const st = await status();
      expect(st.state).toBe('Normal'); // the mouse does not vote yet
      expect(st.blocksScored).toBeGreaterThan(20);
      expect(st.mouseFusion).toEqual({ on: false, sittings: 1, minSittings: 2, blocksNotFused: st.blocksScored });
      expect(st.mouseLearning).toMatchObject({ on: true, learnedSittings: 0, buffered: 0 });
      expect(st.mouseLearning.discardedActions).toBeGreaterThan(0);
      expect(d.logs.some((l) => l['event.action'] === 'transition')).toBe(false);
      const cli = await runCli(['status', '--data-dir', t.data]);
      expect(cli.stdout).toMatch(new RegExp(`^mouse fuse {2}waiting: 1 of 2 sittings \\(${st.blocksScored} blocks scored, not fused\\)$`, 'm'));
      expect(await d.stop()).toBe(0);
      expect(d.logs.some((l) => l['event.action'] === 'mouse_model_learned')).toBe(false);
      expect(readFileSync(t.profile('alice')).equals(bytes)).toBe(true);
      expect(t.sessionActions('mouse_model_learned')).toHaveLength(0);
    });
  }, 120_000);

  it("discards the buffer when another person's mouse moves the session out of Normal; the profile stays byte-identical", async () => {
    await scenario(MOUSE_VOTES_FROM_ONE_SITTING, async (t, start) => {
      const { d, bytes, held, status } = await aliceHeld(t, start);
      // Then 150 actions of synthetic user 2 through the same pointer: with what was held, more
      // than a sitting, so without the discard a sitting would be learned.
      await anotherPersonLeavesNormal(d, t, 1_900_000_000, 78);
      const st = await status();
      expect(st.state).not.toBe('Normal');
      expect(st.mouseLearning.on).toBe(true);
      expect(st.mouseLearning.learnedSittings).toBe(0);
      expect(st.mouseLearning.discardedActions).toBeGreaterThan(held); // alice's held actions and the batch that left Normal
      expect(st.mouseLearning.buffered).toBe(0);
      expect(await d.stop()).toBe(0); // waits for any sitting being added
      expect(d.logs.some((l) => l['event.action'] === 'mouse_model_learned')).toBe(false);
      // One discard: alice's held actions, with any of the other person's that came in a batch of
      // their own before the session left Normal (the collector's batches follow its timing).
      const discards = d.logs.filter((l) => l['event.action'] === 'mouse_learning_discarded').map((l) => l['actions'] as number);
      expect(discards).toHaveLength(1);
      expect(discards[0]).toBeGreaterThanOrEqual(held);
      expect(discards[0]).toBeLessThan(held + 40); // the other person left Normal within the two held-back blocks
      expect(readFileSync(t.profile('alice')).equals(bytes)).toBe(true);
      expect(t.sessionActions('mouse_model_learned')).toHaveLength(0);
    });
  }, 120_000);

  it("discards the buffer when another person's typing moves the session out of Normal (no foreign mouse action)", async () => {
    // The rule the chimeric replay assumes (docs/biometrics.md, "Keystrokes and mouse
    // together"): any exit from Normal discards what was buffered, whichever modality caused it.
    await scenario(MOUSE_VOTES_FROM_ONE_SITTING, async (t, start) => {
      const { d, bytes, held, status } = await aliceHeld(t, start);
      // Another person types on a keyboard; nobody touches the mouse.
      const left = d.waitLog((l) => l['event.action'] === 'transition' && l['subject.kind'] === 'session' && l['from'] === 'Normal');
      await plugFifoDevice(d, t.input, 'event-kbd', encodeInputEvents(keyEvents(typedKeystrokes(2, 400, 1_900_000_000, 7, 41))));
      await left;
      const st = await status();
      expect(st.state).not.toBe('Normal');
      expect(st.mouseLearning).toMatchObject({ on: true, learnedSittings: 0, buffered: 0, discardedActions: held });
      expect(await d.stop()).toBe(0);
      // One discard of exactly alice's held actions: the keystrokes brought no mouse action.
      const discards = d.logs.filter((l) => l['event.action'] === 'mouse_learning_discarded').map((l) => l['actions'] as number);
      expect(discards).toEqual([held]);
      expect(d.logs.some((l) => l['event.action'] === 'mouse_model_learned')).toBe(false);
      expect(readFileSync(t.profile('alice')).equals(bytes)).toBe(true);
    });
  }, 120_000);

  it('switches to a sentinel enroll --add made while it runs, keeps the session, and learns on from that model', async () => {
    // mouseMinSittings 3: the two-sitting model after --add still does not vote, so alice's
    // stream below is learned whatever that model makes of her (the shadow decides).
    await scenario({ mouseMinSittings: 3 }, async (t, start) => {
      let daemon: DaemonProcess;
      await enroll(t);
      daemon = await start();
      const d = daemon;
      await d.waitLog((l) => l['event.action'] === 'mouse_learning_on');
      const status = async (): Promise<Status['biometrics']> => (await d.http<Status>('GET', '/v1/status')).body.biometrics;
      expect((await status()).mouseFusion).toMatchObject({ sittings: 1, minSittings: 3 });
      const reloaded = d.waitLog((l) => l['event.action'] === 'profile_reloaded');
      const trackball = t.rec('event-trackball', encodeInputEvents(mouseSession(1, 210, 600_000_000, 41)));
      const add = await t.enroll(['--add', '--device', trackball]);
      expect(add.code, add.stderr).toBe(0);
      const added = JSON.parse(readFileSync(t.profile('alice'), 'utf8')) as ProfileJson;
      expect(added.mouse).toMatchObject({ sittings: 2, samples: 400, devices: ['file:event-mouse', 'file:event-trackball'] });
      expect(await reloaded).toMatchObject({ changed: ['mouse'], sittings: 2 });
      let st = await status();
      expect(st.state).toBe('Normal');
      expect(st.mouseFusion).toMatchObject({ on: false, sittings: 2, minSittings: 3 });
      expect(st.mouseLearning).toMatchObject({ on: true, learnedSittings: 0 });
      expect(st.pointerDevices.enrolled).toEqual(['file:event-mouse', 'file:event-trackball']);

      // The daemon's next sitting grows the --add model (sittings 3), not the one it started with.
      const learned = d.waitLog((l) => l['event.action'] === 'mouse_model_learned');
      await plugFifoDevice(d, t.input, 'event-trackball', encodeInputEvents(mouseSession(1, 160, 900_000_000, 77)));
      expect(await learned).toMatchObject({ sittings: 3, actions: 100, samples: 500 });
      st = await status();
      expect(st.mouseLearning).toMatchObject({ on: true, learnedSittings: 1, failures: 0 });
      expect(d.logs.some((l) => l['event.action'] === 'mouse_model_learn_dropped')).toBe(false);
      expect(await d.stop()).toBe(0);
      const after = JSON.parse(readFileSync(t.profile('alice'), 'utf8')) as ProfileJson;
      expect(after.mouse).toMatchObject({ sittings: 3, samples: 500, devices: ['file:event-mouse', 'file:event-trackball'] });
      expect(after.keystroke).toEqual(added.keystroke);
      expect(t.sessionActions('mouse_model_learned')).toHaveLength(1);
    });
  }, 120_000);
});
