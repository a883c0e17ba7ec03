/**
 * Trace replay: a JSON Lines trace runs through the same native engine, detectors, fusion and
 * trust machine as live traffic (encoded as protocol v1 frames and ingested on a connection),
 * scored on event time so a replay is deterministic. With `realtime`, batches are paced by the
 * trace's own timestamps.
 *
 * Async; parse errors are collected (with line numbers) and never stop the replay.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Engine, type EngineOptions } from '../engine.js';
import { Scorer, stateName, type ScoredTransition } from '../scoring/scorer.js';
import { TrustMachine, type TrustPolicy } from '../state/trust-machine.js';
import { AuditStore } from '../audit/store.js';
import { readTrace } from '../trace/reader.js';
import type { TraceError } from '../trace/parse.js';
import { encodeEventBatches, encodeHello } from '../protocol/encode.js';
import { Role } from '../protocol/constants.js';
import { loadDetectionModels } from '../scoring/load-models.js';
import { SentinelError } from '../errors.js';
import type { FsEvent } from '../protocol/event.js';
import type { RawSubjectInfo } from '../binding.js';

export interface ReplayOptions {
  modelsDir: string;
  realtime?: boolean;
  /** Events per ingest + tick; smaller gives finer transition indices. */
  batchEvents?: number;
  engine?: Partial<EngineOptions>;
  policy?: Partial<TrustPolicy>;
  /** Write the audit trail to this SQLite file (none by default). */
  dbPath?: string;
  onProgress?: (p: { lines: number; events: number }) => void;
}

export interface ReplayTransition {
  from: string;
  to: string;
  score: number;
  reason: string;
  /** Source time of the subject's last event when it was scored, ns since the epoch (string, exact to the µs). */
  tsNs: string;
  /** 0-based index of that event in the trace's accepted events. */
  eventIndex: number;
  topFeatures: string[];
}

export interface ReplaySubject extends Omit<RawSubjectInfo, 'treeId'> {
  finalState: string;
  maxState: string;
  transitions: ReplayTransition[];
}

export interface ReplayReport {
  lines: number;
  events: number;
  accepted: number;
  rejected: number;
  parseErrors: TraceError[];
  modelHashes: Record<string, string>;
  subjects: ReplaySubject[];
}

function toTransition(t: ScoredTransition): ReplayTransition {
  const ms = Number.isFinite(t.eventTsMs) ? t.eventTsMs : t.atMs;
  return {
    from: stateName(t.from),
    to: stateName(t.to),
    score: Number(t.score.toFixed(6)),
    reason: t.reason,
    tsNs: (BigInt(Math.round(ms * 1000)) * 1000n).toString(),
    eventIndex: t.eventIndex,
    topFeatures: t.topFeatures.map((f) => f.name),
  };
}

export async function replayTrace(tracePath: string, o: ReplayOptions): Promise<ReplayReport> {
  const batchEvents = o.batchEvents ?? 16;
  const engine = new Engine(o.engine ?? {});
  const models = loadDetectionModels(o.modelsDir, engine);
  const machine = new TrustMachine(o.policy ?? {});
  const audit = o.dbPath ? new AuditStore(o.dbPath) : undefined;
  const scorer = new Scorer({ engine, fusion: models.fusion, machine, clock: 'eventTime', ...(audit ? { audit } : {}) });
  const byId = new Map<number, ReplayTransition[]>();
  scorer.onTick((r) => {
    for (const t of r.transitions) {
      const list = byId.get(t.subjectId) ?? [];
      list.push(toTransition(t));
      byId.set(t.subjectId, list);
    }
  });
  const conn = engine.openConnection(0);
  const hello = engine.ingestAll(conn, encodeHello(0, Role.Events, process.pid, 'replay'));
  if (hello.fatal) throw new SentinelError('SENTINEL_E_IO', `replay handshake refused (code ${hello.fatal})`);
  const report: ReplayReport = { lines: 0, events: 0, accepted: 0, rejected: 0, parseErrors: [], modelHashes: models.fusion.modelHashes(), subjects: [] };
  let seq = 1;
  const wallStart = Date.now();
  let traceStart: bigint | undefined;
  const feed = async (events: FsEvent[]): Promise<void> => {
    if (events.length === 0) return;
    if (o.realtime) {
      const first = events[0] as FsEvent;
      traceStart ??= first.ts;
      const dueMs = Number((first.ts - traceStart) / 1_000_000n) - (Date.now() - wallStart);
      if (dueMs > 0) await sleep(dueMs);
    }
    const { bytes, frames } = encodeEventBatches(events, seq);
    seq += frames;
    const r = engine.ingestAll(conn, bytes);
    report.accepted += r.accepted;
    report.rejected += r.rejected;
    await scorer.tick();
  };
  try {
    for await (const batch of readTrace(tracePath, { batchSize: batchEvents })) {
      report.lines = Math.max(report.lines, batch.lastLine);
      report.events += batch.events.length;
      report.parseErrors.push(...batch.errors);
      await feed(batch.events);
      o.onProgress?.({ lines: report.lines, events: report.events });
    }
    // Score whatever is still due once the trace has ended.
    for (let i = 0; i < 1000; i++) if ((await scorer.tick()).rows === 0) break;
    const ids = [...scorer.lastScores.keys()].sort((a, b) => a - b);
    for (const s of engine.liveSubjects(ids)) {
      const transitions = byId.get(s.id) ?? [];
      const maxState = transitions.reduce((m, t) => Math.max(m, TRUST_INDEX[t.to] ?? 0), 0);
      report.subjects.push({ id: s.id, kind: s.kind, pid: s.pid, ppid: s.ppid, uid: s.uid, sid: s.sid, startTime: s.startTime, comm: s.comm, events: s.events, finalState: stateName(machine.state(s.id)), maxState: stateName(maxState), transitions });
    }
  } finally {
    engine.closeConnection(conn);
    audit?.close();
  }
  return report;
}

const TRUST_INDEX: Record<string, number> = { Normal: 0, Monitoring: 1, Restricted: 2, Lockdown: 3 };
