// The several-users mouse model with a background, end to end with the real daemon and CLI: one
// user enrolled with `sentinel enroll`, and a background file of two other synthetic people's
// profiles (biometrics.mouseBackground). The daemon fits the model over the user and the
// background, scores the user's mouse with it, keeps the user's own mouse below the threshold
// and locks the session for an outsider (a person in neither); with a second user enrolled the
// model is the two users' alone. A background that does not load
// is logged with its code and the model stays off with one user, saying why.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeMouseBackground } from '../../src/biometrics/mouse-background.js';
import { enrollMouseProfile, loadMousePopulation } from '../../src/biometrics/mouse-model.js';
import type { BiometricsStatus } from '../../daemon/biometrics.js';
import { bioWorkspace, type BioWorkspace } from '../support/bio-workspace.js';
import { ROOT, runCli, startDaemonProcess, type DaemonProcess } from '../support/daemon-process.js';
import { decodeEvents } from '../support/decode-events.js';
import { plugFifoDevice } from '../support/fifo-device.js';
import { encodeInputEvents, mouseSession } from '../support/input-events.js';

interface Status {
  biometrics: BiometricsStatus;
}

const settings = (background: string) => ({
  user: 'alice',
  mouseDevices: 'any',
  mouseMinSittings: 1,
  mouseLearnActions: 0,
  mouseCohortRounds: 60,
  mouseCohortActions: 200,
  mouseBackground: background,
  lockCommand: ['/bin/true'],
  app: { enabled: false },
});

/**
 * Runs `body` in a workspace whose background is `<dir>/background.bin`; `start` starts the
 * daemon on it. The daemon is stopped and the folder removed afterwards, whatever happens.
 */
async function inWorkspace(prefix: string, body: (w: BioWorkspace, start: () => Promise<DaemonProcess>) => Promise<void>): Promise<void> {
  const w = bioWorkspace(prefix, (dir) => settings(path.join(dir, 'background.bin')));
  let daemon: DaemonProcess | undefined;
  try {
    await body(w, async () => (daemon = await startDaemonProcess({ dataDir: w.data, extraArgs: ['--config', w.cfgFile] })));
  } finally {
    if (daemon) {
      await daemon.stop().catch(() => undefined);
      daemon.cleanup();
    }
    w.done();
  }
}

