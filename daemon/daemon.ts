/**
 * The daemon process: wires engine, detectors, fusion, trust machine, audit, the Unix socket
 * server and the operator HTTP API, and owns start-up and graceful shutdown.
 *
 * Shutdown loses no accepted event: the listener closes first, every byte already read has been
 * ingested (socket handlers are synchronous), then ticks run until no subject is due, the last
 * audit transaction commits, clients are told SENTINEL_E_SHUTTING_DOWN, and files are closed.
 */
import { mkdirSync, writeFileSync, readFileSync, existsSync, rmSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import { Engine } from '../src/engine.js';
import { addon } from '../src/binding.js';
import { Scorer, stateName, type ScoredTransition } from '../src/scoring/scorer.js';
import { TrustMachine, type TrustState } from '../src/state/trust-machine.js';
import { AuditStore } from '../src/audit/store.js';
import { loadDetectionModels } from '../src/scoring/load-models.js';
import { SocketServer } from './socket-server.js';
import { HttpServer, type OperatorApi } from './http-server.js';
import { Counters } from './counters.js';
import { DropAlerts } from './drop-alerts.js';
import type { SentinelConfig } from './config.js';
import { TRUST_STATES } from '../src/protocol/constants.js';
import { errorCode } from '../src/errors.js';
import { BiometricsService } from './biometrics.js';

export const VERSION = '0.1.0';

export interface RunningDaemon {
  socketPath: string;
  httpPort: number;
  stop(reason: string): Promise<void>;
  stopped: Promise<void>;
}

function ensureToken(file: string): string {
  if (existsSync(file)) {
    chmodSync(file, 0o600);
    const t = readFileSync(file, 'utf8').trim();
    if (t.length >= 32) return t;
  }
  const token = randomBytes(32).toString('hex');
  writeFileSync(file, token + '\n', { mode: 0o600 });
  return token;
}

export async function startDaemon(cfg: SentinelConfig, log: Logger): Promise<RunningDaemon> {
  mkdirSync(cfg.dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(path.dirname(cfg.socket.path), { recursive: true, mode: 0o750 });
  const counters = new Counters();
  const engine = new Engine(cfg.engine, cfg.tick.maxRows);
  const models = loadDetectionModels(cfg.modelsDir, engine);
  if (cfg.decoys.length) engine.setDecoys(cfg.decoys);
  const machine = new TrustMachine(cfg.policy);
  const audit = new AuditStore(cfg.database.path);
  const runId = audit.startRun({ version: VERSION, configHash: models.configHash(cfg) });
  const scorer = new Scorer({ engine, fusion: models.fusion, machine, audit, clock: 'wall', holds: () => socket.barrierClients > 0 });
  const startedAt = Date.now();
  // The session subject holds its user's processes at its state; `socket` exists by the time
  // the first session transition can happen (the collectors start after it listens).
  const bio = new BiometricsService({ ...cfg.biometrics, modelsDir: cfg.modelsDir }, audit, log, (uid, state) => {
    if (engine.setUidFloor(uid, state)) socket.pushStates();
  });

  let socket: SocketServer;
  scorer.onTick((r) => {
    for (const t of r.transitions) logTransition(log, t);
    counters.add('transitions_total', r.transitions.length);
    if (r.denySetChanged) socket.pushStates();
  });
  // Verdict barrier (docs/protocol.md): BARRIER_ACKs go out after the pass's state push.
  scorer.onTickEnd((tickNo) => socket.releaseBarriers(tickNo));

  let tickTimer: NodeJS.Timeout | null = null;
  const runTick = (): void => {
    tickTimer = null;
    scorer.tick().then(
      () => {
        const due = engine.stats().dueSubjects;
        socket.setPaused(due > cfg.tick.maxDueBeforePause);
        if (due > 0) scheduleTick();
      },
      (err: unknown) => {
        counters.inc('tick_errors_total');
        log.error({ err, 'error.code': errorCode(err, 'SENTINEL_E_IO') }, 'scoring tick failed');
      },
    );
  };
  let stopRequested = false;
  const scheduleTick = (): void => {
    if (!stopRequested) tickTimer ??= setTimeout(runTick, cfg.tick.intervalMs);
  };
  // A subject crossed the trigger: score it on the next turn of the event loop, not in 20 ms.
  const tickNow = (): void => {
    if (stopRequested) return;
    if (tickTimer) clearTimeout(tickTimer);
    tickTimer = setTimeout(runTick, 0);
  };
  socket = new SocketServer({ ...cfg.socket, engine, log, counters, onEvents: scheduleTick, onUrgent: tickNow, ticksStarted: () => scorer.ticksStarted });
  await socket.listen();
  const drops = new DropAlerts(
    [
      { hop: 'socket', reason: 'malformed_event', read: () => counters.get('ingest_rejected_events_total') },
      { hop: 'socket', reason: 'truncated_frame_bytes', read: () => counters.get('ingest_truncated_bytes_total') },
      { hop: 'engine', reason: 'subject_table_full', read: () => engine.stats().eventsDroppedNoSubject },
      { hop: 'tick', reason: 'tick_failed', read: () => counters.get('tick_errors_total') },
      // keystroke batches whose windows were lost when the embedder failed (then: classical)
      { hop: 'keystroke_embedding', reason: 'embedder_failed', read: () => bio.keystrokeEmbeddingFailures },
    ],
    audit,
    log,
    counters,
  );
  const decayTimer = setInterval(() => {
    scheduleTick();
    drops.check(Date.now());
    bio.tickDecay(Date.now());
  }, cfg.tick.decayIntervalMs);
  await bio.openModels();
  bio.start();

  const api: OperatorApi = {
    status: () => ({
      version: VERSION,
      pid: process.pid,
      uptimeMs: Date.now() - startedAt,
      socket: cfg.socket.path,
      database: cfg.database.path,
      connections: socket.connectionCount,
      engine: engine.stats(),
      subjectsByState: countByState(machine),
      models: models.fusion.modelHashes(),
      ticks: scorer.ticks,
      rowsScored: scorer.rowsScored,
      counters: counters.snapshot(),
      biometrics: bio.status(),
    }),
    subjects: ({ minState, limit }) => {
      const ids = minState > 0 ? [...machine.subjects()].filter(([, s]) => s >= minState).map(([id]) => id) : [...scorer.lastScores.keys()];
      return engine.liveSubjects(ids.slice(0, limit)).map((s) => describeSubject(s, machine, scorer));
    },
    subject: (id) => {
      if (id === bio.subjectId) return { id, kind: 'session', ...bio.status() };
      const [s] = engine.subjectInfo([id]);
      return s && s.id === id ? describeSubject(s, machine, scorer) : undefined;
    },
    setState: (id, state, by) => (id === bio.subjectId ? bio.setState(state, by) : scorer.setState(id, state, by)),
    transitions: (f) => audit.transitions(f),
    releaseFloor: (uid, by) => bio.releaseFloorByOperator(uid, by),
    metrics: () => {
      const st = engine.stats();
      const gauges: Record<string, number> = {
        subjects_live: st.subjectsLive,
        subjects_due: st.dueSubjects,
        connections: socket.connectionCount,
        deny_set_generation: st.denySetGeneration,
        engine_table_bytes: st.tableBytes,
        process_resident_memory_bytes: process.memoryUsage().rss,
        engine_events_dropped_no_subject: st.eventsDroppedNoSubject,
      };
      for (const [name, n] of Object.entries(countByState(machine))) gauges[`subjects{state="${name}"}`] = n;
      const b = bio.status();
      gauges['session_state'] = TRUST_STATES.indexOf(b.state as (typeof TRUST_STATES)[number]);
      gauges['session_score'] = b.score;
      gauges['session_windows_scored{modality="keystroke"}'] = b.windowsScored;
      gauges['session_windows_scored{modality="mouse"}'] = b.blocksScored;
      gauges['session_windows_scored{modality="app"}'] = b.app.windowsScored;
      gauges['session_locks'] = b.locks;
      // 1 while keystrokes are scored with the learned embedding, 0 otherwise (classical or none).
      gauges['session_keystroke_embedding'] = b.keystrokeScoring.method === 'fused+embedding' ? 1 : 0;
      gauges['session_keystroke_embedding_failures'] = b.keystrokeScoring.embeddingFailures;
      // 1 while the profile's keystrokes go unscored because the classical weights file does not
      // load; 1 while they are scored after recalibrating the profile under other shipped weights.
      gauges['session_keystroke_off'] = b.keystrokeScoring.off === null ? 0 : 1;
      gauges['session_keystroke_recalibrated'] = b.keystrokeScoring.recalibrated ? 1 : 0;
      gauges['session_unenrolled_pointer_actions'] = b.pointerDevices.unenrolledActions;
      // 1 while a profile is scored (0: off, e.g. no active session or no profile for its user).
      gauges['session_scored'] = b.on ? 1 : 0;
      gauges['session_user_switches'] = b.sessionUser.switches;
      // Users switched away from while Restricted or Lockdown, their processes still held there.
      gauges['session_held_floors'] = b.sessionUser.heldFloors.length;
      // The several-users mouse model: 1 while fitted, its members, and whether the session user is scored by it.
      gauges['session_mouse_cohort'] = b.mouseCohort.on ? 1 : 0;
      gauges['session_mouse_cohort_members'] = b.mouseCohort.members.length;
      // Background members it is fitted with (other people's profiles, never scored; 0: none).
      gauges['session_mouse_cohort_background'] = b.mouseCohort.background.members;
      gauges['session_mouse_cohort_scoring'] = b.mouseCohort.scoring ? 1 : 0;
      gauges['session_mouse_cohort_fit_failures'] = b.mouseCohort.failures;
      gauges['session_windows_scored{modality="mouseCohort"}'] = b.mouseCohort.blocksScored;
      gauges['input_dropped'] = Number(b.input?.['dropped'] ?? 0);
      gauges['input_malformed_records'] = Number(b.input?.['malformed'] ?? 0);
      gauges['app_changes_dropped'] = b.app.dropped;
      return counters.render(gauges);
    },
  };
  const token = ensureToken(cfg.http.tokenFile);
  const http = new HttpServer(api, token, log);
  const httpPort = await http.listen(cfg.http.host, cfg.http.port);
  const stateFile = path.join(cfg.dataDir, 'daemon.json');
  writeFileSync(stateFile, JSON.stringify({ pid: process.pid, socket: cfg.socket.path, httpHost: cfg.http.host, httpPort, tokenFile: cfg.http.tokenFile, startedAt }) + '\n', { mode: 0o600 });
  const sd = systemdNotifier(log);
  sd.notify(`READY=1\nSTATUS=listening on ${cfg.socket.path}`);
  log.info({ 'event.action': 'ready', socket: cfg.socket.path, httpPort, database: cfg.database.path, models: models.fusion.modelHashes() }, 'ready');

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let stopping: Promise<void> | null = null;
  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log.info({ reason }, 'stopping');
      stopRequested = true; // no new tick timers; the drain below runs the last ticks itself
      sd.notify('STOPPING=1');
      sd.stop();
      clearInterval(decayTimer);
      if (tickTimer) clearTimeout(tickTimer);
      const closing = socket.close();
      await scorer.idle();
      // Drain: every accepted event is scored and its transitions audited before exit.
      for (let i = 0; i < 1_000_000; i++) {
        const r = await scorer.tick();
        if (r.rows === 0) break;
      }
      socket.endAll();
      await closing;
      drops.check(Date.now());
      await bio.stop();
      await http.close();
      audit.stopRun(runId);
      audit.close();
      rmSync(stateFile, { force: true });
      rmSync(cfg.socket.path, { force: true });
      log.info({ events: counters.get('ingest_events_total'), rejected: counters.get('ingest_rejected_events_total') }, 'stopped');
      resolveStopped();
    })();
    return stopping;
  };
  return { socketPath: cfg.socket.path, httpPort, stop, stopped };
}

