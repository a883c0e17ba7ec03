/**
 * sentinel-fuse against the real daemon (`node bin/sentinel.js start`): the mount is made with
 * `sentinel protect` (the CLI; falls back to the same code in-process, startProtect, while the
 * command is not registered in the CLI yet), real child processes work through it, and the
 * daemon's HTTP API (/v1/subjects, POST /v1/subjects/{id}/state) is the oracle and the operator.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Worker, ensureFuseBuilt, poll, root, startTimeOf, tmpDir } from '../fixtures/fuse/helpers.js';
import { startDaemonProcess, type DaemonProcess, type SubjectView } from '../support/daemon-process.js';
import { isMounted, startProtect, unmount, type FuseLogLine } from '../../daemon/commands/protect.js';
import { spawnLogged } from '../support/logged-child.js';
import { cleanupStack } from '../support/cleanups.js';

const CLI = path.join(root, 'bin', 'sentinel.js');
const haveFuse = existsSync('/dev/fuse') && process.getuid?.() === 0;
const haveDaemon = existsSync(path.join(root, 'dist', 'daemon', 'cli.js'));

type Subject = SubjectView;

interface Mount {
  lines: FuseLogLine[];
  waitForLine(pred: (l: FuseLogLine) => boolean, timeoutMs?: number, from?: number): Promise<FuseLogLine>;
  stop(): Promise<number>;
  viaCli: boolean;
}

const cleanups = cleanupStack();

/** `sentinel protect` as a child process; resolves once mounted. */
async function protectCli(src: string, mnt: string, socket: string, policy: string): Promise<Mount | 'no-command'> {
  const p = spawnLogged<FuseLogLine>(process.execPath, [CLI, 'protect', src, mnt, '--socket', socket, '--policy', policy, '--stats-interval', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const { lines, raw, closed } = p;
  const waitForLine = (pred: (l: FuseLogLine) => boolean, timeoutMs = 15_000, from = 0): Promise<FuseLogLine> =>
    p.waitLine(pred, 'matching sentinel-fuse log line', timeoutMs, from);
  const stop = async (): Promise<number> => {
    const code = await p.stop();
    unmount(mnt);
    return code;
  };
  const first = await Promise.race([waitForLine((l) => l.msg === 'mounted').then(() => 'mounted' as const), closed.then(() => 'closed' as const)]);
  if (first === 'closed') {
    if (raw.join('\n').includes("unknown command 'protect'")) return 'no-command';
    throw new Error(`sentinel protect failed:\n${raw.join('\n')}`);
  }
  return { lines, waitForLine, stop, viaCli: true };
}

async function setup(policy: 'fail-open' | 'fail-closed' = 'fail-open') {
  const t = tmpDir('sfuse-d-');
  cleanups.push(t.cleanup);
  const src = path.join(t.dir, 'src');
  const mnt = path.join(t.dir, 'mnt');
  const dataDir = path.join(t.dir, 'data');
  for (const d of [src, mnt, dataDir]) mkdirSync(d);
  const socket = path.join(t.dir, 's.sock');
  const daemon = await startDaemonProcess({ dataDir, socket });
  cleanups.push(async () => {
    await daemon.stop();
    daemon.cleanup();
  });
  let mount = await protectCli(src, mnt, socket, policy);
  if (mount === 'no-command') {
    const h = await startProtect({ source: src, mountpoint: mnt, socket, policy, statsIntervalS: 1 });
    mount = { lines: h.lines, waitForLine: h.waitForLine, stop: h.stop, viaCli: false };
  }
  const m = mount;
  cleanups.push(async () => {
    await m.stop();
    unmount(mnt);
  });
  await m.waitForLine((l) => l.msg === 'state push');
  return { dir: t.dir, src, mnt, socket, dataDir, daemon, mount: m };
}

function worker(): Worker {
  const w = new Worker({ detached: true });
  cleanups.push(() => w.kill());
  return w;
}

async function subjects(d: DaemonProcess): Promise<Subject[]> {
  const r = await d.http<{ subjects: Subject[] }>('GET', '/v1/subjects?limit=100000');
  return r.body.subjects;
}

/** Polls /v1/subjects until the process subject of pid has at least minEvents (bounded). */
async function subjectOf(d: DaemonProcess, pid: number, minEvents = 1, nudge?: () => Promise<unknown>): Promise<Subject> {
  return poll(async () => {
    const s = (await subjects(d)).find((x) => x.kind === 'process' && x.pid === pid && x.events >= minEvents);
    if (!s && nudge) await nudge();
    return s;
  }, `daemon subject for pid ${pid} with >= ${minEvents} events`, 150, 100);
}

async function setState(d: DaemonProcess, id: number, state: 'Normal' | 'Restricted' | 'Lockdown'): Promise<void> {
  const r = await d.http<{ changed: boolean }>('POST', `/v1/subjects/${id}/state`, { state, by: 'test' });
  expect(r.status).toBe(200);
}

const pushHas = (pid: number, state?: number) => (l: FuseLogLine): boolean =>
  l.msg === 'state push' && Array.isArray(l['entries']) && (l['entries'] as { pid: number; state: number }[]).some((e) => e.pid === pid && (state === undefined || e.state >= state));

describe.skipIf(!haveFuse || !haveDaemon)('sentinel protect with the real daemon', () => {
  beforeAll(() => ensureFuseBuilt());

  it('a child process writes, renames and deletes through the mount; the daemon records them under its pid', async () => {
    const { mnt, src, daemon, mount } = await setup();
    const w = worker();
    await w.ready;
    const f = (n: string): string => path.join(mnt, n);
    for (let i = 0; i < 10; i++) {
      expect((await w.do({ op: 'write', path: f(`r${i}.txt`), data: `report ${i}\n` })).ok).toBe(true);
      expect((await w.do({ op: 'rename', path: f(`r${i}.txt`), to: f(`s${i}.txt`) })).ok).toBe(true);
    }
    for (let i = 0; i < 5; i++) expect((await w.do({ op: 'unlink', path: f(`s${i}.txt`) })).ok).toBe(true);
    expect(existsSync(path.join(src, 's9.txt')) && !existsSync(path.join(src, 's0.txt'))).toBe(true);
    // 10 × (create, write, close, rename) + 5 unlink = 45 events from this pid at least.
    let n = 0;
    const s = await subjectOf(daemon, w.pid, 45, () => w.do({ op: 'write', path: f(`nudge${n++}`) }));
    expect(s.comm).toBe('node');
    expect(BigInt(s.startTime)).toBe(startTimeOf(w.pid));
    // The fuse side's counters: nothing dropped, all acknowledged.
    const stats = await mount.waitForLine((l) => l.msg === 'stats' && Number(l['acked']) >= 45 && l['acked'] === l['enqueued'], 20_000);
    expect(stats['dropped']).toBe(0);
    const code = await mount.stop();
    expect(code).toBe(0);
    expect(isMounted(mnt)).toBe(false);
  });

  it('operator Restricted → EPERM on the next write while another process keeps writing; Lockdown → everything denied', async () => {
    const { mnt, src, daemon, mount } = await setup();
    writeFileSync(path.join(src, 'secret.txt'), 'not yet looked up through the mount');
    const bad = worker();
    const good = worker();
    await Promise.all([bad.ready, good.ready]);
    const f = (n: string): string => path.join(mnt, n);
    let n = 0;
    const nudge = (): Promise<unknown> => bad.do({ op: 'write', path: f(`bad${n++}.txt`), data: 'x' });
    await nudge();
    const s = await subjectOf(daemon, bad.pid, 1, nudge);
    await setState(daemon, s.id, 'Restricted');
    await mount.waitForLine(pushHas(bad.pid, 2));
    expect(await bad.do({ op: 'write', path: f('bad0.txt'), data: 'again' })).toMatchObject({ ok: false, code: 'EPERM' });
    expect(await bad.do({ op: 'rename', path: f('bad0.txt'), to: f('bad0.locked') })).toMatchObject({ ok: false, code: 'EPERM' });
    expect(await bad.do({ op: 'unlink', path: f('bad0.txt') })).toMatchObject({ ok: false, code: 'EPERM' });
    expect(await bad.do({ op: 'read', path: f('bad0.txt') })).toMatchObject({ ok: true, value: 'x' });
    for (let i = 0; i < 5; i++) expect((await good.do({ op: 'write', path: f(`good${i}.txt`), data: 'fine' })).ok).toBe(true);

    await setState(daemon, s.id, 'Lockdown');
    await mount.waitForLine(pushHas(bad.pid, 3));
    for (const cmd of [{ op: 'read', path: f('good1.txt') }, { op: 'stat', path: f('secret.txt') }, { op: 'readdir', path: mnt }, { op: 'write', path: f('z') }]) {
      expect({ op: cmd.op, ...(await bad.do(cmd)) }).toMatchObject({ op: cmd.op, ok: false, code: 'EPERM' });
    }
    expect(await good.do({ op: 'read', path: f('good1.txt') })).toMatchObject({ ok: true, value: 'fine' });
    expect((await good.do({ op: 'write', path: f('good9.txt') })).ok).toBe(true);

    await setState(daemon, s.id, 'Normal');
    await poll(async () => (await bad.do({ op: 'write', path: f('bad-after.txt') })).ok, 'bad process allowed again after Normal', 100, 100);
  });

  it('ransomware-like behaviour (read, overwrite with random bytes, rename) is stopped with EPERM while a benign process keeps writing', async () => {
    const { mnt, src, daemon, mount } = await setup();
    const files: string[] = [];
    for (let i = 0; i < 400; i++) {
      const d = path.join(src, `docs${i % 8}`);
      mkdirSync(d, { recursive: true });
      writeFileSync(path.join(d, `doc${i}.txt`), `Quarterly report ${i}\n`.repeat(200));
      files.push(path.join(mnt, `docs${i % 8}`, `doc${i}.txt`));
    }
    const evil = worker();
    const good = worker();
    await Promise.all([evil.ready, good.ready]);
    let encrypted = 0;
    let stopped = false;
    for (let at = 0; at < files.length && !stopped; at += 10) {
      const r = await evil.do({ op: 'encrypt', files: files.slice(at, at + 10), size: 8192 });
      encrypted += r.ok ? Number(r.value) : Number(r.value ?? 0);
      if (!r.ok) {
        expect(r.code).toBe('EPERM');
        stopped = true;
      }
    }
    const transitions = (await daemon.http<{ transitions: unknown[] }>('GET', '/v1/audit/transitions')).body.transitions;
    expect({ stopped, encrypted, transitions }).toMatchObject({ stopped: true });
    expect(encrypted).toBeLessThan(files.length);
    console.info(`ransomware-like worker stopped after ${encrypted} of ${files.length} files (mount via ${mount.viaCli ? 'sentinel protect CLI' : 'startProtect in-process'})`);
    expect(mount.lines.some(pushHas(evil.pid, 2))).toBe(true);
    for (let i = 0; i < 5; i++) expect((await good.do({ op: 'write', path: path.join(mnt, `benign${i}.txt`), data: 'ok' })).ok).toBe(true);
  });

  for (const policy of ['fail-open', 'fail-closed'] as const) {
    it(`daemon killed mid-run → ${policy}; a daemon back on the same socket → events flow and the deny set is pushed again`, async () => {
      const { mnt, socket, dataDir, daemon, mount } = await setup(policy);
      const w = worker();
      const other = worker();
      await Promise.all([w.ready, other.ready]);
      const f = (n: string): string => path.join(mnt, n);
      expect((await w.do({ op: 'write', path: f('before.txt') })).ok).toBe(true);
      await subjectOf(daemon, w.pid, 1, () => w.do({ op: 'write', path: f('before.txt') }));
      const from = mount.lines.length;
      daemon.proc.kill('SIGKILL');
      await mount.waitForLine((l) => l.msg === 'daemon unreachable' && l['policy'] === policy, 15_000, from);
      const during = await w.do({ op: 'write', path: f('during.txt') });
      if (policy === 'fail-open') expect(during.ok).toBe(true);
      else expect(during).toMatchObject({ ok: false, code: 'EPERM' });
      expect((await w.do({ op: 'read', path: f('before.txt') })).ok).toBe(true);

      const d2 = await startDaemonProcess({ dataDir, socket });
      cleanups.push(async () => {
        await d2.stop();
      });
      await mount.waitForLine((l) => l.msg === 'connected', 20_000, from);
      await mount.waitForLine((l) => l.msg === 'state push', 20_000, from);
      // Writes work again and their events reach the new daemon under the writer's pid.
      await poll(async () => (await w.do({ op: 'write', path: f('after.txt') })).ok, 'write after recovery', 50, 100);
      let n = 0;
      const s = await subjectOf(d2, w.pid, 1, () => w.do({ op: 'write', path: f(`after${n++}.txt`) }));
      // The new daemon's deny set is enforced: restrict w there, it is pushed, w is refused.
      const pushes = mount.lines.length;
      await setState(d2, s.id, 'Restricted');
      await mount.waitForLine(pushHas(w.pid, 2), 15_000, pushes);
      expect(await w.do({ op: 'write', path: f('after.txt') })).toMatchObject({ ok: false, code: 'EPERM' });
      expect((await other.do({ op: 'write', path: f('other.txt') })).ok).toBe(true);
      const st = await mount.waitForLine((l) => l.msg === 'stats' && Number(l['outages']) >= 1, 20_000, from);
      expect(Number(st[policy === 'fail-open' ? 'allowedOutage' : 'deniedOutage'])).toBeGreaterThanOrEqual(1);
    });
  }

  it('sentinel protect says what is missing', () => {
    const r = spawnSync(process.execPath, [CLI, 'protect', '/nonexistent-src', '/nonexistent-mnt', '--socket', '/tmp/none.sock'], { encoding: 'utf8' });
    if (r.stderr.includes("unknown command 'protect'")) return; // not registered in the CLI yet
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/source directory|npm run build:fuse|fuse3/);
  });
});