describe('the several-users mouse model with a background', () => {
  it('scores a single enrolled user against the background and locks for an outsider', async () => {
    await inWorkspace('sentinel-bio-background-', async (w, start) => {
      const pop = loadMousePopulation(path.join(ROOT, 'models'));
      const members = [];
      for (const seed of [2, 3]) {
        const d = decodeEvents(mouseSession(seed, 340, 1_000_000, 3 + seed), path.join(w.dir, 'scratch.key'));
        members.push({ name: `synthetic${seed}`, mouse: (await enrollMouseProfile(d.actions, d.actionMeta, pop)).bytes });
      }
      writeFileSync(path.join(w.dir, 'background.bin'), encodeMouseBackground(members));
      const rec = w.rec('mouse-alice', encodeInputEvents(mouseSession(1, 340, 1_000_000, 4)));
      const r = await w.enroll(['--user', 'alice', '--device', rec, '--keys', '0', '--actions', '320']);
      expect(r.code, r.stderr).toBe(0);

      const d = await start();
      expect(await d.waitLog((l) => l['event.action'] === 'mouse_background_loaded')).toMatchObject({ members: 2 });
      const fitted = await d.waitLog((l) => l['event.action'] === 'mouse_cohort_on');
      expect((fitted['members'] as { user: string }[]).map((m) => m.user)).toEqual(['alice', 'background/synthetic2', 'background/synthetic3']);
      await d.waitLog((l) => l['event.action'] === 'mouse_cohort_scoring');
      const status = async (): Promise<BiometricsStatus> => (await d.http<Status>('GET', '/v1/status')).body.biometrics;
      let st = await status();
      expect(st.mouseCohort).toMatchObject({ on: true, members: ['alice'], background: { members: 2, file: path.join(w.dir, 'background.bin'), reason: null }, scoring: true });
      const cli = await runCli(['status', '--data-dir', w.data]);
      expect(cli.stdout).toMatch(/^mouse users on over alice and 2 background members: scoring alice /m);

      // alice's own mouse: the several-users opinion stays below its threshold.
      const cohortOf = (s: BiometricsStatus) => s.modalities.find((m) => m.modality === 'mouseCohort');
      await plugFifoDevice(d, w.input, 'event0', encodeInputEvents(mouseSession(1, 90, 900_000_000, 77)));
      st = await status();
      expect(st.mouseCohort.blocksScored).toBeGreaterThanOrEqual(10);
      expect(cohortOf(st)?.smoothed).toBeLessThan(0.5);
      expect(st.state).not.toBe('Lockdown');

      // An outsider (seed 4: enrolled nowhere, not in the background) at alice's session.
      const locked = d.waitLog((l) => l['event.action'] === 'lock_session');
      await plugFifoDevice(d, w.input, 'event0', encodeInputEvents(mouseSession(4, 90, 1_900_000_000, 78)));
      await locked;
      st = await status();
      expect(st.state).toBe('Lockdown');
      expect(cohortOf(st)?.smoothed).toBeGreaterThan(0.5);
      const metrics = await fetch(`http://127.0.0.1:${d.httpPort}/metrics`, { headers: { authorization: `Bearer ${d.token}` } }).then((x) => x.text());
      expect(metrics).toMatch(/^sentinel_session_mouse_cohort_members 1$/m);
      expect(metrics).toMatch(/^sentinel_session_mouse_cohort_background 2$/m);

      // A second user enrolled: the model is the two enrolled users' alone (the background is
      // for a host with one), and the status says so.
      const refit = d.waitLog((l) => l['event.action'] === 'mouse_cohort_on' && (l['members'] as unknown[]).length === 2);
      const recBob = w.rec('mouse-bob', encodeInputEvents(mouseSession(5, 340, 1_000_000, 8)));
      const rb = await w.enroll(['--user', 'bob', '--device', recBob, '--keys', '0', '--actions', '320']);
      expect(rb.code, rb.stderr).toBe(0);
      expect(((await refit)['members'] as { user: string }[]).map((m) => m.user)).toEqual(['alice', 'bob']);
      st = await status();
      expect(st.mouseCohort).toMatchObject({ on: true, members: ['alice', 'bob'], background: { members: 0, reason: 'not used with 2 enrolled users (it is for a host with one)' } });
      expect(await d.stop()).toBe(0);
    });
  });

  it('logs a background that does not load and stays off with one user, saying why', async () => {
    await inWorkspace('sentinel-bio-background-bad-', async (w, start) => {
      writeFileSync(path.join(w.dir, 'background.bin'), 'SMBG not really');
      const rec = w.rec('mouse-alice', encodeInputEvents(mouseSession(1, 340, 1_000_000, 4)));
      const r = await w.enroll(['--user', 'alice', '--device', rec, '--keys', '0', '--actions', '320']);
      expect(r.code, r.stderr).toBe(0);
      const d = await start();
      const bad = await d.waitLog((l) => l['event.action'] === 'mouse_background_not_used');
      expect(bad).toMatchObject({ 'error.code': 'SENTINEL_E_BIO_PROFILE' });
      await d.waitLog((l) => l['event.action'] === 'mouse_cohort_off');
      const st = (await d.http<Status>('GET', '/v1/status')).body.biometrics;
      expect(st.on).toBe(true);
      expect(st.mouseCohort).toMatchObject({ on: false, members: [], background: { members: 0 } });
      expect(st.mouseCohort.background.reason).toMatch(/^SENTINEL_E_BIO_PROFILE: .*background\.bin: version \d+, this release reads version 1$/);
      expect(st.mouseCohort.reason).toMatch(/^several-users mouse model off: 1 enrolled user\(s\) .*\(it needs two, or one and a background: SENTINEL_E_BIO_PROFILE: /);
      expect(await d.stop()).toBe(0);
    });
  });
});
