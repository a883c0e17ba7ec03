// The session subject acts on the file-system side: while someone else is at the keyboard, the
// session user's own processes are held at the session's state in the deny set, so a process of
// that user writing through a sentinel-fuse mount is refused; the operator's reset lifts it.
// Real daemon, real sentinel-fuse, real input_event records through a hot-plugged FIFO.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Worker, ensureFuseBuilt, poll, tmpDir } from '../fixtures/fuse/helpers.js';
import { runCli, startDaemonProcess, type SubjectView } from '../support/daemon-process.js';
import { startProtect, unmount, type FuseLogLine } from '../../daemon/commands/protect.js';
import { cleanupStack } from '../support/cleanups.js';
import { plugFifoDevice } from '../support/fifo-device.js';
import { encodeInputEvents, keyEvents, typedKeystrokes } from '../support/input-events.js';
import { NO_SEAT } from '../support/biometrics-config.js';

const haveFuse = existsSync('/dev/fuse') && process.getuid?.() === 0;
const SESSION = 2 ** 32;
const cleanups = cleanupStack();

const pushEntries = (l: FuseLogLine): { pid: number; state: number }[] =>
  l.msg === 'state push' && Array.isArray(l['entries']) ? (l['entries'] as { pid: number; state: number }[]) : [];

describe.skipIf(!haveFuse)('session subject → file-system restriction', () => {
  beforeAll(() => ensureFuseBuilt());

  it("refuses the session user's writes while an impostor types, and lets them through after a reset", async () => {
    const t = tmpDir('sbio-r-');
    cleanups.push(t.cleanup);
    const [src, mnt, data, input] = ['src', 'mnt', 'data', 'input'].map((d) => path.join(t.dir, d)) as [string, string, string, string];
    for (const d of [src, mnt, data, input]) mkdirSync(d);
    const cfgFile = path.join(t.dir, 'sentinel.json');
    const uid = process.getuid?.() ?? 0; // the worker below runs as this user
    writeFileSync(cfgFile, JSON.stringify({ biometrics: { inputDir: input, sessionUid: uid, lockCommand: ['/bin/true'], ...NO_SEAT } }));
    const kbd = path.join(t.dir, 'kbd.bin');
    writeFileSync(kbd, encodeInputEvents(keyEvents(typedKeystrokes(1, 600, 1_000_000, 11))));
    const enroll = await runCli(['enroll', '--config', cfgFile, '--data-dir', data, '--user', 'alice', '--device', kbd, '--actions', '0']);
    expect(enroll.code, enroll.stderr).toBe(0);

    const socket = path.join(t.dir, 's.sock');
    const daemon = await startDaemonProcess({ dataDir: data, socket, extraArgs: ['--config', cfgFile] });
    cleanups.push(async () => {
      await daemon.stop();
      daemon.cleanup();
    });
    await daemon.waitLog((l) => l['event.action'] === 'biometrics_on');
    const mount = await startProtect({ source: src, mountpoint: mnt, socket, statsIntervalS: 1 });
    cleanups.push(async () => {
      await mount.stop();
      unmount(mnt);
    });
    await mount.waitForLine((l) => l.msg === 'state push');

    const w = new Worker({ detached: true });
    cleanups.push(() => w.kill());
    await w.ready;
    const f = (n: string): string => path.join(mnt, n);
    expect((await w.do({ op: 'write', path: f('before.txt'), data: 'mine' })).ok).toBe(true);
    // The daemon knows the worker (its subject exists) before the session changes.
    // (A subject is listed once scored; more writes move its event time on until it is due.)
    let n = 0;
    await poll(async () => {
      const r = await daemon.http<{ subjects: SubjectView[] }>('GET', '/v1/subjects?limit=1000');
      if (r.body.subjects.some((s) => s.kind === 'process' && s.pid === w.pid)) return true;
      await w.do({ op: 'write', path: f(`before${n++}.txt`), data: 'mine' });
      return false;
    }, `daemon subject for the worker ${w.pid}`, 150, 100);

    // Someone else types: the session goes to Restricted and on; the worker lands in the deny set.
    const from = mount.lines.length;
    const held = mount.waitForLine((l) => pushEntries(l).some((e) => e.pid === w.pid && e.state >= 2), 30_000, from);
    await plugFifoDevice(daemon, input, 'event0', encodeInputEvents(keyEvents(typedKeystrokes(2, 400, 1_900_000_000, 7, 41))));
    await held;
    expect(await w.do({ op: 'write', path: f('during.txt'), data: 'x' })).toMatchObject({ ok: false, code: 'EPERM' });

    // The operator resets the session: the floor is lifted and the worker writes again.
    const from2 = mount.lines.length;
    const lifted = mount.waitForLine((l) => l.msg === 'state push' && !pushEntries(l).some((e) => e.pid === w.pid), 30_000, from2);
    const r = await daemon.http<{ changed: boolean }>('POST', `/v1/subjects/${SESSION}/state`, { state: 'Normal', by: 'test' });
    expect(r.body.changed).toBe(true);
    await lifted;
    expect((await w.do({ op: 'write', path: f('after.txt'), data: 'mine again' })).ok).toBe(true);
  }, 120_000);
});
