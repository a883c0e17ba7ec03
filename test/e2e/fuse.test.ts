/**
 * sentinel-fuse end to end against a protocol-v1 fake daemon (test/fixtures/fuse/fake-daemon.ts):
 * real mounts through `startProtect` (what `sentinel protect` runs), real child processes, exact
 * checks of what goes on the wire. The same scenarios against the real daemon are in
 * fuse-daemon.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FakeDaemon, type RecvEvent } from '../fixtures/fuse/fake-daemon.js';
import { Worker, ensureFuseBuilt, poll, root, startTimeOf, tmpDir } from '../fixtures/fuse/helpers.js';
import { explainFuseFailure, fuseBinary, isMounted, startProtect, unmount, type ProtectHandle } from '../../daemon/commands/protect.js';
import { cleanupStack } from '../support/cleanups.js';

const haveFuse = existsSync('/dev/fuse') && process.getuid?.() === 0;

// Everything a test starts is registered here and torn down in afterEach, even on failure.
const cleanups = cleanupStack();

async function setup(opts: { policy?: 'fail-open' | 'fail-closed'; queueEvents?: number; ack?: boolean } = {}) {
  const t = tmpDir('sfuse-');
  cleanups.push(t.cleanup);
  const src = path.join(t.dir, 'src');
  const mnt = path.join(t.dir, 'mnt');
  mkdirSync(src);
  mkdirSync(mnt);
  const sock = path.join(t.dir, 's.sock');
  const daemon = new FakeDaemon(sock, { ack: opts.ack });
  await daemon.start();
  cleanups.push(() => daemon.stop());
  const fuse = await startProtect({ source: src, mountpoint: mnt, socket: sock, policy: opts.policy, queueEvents: opts.queueEvents, statsIntervalS: 1 });
  cleanups.push(async () => {
    await fuse.stop();
    unmount(mnt);
  });
  await fuse.waitForLine((l) => l.msg === 'state push');
  return { dir: t.dir, src, mnt, sock, daemon, fuse };
}

function worker(): Worker {
  const w = new Worker({ detached: true });
  cleanups.push(() => w.kill());
  return w;
}

const find = (evs: RecvEvent[], op: string, p: string, pid: number): RecvEvent | undefined => evs.find((e) => e.op === op && e.path === p && e.pid === pid);

describe.skipIf(!haveFuse)('sentinel-fuse with a protocol-v1 daemon', () => {
  beforeAll(() => {
    ensureFuseBuilt();
    if (!existsSync(fuseBinary())) throw new Error(`${fuseBinary()} is missing: run npm run build:fuse`);
  });

  it('reports a child process\'s writes, renames and deletes with its pid, start time, comm and mount paths', async () => {
    const { mnt, src, daemon, fuse } = await setup();
    // Events, Subscribe, Acks, and Barrier (the verdict barrier is on by default).
    expect(daemon.hellos[0]).toMatchObject({ roles: 1 | 4 | 8 | 16, name: 'sentinel-fuse', pid: fuse.child.pid });
    writeFileSync(path.join(src, 'doc.txt'), 'PK\x03\x04 original header of the document');
    const w = worker();
    await w.ready;
    const start = startTimeOf(w.pid);
    const r = [
      await w.do({ op: 'write', path: path.join(mnt, 'a.txt'), data: 'hello world' }),
      await w.do({ op: 'rename', path: path.join(mnt, 'a.txt'), to: path.join(mnt, 'b.txt') }),
      await w.do({ op: 'writeRandom', path: path.join(mnt, 'doc.txt'), size: 8192 }),
      await w.do({ op: 'mkdir', path: path.join(mnt, 'd') }),
      await w.do({ op: 'chmod', path: path.join(mnt, 'b.txt'), mode: 0o600 }),
      await w.do({ op: 'truncate', path: path.join(mnt, 'b.txt'), size: 5 }),
      await w.do({ op: 'utimes', path: path.join(mnt, 'b.txt') }),
      await w.do({ op: 'read', path: path.join(mnt, 'b.txt') }),
      await w.do({ op: 'rmdir', path: path.join(mnt, 'd') }),
      await w.do({ op: 'unlink', path: path.join(mnt, 'b.txt') }),
      await w.do({ op: 'writeAsync', path: path.join(mnt, 'async.txt'), data: 'from the thread pool' }),
    ];
    expect(r.every((x) => x.ok)).toBe(true);
    expect(readFileSync(path.join(src, 'async.txt'), 'utf8')).toBe('from the thread pool');
    expect(existsSync(path.join(src, 'b.txt'))).toBe(false);
    const p = (n: string): string => path.join(mnt, n);
    await daemon.waitFor(() => !!find(daemon.events, 'close', p('async.txt'), w.pid), 10_000, 'close of async.txt');
    const evs = daemon.events.filter((e) => e.pid === w.pid);
    for (const e of evs) {
      expect(e.start).toBe(start);
      expect(e.comm).toBe('node');
      expect(e.ppid).toBe(process.pid);
      expect(e.sid).toBe(w.pid); // detached → its own session
      expect(e.uid).toBe(0);
      expect(e.ts).toBeGreaterThan(0n);
    }
    const create = find(evs, 'create', p('a.txt'), w.pid);
    expect(create?.result).toBe(0);
    const write = find(evs, 'write', p('a.txt'), w.pid)!;
    expect(write.sample.toString()).toBe('hello world');
    expect(write.len).toBe(11n);
    expect(write.entropy).toBeGreaterThan(2);
    const ren = find(evs, 'rename', p('a.txt'), w.pid)!;
    expect(ren.path2).toBe(p('b.txt'));
    // Overwrite of an existing file (O_TRUNC): header before is the old content, after is new.
    const trunc = find(evs, 'truncate', p('doc.txt'), w.pid)!;
    expect(trunc.headerBefore.subarray(0, 4).toString('latin1')).toBe('PK\x03\x04');
    const w2 = find(evs, 'write', p('doc.txt'), w.pid)!;
    expect(w2.entropy).toBeGreaterThan(7);
    expect(w2.sample.length).toBe(4096);
    const close = find(evs, 'close', p('doc.txt'), w.pid)!;
    expect(close.headerAfter.length).toBe(256);
    expect(close.headerAfter.equals(readFileSync(path.join(src, 'doc.txt')).subarray(0, 256))).toBe(true);
    expect(close.len).toBe(8192n);
    expect(close.size).toBe(8192n);
    for (const op of ['mkdir', 'rmdir']) expect(find(evs, op, p('d'), w.pid)?.result).toBe(0);
    expect(find(evs, 'chmod', p('b.txt'), w.pid)?.openFlags).toBe(0o600);
    expect(find(evs, 'truncate', p('b.txt'), w.pid)?.size).toBe(5n);
    expect(find(evs, 'setattr', p('b.txt'), w.pid)).toBeDefined();
    expect(find(evs, 'read', p('b.txt'), w.pid)?.len).toBe(5n);
    expect(find(evs, 'unlink', p('b.txt'), w.pid)?.result).toBe(0);
    // libuv thread-pool writes come from other tids: still reported as the process.
    expect(find(evs, 'write', p('async.txt'), w.pid)?.sample.toString()).toBe('from the thread pool');
    // Nothing lost: the fuse side's counters match what the daemon decoded.
    await fuse.stop();
    const exit = fuse.lines.find((l) => l.msg === 'exit')!;
    expect(exit['dropped']).toBe(0);
    expect(exit['acked']).toBe(daemon.events.length);
    expect(exit['enqueued']).toBe(daemon.events.length);
    expect(isMounted(mnt)).toBe(false);
  });

  it('Restricted: EPERM on the next write of that process while another keeps writing; Lockdown: everything denied', async () => {
    const { mnt, src, daemon, fuse } = await setup();
    writeFileSync(path.join(src, 'secret.txt'), 'never looked up through the mount');
    const bad = worker();
    const good = worker();
    await Promise.all([bad.ready, good.ready]);
    const f = (n: string): string => path.join(mnt, n);
    expect((await bad.do({ op: 'write', path: f('bad.txt'), data: 'before' })).ok).toBe(true);
    expect((await bad.do({ op: 'mkdir', path: f('dir') })).ok).toBe(true);
    daemon.setDeny([{ pid: bad.pid, start: startTimeOf(bad.pid), state: 2 }]);
    await fuse.waitForLine((l) => l.msg === 'state push' && l['count'] === 1);
    for (const cmd of [
      { op: 'write', path: f('bad.txt'), data: 'after' },
      { op: 'append', path: f('bad.txt') },
      { op: 'write', path: f('new.txt') },
      { op: 'rename', path: f('bad.txt'), to: f('bad.locked') },
      { op: 'unlink', path: f('bad.txt') },
      { op: 'truncate', path: f('bad.txt') },
      { op: 'chmod', path: f('bad.txt') },
      { op: 'utimes', path: f('bad.txt') },
      { op: 'mkdir', path: f('dir2') },
      { op: 'rmdir', path: f('dir') },
    ]) {
      const r = await bad.do(cmd);
      expect({ cmd: cmd.op, ok: r.ok, code: r.code }).toEqual({ cmd: cmd.op, ok: false, code: 'EPERM' });
    }
    // Reads still work in Restricted; the other process is untouched.
    expect(await bad.do({ op: 'read', path: f('bad.txt') })).toMatchObject({ ok: true, value: 'before' });
    for (let i = 0; i < 5; i++) expect((await good.do({ op: 'write', path: f(`good${i}.txt`), data: `g${i}` })).ok).toBe(true);
    expect((await good.do({ op: 'rename', path: f('good0.txt'), to: f('good0.moved') })).ok).toBe(true);
    await daemon.waitFor(() => daemon.events.some((e) => e.pid === bad.pid && e.op === 'write' && e.result === -1), 10_000, 'denied write event');

    daemon.setDeny([{ pid: bad.pid, start: startTimeOf(bad.pid), state: 3 }]);
    await fuse.waitForLine((l) => l.msg === 'state push' && Array.isArray(l['entries']) && (l['entries'] as { state: number }[])[0]?.state === 3);
    for (const cmd of [
      { op: 'read', path: f('bad.txt') },
      { op: 'open', path: f('good1.txt') },
      { op: 'stat', path: f('secret.txt') }, // not in the kernel's attribute cache
      { op: 'readdir', path: mnt },
      { op: 'write', path: f('bad.txt') },
    ]) {
      const r = await bad.do(cmd);
      expect({ cmd: cmd.op, ok: r.ok, code: r.code }).toEqual({ cmd: cmd.op, ok: false, code: 'EPERM' });
    }
    // The mount root stays stat-able (so unmount works) ...
    expect((await bad.do({ op: 'stat', path: mnt })).ok).toBe(true);
    // ... and the other process still reads and writes.
    expect(await good.do({ op: 'read', path: f('good1.txt') })).toMatchObject({ ok: true, value: 'g1' });
    expect((await good.do({ op: 'write', path: f('good9.txt') })).ok).toBe(true);
    // Back to Normal: allowed again.
    daemon.setDeny([]);
    await fuse.waitForLine((l) => l.msg === 'state push' && l['count'] === 0, 10_000, fuse.lines.length - 1);
    await poll(async () => (await bad.do({ op: 'write', path: f('bad.txt'), data: 'ok' })).ok, 'write allowed after Normal');
  });

  it('a file unlinked while open stays usable through its descriptor (write, read, ftruncate, fstat)', async () => {
    const { mnt, src, daemon } = await setup();
    const w = worker();
    await w.ready;
    expect(await w.do({ op: 'unlinkedWrite', path: path.join(mnt, 'tmp.bin') })).toMatchObject({ ok: true, value: 'still here:5' });
    expect(existsSync(path.join(src, 'tmp.bin'))).toBe(false);
    await daemon.waitFor(() => !!find(daemon.events, 'close', path.join(mnt, 'tmp.bin'), w.pid), 10_000, 'close of the unlinked file');
    expect(find(daemon.events, 'write', path.join(mnt, 'tmp.bin'), w.pid)?.result).toBe(0);
    expect(find(daemon.events, 'truncate', path.join(mnt, 'tmp.bin'), w.pid)?.size).toBe(5n);
  });

  it('a child of a denied process is denied before the daemon knows it (inherits parent actions)', async () => {
    const { mnt, daemon, fuse } = await setup();
    const w = worker();
    await w.ready;
    daemon.setDeny([{ pid: process.pid, start: startTimeOf(process.pid), state: 2 }]);
    await fuse.waitForLine((l) => l.msg === 'state push' && l['count'] === 1);
    // The test runner itself is "Restricted": its child (w, ppid = us) is refused too.
    expect(await w.do({ op: 'write', path: path.join(mnt, 'x') })).toMatchObject({ ok: false, code: 'EPERM' });
    daemon.setDeny([]);
  });

  it('fail-open: daemon killed → writes succeed, loud log; daemon back → queued events delivered, deny set re-pushed', async () => {
    const { mnt, daemon, fuse, sock } = await setup({ policy: 'fail-open' });
    const w = worker();
    await w.ready;
    const f = (n: string): string => path.join(mnt, n);
    expect((await w.do({ op: 'write', path: f('one.txt') })).ok).toBe(true);
    await daemon.waitFor(() => !!find(daemon.events, 'close', f('one.txt'), w.pid));
    const from = fuse.lines.length;
    await daemon.stop();
    await fuse.waitForLine((l) => l.msg === 'daemon unreachable' && l['policy'] === 'fail-open', 10_000, from);
    for (let i = 0; i < 5; i++) expect((await w.do({ op: 'write', path: f(`outage${i}.txt`) })).ok).toBe(true);
    // A new daemon on the same socket, which has w in Restricted.
    const d2 = new FakeDaemon(sock);
    d2.setDeny([{ pid: w.pid, start: startTimeOf(w.pid), state: 2 }]);
    await d2.start();
    cleanups.push(() => d2.stop());
    await fuse.waitForLine((l) => l.msg === 'connected', 15_000, from);
    await fuse.waitForLine((l) => l.msg === 'state push' && l['count'] === 1, 15_000, from);
    // Events queued during the outage arrive (kept up to the queue bound).
    await d2.waitFor(() => !!find(d2.events, 'close', f('outage4.txt'), w.pid), 10_000, 'outage events');
    expect(await w.do({ op: 'write', path: f('after.txt') })).toMatchObject({ ok: false, code: 'EPERM' });
    const stats = await fuse.waitForLine((l) => l.msg === 'stats' && Number(l['allowedOutage']) >= 5 && Number(l['outages']) >= 1, 10_000, from);
    expect(stats['dropped']).toBe(0);
  });

  it('fail-closed: daemon killed → mutating ops EPERM (reads allowed); daemon back → writes succeed and events flow', async () => {
    const { mnt, daemon, fuse, sock } = await setup({ policy: 'fail-closed' });
    const w = worker();
    await w.ready;
    const f = (n: string): string => path.join(mnt, n);
    expect((await w.do({ op: 'write', path: f('one.txt'), data: 'one' })).ok).toBe(true);
    const from = fuse.lines.length;
    await daemon.stop();
    await fuse.waitForLine((l) => l.msg === 'daemon unreachable' && l['policy'] === 'fail-closed', 10_000, from);
    expect(await w.do({ op: 'write', path: f('two.txt') })).toMatchObject({ ok: false, code: 'EPERM' });
    expect(await w.do({ op: 'unlink', path: f('one.txt') })).toMatchObject({ ok: false, code: 'EPERM' });
    expect(await w.do({ op: 'read', path: f('one.txt') })).toMatchObject({ ok: true, value: 'one' });
    const d2 = new FakeDaemon(sock);
    await d2.start();
    cleanups.push(() => d2.stop());
    await fuse.waitForLine((l) => l.msg === 'state push', 15_000, from);
    expect((await w.do({ op: 'write', path: f('three.txt') })).ok).toBe(true);
    await d2.waitFor(() => !!find(d2.events, 'close', f('three.txt'), w.pid), 10_000, 'events after recovery');
    // The denied attempts during the outage were reported too, with result -EPERM.
    expect(d2.events.some((e) => e.op === 'create' && e.path === f('two.txt') && e.result === -1)).toBe(true);
  });

  it('bounded queue: with no daemon, events beyond --queue-events are dropped and counted, ops never block', async () => {
    const t = tmpDir('sfuse-');
    cleanups.push(t.cleanup);
    const src = path.join(t.dir, 'src');
    const mnt = path.join(t.dir, 'mnt');
    mkdirSync(src);
    mkdirSync(mnt);
    const fuse: ProtectHandle = await startProtect({ source: src, mountpoint: mnt, socket: path.join(t.dir, 'none.sock'), queueEvents: 10, statsIntervalS: 1 });
    cleanups.push(() => fuse.stop().then(() => undefined));
    await fuse.waitForLine((l) => l.msg === 'daemon unreachable');
    const w = worker();
    await w.ready;
    for (let i = 0; i < 10; i++) expect((await w.do({ op: 'write', path: path.join(mnt, `f${i}`) })).ok).toBe(true);
    // The kernel sends the last RELEASE after close() has returned: wait until sentinel-fuse has
    // counted all 30 operations before stopping it, or the last close can miss the count.
    await fuse.waitForLine((l) => l.msg === 'stats' && Number(l['enqueued']) + Number(l['dropped']) >= 30, 15_000);
    await fuse.stop();
    const exit = fuse.lines.find((l) => l.msg === 'exit')!;
    // 10 files × (create, write, close) = 30 events, 10 kept, 20 dropped; the 10 kept are
    // undeliverable at exit and counted as dropped too.
    expect(exit['enqueued']).toBe(10);
    expect(exit['dropped']).toBe(30);
    expect(fuse.lines.some((l) => l.msg === 'undelivered events dropped' && l['events'] === 10)).toBe(true);
  });

  it('back-pressure: a daemon that stops reading never blocks file operations; overflow is dropped and counted, the rest delivered', async () => {
    const { mnt, daemon, fuse } = await setup({ queueEvents: 100 });
    const w = worker();
    await w.ready;
    daemon.pause();
    const t0 = Date.now();
    for (let i = 0; i < 300; i++) expect((await w.do({ op: 'writeRandom', path: path.join(mnt, `big${i}`), size: 4096 })).ok).toBe(true);
    const elapsed = Date.now() - t0;
    await fuse.waitForLine((l) => l.msg === 'stats' && Number(l['dropped']) > 0, 10_000);
    daemon.resume();
    await fuse.waitForLine((l) => l.msg === 'stats' && l['queued'] === 0 && l['inflight'] === 0, 15_000, fuse.lines.length);
    await fuse.stop();
    const exit = fuse.lines.find((l) => l.msg === 'exit')!;
    expect(Number(exit['dropped'])).toBeGreaterThan(0);
    expect(Number(exit['enqueued']) + Number(exit['dropped'])).toBe(900); // 300 × (create, write, close)
    expect(daemon.events.length).toBe(Number(exit['enqueued']));
    expect(elapsed).toBeLessThan(30_000);
  });

  it('refuses a non-empty mountpoint and a missing binary with clear messages', async () => {
    const t = tmpDir('sfuse-');
    cleanups.push(t.cleanup);
    mkdirSync(path.join(t.dir, 'src'));
    mkdirSync(path.join(t.dir, 'mnt'));
    writeFileSync(path.join(t.dir, 'mnt', 'x'), 'x');
    await expect(startProtect({ source: path.join(t.dir, 'src'), mountpoint: path.join(t.dir, 'mnt'), noReport: true })).rejects.toThrow(/not an empty directory/);
    await expect(startProtect({ source: path.join(t.dir, 'src'), mountpoint: path.join(t.dir, 'mnt'), noReport: true, binary: path.join(t.dir, 'nope') })).rejects.toThrow(/npm run build:fuse/);
    await expect(startProtect({ source: path.join(t.dir, 'nosuch'), mountpoint: path.join(t.dir, 'src'), noReport: true })).rejects.toThrow(/source directory/);
    expect(root.length).toBeGreaterThan(0);
    // What the dynamic loader prints when libfuse3 is not installed.
    expect(explainFuseFailure('sentinel-fuse: error while loading shared libraries: libfuse3.so.3: cannot open shared object file: No such file or directory')).toMatch(/apt-get install fuse3 libfuse3-dev/);
  });
});
