/**
 * Lab runner: one scenario = a fresh source dir and mountpoint, a fresh daemon (its own data
 * dir, scoring and enforcing), sentinel-fuse reporting through a recording proxy, the workload
 * run through the mount as its own session (setsid), then the outcome measured: files lost
 * (sha256 of the victims against the originals), the daemon's transitions and subjects.
 * Writes <out>/<scenario>/{trace.jsonl,labels.json,result.json}.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { startProtect, projectRoot, type ProtectHandle } from '../../daemon/commands/protect.js';
import { startRecordingProxy, type RecordingProxy } from './proxy.js';
import { RANSOM_SCENARIOS, type AttackReport, type RansomScenario } from './ransomware.js';
import { BENIGN_SCENARIOS, missingFor, type BenignScenario } from './benign.js';
import { createVictims, sha256File, type VictimFile } from './victims.js';

const STATES = ['Normal', 'Monitoring', 'Restricted', 'Lockdown'] as const;

export interface LabScenario {
  name: string;
  kind: 'ransomware' | 'benign';
  family: string;
  description: string;
  ransom?: RansomScenario;
  benign?: BenignScenario;
  /** A benign workload run at the same time as the attack, in the same mount (its own session). */
  companion?: BenignScenario;
}

export function allScenarios(): LabScenario[] {
  return [
    ...RANSOM_SCENARIOS.map((s): LabScenario => ({ name: s.name, kind: 'ransomware', family: s.family, description: s.description, ransom: s })),
    ...BENIGN_SCENARIOS.map((s): LabScenario => ({ name: s.name, kind: 'benign', family: s.family, description: s.description, benign: s })),
    {
      name: 'mixed', kind: 'ransomware', family: 'mixed', description: 'in-place attack while tar+gzip runs in the same mount (a bystander that must keep working)',
      ransom: RANSOM_SCENARIOS.find((s) => s.name === 'inplace') as RansomScenario, companion: BENIGN_SCENARIOS.find((s) => s.name === 'tar-gzip') as BenignScenario,
    },
  ];
}

export interface LabOptions {
  out: string;
  seed: number;
  /** Victim files per ransomware scenario. */
  victimFiles: number;
  /** Victim file size scale (1 = realistic). */
  sizeScale: number;
  /** Benign input tree scale. */
  benignScale: number;
  /** Delay between files of the slow scenario, ms. */
  slowDelayMs: number;
  /** Per-scenario workload time limit, ms. */
  timeoutMs: number;
  /** A daemon configuration file (`sentinel start --config`), e.g. to try another tick interval. */
  daemonConfig?: string;
  /** sentinel-fuse --barrier-ms (verdict barrier; 0 = off). Default: sentinel-fuse's own. */
  barrierMs?: number;
  log?: (msg: string) => void;
}

export interface Labels {
  scenario: string;
  kind: 'ransomware' | 'benign';
  family: string;
  seed: number;
  /** Attacker processes (the simulator and its workers); empty for benign. */
  attackerPids: number[];
  /** Session ids of the attacker's tree (the simulator runs in its own session). */
  attackerSids: number[];
  /** Root pid of the benign workload's session; 0 for ransomware. */
  benignRootPid: number;
  mountpoint: string;
  source: string;
  /** Victim files (paths relative to the mountpoint) with their original sha256. */
  victims: VictimFile[];
  /** Files the attacker touched, relative to the mountpoint. */
  touched: string[];
}

export interface SubjectOutcome {
  id: number;
  kind: string;
  pid: number;
  comm: string;
  maxState: string;
  attacker: boolean;
}

export interface ScenarioResult {
  scenario: string;
  kind: 'ransomware' | 'benign';
  family: string;
  skipped?: string;
  seed: number;
  durationMs: number;
  traceEvents: number;
  /** Highest state any attacker subject reached live (ransomware) / any subject reached (benign). */
  maxState: string;
  detected: boolean;
  /** ms from the workload's start to the attacker's first Restricted transition, null if never. */
  msToRestricted: number | null;
  /** Victim files whose original content is gone (overwritten, truncated or deleted). */
  filesLost: number;
  filesTotal: number;
  filesAttempted: number;
  filesEncrypted: number;
  stoppedBy: string | null;
  attack?: Omit<AttackReport, 'touched'>;
  benign?: { exitCode: number | null; stderrTail: string };
  /** Mixed scenarios: the benign companion's outcome and the highest state of any non-attacker subject. */
  bystander?: { exitCode: number | null; stderrTail: string; maxState: string };
  subjects: SubjectOutcome[];
  fuse: Record<string, unknown> | null;
  error?: string;
}

