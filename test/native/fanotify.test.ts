/**
 * Native contract of FanotifyWatcher (native/fanotify, native/addon/fanotify_binding.cc):
 * argument and error paths, the records it produces for real file operations, and a real
 * permission denial of a child process from a deny set given directly (no daemon).
 * Needs root (fanotify); the argument checks run everywhere.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, readFileSync, renameSync, rmSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { addon, type RawFanotifyWatcher } from '../../src/binding.js';
import { FanotifySource, encodeVerdictEntries, numberFrames } from '../../src/sources/fanotify.js';
import { OPS } from '../../src/protocol/constants.js';

const A = addon();
const isRoot = process.getuid?.() === 0;
const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) {
    try {
      cleanups.pop()!();
    } catch {
      // keep cleaning
    }
  }
});

interface Rec {
  op: string;
  pid: number;
  ppid: number;
  uid: number;
  start: bigint;
  comm: string;
  path: string;
  path2: string;
  sampleLen: number;
  headerAfterLen: number;
  size: number;
  entropy: number | null;
}

function decode(buf: Buffer): Rec[] {
  const out: Rec[] = [];
  let at = 0;
  while (at < buf.length) {
    expect(buf.readUInt16LE(at)).toBe(0x4e53);
    expect(buf.readUInt8(at + 3)).toBe(0x10);
    const len = buf.readUInt32LE(at + 4);
    expect(len).toBeLessThanOrEqual(65536);
    const count = buf.readUInt32LE(at + 12);
    let r = at + 16;
    for (let i = 0; i < count; i++) {
      const recLen = buf.readUInt16LE(r);
      const lens = [0, 1, 2, 3, 4, 5].map((k) => buf.readUInt16LE(r + 72 + 2 * k));
      let s = r + 84;
      const str = (n: number): string => {
        const v = buf.toString('utf8', s, s + n);
        s += n;
        return v;
      };
      const comm = str(lens[0]!);
      const p = str(lens[1]!);
      const p2 = str(lens[2]!);
      const flags = buf.readUInt8(r + 3);
      out.push({
        op: OPS[buf.readUInt8(r + 2) - 1] ?? '?',
        pid: buf.readUInt32LE(r + 4),
        ppid: buf.readUInt32LE(r + 8),
        uid: buf.readUInt32LE(r + 12),
        start: buf.readBigUInt64LE(r + 32),
        comm,
        path: p,
        path2: p2,
        sampleLen: lens[3]!,
        headerAfterLen: lens[5]!,
        size: Number(buf.readBigUInt64LE(r + 56)),
        entropy: flags & 1 ? buf.readFloatLE(r + 68) : null,
      });
      expect(recLen).toBe(84 + lens.reduce((a, b) => a + b, 0));
      r += recLen;
    }
    expect(r).toBe(at + 12 + len);
    at += 12 + len;
  }
  return out;
}

function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'sentinel-fan-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Starts a watcher and collects decoded records; `until` resolves once pred holds. */
function collect(w: RawFanotifyWatcher) {
  const recs: Rec[] = [];
  const waiters: (() => void)[] = [];
  w.start(() => {
    const b = w.drain();
    if (b) recs.push(...decode(Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
    for (const f of [...waiters]) f();
  });
  const until = (pred: (r: Rec[]) => boolean, what: string, ms = 10_000): Promise<void> =>
    new Promise((resolve, reject) => {
      if (pred(recs)) return resolve();
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(recs.map((r) => [r.op, r.path, r.path2]))}`)), ms);
      const f = (): void => {
        if (pred(recs)) {
          clearTimeout(t);
          waiters.splice(waiters.indexOf(f), 1);
          resolve();
        }
      };
      waiters.push(f);
    });
  return { recs, until };
}

function statStart(pid: number): bigint {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return BigInt(s.slice(s.lastIndexOf(')') + 2).split(' ')[19]!);
}

describe('FanotifyWatcher arguments', () => {
  it('rejects bad options with TypeError/RangeError and missing paths with an Error naming errno', () => {
    const W = A.FanotifyWatcher as unknown as new (o?: unknown) => RawFanotifyWatcher;
    expect(() => new W()).toThrow(TypeError);
    expect(() => new W({})).toThrow(/paths must be an array/);
    expect(() => new W({ paths: [] })).toThrow(RangeError);
    expect(() => new W({ paths: [5] })).toThrow(TypeError);
    expect(() => new W({ paths: ['/tmp'], enforce: 'yes' })).toThrow(TypeError);
    expect(() => new W({ paths: ['/tmp'], maxQueueBytes: 10 })).toThrow(RangeError);
    expect(() => new W({ paths: ['/tmp'], markMode: 'mount' })).toThrow(TypeError);
    expect(() => new W({ paths: ['/tmp'], killPolicy: 'maim' })).toThrow(TypeError);
    expect(() => new W({ paths: ['/tmp'], protectPids: [0] })).toThrow(RangeError);
    expect(() => FanotifySource.open({ paths: [] })).toThrow(/paths must be/);
    expect(() => FanotifySource.open({ paths: ['/tmp'], killPolicy: 'x' as never })).toThrow(/killPolicy/);
  });

  it.skipIf(!isRoot)('a missing path is an Error with the errno text', () => {
    expect(() => new A.FanotifyWatcher({ paths: ['/nonexistent/sentinel-x'] })).toThrow(/cannot watch \/nonexistent\/sentinel-x: No such file or directory/);
    expect(() => FanotifySource.open({ paths: ['/nonexistent/sentinel-x'] })).toThrow(expect.objectContaining({ code: 'SENTINEL_E_INVALID_ARGUMENT' }));
  });

  it.skipIf(!isRoot)('without CAP_SYS_ADMIN the error says fanotify needs root', () => {
    const script = `const a = require(${JSON.stringify(path.resolve('build/Release/sentinel.node'))});
      try { new a.FanotifyWatcher({ paths: ['/tmp'] }); console.log('opened'); } catch (e) { console.log(e.message); }`;
    const r = spawnSync('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
    if (r.error) return; // no setpriv on this host
    expect(r.stdout).toMatch(/fanotify needs root \(CAP_SYS_ADMIN\)/);
  });

  it.skipIf(!isRoot)('setDenySet checks its buffer; start twice and start after stop are errors', () => {
    const w = new A.FanotifyWatcher({ paths: [tmp()] });
    cleanups.push(() => w.stop());
    expect(() => w.setDenySet(new Uint8Array(15))).toThrow(RangeError);
    expect(() => w.setDenySet([1, 2] as never)).toThrow(TypeError);
    expect(w.setDenySet(new Uint8Array(0))).toEqual({ lockdown: 0, newlyDenied: [], signalled: 0 });
    w.start(() => undefined);
    expect(() => w.start(() => undefined)).toThrow(/already started/);
    w.stop();
    w.stop();
    expect(w.stats().running).toBe(false);
    expect(() => w.start(() => undefined)).toThrow();
  });
});

function fanotifyFds(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[fanotify]') n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

describe.skipIf(!isRoot)('FanotifyWatcher lifetime', () => {
  it('stop() closes both groups; a watcher in a worker thread is stopped by the environment cleanup hook', async () => {
    const dir = tmp();
    const base = fanotifyFds();
    const w = new A.FanotifyWatcher({ paths: [dir], enforce: true });
    expect(fanotifyFds()).toBe(base + 2);
    w.start(() => void w.drain());
    w.stop();
    expect(fanotifyFds()).toBe(base);
    // Enforcing but never started: the permission thread answers from construction on, so
    // opens under the tree never wait; stop() without start() still closes both groups.
    const idle = new A.FanotifyWatcher({ paths: [dir], enforce: true });
    writeFileSync(path.join(dir, 'idle.txt'), 'not blocked');
    expect(readFileSync(path.join(dir, 'idle.txt'), 'utf8')).toBe('not blocked');
    expect(idle.stats().permAllowed).toBeGreaterThanOrEqual(2);
    idle.stop();
    expect(fanotifyFds()).toBe(base);
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const a = require(workerData.addon);
       const fw = new a.FanotifyWatcher({ paths: [workerData.dir], enforce: true });
       fw.start(() => fw.drain());
       parentPort.postMessage('started');`,
      { eval: true, workerData: { addon: path.resolve('build/Release/sentinel.node'), dir } },
    );
    await once(worker, 'message');
    expect(fanotifyFds()).toBe(base + 2);
    writeFileSync(path.join(dir, 'w.txt'), 'answered by the worker\'s permission thread');
    await worker.terminate();
    expect(fanotifyFds()).toBe(base);
    expect(readFileSync(path.join(dir, 'w.txt'), 'utf8')).toMatch(/answered/);
  });
});

