/**
 * Typed, validated wrapper over the raw native engine (src/binding.ts).
 *
 * Sync: every method is a bounded synchronous native call (one chunk, one tick of rows).
 * Ownership: `collect` reuses the same output TypedArrays on every call; a returned batch is
 * valid until the next `collect` (callers copy what they keep).
 * Throws: SentinelError SENTINEL_E_INVALID_ARGUMENT for bad options.
 */
import { addon, META_STRIDE, type RawEngine, type RawEngineOptions, type RawIngestResult, type RawSubjectInfo, type RawEngineStats } from './binding.js';
import { SentinelError } from './errors.js';
import type { TrustState } from './state/policy.js';

export type EngineOptions = Required<RawEngineOptions>;

const EMPTY = new Uint8Array(0);

export const DEFAULT_ENGINE_OPTIONS: Readonly<EngineOptions> = Object.freeze({
  dueEveryEvents: 32,
  dueEveryMs: 250,
  triggerScore: 0.75,
  maxSubjects: 65_536,
  idleEvictMs: 10 * 60_000,
  ingestBudgetEvents: 0,
});

/**
 * One tick's worth of due subjects (the batch detectors score); views into buffers owned by the
 * Engine, valid until its next `collect`.
 */
export interface DueBatch {
  n: number;
  ids: Uint32Array;
  featureNames: readonly string[];
  /** n × featureNames.length feature values, row-major. */
  rows: Float32Array;
  contribNames: readonly string[];
  /** n × contribNames.length heuristic contributions, row-major. */
  contrib: Float32Array;
  /** META_STRIDE per row: [heuristicScore, lastTsMs, lastEventIndex, kind (0 process, 1 tree), eventsSinceScored]. */
  meta: Float64Array;
}

function checkOptions(o: EngineOptions): void {
  const positiveInt = (k: keyof EngineOptions): void => {
    const v = o[k];
    if (!Number.isInteger(v) || v <= 0) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `engine.${k} must be a positive integer, got ${String(v)}`);
  };
  positiveInt('dueEveryEvents');
  positiveInt('maxSubjects');
  if (!(o.dueEveryMs > 0)) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `engine.dueEveryMs must be > 0, got ${o.dueEveryMs}`);
  if (!Number.isInteger(o.ingestBudgetEvents) || o.ingestBudgetEvents < 0) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `engine.ingestBudgetEvents must be an integer >= 0, got ${String(o.ingestBudgetEvents)}`);
  if (!(o.idleEvictMs > 0)) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `engine.idleEvictMs must be > 0, got ${o.idleEvictMs}`);
  if (!(o.triggerScore > 0 && o.triggerScore <= 1)) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `engine.triggerScore must be in (0, 1], got ${o.triggerScore}`);
}

export class Engine {
  readonly featureNames: readonly string[];
  readonly contribNames: readonly string[];
  readonly options: Readonly<EngineOptions>;
  private readonly raw: RawEngine;
  private ids: Uint32Array;
  private rows: Float32Array;
  private contrib: Float32Array;
  private meta: Float64Array;

