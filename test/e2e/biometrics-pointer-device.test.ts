// Pointer-device identity end to end, with the real daemon and CLI: the mouse model is enrolled
// from a recording named "event-mouse" (identity "file:event-mouse"). Another person's mouse
// coming through a device of another identity is not scored (the model's verdict on a pointer it
// was not enrolled on carries no information): the session stays Normal, the actions are
// counted, and the first sighting is audited once as a notify. The same person's mouse through a
// device with the enrolled identity still locks the session.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startDaemonProcess, type DaemonProcess } from '../support/daemon-process.js';
import { plugFifoDevice } from '../support/fifo-device.js';
import { encodeInputEvents, mouseSession } from '../support/input-events.js';
import { MOUSE_VOTES_FROM_ONE_SITTING } from '../support/biometrics-config.js';
import { bioWorkspace } from '../support/bio-workspace.js';

interface Status {
  biometrics: {
    on: boolean;
    state: string;
    blocksScored: number;
    locks: number;
    pointerDevices: { policy: string; enrolled: string[] | null; unenrolledActions: number; unenrolled: { identity: string; actions: number }[] };
    input: { actions: number } | null;
  };
}

describe('pointer-device identity (daemon + sentinel enroll)', () => {
  it('scores only the enrolled pointer: another device is counted and notified once, the enrolled one still locks', async () => {
    const w = bioWorkspace('sentinel-bio-pointer-', (dir) => ({ lockCommand: ['/bin/sh', '-c', `echo locked >> ${path.join(dir, 'locked.txt')}`], ...MOUSE_VOTES_FROM_ONE_SITTING }));
    const { dir, data, input, cfgFile } = w;
    let daemon: DaemonProcess | undefined;
    try {
      const marker = path.join(dir, 'locked.txt');
      const rec = w.rec('event-mouse', encodeInputEvents(mouseSession(1, 210, 1_000_000, 3)));
      const enroll = await w.enroll(['--user', 'alice', '--device', rec, '--keys', '0']);
      expect(enroll.code, enroll.stderr).toBe(0);
      expect((JSON.parse(enroll.stdout) as { mouse: { devices: string[] } | null }).mouse?.devices).toEqual(['file:event-mouse']);

      daemon = await startDaemonProcess({ dataDir: data, extraArgs: ['--config', cfgFile] });
      const on = await daemon.waitLog((l) => l['event.action'] === 'biometrics_on');
      expect(on['mouseDevices']).toEqual(['file:event-mouse']);

      // Another person's mouse on a pointer the model was not enrolled on: not scored.
      await plugFifoDevice(daemon, input, 'event-other', encodeInputEvents(mouseSession(2, 60, 900_000_000, 78)));
      let st = (await daemon.http<Status>('GET', '/v1/status')).body.biometrics;
      expect(st.on).toBe(true);
      expect(st.state).toBe('Normal');
      expect(st.blocksScored).toBe(0);
      const first = st.pointerDevices.unenrolledActions;
      expect(first).toBeGreaterThanOrEqual(40);
      expect(first).toBe(st.input?.actions); // every action the collector made was from that device
      expect(st.pointerDevices).toEqual({ policy: 'enrolled', enrolled: ['file:event-mouse'], unenrolledActions: first, unenrolled: [{ identity: 'file:event-other', actions: first }] });
      // The same identity again, later: counted, not notified a second time.
      await plugFifoDevice(daemon, input, 'event-other', encodeInputEvents(mouseSession(2, 30, 1_900_000_000, 79)));
      st = (await daemon.http<Status>('GET', '/v1/status')).body.biometrics;
      expect(st.state).toBe('Normal');
      expect(st.blocksScored).toBe(0);
      const total = st.pointerDevices.unenrolledActions;
      expect(total).toBeGreaterThan(first);
      const metrics = await fetch(`http://127.0.0.1:${daemon.httpPort}/metrics`, { headers: { authorization: `Bearer ${daemon.token}` } }).then((r) => r.text());
      expect(metrics).toMatch(new RegExp(`^sentinel_session_unenrolled_pointer_actions ${total}$`, 'm'));
      expect(metrics).toMatch(/^sentinel_session_state 0$/m);
      const status = await runCli(['status', '--data-dir', data]);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toContain(`pointer device not enrolled: file:event-other (${total} actions)`);
      expect(daemon.logs.filter((l) => l['event.action'] === 'pointer_device_unenrolled').map((l) => l['device.identity'])).toEqual(['file:event-other']);

      // The same person's mouse through a pointer with the enrolled identity: scored, and it locks.
      const locked = daemon.waitLog((l) => l['event.action'] === 'lock_session');
      await plugFifoDevice(daemon, input, 'event-mouse', encodeInputEvents(mouseSession(2, 60, 2_900_000_000, 78)));
      await locked;
      st = (await daemon.http<Status>('GET', '/v1/status')).body.biometrics;
      expect(st.state).toBe('Lockdown');
      expect(st.locks).toBe(1);
      expect(st.blocksScored).toBeGreaterThan(0);
      expect(st.pointerDevices.unenrolledActions).toBe(total);
      expect(await daemon.stop()).toBe(0);

      const notes = w.sessionActions('notify');
      const pointer = notes.filter((a) => a.detail?.['device'] !== undefined);
      expect(pointer).toHaveLength(1);
      expect(pointer[0]?.detail).toEqual({ device: 'file:event-other', reason: 'pointer device not enrolled: file:event-other; run sentinel enroll --add on it' });
      expect(notes.some((a) => a.detail?.['state'] === 'Restricted' || a.detail?.['state'] === 'Lockdown')).toBe(true);
    } finally {
      daemon?.cleanup();
      w.done();
    }
  }, 120_000);
});