describe.skipIf(!isRoot)('FanotifyWatcher in terminating workers', () => {
  it('a worker terminated while its watcher wakes it up and it drains never takes the process down', () => {
    // In a child process: the failure this guards against aborts the process that hosts the worker.
    const dir = tmp();
    const script = path.resolve('test/fixtures/native/worker-teardown-stress.cjs');
    const r = spawnSync(process.execPath, [script, path.resolve('build/Release/sentinel.node'), dir, '100'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.stderr).not.toMatch(/terminate called|FATAL ERROR/);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('survived 100');
  }, 150_000);
});

describe.skipIf(!isRoot)('FanotifyWatcher records', () => {
  it('create/write/close/rename/mkdir/rmdir/unlink with pid, comm, start time, sample and entropy; nothing outside the paths', async () => {
    const dir = tmp();
    const outside = tmp();
    mkdirSync(path.join(dir, 'pre'));
    const w = new A.FanotifyWatcher({ paths: [dir] });
    cleanups.push(() => w.stop());
    expect(w.roots()).toEqual([dir]);
    const { recs, until } = collect(w);
    const f = (n: string): string => path.join(dir, n);
    writeFileSync(f('a.txt'), 'hello world\n');
    writeFileSync(f('pre/r.bin'), randomBytes(8192));
    writeFileSync(path.join(outside, 'o.txt'), 'not watched');
    renameSync(f('a.txt'), f('b.txt'));
    mkdirSync(f('sub'));
    writeFileSync(f('sub/deep.txt'), 'x'); // before the reader can have marked sub: found by its listing
    await until((r) => r.some((x) => x.op === 'create' && x.path === f('sub/deep.txt')), 'create of sub/deep.txt');
    writeFileSync(f('sub/later.txt'), 'seen through the new mark');
    unlinkSync(f('sub/deep.txt'));
    unlinkSync(f('sub/later.txt'));
    rmdirSync(f('sub'));
    unlinkSync(f('b.txt'));
    await until((r) => r.some((x) => x.op === 'unlink' && x.path === f('b.txt')), 'the last unlink');
    const me = recs.filter((r) => r.pid === process.pid);
    expect(me.length).toBe(recs.length);
    const find = (op: string, p: string): Rec | undefined => recs.find((r) => r.op === op && r.path === p);
    expect(find('create', f('a.txt'))).toBeDefined();
    expect(find('rename', f('a.txt'))?.path2).toBe(f('b.txt'));
    // Written, closed and renamed at once: the sample still comes from the renamed file.
    expect(find('write', f('a.txt'))).toMatchObject({ sampleLen: 12, size: 12 });
    expect(find('mkdir', f('sub'))).toBeDefined();
    expect(find('create', f('sub/deep.txt'))).toBeDefined();
    expect(find('write', f('sub/deep.txt'))?.sampleLen).toBe(1);
    expect(find('create', f('sub/later.txt'))).toBeDefined(); // through the new directory's mark
    expect(find('unlink', f('sub/later.txt'))).toBeDefined();
    expect(find('unlink', f('sub/deep.txt'))).toBeDefined();
    expect(find('rmdir', f('sub'))).toBeDefined();
    const rw = find('write', f('pre/r.bin'));
    expect(rw).toMatchObject({ sampleLen: 4096, headerAfterLen: 256, size: 8192 });
    expect(rw!.entropy).toBeGreaterThan(7.5);
    expect(find('close', f('pre/r.bin'))?.size).toBe(8192);
    expect(recs.some((r) => r.path.startsWith(outside))).toBe(false);
    const any = recs[0]!;
    expect(any.comm.length).toBeGreaterThan(0);
    expect(any.start).toBe(statStart(process.pid));
    expect(any.ppid).toBe(process.ppid);
    expect(any.uid).toBe(0);
    // A renamed directory: its cached path is stale, the handle is resolved again.
    renameSync(f('pre'), f('pre2'));
    writeFileSync(f('pre2/z.txt'), 'after the rename'); // usually in the same read as the rename
    await until((r) => r.some((x) => x.op === 'close' && x.path === f('pre2/z.txt')), 'close of pre2/z.txt');
    expect(find('rename', f('pre'))?.path2).toBe(f('pre2'));
    const s = w.stats();
    expect(s).toMatchObject({ dropped: 0, overflows: 0, unresolved: 0, renameEvents: true, running: true });
    expect(s.records).toBe(recs.length);
  });

  it("markMode 'filesystem': one FAN_MARK_FILESYSTEM mark, new directories covered without marking, other paths filtered", async () => {
    const dir = tmp();
    const w = new A.FanotifyWatcher({ paths: [dir], markMode: 'filesystem' });
    cleanups.push(() => w.stop());
    const { recs, until } = collect(w);
    const f = (n: string): string => path.join(dir, n);
    mkdirSync(f('n1'));
    mkdirSync(f('n1/n2'));
    writeFileSync(f('n1/n2/x.txt'), 'deep');
    unlinkSync(f('n1/n2/x.txt'));
    await until((r) => r.some((x) => x.op === 'unlink' && x.path === f('n1/n2/x.txt')), 'unlink in a new subdirectory');
    expect(recs.find((r) => r.op === 'create' && r.path === f('n1/n2/x.txt'))).toBeDefined();
    expect(recs.every((r) => r.path.startsWith(dir + '/'))).toBe(true);
    const s = w.stats();
    expect(s.filesystemMarks).toBe(true);
    expect(s.synthesized).toBe(0);
  });

  it('a single file as a root: its writes and rename are reported, its siblings are not', async () => {
    const dir = tmp();
    const file = path.join(dir, 'only.txt');
    writeFileSync(file, 'v1');
    const w = new A.FanotifyWatcher({ paths: [file], enforce: true });
    cleanups.push(() => w.stop());
    const { recs, until } = collect(w);
    writeFileSync(path.join(dir, 'sibling.txt'), 'not watched');
    writeFileSync(file, 'version 2');
    renameSync(file, file + '.locked');
    await until((r) => r.some((x) => x.op === 'rename'), 'rename of the file');
    expect(recs.find((r) => r.op === 'write' && r.path === file)).toMatchObject({ sampleLen: 9 });
    expect(recs.find((r) => r.op === 'rename')?.path2).toBe(file + '.locked');
    expect(recs.some((r) => r.path.includes('sibling'))).toBe(false);
  });

  it('kernels without FAN_RENAME: MOVED_FROM/MOVED_TO pairs become one rename, a move out of the tree an unlink', async () => {
    const dir = tmp();
    const outside = tmp();
    const w = new A.FanotifyWatcher({ paths: [dir], movedEvents: true });
    cleanups.push(() => w.stop());
    expect(w.stats().renameEvents).toBe(false);
    const { recs, until } = collect(w);
    const f = (n: string): string => path.join(dir, n);
    writeFileSync(f('m.txt'), 'x');
    renameSync(f('m.txt'), f('n.txt'));
    renameSync(f('n.txt'), path.join(outside, 'gone.txt'));
    await until((r) => r.some((x) => x.op === 'unlink' && x.path === f('n.txt')), 'the move out');
    // The kernel may merge create/write/close/moved-from of m.txt into one event: all are kept.
    expect(recs.map((r) => `${r.op} ${path.basename(r.path)}${r.path2 ? ' ' + path.basename(r.path2) : ''}`)).toEqual([
      'create m.txt',
      'write m.txt',
      'close m.txt',
      'rename m.txt n.txt',
      'unlink n.txt',
    ]);
  });

  it('numberFrames numbers the drained frames and counts records', async () => {
    const dir = tmp();
    const src = FanotifySource.open({ paths: [dir] });
    cleanups.push(() => src.stop());
    let got: Buffer | null = null;
    const ready = new Promise<void>((resolve) =>
      src.start(() => {
        const b = src.drain();
        if (b && !got) {
          got = b;
          resolve();
        }
      }),
    );
    writeFileSync(path.join(dir, 'x'), 'y');
    await ready;
    let seq = 100;
    const n = numberFrames(got!, () => seq++);
    expect(n.frames).toBeGreaterThan(0);
    expect(n.records).toBe(decode(got!).length);
    expect(got!.readUInt32LE(8)).toBe(100);
  });
});

describe.skipIf(!isRoot)('FanotifyWatcher enforcement (no daemon)', () => {
  it('denies opens by a Lockdown pid (EPERM) and by its children, allows others and the watcher itself', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'f.txt'), 'data');
    const w = new A.FanotifyWatcher({ paths: [dir], enforce: true });
    cleanups.push(() => w.stop());
    w.start(() => void w.drain());
    const script = `
      const fs = require('fs'); const cp = require('child_process');
      require('readline').createInterface({ input: process.stdin }).on('line', (l) => {
        let r;
        try {
          if (l === 'child') cp.execFileSync('cat', [process.argv[1]], { stdio: 'ignore' });
          else fs.closeSync(fs.openSync(process.argv[1], 'r'));
          r = 'ok';
        } catch (e) { r = e.code || String(e.status); }
        process.stdout.write(r + '\\n');
      });`;
    const child = spawn(process.execPath, ['-e', script, path.join(dir, 'f.txt')], { stdio: ['pipe', 'pipe', 'inherit'] });
    cleanups.push(() => child.kill('SIGKILL'));
    const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const ask = async (cmd: string): Promise<string> => {
      child.stdin!.write(cmd + '\n');
      return String((await lines.next()).value);
    };
    expect(await ask('open')).toBe('ok');
    const start = statStart(child.pid!);
    // A Lockdown entry with the wrong start time is another process: still allowed.
    w.setDenySet(encodeVerdictEntries([{ pid: child.pid!, state: 3, actions: 3, start: start + 1n }]));
    expect(await ask('open')).toBe('ok');
    // Restricted is not denied by open permission events (they carry no write intent).
    w.setDenySet(encodeVerdictEntries([{ pid: child.pid!, state: 2, actions: 1, start }]));
    expect(await ask('open')).toBe('ok');
    const u = w.setDenySet(encodeVerdictEntries([{ pid: child.pid!, state: 3, actions: 3, start }, { pid: process.pid, state: 3, actions: 3, start: 0n }]));
    expect(u.lockdown).toBe(2);
    expect(await ask('open')).toBe('EPERM');
    w.setDaemonPid(child.pid!); // the daemon is never denied
    expect(await ask('open')).toBe('ok');
    w.setDaemonPid(0);
    expect(await ask('open')).toBe('EPERM');
    expect(await ask('child')).not.toBe('ok'); // cat, a child of the Lockdown process, is denied too
    expect(readFileSync(path.join(dir, 'f.txt'), 'utf8')).toBe('data'); // the watcher's own pid never is
    const other = spawnSync('cat', [path.join(dir, 'f.txt')], { encoding: 'utf8' });
    expect(other.stdout).toBe('data');
    w.setDenySet(new Uint8Array(0));
    expect(await ask('open')).toBe('ok');
    const s = w.stats();
    expect(s.permDenied).toBeGreaterThanOrEqual(2);
    expect(s.permAllowed).toBeGreaterThan(0);
    w.stop();
    // After stop the group is closed: nothing waits on it.
    expect(readFileSync(path.join(dir, 'f.txt'), 'utf8')).toBe('data');
  });

  it('accessPerm: reads through a descriptor opened before the Lockdown are denied too', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'held.txt'), 'held open');
    const w = new A.FanotifyWatcher({ paths: [dir], enforce: true, accessPerm: true });
    cleanups.push(() => w.stop());
    w.start(() => void w.drain());
    const script = `
      const fs = require('fs'); const fd = fs.openSync(process.argv[1], 'r'); const b = Buffer.alloc(64);
      require('readline').createInterface({ input: process.stdin }).on('line', () => {
        let r; try { r = 'ok ' + fs.readSync(fd, b, 0, 64, 0); } catch (e) { r = e.code; }
        process.stdout.write(r + '\\n');
      });`;
    const child = spawn(process.execPath, ['-e', script, path.join(dir, 'held.txt')], { stdio: ['pipe', 'pipe', 'inherit'] });
    cleanups.push(() => child.kill('SIGKILL'));
    const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const ask = async (): Promise<string> => {
      child.stdin!.write('read\n');
      return String((await lines.next()).value);
    };
    expect(await ask()).toBe('ok 9');
    w.setDenySet(encodeVerdictEntries([{ pid: child.pid!, state: 3, actions: 3, start: statStart(child.pid!) }]));
    expect(await ask()).toBe('EPERM');
  });

  it('kill policy stop: SIGSTOPs a process entering Lockdown and its descendants', async () => {
    const dir = tmp();
    const w = new A.FanotifyWatcher({ paths: [dir], enforce: true, killPolicy: 'stop' });
    cleanups.push(() => w.stop());
    w.start(() => void w.drain());
    const child = spawn('sh', ['-c', 'sleep 60 & wait'], { stdio: 'ignore' });
    cleanups.push(() => child.kill('SIGKILL'));
    let grandchild = 0;
    for (let i = 0; i < 200 && !grandchild; i++) {
      const kids = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).stdout.trim();
      grandchild = Number(kids.split('\n')[0] || 0);
      if (!grandchild) await new Promise((r) => setTimeout(r, 10));
    }
    expect(grandchild).toBeGreaterThan(0);
    cleanups.push(() => process.kill(grandchild, 'SIGKILL'));
    const u = w.setDenySet(encodeVerdictEntries([{ pid: child.pid!, state: 3, actions: 3, start: statStart(child.pid!) }]));
    expect(u.newlyDenied).toEqual([child.pid]);
    expect(u.signalled).toBe(2);
    const state = (pid: number): string => {
      const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
    };
    // Signal delivery is asynchronous: wait (bounded) for both to show the stopped state.
    for (let i = 0; i < 200 && (state(child.pid!) !== 'T' || state(grandchild) !== 'T'); i++) await new Promise((r) => setTimeout(r, 5));
    expect(state(child.pid!)).toBe('T');
    expect(state(grandchild)).toBe('T');
    // The same snapshot again signals nobody new.
    expect(w.setDenySet(encodeVerdictEntries([{ pid: child.pid!, state: 3, actions: 3, start: statStart(child.pid!) }])).signalled).toBe(0);
  });
});
