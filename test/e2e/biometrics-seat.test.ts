// Several users on one host, end to end with the real daemon and CLI: two users enrolled with
// `sentinel enroll --user`, and a seat file written the way logind writes
// /run/systemd/seats/seat0 (replaced by rename on every switch of the active session). The
// daemon scores the session against the active user's profile and follows each switch: the
// second user typing is an impostor in the first user's session and the genuine user in their
// own; the first user's processes stay held at Lockdown after the switch until their session is
// active again; no active session means nothing is scored. Every switch is audited.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startDaemonProcess, type DaemonProcess } from '../support/daemon-process.js';
import { plugFifoDevice } from '../support/fifo-device.js';
import { encodeInputEvents, keyEvents, typedKeystrokes } from '../support/input-events.js';
import { bioWorkspace } from '../support/bio-workspace.js';
import type { BiometricsStatus } from '../../daemon/biometrics.js';

interface Status {
  biometrics: BiometricsStatus;
}

/** Two local users of this machine (real /etc/passwd entries, so the daemon's uid lookups are the real ones). */
function twoLocalUsers(): [{ name: string; uid: number }, { name: string; uid: number }] {
  const users = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f[0] && /^[a-z_][a-z0-9_-]*$/.test(f[0]) && f[2] !== undefined && /^\d+$/.test(f[2]) && f[2] !== '0')
    .map((f) => ({ name: f[0] as string, uid: Number(f[2]) }));
  const a = users[0];
  const b = users.find((u) => a && u.uid !== a.uid);
  if (!a || !b) throw new Error('this test needs two local users with distinct uids in /etc/passwd');
  return [a, b];
}

/** Writes the seat file as logind does: a new file renamed over the old one. */
function writeSeat(file: string, activeUid: number | null): void {
  const active = activeUid === null ? '' : `ACTIVE=c${activeUid}\nACTIVE_UID=${activeUid}\n`;
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `# This is private data. Do not parse.\nIS_SEAT0=1\nCAN_MULTI_SESSION=1\nCAN_TTY=1\nCAN_GRAPHICAL=1\n${active}`);
  renameSync(tmp, file);
}