interface Daemon {
  proc: ChildProcess;
  socket: string;
  http<T>(p: string): Promise<T>;
  stop(): Promise<void>;
}

async function startDaemon(dataDir: string, config?: string): Promise<Daemon> {
  const cli = path.join(projectRoot(), 'bin', 'sentinel.js');
  const socket = path.join(dataDir, 's.sock');
  const proc = spawn(process.execPath, [cli, 'start', '--data-dir', dataDir, '--socket', socket, '--http-port', '0', ...(config ? ['--config', path.resolve(config)] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
  const rl = readline.createInterface({ input: proc.stderr as NodeJS.ReadableStream });
  const raw: string[] = [];
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`daemon not ready within 30 s:\n${raw.join('\n')}`)), 30_000);
    rl.on('line', (line) => {
      if (raw.length < 200) raw.push(line);
      try {
        const l = JSON.parse(line) as Record<string, unknown>;
        if (l['event.action'] === 'ready') {
          clearTimeout(t);
          resolve(l);
        }
      } catch {
        // not JSON
      }
    });
    proc.once('exit', (c) => {
      clearTimeout(t);
      reject(new Error(`daemon exited (${c}) before ready:\n${raw.join('\n')}`));
    });
  });
  const port = ready['httpPort'] as number;
  const token = fs.readFileSync(path.join(dataDir, 'http.token'), 'utf8').trim();
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    proc,
    socket,
    async http<T>(p: string): Promise<T> {
      const res = await fetch(`http://127.0.0.1:${port}${p}`, { headers: { authorization: `Bearer ${token}` } });
      return (await res.json()) as T;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

interface Transition { atMs: number; subjectId: number; subjectKind: string; pid: number; comm: string; fromState: number; toState: number }
interface Subject { id: number; kind: string; pid: number; sid: number; treeId: number; comm: string; state: string }

/** Waits until the daemon has ingested `events` events and scored everything due. */
async function settle(d: Daemon, events: number, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let quietTicks = -1;
  while (Date.now() < until) {
    const st = await d.http<{ engine: { eventsAccepted: number; eventsRejected: number; dueSubjects: number }; ticks: number }>('/v1/status');
    if (st.engine.eventsAccepted + st.engine.eventsRejected >= events && st.engine.dueSubjects === 0) {
      if (quietTicks >= 0 && st.ticks > quietTicks) return;
      if (quietTicks < 0) quietTicks = st.ticks;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The compiled simulator (a separate process), also when this module runs from TypeScript sources. */
const WARMUP_COMM = 'lab-warmup';

/**
 * A fresh daemon's first scoring ticks run cold (JIT, first SQLite statements); a host's daemon
 * has been running for a while. Before each scenario the daemon gets ~1000 benign events from a
 * separate client (straight to its socket, so they are not in the recorded trace; comm
 * lab-warmup, excluded from the results).
 */
async function warmUp(d: Daemon, tmp: string): Promise<number> {
  const lines: string[] = [];
  const ts0 = BigInt(Date.now()) * 1_000_000n;
  let k = 0;
  for (let f = 0; f < 160; f++) {
    const p = `/lab-warmup/dir${f % 8}/file${f}.txt`;
    for (const [op, extra] of [['open', ''], ['write', ',"offset":0,"len":2048,"size":2048,"entropy":4.2'], ['close', ',"len":2048,"size":2048']] as const) {
      lines.push(`{"ts":${ts0 + BigInt(k++) * 50_000n},"pid":${1000 + (f % 4)},"ppid":1,"uid":0,"start":1,"comm":"${WARMUP_COMM}","op":"${op}","path":"${p}"${extra}}`);
    }
  }
  const file = path.join(tmp, 'warmup.jsonl');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  const cli = path.join(projectRoot(), 'bin', 'sentinel.js');
  const r = await runChild(process.execPath, [cli, 'send', file, '--socket', d.socket], tmp, 30_000);
  if (r.code !== 0) throw new Error(`warm-up send failed (${r.code}): ${r.stderr.slice(-400)}`);
  await settle(d, lines.length);
  return lines.length;
}

const SIM_CLI = path.join(projectRoot(), 'dist', 'src', 'lab', 'ransomware-cli.js');

function runChild(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<{ pid: number; code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // detached: its own session (setsid), so its process tree is only the workload.
    const child = spawn(cmd, args, { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const t = setTimeout(() => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // gone
      }
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ pid: child.pid as number, code, stdout, stderr });
    });
  });
}

/** Victims whose original content no longer exists anywhere under the victims tree. */
export function countLost(srcDir: string, victims: VictimFile[]): number {
  const present = new Set<string>();
  const walk = (d: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const h = sha256File(p);
        if (h) present.add(`${path.relative(srcDir, p)}\0${h}`);
        if (h) present.add(`*\0${h}`);
      }
    }
  };
  walk(path.join(srcDir, 'victims'));
  // Lost unless the original bytes survive, at the original path or renamed elsewhere.
  return victims.filter((v) => !present.has(`${v.rel}\0${v.sha256}`) && !present.has(`*\0${v.sha256}`)).length;
}

