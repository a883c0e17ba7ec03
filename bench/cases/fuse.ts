/**
 * sentinel-fuse overhead on a real workload: unpack a tarball of a few thousand small files
 * (`tar xf`), then read every file back (`find -type f -exec cat`), on
 *   1. the raw directory,
 *   2. sentinel-fuse --no-report (plain passthrough, the baseline the target is measured against),
 *   3. sentinel-fuse reporting to the real daemon (scoring) with enforcement on.
 * Modes are interleaved and repeated; the median of each is reported, with the ratios
 * reporting/passthrough (target ≤ 1.10) and passthrough/raw. Env: SENTINEL_BENCH_FUSE_FILES
 * (default 3000), SENTINEL_BENCH_FUSE_REPS (default 3).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchRow } from '../types.js';
import { fuseBinary, projectRoot, startProtect, unmount, type ProtectHandle } from '../../daemon/commands/protect.js';

interface Daemon {
  proc: ChildProcess;
  socket: string;
  stop(): Promise<void>;
}

/** The real daemon (`node bin/sentinel.js start`) in the foreground; resolves at its ready line. */
async function startDaemon(dataDir: string): Promise<Daemon> {
  mkdirSync(dataDir, { recursive: true });
  const socket = path.join(dataDir, 's.sock');
  const proc = spawn(process.execPath, [path.join(projectRoot(), 'bin', 'sentinel.js'), 'start', '--data-dir', dataDir, '--socket', socket, '--http-port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const closed = new Promise<void>((resolve) => proc.on('close', () => resolve()));
  const tail: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const rl = readline.createInterface({ input: proc.stderr! });
    rl.on('line', (line) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      if (line.includes('"msg":"ready"') || line.includes('"message":"ready"')) resolve();
    });
    void closed.then(() => reject(new Error(`daemon exited before ready:\n${tail.join('\n')}`)));
  });
  return {
    proc,
    socket,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await closed;
      clearTimeout(t);
    },
  };
}

function sh(cmd: string, cwd?: string): void {
  const r = spawnSync('sh', ['-c', cmd], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd}: exit ${String(r.status)}: ${r.stderr?.toString().slice(0, 400)}`);
}

/** A deterministic tree of small files: text-like, binary-like and compressible content. */
function makeTree(dir: string, files: number): void {
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const words = ['alpha', 'beta', 'gamma', 'delta', 'sentinel', 'kernel', 'fuse', 'event', 'score', 'trust', 'file', 'write'];
  for (let i = 0; i < files; i++) {
    const d = path.join(dir, `d${i % 60}`, `s${i % 7}`);
    if (!existsSync(d)) mkdirSync(d, { recursive: true });
    const size = 200 + Math.floor(rnd() * 7800);
    let buf: Buffer;
    if (i % 3 === 0) {
      buf = Buffer.alloc(size);
      for (let k = 0; k < size; k++) buf[k] = Math.floor(rnd() * 256);
    } else {
      let s = '';
      while (s.length < size) s += words[Math.floor(rnd() * words.length)] + (rnd() < 0.1 ? '\n' : ' ');
      buf = Buffer.from(s.slice(0, size));
    }
    writeFileSync(path.join(d, `f${i}.${['txt', 'dat', 'json', 'c'][i % 4]}`), buf);
  }
}

function timeWorkload(tarball: string, target: string): number {
  mkdirSync(target, { recursive: true });
  const t0 = process.hrtime.bigint();
  sh(`tar xf ${JSON.stringify(tarball)} -C ${JSON.stringify(target)}`);
  sh('find . -type f -exec cat {} + > /dev/null', target);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

export async function run(): Promise<BenchRow[]> {
  if (!existsSync(fuseBinary())) throw new Error(`${fuseBinary()} is missing: run npm run build:fuse`);
  const files = Number(process.env['SENTINEL_BENCH_FUSE_FILES'] ?? 3000);
  const reps = Number(process.env['SENTINEL_BENCH_FUSE_REPS'] ?? 3);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-bench-fuse-'));
  let daemon: Daemon | undefined;
  const mounts: ProtectHandle[] = [];
  try {
    const tree = path.join(dir, 'tree');
    makeTree(tree, files);
    const tarball = path.join(dir, 'tree.tar');
    sh(`tar cf ${JSON.stringify(tarball)} -C ${JSON.stringify(tree)} .`);
    rmSync(tree, { recursive: true, force: true });

    const dirs = { raw: path.join(dir, 'raw'), plainSrc: path.join(dir, 'plain-src'), plain: path.join(dir, 'plain'), repSrc: path.join(dir, 'rep-src'), rep: path.join(dir, 'rep') };
    for (const d of Object.values(dirs)) mkdirSync(d);
    daemon = await startDaemon(path.join(dir, 'data'));
    const plain = await startProtect({ source: dirs.plainSrc, mountpoint: dirs.plain, noReport: true });
    mounts.push(plain);
    const rep = await startProtect({ source: dirs.repSrc, mountpoint: dirs.rep, socket: daemon.socket, policy: 'fail-open', statsIntervalS: 3600 });
    mounts.push(rep);
    await rep.waitForLine((l) => l.msg === 'state push', 15_000);

    const times: Record<'raw' | 'plain' | 'rep', number[]> = { raw: [], plain: [], rep: [] };
    // One warm-up round (page cache, thread pools), then `reps` measured rounds, interleaved.
    for (let r = -1; r < reps; r++) {
      for (const mode of ['raw', 'plain', 'rep'] as const) {
        const t = timeWorkload(tarball, path.join(dirs[mode], `run${r + 1}`));
        if (r >= 0) times[mode].push(t);
        // Clean up below the mount, on the source side, so it does not count.
        const src = mode === 'raw' ? dirs.raw : mode === 'plain' ? dirs.plainSrc : dirs.repSrc;
        rmSync(path.join(src, `run${r + 1}`), { recursive: true, force: true });
      }
    }
    await rep.stop();
    const exit = rep.lines.find((l) => l.msg === 'exit') ?? {};
    const raw = median(times.raw), pl = median(times.plain), rp = median(times.rep);
    return [
      { name: `fuse_unpack_read_raw_${files}_files`, unit: 's', value: raw },
      { name: `fuse_unpack_read_passthrough_${files}_files`, unit: 's', value: pl },
      { name: `fuse_unpack_read_reporting_${files}_files`, unit: 's', value: rp },
      { name: 'fuse_reporting_over_passthrough', unit: 'ratio (target <= 1.10)', value: rp / pl },
      { name: 'fuse_passthrough_over_raw', unit: 'ratio', value: pl / raw },
      { name: 'fuse_reporting_events', unit: 'events', value: Number(exit['enqueued'] ?? NaN) },
      { name: 'fuse_reporting_events_dropped', unit: 'events', value: Number(exit['dropped'] ?? NaN) },
      { name: 'fuse_reporting_events_acked', unit: 'events', value: Number(exit['acked'] ?? NaN) },
    ];
  } finally {
    for (const m of mounts) {
      await m.stop().catch(() => undefined);
      unmount(m.mountpoint);
    }
    if (daemon) {
      await daemon.stop().catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