  constructor(options: Partial<EngineOptions> = {}, maxRowsPerCollect = 4096) {
    const merged = { ...DEFAULT_ENGINE_OPTIONS, ...options };
    checkOptions(merged);
    if (!Number.isInteger(maxRowsPerCollect) || maxRowsPerCollect <= 0) {
      throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `maxRowsPerCollect must be a positive integer`);
    }
    this.options = Object.freeze(merged);
    const a = addon();
    this.raw = new a.Engine(merged);
    this.featureNames = Object.freeze(a.featureNames());
    this.contribNames = Object.freeze(a.contributionNames());
    this.ids = new Uint32Array(maxRowsPerCollect);
    this.rows = new Float32Array(maxRowsPerCollect * this.featureNames.length);
    this.contrib = new Float32Array(maxRowsPerCollect * this.contribNames.length);
    this.meta = new Float64Array(maxRowsPerCollect * META_STRIDE);
  }

  openConnection(peerUid: number): number {
    return this.raw.openConnection(peerUid >>> 0);
  }

  /** Returns the unfinished bytes dropped with the connection. */
  closeConnection(connId: number): number {
    return this.raw.closeConnection(connId);
  }

  /** One bounded step; with an ingest budget the result may be `pending` (see binding.ts). */
  ingest(connId: number, chunk: Uint8Array): RawIngestResult {
    return this.raw.ingest(connId, chunk);
  }

  /** Ingests the whole chunk now, however long it takes (replay, tools): pending work is finished. */
  ingestAll(connId: number, chunk: Uint8Array): RawIngestResult {
    const r = this.raw.ingest(connId, chunk);
    while (r.pending) {
      const more = this.raw.ingest(connId, EMPTY);
      r.frames += more.frames;
      r.accepted += more.accepted;
      r.rejected += more.rejected;
      r.urgent += more.urgent;
      for (const [code, n] of Object.entries(more.errors)) r.errors[Number(code)] = (r.errors[Number(code)] ?? 0) + n;
      if (more.reply) r.reply = r.reply ? Buffer.concat([r.reply, more.reply]) : more.reply;
      r.fatal = more.fatal;
      r.pending = more.pending;
    }
    return r;
  }

  /** Up to maxRowsPerCollect due subjects; buffers are reused by the next call. */
  collect(): DueBatch {
    const n = this.raw.collectDue(this.ids, this.rows, this.contrib, this.meta);
    return { n, ids: this.ids, featureNames: this.featureNames, rows: this.rows, contribNames: this.contribNames, contrib: this.contrib, meta: this.meta };
  }

  get maxRowsPerCollect(): number {
    return this.ids.length;
  }

  setStates(ids: Uint32Array, states: Uint8Array): boolean {
    if (ids.length !== states.length) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'ids and states differ in length');
    // With no ids this only recomputes the deny set (a scan of the subject table).
    return this.raw.setStates(ids, states);
  }

  verdict(pid: number, startTime: number): number {
    return this.raw.verdict(pid, startTime);
  }

  encodeStatePush(seq: number, withHolds = false): Uint8Array {
    return this.raw.encodeStatePush(seq >>> 0, withHolds);
  }

  /** One entry per id, null where the subject is not live (evicted or unknown). */
  subjectInfo(ids: readonly number[] | Uint32Array): (RawSubjectInfo | null)[] {
    return ids.length === 0 ? [] : this.raw.subjectInfo(ids instanceof Uint32Array ? ids : Uint32Array.from(ids));
  }

  /** The live subjects among ids, in order (evicted and unknown ones left out). */
  liveSubjects(ids: readonly number[] | Uint32Array): RawSubjectInfo[] {
    return this.subjectInfo(ids).filter((s): s is RawSubjectInfo => s !== null);
  }

  /**
   * Floor on the effective state of every process of `uid` (Normal removes it): the session
   * subject restricts the session user's processes. True when the deny set changed (push it).
   */
  setUidFloor(uid: number, state: TrustState): boolean {
    if (!Number.isInteger(uid) || uid < 0 || uid > 0xffffffff) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `uid must be an integer 0..2^32-1, got ${String(uid)}`);
    return this.raw.setUidFloor(uid, state);
  }

  setDecoys(paths: readonly string[]): void {
    this.raw.setDecoys([...paths]);
  }

  setHeuristicWeights(weights: Record<string, number>): void {
    const w = new Float32Array(this.contribNames.length);
    const known = new Set(this.contribNames);
    for (const name of Object.keys(weights)) {
      if (!known.has(name)) throw new SentinelError('SENTINEL_E_CONFIG', `heuristic weight for unknown contribution "${name}"`);
    }
    this.contribNames.forEach((name, i) => {
      const v = weights[name];
      if (v === undefined) throw new SentinelError('SENTINEL_E_CONFIG', `heuristic weights lack contribution "${name}"`);
      w[i] = v;
    });
    this.raw.setHeuristicWeights(w);
  }

  takeEvicted(): Uint32Array {
    return this.raw.takeEvicted();
  }

  stats(): RawEngineStats {
    return this.raw.stats();
  }
}
