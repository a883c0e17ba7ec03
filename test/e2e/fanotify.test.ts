/**
 * `sentinel watch` (fanotify) against the real daemon (`node bin/sentinel.js start`): real child
 * processes work in a watched temp dir, the daemon's HTTP API (/v1/subjects, POST
 * /v1/subjects/{id}/state) is the oracle and the operator, and the watcher's JSON log lines
 * ("watching", "deny set", "stopped") say when it is ready and what it enforces.
 * Needs root (fanotify permission events) and a built dist/.
 */
import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { CLI, ROOT, startDaemonProcess, type DaemonProcess, type SubjectView } from '../support/daemon-process.js';
import { spawnLogged } from '../support/logged-child.js';
import { cleanupStack } from '../support/cleanups.js';

const isRoot = process.getuid?.() === 0;
const haveDist = existsSync(path.join(ROOT, 'dist', 'daemon', 'cli.js'));

type Subject = SubjectView;
type Line = Record<string, unknown>;

const cleanups = cleanupStack();

function tmpDir(prefix: string): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function startTimeOf(pid: number): bigint {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return BigInt(s.slice(s.lastIndexOf(')') + 2).split(' ')[19]!);
}

/** `sentinel watch` as a child process; resolves once its "watching" line is logged. */
async function watchCli(paths: string[], socket: string, extra: string[] = []) {
  const w = spawnLogged<Line>(process.execPath, [CLI, 'watch', ...paths, '--socket', socket, ...extra]);
  const { child, lines, raw, waitLine, closed } = w;
  let stopped: Promise<{ code: number; summary: Record<string, unknown> | null }> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      const code = await w.stop();
      let summary: Record<string, unknown> | null = null;
      try {
        summary = JSON.parse(w.stdout().trim().split('\n').pop() ?? '') as Record<string, unknown>;
      } catch {
        // no summary
      }
      return { code, summary };
    })());
  cleanups.push(async () => void (await stop()));
  const first = await Promise.race([waitLine((l) => l['event.action'] === 'watching', '"watching" line').then(() => 'ok' as const), closed.then(() => 'closed' as const)]);
  if (first === 'closed') throw new Error(`sentinel watch exited early:\n${raw.join('\n')}`);
  return { child, lines, waitLine, stop };
}

/** A long-lived node process doing one file operation per stdin line, answering on stdout. */
class Worker {
  readonly proc: ChildProcess;
  private readonly it: AsyncIterator<string>;
  constructor() {
    const script = `
      const fs = require('fs');
      require('readline').createInterface({ input: process.stdin }).on('line', (l) => {
        const c = JSON.parse(l); let r = { ok: true };
        try {
          if (c.op === 'write') fs.writeFileSync(c.path, c.data ?? 'x');
          else if (c.op === 'rename') fs.renameSync(c.path, c.to);
          else if (c.op === 'unlink') fs.unlinkSync(c.path);
          else if (c.op === 'open') fs.closeSync(fs.openSync(c.path, 'r'));
          else if (c.op === 'read') r.value = fs.readFileSync(c.path, 'utf8');
        } catch (e) { r = { ok: false, code: e.code }; }
        process.stdout.write(JSON.stringify(r) + '\\n');
      });`;
    this.proc = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.it = readline.createInterface({ input: this.proc.stdout! })[Symbol.asyncIterator]();
    cleanups.push(() => void this.proc.kill('SIGKILL'));
  }
  get pid(): number {
    return this.proc.pid!;
  }
  async do(c: { op: string; path: string; to?: string; data?: string }): Promise<{ ok: boolean; code?: string; value?: string }> {
    this.proc.stdin!.write(JSON.stringify(c) + '\n');
    const r = await this.it.next();
    if (r.done) throw new Error('worker exited');
    return JSON.parse(r.value) as { ok: boolean; code?: string; value?: string };
  }
}

async function setup(extra: string[] = []) {
  const base = tmpDir('sentinel-fan-e2e-');
  const dataDir = path.join(base, 'data');
  const watched = path.join(base, 'watched');
  for (const d of [dataDir, watched]) (await import('node:fs')).mkdirSync(d);
  const socket = path.join(base, 's.sock');
  const daemon = await startDaemonProcess({ dataDir, socket });
  cleanups.push(async () => {
    await daemon.stop();
    daemon.cleanup();
  });
  const watch = await watchCli([watched], socket, ['--enforce', '--stats-interval', '1', ...extra]);
  await watch.waitLine((l) => l['message'] === 'deny set', 'first deny set');
  return { base, watched, socket, daemon, watch };
}

async function subjects(d: DaemonProcess): Promise<Subject[]> {
  return (await d.http<{ subjects: Subject[] }>('GET', '/v1/subjects?limit=100000')).body.subjects;
}

