/**
 * `sentinel protect <source-dir> <mountpoint>`: mounts a FUSE-protected passthrough view of
 * <source-dir> by running the native `build/fuse/sentinel-fuse` (docs/sentinel-fuse.md) in the
 * foreground, forwards SIGINT/SIGTERM/SIGHUP to it, and makes sure the mount is gone when it
 * exits. `startProtect` is the same thing as a library call (tests, benchmarks).
 */
import type { Command } from 'commander';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SentinelError } from '../../src/errors.js';
import { defaultConfig } from '../config.js';

export type FusePolicy = 'fail-open' | 'fail-closed';

export interface ProtectOptions {
  source: string;
  mountpoint: string;
  /** Daemon socket; required unless noReport. */
  socket?: string;
  policy?: FusePolicy;
  queueEvents?: number;
  statsIntervalS?: number;
  /** Verdict barrier: longest hold (ms) of a suspicious process's destructive operation; 0 = off (sentinel-fuse --barrier-ms). */
  barrierMs?: number;
  /** Plain passthrough: no events, no enforcement (overhead baseline). */
  noReport?: boolean;
  /** Binary to run; default <project root>/build/fuse/sentinel-fuse. */
  binary?: string;
  /** Called with every log line sentinel-fuse writes (JSON, one per line). */
  onLine?: (line: string) => void;
  /** Also copy sentinel-fuse's log to this process's stderr. */
  echo?: boolean;
  /** How long to wait for the mount before giving up (ms). */
  mountTimeoutMs?: number;
}

export interface FuseLogLine {
  level?: string;
  msg?: string;
  [k: string]: unknown;
}

export interface ProtectHandle {
  child: ChildProcess;
  mountpoint: string;
  /** Every JSON log line received so far. */
  readonly lines: FuseLogLine[];
  /** Resolves with the first log line (past or future) matching pred, or rejects after timeoutMs. */
  waitForLine(pred: (l: FuseLogLine) => boolean, timeoutMs?: number, from?: number): Promise<FuseLogLine>;
  /** Resolves with the exit code once sentinel-fuse has exited (and the mount is gone). */
  readonly exited: Promise<number>;
  /** SIGTERM (then SIGKILL after timeoutMs), wait for exit, unmount if still mounted. */
  stop(timeoutMs?: number): Promise<number>;
}

/** Directory holding the project's package.json (found upward from this file, in src or dist). */
export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'sentinel') return dir;
      } catch {
        // keep looking
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new SentinelError('SENTINEL_E_IO', 'cannot find the sentinel project root');
    dir = up;
  }
}

/** build/fuse/sentinel-fuse under the project root ($SENTINEL_FUSE_BINARY overrides, e.g. a sanitizer build). */
export function fuseBinary(): string {
  return process.env['SENTINEL_FUSE_BINARY'] || path.join(projectRoot(), 'build', 'fuse', 'sentinel-fuse');
}