export async function runScenario(sc: LabScenario, o: LabOptions): Promise<ScenarioResult> {
  const log = o.log ?? (() => undefined);
  const outDir = path.join(o.out, sc.name);
  fs.mkdirSync(outDir, { recursive: true });
  const base: ScenarioResult = {
    scenario: sc.name, kind: sc.kind, family: sc.family, seed: o.seed, durationMs: 0, traceEvents: 0, maxState: 'Normal', detected: false,
    msToRestricted: null, filesLost: 0, filesTotal: 0, filesAttempted: 0, filesEncrypted: 0, stoppedBy: null, subjects: [], fuse: null,
  };
  if (sc.benign) {
    const why = missingFor(sc.benign);
    if (why) {
      const r = { ...base, skipped: why };
      fs.writeFileSync(path.join(outDir, 'result.json'), JSON.stringify(r, null, 2) + '\n');
      log(`${sc.name}: skipped (${why})`);
      return r;
    }
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `sentinel-lab-${sc.name}-`));
  const src = path.join(tmp, 'src');
  const mnt = path.join(tmp, 'mnt');
  const dataDir = path.join(tmp, 'data');
  for (const d of [src, mnt, dataDir]) fs.mkdirSync(d, { recursive: true });
  const tracePath = path.join(outDir, 'trace.jsonl');
  let daemon: Daemon | undefined;
  let proxy: RecordingProxy | undefined;
  let mount: ProtectHandle | undefined;
  const result: ScenarioResult = { ...base };
  const labels: Labels = { scenario: sc.name, kind: sc.kind, family: sc.family, seed: o.seed, attackerPids: [], attackerSids: [], benignRootPid: 0, mountpoint: mnt, source: src, victims: [], touched: [] };
  const t0 = Date.now();
  try {
    if (sc.ransom) labels.victims = createVictims(src, { seed: o.seed, files: o.victimFiles, sizeScale: o.sizeScale });
    else sc.benign?.prepare(src, { seed: o.seed, scale: o.benignScale });
    sc.companion?.prepare(src, { seed: o.seed, scale: o.benignScale });
    daemon = await startDaemon(dataDir, o.daemonConfig);
    const warmupEvents = await warmUp(daemon, tmp);
    proxy = await startRecordingProxy(path.join(tmp, 'proxy.sock'), daemon.socket, tracePath);
    mount = await startProtect({ source: src, mountpoint: mnt, socket: proxy.path, statsIntervalS: 1, ...(o.barrierMs !== undefined ? { barrierMs: o.barrierMs } : {}) });
    await mount.waitForLine((l) => l.msg === 'state push', 15_000);
    const started = Date.now();
    if (sc.ransom) {
      const args = [SIM_CLI, '--root', mnt, '--scenario', sc.ransom.name, '--seed', String(o.seed)];
      if (sc.ransom.delayMs) args.push('--delay-ms', String(o.slowDelayMs));
      const companion = sc.companion ? runChild('bash', ['-c', `set -e; ${sc.companion.script}`], mnt, o.timeoutMs) : undefined;
      const r = await runChild(process.execPath, args, mnt, o.timeoutMs);
      if (companion) {
        const c = await companion;
        labels.benignRootPid = c.pid;
        result.bystander = { exitCode: c.code, stderrTail: c.stderr.slice(-1000), maxState: 'Normal' };
      }
      let rep: AttackReport;
      try {
        rep = JSON.parse(r.stdout) as AttackReport;
      } catch {
        throw new Error(`simulator printed no report (exit ${r.code}): ${r.stderr.slice(-800)}`);
      }
      const { touched, ...rest } = rep;
      result.attack = rest;
      labels.attackerPids = rep.pids;
      labels.attackerSids = [r.pid];
      labels.touched = touched;
      result.filesAttempted = rep.attempted;
      result.filesEncrypted = rep.encrypted;
      result.stoppedBy = rep.stoppedBy;
    } else if (sc.benign) {
      const r = await runChild('bash', ['-c', `set -e; ${sc.benign.script}`], mnt, o.timeoutMs);
      labels.benignRootPid = r.pid;
      result.benign = { exitCode: r.code, stderrTail: r.stderr.slice(-1000) };
    }
    const ended = Date.now();
    await settle(daemon, proxy.events + warmupEvents);
    const allTransitions = (await daemon.http<{ transitions: Transition[] }>('/v1/audit/transitions?limit=10000')).transitions;
    const subjects = (await daemon.http<{ subjects: Subject[] }>('/v1/subjects?limit=100000')).subjects.filter((x) => x.comm !== WARMUP_COMM);
    const attackerPids = new Set(labels.attackerPids);
    const attackerSubjects = new Set<number>();
    for (const s of subjects) {
      if (s.kind === 'process' && attackerPids.has(s.pid)) {
        attackerSubjects.add(s.id);
        if (s.treeId) attackerSubjects.add(s.treeId);
      }
    }
    const maxBy = new Map<number, number>();
    const transitions = allTransitions.filter((t) => t.comm !== WARMUP_COMM);
    for (const t of transitions) maxBy.set(t.subjectId, Math.max(maxBy.get(t.subjectId) ?? 0, t.toState));
    const isAttacker = (id: number, pid: number, kind: string): boolean => attackerSubjects.has(id) || (kind === 'process' && attackerPids.has(pid));
    result.subjects = subjects.map((s) => ({ id: s.id, kind: s.kind, pid: s.pid, comm: s.comm, maxState: STATES[maxBy.get(s.id) ?? 0] ?? 'Normal', attacker: isAttacker(s.id, s.pid, s.kind) }));
    const relevant = transitions.filter((t) => (sc.kind === 'benign' ? true : isAttacker(t.subjectId, t.pid, t.subjectKind)));
    const max = relevant.reduce((m, t) => Math.max(m, t.toState), 0);
    if (result.bystander) {
      const others = transitions.filter((t) => !isAttacker(t.subjectId, t.pid, t.subjectKind));
      result.bystander.maxState = STATES[others.reduce((m, t) => Math.max(m, t.toState), 0)] ?? 'Normal';
    }
    result.maxState = STATES[max] ?? 'Normal';
    const firstRestricted = relevant.filter((t) => t.toState >= 2).sort((a, b) => a.atMs - b.atMs)[0];
    result.detected = sc.kind === 'ransomware' && firstRestricted !== undefined;
    // From the attacker's own first file operation (its report), else from the spawn.
    const attackStart = result.attack?.startedMs ?? started;
    result.msToRestricted = firstRestricted ? firstRestricted.atMs - attackStart : null;
    result.durationMs = ended - started;
    await mount.stop();
    const exit = mount.lines.find((l) => l.msg === 'exit');
    result.fuse = exit ? Object.fromEntries(Object.entries(exit).filter(([k]) => !['level', 'time', 'name', 'pid', 'msg'].includes(k))) : null;
    mount = undefined;
    await proxy.close();
    result.traceEvents = proxy.events;
    proxy = undefined;
    if (sc.ransom) {
      result.filesTotal = labels.victims.length;
      result.filesLost = countLost(src, labels.victims);
    }
  } catch (err) {
    result.error = (err as Error).message;
  } finally {
    await mount?.stop().catch(() => undefined);
    await proxy?.close().catch(() => undefined);
    await daemon?.stop().catch(() => undefined);
    fs.writeFileSync(path.join(outDir, 'labels.json'), JSON.stringify(labels, null, 2) + '\n');
    fs.writeFileSync(path.join(outDir, 'result.json'), JSON.stringify(result, null, 2) + '\n');
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  log(`${sc.name}: ${sc.kind === 'ransomware' ? `detected=${result.detected} lost=${result.filesLost}/${result.filesTotal} msToRestricted=${result.msToRestricted}` : `max=${result.maxState} exit=${result.benign?.exitCode}`} events=${result.traceEvents} (${Date.now() - t0} ms)${result.error ? ' error: ' + result.error : ''}`);
  return result;
}
