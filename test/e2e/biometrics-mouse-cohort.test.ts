// The several-users mouse model, end to end with the real daemon and CLI: two users enrolled
// with `sentinel enroll --user`, mouse only. The daemon fits one model over both profiles on the
// libuv pool and scores the session user's mouse with it as the `mouseCohort` modality beside
// the one-class `mouse`: the user's own mouse stays below the threshold, the other enrolled
// user's mouse is found foreign by it and the session locks. A third profile enrolled while it
// runs is fitted in; removing profiles until one is left drops the model, with the reason.
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli, startDaemonProcess, type DaemonProcess } from '../support/daemon-process.js';
import { plugFifoDevice } from '../support/fifo-device.js';
import { encodeInputEvents, mouseSession } from '../support/input-events.js';
import { bioWorkspace } from '../support/bio-workspace.js';
import type { BiometricsStatus } from '../../daemon/biometrics.js';

interface Status {
  biometrics: BiometricsStatus;
}

describe('several users on one host: one mouse model over all of them', () => {
  it('scores the session user against the other enrolled users, refits when one is enrolled, and stops below two', async () => {
    const w = bioWorkspace('sentinel-bio-cohort-', {
      user: 'alice',
      mouseDevices: 'any',
      mouseMinSittings: 1,
      mouseLearnActions: 0,
      mouseCohortRounds: 60,
      // Each user's newest 200 of the 320 enrolled actions: 4 held-out chunks of 50 give 7 blocks
      // of 20 each (every 5 actions), 28 calibration blocks per member.
      mouseCohortActions: 200,
      lockCommand: ['/bin/true'],
      app: { enabled: false },
    });
    let daemon: DaemonProcess | undefined;
    try {
      for (const [user, seed] of [['alice', 1], ['bob', 2]] as const) {
        const rec = w.rec(`mouse-${user}`, encodeInputEvents(mouseSession(seed, 340, 1_000_000, 3 + seed)));
        const r = await w.enroll(['--user', user, '--device', rec, '--keys', '0', '--actions', '320']);
        expect(r.code, r.stderr).toBe(0);
      }
      daemon = await startDaemonProcess({ dataDir: w.data, extraArgs: ['--config', w.cfgFile] });
      const d = daemon;
      const fitted = await d.waitLog((l) => l['event.action'] === 'mouse_cohort_on');
      expect(fitted['members']).toEqual([
        expect.objectContaining({ user: 'alice', calibrationBlocks: 28 }),
        expect.objectContaining({ user: 'bob', calibrationBlocks: 28 }),
      ]);
      expect(await d.waitLog((l) => l['event.action'] === 'mouse_cohort_scoring')).toMatchObject({ user: 'alice', members: 2 });
      const status = async (): Promise<BiometricsStatus> => (await d.http<Status>('GET', '/v1/status')).body.biometrics;
      let st = await status();
      expect(st.mouseCohort).toMatchObject({ on: true, reason: null, members: ['alice', 'bob'], excluded: [], fits: 1, failures: 0, scoring: true, blocksScored: 0 });
      expect(st.mouseCohort.member?.user).toBe('alice');
      expect(st.mouseCohort.member?.enrolledFar).toBeLessThan(0.2);

      // alice's own mouse: both mouse opinions scored, the several-users one below its threshold.
      await plugFifoDevice(d, w.input, 'event0', encodeInputEvents(mouseSession(1, 90, 900_000_000, 77)));
      st = await status();
      const cohortOf = (s: BiometricsStatus) => s.modalities.find((m) => m.modality === 'mouseCohort');
      expect(st.mouseCohort.blocksScored).toBe(st.blocksScored);
      expect(st.blocksScored).toBeGreaterThanOrEqual(10);
      expect(cohortOf(st)).toMatchObject({ scores: st.mouseCohort.blocksScored, live: true });
      expect(cohortOf(st)?.smoothed).toBeLessThan(0.5);
      expect(st.state).not.toBe('Lockdown');

      // bob at alice's session: foreign to the several-users model too; the session locks.
      const before = st.mouseCohort.blocksScored;
      const locked = d.waitLog((l) => l['event.action'] === 'lock_session');
      await plugFifoDevice(d, w.input, 'event0', encodeInputEvents(mouseSession(2, 90, 1_900_000_000, 78)));
      await locked;
      st = await status();
      expect(st.state).toBe('Lockdown');
      expect(st.mouseCohort.blocksScored).toBeGreaterThan(before);
      expect(cohortOf(st)?.smoothed).toBeGreaterThan(0.5);
      const metrics = await fetch(`http://127.0.0.1:${d.httpPort}/metrics`, { headers: { authorization: `Bearer ${d.token}` } }).then((r) => r.text());
      expect(metrics).toMatch(/^sentinel_session_mouse_cohort 1$/m);
      expect(metrics).toMatch(/^sentinel_session_mouse_cohort_members 2$/m);
      expect(metrics).toMatch(/^sentinel_session_mouse_cohort_scoring 1$/m);
      expect(metrics).toMatch(new RegExp(`^sentinel_session_windows_scored\\{modality="mouseCohort"\\} ${st.mouseCohort.blocksScored}$`, 'm'));
      const cli = await runCli(['status', '--data-dir', w.data]);
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout).toMatch(/^mouse users on over alice, bob: scoring alice \(\d+ blocks; estimated \d+\.\d% of the others' blocks accepted\)$/m);

      // A third user enrolled while the daemon runs: fitted in.
      const third = d.waitLog((l) => l['event.action'] === 'mouse_cohort_on' && (l['members'] as unknown[]).length === 3);
      const rec = w.rec('mouse-carol', encodeInputEvents(mouseSession(3, 340, 1_000_000, 6)));
      const r = await w.enroll(['--user', 'carol', '--device', rec, '--keys', '0', '--actions', '320']);
      expect(r.code, r.stderr).toBe(0);
      await third;
      st = await status();
      expect(st.mouseCohort).toMatchObject({ on: true, members: ['alice', 'bob', 'carol'], fits: 2, scoring: true });

      // Down to one profile: the model is dropped, with why; alice is still scored by her own.
      const off = d.waitLog((l) => l['event.action'] === 'mouse_cohort_off' && String(l['reason']).includes('1 enrolled user'));
      rmSync(w.profile('bob'));
      rmSync(w.profile('carol'));
      await off;
      st = await status();
      expect(st.on).toBe(true);
      expect(st.mouseCohort).toMatchObject({ on: false, members: [], scoring: false, member: null });
      expect(st.mouseCohort.reason).toMatch(/^several-users mouse model off: 1 enrolled user\(s\) with a mouse model that can take part \(it needs two, or one and a background: no background file .*mouse-background\.bin \(scripts\/bio\/mouse_background\.sh builds one\)\)$/);
      const cli2 = await runCli(['status', '--data-dir', w.data]);
      expect(cli2.stdout).toMatch(/^mouse users several-users mouse model off: 1 enrolled user/m);
      expect(await d.stop()).toBe(0);
    } finally {
      if (daemon) {
        await daemon.stop().catch(() => undefined);
        daemon.cleanup();
      }
      w.done();
    }
  });
});