/** Polls /v1/subjects (bounded) until the process subject of pid has at least minEvents. */
async function subjectOf(d: DaemonProcess, pid: number, minEvents: number, nudge?: () => Promise<unknown>): Promise<Subject> {
  for (let i = 0; i < 150; i++) {
    const s = (await subjects(d)).find((x) => x.kind === 'process' && x.pid === pid && x.events >= minEvents);
    if (s) return s;
    if (nudge) await nudge();
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no daemon subject for pid ${pid} with >= ${minEvents} events; subjects: ${JSON.stringify(await subjects(d))}`);
}

const denySetHas = (pid: number) => (l: Line): boolean =>
  l['message'] === 'deny set' && Array.isArray(l['entries']) && (l['entries'] as { pid: number; state: number }[]).some((e) => e.pid === pid && e.state === 3);

describe.skipIf(!isRoot || !haveDist)('sentinel watch (fanotify) with the real daemon', () => {
  it('real processes modifying files under the watched dir are seen by the daemon with their pids', async () => {
    const { watched, daemon, watch } = await setup();
    // A shell: `echo x > f` is its own create/write/close (mv and rm are other processes).
    const sh = spawn('sh', ['-c', 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo x > f$i; mv f$i g$i; rm g$i; done; echo $$'], { cwd: watched, stdio: ['ignore', 'pipe', 'inherit'] });
    let shOut = '';
    sh.stdout!.on('data', (d: Buffer) => (shOut += d.toString()));
    await new Promise((r) => sh.on('close', r));
    expect(Number(shOut.trim())).toBe(sh.pid);
    // 12 × (create, write, close) = 36 events from the shell's own pid.
    const s1 = await subjectOf(daemon, sh.pid!, 32);
    expect(s1.comm).toBe('sh');

    const w = new Worker();
    const f = (n: string): string => path.join(watched, n);
    for (let i = 0; i < 10; i++) {
      expect((await w.do({ op: 'write', path: f(`r${i}.txt`), data: `report ${i}\n` })).ok).toBe(true);
      expect((await w.do({ op: 'rename', path: f(`r${i}.txt`), to: f(`s${i}.txt`) })).ok).toBe(true);
    }
    for (let i = 0; i < 5; i++) expect((await w.do({ op: 'unlink', path: f(`s${i}.txt`) })).ok).toBe(true);
    // 10 × (create, write, close, rename) + 5 unlink = 45 events.
    let n = 0;
    const s2 = await subjectOf(daemon, w.pid, 45, () => w.do({ op: 'write', path: f(`nudge${n++}`) }));
    expect(s2.comm).toBe('node');
    expect(BigInt(s2.startTime)).toBe(startTimeOf(w.pid));

    const { code, summary } = await watch.stop();
    expect(code).toBe(0);
    const st = summary!['stats'] as Record<string, number>;
    expect(st['dropped']).toBe(0);
    expect(st['overflows']).toBe(0);
    expect(summary!['rejected']).toBe(0);
    expect(summary!['accepted']).toBe(summary!['sentRecords']);
    expect(summary!['sentRecords'] as number).toBeGreaterThanOrEqual(36 + 45);
  });

  it('an operator Lockdown makes the next open of a watched file fail with EPERM while another process keeps opening', async () => {
    const { watched, daemon, watch } = await setup();
    const f = (n: string): string => path.join(watched, n);
    writeFileSync(f('shared.txt'), 'shared');
    const bad = new Worker();
    const good = new Worker();
    let n = 0;
    const nudge = (): Promise<unknown> => bad.do({ op: 'write', path: f(`bad${n++}.txt`), data: 'x' });
    for (let i = 0; i < 12; i++) await nudge();
    expect(await bad.do({ op: 'open', path: f('shared.txt') })).toEqual({ ok: true });
    const s = await subjectOf(daemon, bad.pid, 32, nudge);
    const r = await daemon.http<{ changed: boolean }>('POST', `/v1/subjects/${s.id}/state`, { state: 'Lockdown', by: 'test' });
    expect(r.status).toBe(200);
    await watch.waitLine(denySetHas(bad.pid), `deny set with pid ${bad.pid} in Lockdown`);
    expect(await bad.do({ op: 'open', path: f('shared.txt') })).toEqual({ ok: false, code: 'EPERM' });
    expect(await bad.do({ op: 'read', path: f('bad0.txt') })).toEqual({ ok: false, code: 'EPERM' });
    expect(await bad.do({ op: 'write', path: f('new.txt') })).toEqual({ ok: false, code: 'EPERM' });
    // Outside the watched tree it is not ours to deny.
    const outside = tmpDir('sentinel-fan-out-');
    expect((await bad.do({ op: 'write', path: path.join(outside, 'o.txt') })).ok).toBe(true);
    for (let i = 0; i < 3; i++) {
      expect(await good.do({ op: 'open', path: f('shared.txt') })).toEqual({ ok: true });
      expect((await good.do({ op: 'write', path: f(`good${i}.txt`), data: 'fine' })).ok).toBe(true);
    }
    expect(await good.do({ op: 'read', path: f('shared.txt') })).toMatchObject({ ok: true, value: 'shared' });
    // Operator reset: the next push clears the table and the process may open again.
    await daemon.http('POST', `/v1/subjects/${s.id}/state`, { state: 'Normal', by: 'test' });
    await watch.waitLine((l) => l['message'] === 'deny set' && l['lockdown'] === 0 && (l['generation'] as number) > 1, 'deny set without the pid');
    expect(await bad.do({ op: 'open', path: f('shared.txt') })).toEqual({ ok: true });
    const { code, summary } = await watch.stop();
    expect(code).toBe(0);
    const st = summary!['stats'] as Record<string, number>;
    expect(st['permDenied']).toBeGreaterThanOrEqual(3);
    expect(st['permAllowed']).toBeGreaterThan(0);
  });

  it('--kill-policy stop: a process put into Lockdown is stopped (SIGSTOP)', async () => {
    const { watched, daemon, watch } = await setup(['--kill-policy', 'stop']);
    const bad = new Worker();
    let n = 0;
    const nudge = (): Promise<unknown> => bad.do({ op: 'write', path: path.join(watched, `k${n++}.txt`) });
    for (let i = 0; i < 12; i++) await nudge();
    const s = await subjectOf(daemon, bad.pid, 32, nudge);
    await daemon.http('POST', `/v1/subjects/${s.id}/state`, { state: 'Lockdown', by: 'test' });
    const l = await watch.waitLine(denySetHas(bad.pid), `deny set with pid ${bad.pid}`);
    expect(l['signalled']).toBe(1);
    const state = (): string => {
      const stat = readFileSync(`/proc/${bad.pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    };
    // kill(2) has returned; the stop itself lands when the process is next scheduled (bounded wait).
    for (let i = 0; i < 200 && state() !== 'T'; i++) await new Promise((r) => setTimeout(r, 5));
    expect(state()).toBe('T');
  });

  it('daemon restarted mid-run: the watcher keeps enforcing the last deny set, reconnects, and reports to the new daemon', async () => {
    const { watched, daemon, watch, socket } = await setup();
    const f = (n: string): string => path.join(watched, n);
    writeFileSync(f('shared.txt'), 'shared');
    const bad = new Worker();
    let n = 0;
    const nudge = (): Promise<unknown> => bad.do({ op: 'write', path: f(`r${n++}.txt`), data: 'x' });
    for (let i = 0; i < 12; i++) await nudge();
    const s = await subjectOf(daemon, bad.pid, 32, nudge);
    await daemon.http('POST', `/v1/subjects/${s.id}/state`, { state: 'Lockdown', by: 'test' });
    await watch.waitLine(denySetHas(bad.pid), `deny set with pid ${bad.pid}`);
    await daemon.stop();
    await watch.waitLine((l) => l['event.action'] === 'daemon-lost', 'daemon-lost line');
    // No daemon: the last deny set still holds (fail-static), others still work.
    expect(await bad.do({ op: 'open', path: f('shared.txt') })).toEqual({ ok: false, code: 'EPERM' });
    const good = new Worker();
    for (let i = 0; i < 12; i++) expect((await good.do({ op: 'write', path: f(`g${i}.txt`), data: 'during the outage' })).ok).toBe(true);
    const again = await startDaemonProcess({ dataDir: daemon.dataDir, socket });
    cleanups.push(async () => {
      await again.stop();
      again.cleanup();
    });
    const rl = await watch.waitLine((l) => l['event.action'] === 'daemon-reconnected', 'daemon-reconnected line');
    expect(rl['daemonPid']).toBe(again.proc.pid);
    // Events queued natively during the outage and new ones reach the new daemon.
    let m = 0;
    const g = await subjectOf(again, good.pid, 32, () => good.do({ op: 'write', path: f(`h${m++}.txt`) }));
    expect(g.comm).toBe('node');
    const { code, summary } = await watch.stop();
    expect(code).toBe(0);
    expect(summary!['reconnects']).toBe(1);
    expect((summary!['stats'] as Record<string, number>)['dropped']).toBe(0);
  });

  it('clear errors: daemon not running, missing path', async () => {
    const base = tmpDir('sentinel-fan-err-');
    const run = (args: string[]) =>
      new Promise<{ code: number; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, [CLI, 'watch', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        p.on('close', (code) => resolve({ code: code ?? 1, stderr }));
      });
    const a = await run([base, '--socket', path.join(base, 'none.sock')]);
    expect(a.code).toBe(3);
    expect(a.stderr).toMatch(/SENTINEL_E_NOT_RUNNING: cannot connect/);
    const socket = path.join(base, 's.sock');
    const daemon = await startDaemonProcess({ dataDir: base, socket });
    cleanups.push(async () => {
      await daemon.stop();
      daemon.cleanup();
    });
    const b = await run([path.join(base, 'missing'), '--socket', socket]);
    expect(b.code).not.toBe(0);
    expect(b.stderr).toMatch(/cannot watch .*missing: No such file or directory/);
    const c = await run([base, '--socket', socket, '--kill-policy', 'maim']);
    expect(c.code).toBe(2);
  });
});
