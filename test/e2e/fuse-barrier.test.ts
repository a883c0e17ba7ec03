/**
 * sentinel-fuse's verdict barrier (docs/sentinel-fuse.md "Verdict barrier") against the fake
 * daemon with the BARRIER role: a held destructive operation waits for BARRIER_ACK and then
 * proceeds or is refused by the deny set pushed meanwhile; other processes are not blocked; an
 * unknown process pays its first barrier on its second destructive operation; a daemon that never
 * answers releases the operation at the timeout (counted). Ordering is asserted by waiting on
 * events (the BARRIER frame arrives, the file is still there), never on durations.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FakeDaemon } from '../fixtures/fuse/fake-daemon.js';
import { Worker, ensureFuseBuilt, startTimeOf, tmpDir } from '../fixtures/fuse/helpers.js';
import { fuseBinary, startProtect, unmount } from '../../daemon/commands/protect.js';
import { cleanupStack } from '../support/cleanups.js';

const haveFuse = existsSync('/dev/fuse') && process.getuid?.() === 0;
const cleanups = cleanupStack();

async function setup(barrierMs: number) {
  const t = tmpDir('sfuse-barrier-');
  cleanups.push(t.cleanup);
  const src = path.join(t.dir, 'src');
  const mnt = path.join(t.dir, 'mnt');
  mkdirSync(src);
  mkdirSync(mnt);
  for (const n of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) writeFileSync(path.join(src, `${n}.txt`), `original ${n}`);
  const sock = path.join(t.dir, 's.sock');
  const daemon = new FakeDaemon(sock, { barrier: true });
  await daemon.start();
  cleanups.push(() => daemon.stop());
  const fuse = await startProtect({ source: src, mountpoint: mnt, socket: sock, statsIntervalS: 1, barrierMs });
  cleanups.push(async () => {
    await fuse.stop();
    unmount(mnt);
  });
  await fuse.waitForLine((l) => l.msg === 'state push');
  return { src, mnt, daemon, fuse };
}

function worker(): Worker {
  const w = new Worker({ detached: true });
  cleanups.push(() => w.kill());
  return w;
}

describe.skipIf(!haveFuse)('sentinel-fuse verdict barrier', () => {
  beforeAll(() => {
    ensureFuseBuilt();
    if (!existsSync(fuseBinary())) throw new Error(`${fuseBinary()} is missing: run npm run build:fuse`);
  });

  it('a held process\'s unlink waits for BARRIER_ACK, then proceeds; after a Restricted push it is refused; others are not blocked', async () => {
    // A timeout far beyond the test's own: the op can only be released by the ack.
    const { src, mnt, daemon, fuse } = await setup(600_000);
    expect(daemon.hellos[0]?.roles).toBe(1 | 4 | 8 | 16);
    const w = worker();
    const other = worker();
    await Promise.all([w.ready, other.ready]);
    const start = startTimeOf(w.pid);
    daemon.setDeny([{ pid: w.pid, start, state: 1 }]);
    await fuse.waitForLine((l) => l.msg === 'state push' && Array.isArray(l['entries']) && (l['entries'] as { actions: number }[])[0]?.actions === 4);

    // Open for writing of an existing file: held until the ack.
    let opened = false;
    const openA = w.do({ op: 'open', path: path.join(mnt, 'a.txt'), flags: 'r+' }).then((r) => {
      opened = true;
      return r;
    });
    await daemon.waitFor(() => daemon.barriers.length === 1, 10_000, 'first BARRIER');
    expect(daemon.barriers[0]?.entries).toEqual([{ pid: w.pid, start }]);
    // Another process's mutating ops go on meanwhile (the hold is per request, on its own
    // condition variable; an open takes no directory lock in the kernel).
    expect((await other.do({ op: 'write', path: path.join(mnt, 'other.txt'), data: 'free' })).ok).toBe(true);
    expect((await other.do({ op: 'unlink', path: path.join(mnt, 'h.txt') })).ok).toBe(true);
    expect(opened).toBe(false);
    daemon.ackBarrier(daemon.barriers[0]!.seq);
    expect(await openA).toMatchObject({ ok: true });

    // Unlink: held (the file is still there while it waits), released by the ack.
    const unlinkA = w.do({ op: 'unlink', path: path.join(mnt, 'a.txt') });
    await daemon.waitFor(() => daemon.barriers.length === 2, 10_000, 'BARRIER of the unlink');
    expect(existsSync(path.join(src, 'a.txt'))).toBe(true);
    daemon.ackBarrier(daemon.barriers[1]!.seq);
    expect(await unlinkA).toMatchObject({ ok: true });
    expect(existsSync(path.join(src, 'a.txt'))).toBe(false);

    // Held again; the daemon decides Restricted before acknowledging: refused, file intact.
    const unlinkB = w.do({ op: 'unlink', path: path.join(mnt, 'b.txt') });
    await daemon.waitFor(() => daemon.barriers.length === 3, 10_000, 'third BARRIER');
    expect(existsSync(path.join(src, 'b.txt'))).toBe(true);
    daemon.setDeny([{ pid: w.pid, start, state: 2 }]);
    daemon.ackBarrier(daemon.barriers[2]!.seq);
    expect(await unlinkB).toMatchObject({ ok: false, code: 'EPERM' });
    expect(readFileSync(path.join(src, 'b.txt'), 'utf8')).toBe('original b');
    // Denied outright now: no further barrier.
    expect(await w.do({ op: 'truncate', path: path.join(mnt, 'c.txt'), size: 0 })).toMatchObject({ ok: false, code: 'EPERM' });
    expect(daemon.barriers).toHaveLength(3);
    const st = await fuse.waitForLine((l) => l.msg === 'stats' && Number(l['held']) === 3, 10_000, fuse.lines.length);
    expect(st).toMatchObject({ held: 3, holdTimeouts: 0, holdDenied: 1, barriers: 3 });
  });

  it('an unknown process: first destructive op free, the second waits for the barrier, a clean verdict grants 4 more', async () => {
    const { src, mnt, daemon, fuse } = await setup(600_000);
    const w = worker();
    await w.ready;
    expect((await w.do({ op: 'open', path: path.join(mnt, 'a.txt'), flags: 'r+' })).ok).toBe(true); // free
    expect(daemon.barriers).toHaveLength(0);
    const renameB = w.do({ op: 'rename', path: path.join(mnt, 'b.txt'), to: path.join(mnt, 'b.old') });
    await daemon.waitFor(() => daemon.barriers.length === 1, 10_000, 'BARRIER of the second op');
    expect(existsSync(path.join(src, 'b.txt'))).toBe(true);
    daemon.ackBarrier(daemon.barriers[0]!.seq);
    expect(await renameB).toMatchObject({ ok: true });
    // Neither held nor denied after that barrier: the next 4 destructive ops need none.
    for (const n of ['c', 'd', 'e', 'f']) expect((await w.do({ op: 'unlink', path: path.join(mnt, `${n}.txt`) })).ok).toBe(true);
    expect(daemon.barriers).toHaveLength(1);
    const unlinkG = w.do({ op: 'unlink', path: path.join(mnt, 'g.txt') });
    await daemon.waitFor(() => daemon.barriers.length === 2, 10_000, 'BARRIER after the grant');
    daemon.ackBarrier(daemon.barriers[1]!.seq);
    expect(await unlinkG).toMatchObject({ ok: true });
    // Creating and writing new files is never held.
    expect((await w.do({ op: 'write', path: path.join(mnt, 'new1.txt'), data: 'x' })).ok).toBe(true);
    expect(daemon.barriers).toHaveLength(2);
    const st = await fuse.waitForLine((l) => l.msg === 'stats' && Number(l['held']) === 2, 10_000, fuse.lines.length);
    expect(st).toMatchObject({ holdTimeouts: 0, holdDenied: 0 });
  });

  it('a daemon that never answers the BARRIER: the op is released at --barrier-ms (fail-open), counted', async () => {
    const { src, mnt, daemon, fuse } = await setup(1);
    const w = worker();
    await w.ready;
    daemon.setDeny([{ pid: w.pid, start: startTimeOf(w.pid), state: 1 }]);
    await fuse.waitForLine((l) => l.msg === 'state push' && l['count'] === 1);
    expect((await w.do({ op: 'unlink', path: path.join(mnt, 'a.txt') })).ok).toBe(true);
    expect((await w.do({ op: 'rename', path: path.join(mnt, 'b.txt'), to: path.join(mnt, 'b.old') })).ok).toBe(true);
    expect(existsSync(path.join(src, 'a.txt'))).toBe(false);
    expect(existsSync(path.join(src, 'b.old'))).toBe(true);
    await daemon.waitFor(() => daemon.barriers.length >= 1, 10_000, 'BARRIER frames');
    // Never acknowledged: both ops were released by the timeout, and counted.
    const st = await fuse.waitForLine((l) => l.msg === 'stats' && Number(l['held']) === 2, 10_000, fuse.lines.length);
    expect(st).toMatchObject({ held: 2, holdTimeouts: 2, holdDenied: 0 });
  });
});