/** sd_notify readiness and, when systemd asked for it (WATCHDOG_USEC), watchdog pings. */
function systemdNotifier(log: Logger): { notify(state: string): void; stop(): void } {
  const notify = (state: string): void => {
    try {
      addon().sdNotify(state);
    } catch (err) {
      log.warn({ err }, 'sd_notify failed');
    }
  };
  const usec = Number(process.env['WATCHDOG_USEC'] ?? 0);
  const timer = usec > 0 ? setInterval(() => notify('WATCHDOG=1'), Math.max(1, Math.floor(usec / 2000))) : null;
  timer?.unref();
  return { notify, stop: () => timer && clearInterval(timer) };
}

function countByState(machine: TrustMachine): Record<string, number> {
  const out: Record<string, number> = { Monitoring: 0, Restricted: 0, Lockdown: 0 };
  for (const [, s] of machine.subjects()) {
    const name = TRUST_STATES[s];
    if (s > 0 && name) out[name] = (out[name] ?? 0) + 1;
  }
  return out;
}

function describeSubject(s: import('../src/binding.js').RawSubjectInfo, machine: TrustMachine, scorer: Scorer): Record<string, unknown> {
  const last = scorer.lastScores.get(s.id);
  return { ...s, state: stateName(machine.state(s.id)), score: last?.score ?? null, lastEventIndex: last?.eventIndex ?? null };
}

function logTransition(log: Logger, t: ScoredTransition): void {
  const fields = {
    'event.action': 'transition',
    'subject.id': t.subjectId,
    'subject.kind': t.subject?.kind,
    'process.pid': t.subject?.pid,
    'process.name': t.subject?.comm,
    from: stateName(t.from),
    to: stateName(t.to),
    score: Number(t.score.toFixed(4)),
    reason: t.reason,
    top: t.topFeatures.map((f) => f.name),
  };
  if (t.to > t.from) log.warn(fields, `subject ${t.subjectId} ${stateName(t.from)} -> ${stateName(t.to)}`);
  else log.info(fields, `subject ${t.subjectId} ${stateName(t.from)} -> ${stateName(t.to)}`);
}

export type { TrustState };