describe('several users on one host (the seat decides whose profile is scored)', () => {
  it('scores the active user, follows each switch, keeps a locked user held, and scores nothing without an active session', async () => {
    const [a, b] = twoLocalUsers();
    const w = bioWorkspace('sentinel-bio-seat-', (dir) => ({ seatFile: path.join(dir, 'seats', 'seat0'), lockCommand: ['/bin/true'], app: { enabled: false } }));
    const { dir, data, input } = w;
    let daemon: DaemonProcess | undefined;
    try {
      mkdirSync(path.join(dir, 'seats'));
      const seat = path.join(dir, 'seats', 'seat0');
      writeSeat(seat, a.uid);
      // Typist 1 is user a, typist 2 user b; keystrokes only.
      for (const [user, typist] of [[a.name, 1], [b.name, 2]] as const) {
        const rec = w.rec(`enroll-${user}`, encodeInputEvents(keyEvents(typedKeystrokes(typist, 600, 1_000_000, 11))));
        const r = await w.enroll(['--user', user, '--device', rec, '--actions', '0']);
        expect(r.code, r.stderr).toBe(0);
        expect((JSON.parse(r.stdout) as { profile: string }).profile).toBe(w.profile(user));
      }
      // --add without --user, with two users enrolled and the default user not one of them, is refused.
      const add = await w.enroll(['--add', '--device', path.join(dir, 'recordings', `enroll-${a.name}`)], { SUDO_USER: '', USER: 'nobody-enrolled' });
      expect(add.code).toBe(1);
      expect(add.stderr).toContain(`--add: 2 users are enrolled in ${path.join(data, 'profiles')}`);

      const start = async (): Promise<DaemonProcess> => (daemon = await startDaemonProcess({ dataDir: data, extraArgs: ['--config', w.cfgFile] }));
      let d = await start();
      expect(await d.waitLog((l) => l['event.action'] === 'biometrics_on')).toMatchObject({ user: a.name, source: 'seat' });
      const status = async (): Promise<Status['biometrics']> => (await d.http<Status>('GET', '/v1/status')).body.biometrics;
      expect((await status()).sessionUser).toMatchObject({ source: 'seat', profile: w.profile(a.name), enrolled: [a.name, b.name].sort(), seatFile: seat, switches: 0, heldFloors: [] });

      // User b types in user a's session: an impostor there.
      const locked = d.waitLog((l) => l['event.action'] === 'lock_session');
      await plugFifoDevice(d, input, 'event0', encodeInputEvents(keyEvents(typedKeystrokes(2, 400, 900_000_000, 7, 41))));
      await locked;
      expect(await status()).toMatchObject({ user: a.name, state: 'Lockdown' });

      // The daemon restarts while a's session is locked and still active (no login came
      // between): the session goes on at Lockdown, a `force` by sentinel-restart in the audit.
      expect(await d.stop()).toBe(0);
      d.cleanup();
      d = await start();
      expect(await d.waitLog((l) => l['event.action'] === 'session_floor_restored')).toMatchObject({ uid: a.uid, user: a.name, state: 'Lockdown' });
      expect(await d.waitLog((l) => l['event.action'] === 'session_state_restored')).toMatchObject({ user: a.name, uid: a.uid, state: 'Lockdown' });
      const resumed = await status();
      expect(resumed).toMatchObject({ on: true, user: a.name, state: 'Lockdown' });
      expect(resumed.sessionUser.heldFloors).toEqual([]); // a's floor is the live session's again
      expect(w.sessionTransitions().at(-1)).toMatchObject({ uid: a.uid, toState: 3, reason: 'force', by: 'sentinel-restart' });

      // b logs in (the seat switches to b's session): b's profile, from Normal; a stays held.
      const toB = d.waitLog((l) => l['event.action'] === 'biometrics_on' && l['user'] === b.name);
      writeSeat(seat, b.uid);
      expect(await d.waitLog((l) => l['event.action'] === 'session_user_changed')).toMatchObject({ from: a.name, to: b.name, source: 'seat' });
      await toB;
      const onB = await status();
      expect(onB).toMatchObject({ on: true, user: b.name, state: 'Normal' });
      expect(onB.sessionUser).toMatchObject({ source: 'seat', switches: 1, heldFloors: [{ uid: a.uid, state: 'Lockdown' }] });
      const metrics = await fetch(`http://127.0.0.1:${d.httpPort}/metrics`, { headers: { authorization: `Bearer ${d.token}` } }).then((r) => r.text());
      expect(metrics).toMatch(/^sentinel_session_user_switches 1$/m);
      expect(metrics).toMatch(/^sentinel_session_held_floors 1$/m);
      expect(metrics).toMatch(/^sentinel_session_scored 1$/m);
      const cli = await runCli(['status', '--data-dir', data]);
      expect(cli.stdout).toContain(`users       scoring ${b.name} (seat); enrolled: ${[a.name, b.name].sort().join(', ')}; 1 switches; held: uid ${a.uid} at Lockdown\n`);

      // Restarted while b's session is active: a's processes are held again, b goes on from Normal.
      expect(await d.stop()).toBe(0);
      d.cleanup();
      d = await start();
      expect(await d.waitLog((l) => l['event.action'] === 'session_floor_restored')).toMatchObject({ uid: a.uid, state: 'Lockdown' });
      await d.waitLog((l) => l['event.action'] === 'biometrics_on' && l['user'] === b.name);
      const afterRestart = await status();
      expect(afterRestart).toMatchObject({ on: true, user: b.name, state: 'Normal' });
      expect(afterRestart.sessionUser.heldFloors).toEqual([{ uid: a.uid, state: 'Lockdown' }]);
      expect(d.logs.some((l) => l['event.action'] === 'session_state_restored')).toBe(false);

      // The same typing in b's own session is the genuine user: scored, stays Normal.
      const before = afterRestart.windowsScored;
      await plugFifoDevice(d, input, 'event1', encodeInputEvents(keyEvents(typedKeystrokes(2, 300, 1_900_000_000, 5, 41))));
      const typedB = await status();
      expect(typedB.windowsScored).toBeGreaterThanOrEqual(before + 8);
      expect(typedB).toMatchObject({ user: b.name, state: 'Normal' });

      // The greeter (no active session): nothing is scored, and the status says why.
      const toNone = d.waitLog((l) => l['event.action'] === 'session_user_changed' && l['to'] === null);
      writeSeat(seat, null);
      await toNone;
      const none = await status();
      expect(none).toMatchObject({ on: false, user: null });
      expect(none.reason).toBe(`biometrics off: no session is active on the seat (${seat})`);
      const offMetrics = await fetch(`http://127.0.0.1:${d.httpPort}/metrics`, { headers: { authorization: `Bearer ${d.token}` } }).then((r) => r.text());
      expect(offMetrics).toMatch(/^sentinel_session_scored 0$/m);

      // a unlocks their session: scored again from Normal, and the floor on a's processes is lifted.
      const released = d.waitLog((l) => l['event.action'] === 'session_floor_released');
      const backToA = d.waitLog((l) => l['event.action'] === 'biometrics_on' && l['user'] === a.name);
      writeSeat(seat, a.uid);
      expect(await released).toMatchObject({ uid: a.uid, was: 'Lockdown' });
      await backToA;
      const onA = await status();
      expect(onA).toMatchObject({ on: true, user: a.name, state: 'Normal' });
      expect(onA.sessionUser.heldFloors).toEqual([]);
      expect(await d.stop()).toBe(0);

      const switches = w
        .sessionActions('notify')
        .filter((x) => x.detail?.['event'] === 'session_user_changed')
        .sort((x, y) => x.id - y.id);
      expect(switches.map((x) => x.detail)).toMatchObject([
        { from: a.name, to: b.name },
        { from: b.name, to: null },
      ]);
    } finally {
      daemon?.cleanup();
      w.done();
    }
  }, 120_000);
});
