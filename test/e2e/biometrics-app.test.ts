// The app modality in the running daemon, under a real X server (Xvfb + openbox + xterms): the
// daemon learns the user's app routine by use, scores the following windows as the user's
// (Normal), and escalates the session when focus moves in an order the user never follows.
// The learned model lands in the profile file; no window class appears in any file or log line.
// A mouse sitting added with `sentinel enroll --add` while the daemon runs is kept when the daemon
// writes its learned app model (it re-reads the file and replaces only `app`).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startDaemonProcess, type DaemonProcess } from '../support/daemon-process.js';
import { encodeInputEvents, keyEvents, mouseSession, typedKeystrokes } from '../support/input-events.js';
import { haveX11Tools, X11Fixture } from '../support/x11.js';
import { NO_SEAT } from '../support/biometrics-config.js';

const x11 = new X11Fixture();
afterEach(() => x11.killAll());

interface AppStatus {
  biometrics: { state: string; app: { on: boolean; model: boolean; visits: number; windowsScored: number; learned: number } };
}

describe.skipIf(!haveX11Tools)('app modality (daemon under Xvfb)', () => {
  it('learns the routine by use, does not restrict it, escalates on a foreign routine', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-app-e2e-'));
    let daemon: DaemonProcess | undefined;
    try {
      const data = path.join(dir, 'data');
      const home = path.join(dir, 'home');
      mkdirSync(home);
      const { display } = await x11.startXvfb();
      await x11.startWm(display, home);
      const classes = ['SentinelMail', 'SentinelEditor', 'SentinelShell'];
      const wins: string[] = [];
      for (const c of classes) wins.push(await x11.openWindow(display, c, c.toLowerCase()));

      // A profile is needed first (the session's user): keystrokes and a mouse sitting (from
      // recordings; the daemon itself reads no input device).
      const kbd = path.join(dir, 'kbd.bin');
      writeFileSync(kbd, encodeInputEvents(keyEvents(typedKeystrokes(1, 600, 1_000_000, 11))));
      const mouse = path.join(dir, 'event-mouse');
      writeFileSync(mouse, encodeInputEvents(mouseSession(1, 210, 1_000_000, 3)));
      const cfgFile = path.join(dir, 'sentinel.json');
      writeFileSync(
        cfgFile,
        JSON.stringify({
          biometrics: {
            inputDir: '',
            devices: [],
            lockCommand: ['/bin/true'],
            app: { display, learnAfter: 60, window: 10, stride: 5 },
            ...NO_SEAT,
          },
        }),
      );
      const enroll = await runCli(['enroll', '--config', cfgFile, '--data-dir', data, '--user', 'alice', '--device', kbd, mouse]);
      expect(enroll.code, enroll.stderr).toBe(0);
      daemon = await startDaemonProcess({ dataDir: data, extraArgs: ['--config', cfgFile] });
      const d = daemon;
      await d.waitLog((l) => l['event.action'] === 'input_modality_off'); // no input directory, no device
      await d.waitLog((l) => l['event.action'] === 'app_modality_on');
      // A second mouse sitting added on disk after the daemon loaded the profile.
      const mouse2 = path.join(dir, 'event-trackball');
      writeFileSync(mouse2, encodeInputEvents(mouseSession(1, 210, 600_000_000, 41)));
      const add = await runCli(['enroll', '--add', '--config', cfgFile, '--data-dir', data, '--device', mouse2]);
      expect(add.code, add.stderr).toBe(0);
      const profilePath = path.join(data, 'profiles', 'alice.json');
      const addedMouse = (JSON.parse(readFileSync(profilePath, 'utf8')) as { mouse?: { sittings?: number } }).mouse;
      expect(addedMouse?.sittings).toBe(2);
      const activate = (i: number): Promise<string> => x11.xdotool(display, ['windowactivate', '--sync', wins[i] as string]);
      const status = async (): Promise<AppStatus['biometrics']> => (await d.http<AppStatus>('GET', '/v1/status')).body.biometrics;

      // The routine: mail → editor → shell → mail ..., until the model is learned.
      const learned = d.waitLog((l) => l['event.action'] === 'app_model_learned' && l['calibrated'] === true);
      for (let i = 0; i < 63; i++) await activate(i % 3);
      await learned;
      // More of the routine: scored, and never taken for someone else. (Monitoring is allowed: the
      // threshold is calibrated to reject 5% of the user's own windows, and dwell times under
      // a loaded machine differ from the enrollment's.)
      for (let i = 63; i < 63 + 25; i++) await activate(i % 3);
      let st = await status();
      expect(st.app.model).toBe(true);
      expect(st.app.visits).toBeGreaterThanOrEqual(80);
      expect(st.app.windowsScored).toBeGreaterThanOrEqual(3);
      expect(['Normal', 'Monitoring']).toContain(st.state);

      // Someone else's routine: the reverse cycle the user never follows.
      const escalated = d.waitLog((l) => l['event.action'] === 'transition' && l['subject.kind'] === 'session' && (l['to'] === 'Restricted' || l['to'] === 'Lockdown'));
      for (let i = 0; i < 40; i++) await activate(2 - (i % 3));
      await escalated;
      st = await status();
      expect(['Restricted', 'Lockdown']).toContain(st.state);
      expect(await d.stop()).toBe(0);

      // The model is in the profile; no class name anywhere in the data directory or the log.
      const profile = JSON.parse(readFileSync(profilePath, 'utf8')) as { app?: { data: string }; mouse?: unknown };
      expect(profile.app?.data.length ?? 0).toBeGreaterThan(0);
      expect(profile.mouse).toEqual(addedMouse); // the --add sitting survived the app model's writes
      const logs = d.logs.map((l) => JSON.stringify(l)).join('\n');
      for (const f of readdirSync(data, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())) {
        const content = readFileSync(path.join(f.parentPath, f.name));
        for (const c of classes) expect(content.includes(Buffer.from(c)), `${f.name} holds ${c}`).toBe(false);
      }
      for (const c of classes) expect(logs.includes(c)).toBe(false);
    } catch (err) {
      // Where it stood: the daemon's last log lines (scores and states only).
      console.error(daemon?.logs.slice(-15).map((l) => JSON.stringify(l)).join('\n'));
      throw err;
    } finally {
      daemon?.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