function onPath(cmd: string): boolean {
  for (const dir of (process.env['PATH'] ?? '/usr/bin:/bin').split(':')) {
    try {
      accessSync(path.join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) if (existsSync(path.join(dir, cmd))) return true;
  return false;
}

/** Checks what sentinel-fuse needs; throws a SentinelError that says what to install or run. */
export function preflight(binary = fuseBinary()): void {
  if (!existsSync(binary)) {
    throw new SentinelError('SENTINEL_E_IO', `sentinel-fuse is not built (${binary} is missing): run npm run build:fuse (needs apt-get install fuse3 libfuse3-dev pkg-config)`);
  }
  if (!existsSync('/dev/fuse')) {
    throw new SentinelError('SENTINEL_E_IO', '/dev/fuse is missing: load the fuse module (modprobe fuse), or run the container with --device /dev/fuse');
  }
  if (!onPath('fusermount3')) {
    throw new SentinelError('SENTINEL_E_IO', 'fusermount3 is missing (FUSE 3 user-space tools): apt-get install fuse3 libfuse3-dev');
  }
}

/** True when `mountpoint` is listed in /proc/self/mounts. */
export function isMounted(mountpoint: string): boolean {
  let abs = path.resolve(mountpoint);
  try {
    abs = path.resolve(path.dirname(abs), path.basename(abs));
    const mounts = readFileSync('/proc/self/mounts', 'utf8');
    const esc = abs.replace(/\\/g, '\\134').replace(/ /g, '\\040').replace(/\t/g, '\\011').replace(/\n/g, '\\012');
    return mounts.split('\n').some((l) => l.split(' ')[1] === esc);
  } catch {
    return false;
  }
}

/** fusermount3 -u, then lazy (-uz) if still mounted. Never throws. */
export function unmount(mountpoint: string): void {
  if (!isMounted(mountpoint)) return;
  spawnSync('fusermount3', ['-u', mountpoint], { stdio: 'ignore' });
  if (!isMounted(mountpoint)) return;
  spawnSync('fusermount3', ['-uz', mountpoint], { stdio: 'ignore' });
  if (isMounted(mountpoint)) spawnSync('umount', ['-l', mountpoint], { stdio: 'ignore' });
}

/** What to tell the user when sentinel-fuse failed to start, from its stderr. */
export function explainFuseFailure(stderr: string): string | undefined {
  if (/error while loading shared libraries: libfuse3/.test(stderr)) return 'libfuse3 is not installed: apt-get install fuse3 libfuse3-dev';
  if (/fusermount3?: (not found|No such file)/i.test(stderr)) return 'fusermount3 is missing: apt-get install fuse3 libfuse3-dev';
  const m = /sentinel-fuse: error: (.*)/.exec(stderr);
  return m ? m[1] : undefined;
}

export function fuseArgs(o: ProtectOptions): string[] {
  // Foreground, and stop (unmount) if this supervising process dies, even by SIGKILL.
  const args: string[] = ['-f', '--exit-with-parent'];
  if (o.noReport) args.push('--no-report');
  else {
    if (!o.socket) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', '--socket is required');
    args.push('--socket', o.socket);
  }
  if (o.policy) args.push('--policy', o.policy);
  if (o.queueEvents !== undefined) args.push('--queue-events', String(o.queueEvents));
  if (o.statsIntervalS !== undefined) args.push('--stats-interval', String(o.statsIntervalS));
  if (o.barrierMs !== undefined) args.push('--barrier-ms', String(o.barrierMs));
  args.push(path.resolve(o.source), path.resolve(o.mountpoint));
  return args;
}

/** Starts sentinel-fuse and resolves once it has mounted (its "mounted" log line). */
export async function startProtect(o: ProtectOptions): Promise<ProtectHandle> {
  const binary = o.binary ?? fuseBinary();
  preflight(binary);
  if (o.policy && o.policy !== 'fail-open' && o.policy !== 'fail-closed') {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `--policy must be fail-open or fail-closed, not ${String(o.policy)}`);
  }
  const mountpoint = path.resolve(o.mountpoint);
  const child = spawn(binary, fuseArgs(o), { stdio: ['ignore', 'inherit', 'pipe'] });
  const lines: FuseLogLine[] = [];
  const waiters = new Set<{ pred: (l: FuseLogLine) => boolean; resolve: (l: FuseLogLine) => void }>();
  let stderrText = '';
  let buf = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    if (o.echo) process.stderr.write(chunk);
    if (stderrText.length < 64 * 1024) stderrText += chunk;
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const raw = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      o.onLine?.(raw);
      if (!raw.startsWith('{')) continue;
      let l: FuseLogLine;
      try {
        l = JSON.parse(raw) as FuseLogLine;
      } catch {
        continue;
      }
      lines.push(l);
      for (const w of [...waiters]) if (w.pred(l)) {
        waiters.delete(w);
        w.resolve(l);
      }
    }
  });
  const exited = new Promise<number>((resolve) => {
    // 'close' (not 'exit'): fires after stderr is drained, so the last log lines are in.
    child.on('close', (code, signal) => {
      unmount(mountpoint);
      resolve(code ?? (signal ? 128 : 1));
    });
    child.on('error', () => resolve(127));
  });
  const waitForLine = (pred: (l: FuseLogLine) => boolean, timeoutMs = 15_000, from = 0): Promise<FuseLogLine> => {
    const past = lines.slice(from).find(pred);
    if (past) return Promise.resolve(past);
    return new Promise<FuseLogLine>((resolve, reject) => {
      const w = { pred, resolve: (l: FuseLogLine) => { clearTimeout(t); resolve(l); } };
      const t = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`sentinel-fuse: no matching log line within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.add(w);
    });
  };
  const stop = async (timeoutMs = 10_000): Promise<number> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    }
    return exited;
  };
  const mounted = waitForLine((l) => l.msg === 'mounted', o.mountTimeoutMs ?? 15_000);
  const outcome = await Promise.race([mounted.then(() => 'mounted' as const), exited.then((c) => c)]);
  if (outcome !== 'mounted') {
    mounted.catch(() => undefined);
    const why = explainFuseFailure(stderrText) ?? `sentinel-fuse exited with code ${outcome}: ${stderrText.trim().slice(-400)}`;
    throw new SentinelError('SENTINEL_E_IO', why);
  }
  return { child, mountpoint, lines, waitForLine, exited, stop };
}

/** $SENTINEL_SOCKET, else the daemon's default socket for the data dir (<project>/data in a checkout). */
function defaultSocket(dataDir?: string): string {
  if (!dataDir && process.env['SENTINEL_SOCKET']) return process.env['SENTINEL_SOCKET'];
  return defaultConfig(dataDir ? path.resolve(dataDir) : undefined).socket.path;
}

export function registerProtect(program: Command): void {
  program
    .command('protect')
    .description('mount a FUSE-protected passthrough view of <source-dir> on <mountpoint> (reports to the daemon, denies Restricted/Lockdown processes)')
    .argument('<source-dir>', 'directory to protect')
    .argument('<mountpoint>', 'empty directory to mount the protected view on')
    .option('--socket <path>', 'daemon socket (default $SENTINEL_SOCKET, else <data dir>/sentinel.sock)')
    .option('--data-dir <dir>', "the daemon's data directory, to find its socket (default <project>/data)")
    .option('--policy <policy>', 'when the daemon is unreachable: fail-open (allow, log) or fail-closed (deny mutating ops)', 'fail-open')
    .option('--queue-events <n>', 'bound of the in-memory event queue', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', '--queue-events must be a positive integer');
      return n;
    })
    .option('--stats-interval <s>', 'seconds between counter log lines (default 30)', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', '--stats-interval must be a positive integer');
      return n;
    })
    .option('--barrier-ms <ms>', "verdict barrier: longest hold of a suspicious process's destructive operation (0 = off; default 100)", (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 60_000) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', '--barrier-ms must be an integer 0..60000');
      return n;
    })
    .option('--no-report', 'plain passthrough: no events, no enforcement')
    .action(async (source: string, mountpoint: string, opts: { socket?: string; dataDir?: string; policy: string; queueEvents?: number; statsInterval?: number; barrierMs?: number; report: boolean }) => {
      if (opts.policy !== 'fail-open' && opts.policy !== 'fail-closed') {
        throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `--policy must be fail-open or fail-closed, not ${opts.policy}`);
      }
      const handle = await startProtect({
        source,
        mountpoint,
        socket: opts.report ? path.resolve(opts.socket ?? defaultSocket(opts.dataDir)) : undefined,
        policy: opts.policy as FusePolicy,
        queueEvents: opts.queueEvents,
        statsIntervalS: opts.statsInterval,
        ...(opts.barrierMs !== undefined ? { barrierMs: opts.barrierMs } : {}),
        noReport: !opts.report,
        echo: true,
      });
      process.stderr.write(`sentinel: protecting ${path.resolve(source)} on ${handle.mountpoint} (Ctrl-C to unmount)\n`);
      const forward = (sig: NodeJS.Signals): void => {
        if (handle.child.exitCode === null) handle.child.kill(sig === 'SIGHUP' ? 'SIGTERM' : sig);
      };
      const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
      for (const s of sigs) process.on(s, forward);
      const exitOnParentDeath = (): void => {
        // If we are killed hard, the child keeps serving; best effort unmount on normal exit.
        unmount(handle.mountpoint);
      };
      process.on('exit', exitOnParentDeath);
      const code = await handle.exited;
      for (const s of sigs) process.off(s, forward);
      process.exitCode = code;
    });
}
