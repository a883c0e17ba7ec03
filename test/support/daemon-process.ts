/**
 * Starts the real daemon (`node bin/sentinel.js start`) as a child process in a temp data dir
 * and waits for its `ready` log line. `stop()` sends SIGTERM and waits for the exit; always call
 * it in `finally`/`afterEach`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { spawnLogged } from './logged-child.js';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import type { Cleanup } from './cleanups.js';

/** The checkout root, found from this file whether it runs from test/ or from dist/test/. */
function findRoot(): string {
  let dir = path.dirname(new URL(import.meta.url).pathname);
  while (!existsSync(path.join(dir, 'binding.gyp'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('binding.gyp not found above ' + import.meta.url);
    dir = up;
  }
  return dir;
}
export const ROOT = findRoot();
export const CLI = path.join(ROOT, 'bin', 'sentinel.js');

/** A row of `GET /v1/subjects` (the fields tests look at). */
export interface SubjectView {
  id: number;
  kind: 'process' | 'tree';
  pid: number;
  startTime: number;
  comm: string;
  state: string;
  events: number;
}

export interface LogLine {
  message: string;
  'log.level': string;
  [k: string]: unknown;
}

export interface DaemonProcess {
  proc: ChildProcess;
  dataDir: string;
  socket: string;
  httpPort: number;
  token: string;
  logs: LogLine[];
  /** Every stderr line as text (JSON or not: a crash's stack trace is only here). */
  raw: string[];
  /** Resolves with the first log line (past or future) matching pred. */
  waitLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  http<T>(method: string, p: string, body?: unknown): Promise<{ status: number; body: T }>;
  stop(): Promise<number>;
  cleanup(): void;
}

export async function startDaemonProcess(opts: { dataDir?: string; socket?: string; extraArgs?: string[] } = {}): Promise<DaemonProcess> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'sentinel-e2e-'));
  const socket = opts.socket ?? path.join(dataDir, 's.sock');
  const child = spawnLogged<LogLine>(process.execPath, [CLI, 'start', '--data-dir', dataDir, '--socket', socket, '--http-port', '0', ...(opts.extraArgs ?? [])], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const proc = child.child;
  const logs = child.lines;
  const waitLog = (pred: (l: LogLine) => boolean, timeoutMs = 60_000): Promise<LogLine> => child.waitLine(pred, 'awaited log line', timeoutMs);
  // Bounded: a daemon that never logs `ready` (e.g. started with --log-level warn) fails here, not by hanging.
  const ready = await waitLog((l) => l['event.action'] === 'ready', 30_000).catch((err: unknown) => {
    proc.kill('SIGKILL');
    throw err;
  });
  const httpPort = ready['httpPort'] as number;
  const token = readFileSync(path.join(dataDir, 'http.token'), 'utf8').trim();
  return {
    proc, dataDir, socket, httpPort, token, logs, raw: child.raw, waitLog,
    async http<T>(method: string, p: string, body?: unknown) {
      const res = await fetch(`http://127.0.0.1:${httpPort}${p}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as T };
    },
    stop: () => child.stop(),
    cleanup() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A daemon on `dataDir` with the config `cfgFile`, stopped by `cleanups` after the test; resolves
 * once its biometrics service has started (`biometrics_on`).
 */
export async function startBiometricsDaemon(dataDir: string, cfgFile: string, cleanups: Cleanup[]): Promise<DaemonProcess> {
  const d = await startDaemonProcess({ dataDir, extraArgs: ['--config', cfgFile] });
  cleanups.push(async () => {
    await d.stop();
  });
  await d.waitLog((l) => l['event.action'] === 'biometrics_on');
  return d;
}

/** Runs the CLI to its exit; `env` is added to this process's environment. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(p, 'close')) as [number | null];
  return { code, stdout, stderr };
}
