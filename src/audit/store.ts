/**
 * The audit store: transitions, actions, drops and daemon runs in one SQLite file
 * (better-sqlite3), and one table of current state: the session floors (which uids' processes
 * the session subject holds, so a restarted daemon holds them too).
 *
 * Contract
 * - Synchronous (better-sqlite3); every call runs on the caller's thread and returns when
 *   SQLite has the data (WAL, `synchronous=NORMAL`: durable across a process crash; a power
 *   loss may lose the last transactions, never corrupt the file).
 * - The store owns its connection until `close()` (idempotent); calls after close throw.
 * - Read-write: the directory is created (0700) when missing and the file is created and kept at
 *   mode 0600 (SQLite gives the -wal and -shm files the same mode). The schema is migrated up to
 *   `SCHEMA_VERSION` (PRAGMA user_version); a database with a NEWER schema is refused.
 * - `{ readonly: true }`: the file must exist and already be at `SCHEMA_VERSION`; writes throw.
 * - `writeTick` is ONE transaction: either every record of the tick is stored or none is.
 *   Insert statements are prepared once; query statements are cached per filter shape.
 * - Query results are newest first (descending id); `limit` defaults to 100, at most 10 000.
 * - Errors: `SentinelError('SENTINEL_E_DB')` for SQLite failures, a refused schema, a closed or
 *   read-only store (the SQLite error is the `cause`); `SENTINEL_E_INVALID_ARGUMENT` for a bad
 *   filter or a record holding binary data; `SENTINEL_E_NOT_FOUND` from `stopRun` for an unknown
 *   run.
 * - Never stores raw event content: top features are reduced to {detector, name, value}.
 */
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SentinelError } from '../errors.js';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';
import {
  detailJson,
  type ActionFilter,
  type ActionRow,
  type AuditCounts,
  type AuditTick,
  type DropFilter,
  type DropRow,
  type RunRow,
  type SessionFloorRow,
  type SessionFloorUpdate,
  type TopFeature,
  type TransitionFilter,
  type TransitionRow,
} from './records.js';

export * from './records.js';
export { SCHEMA_VERSION } from './schema.js';

export interface AuditStoreOptions {
  readonly?: boolean;
}

export interface StartRun {
  version: string;
  configHash: string;
  /** Defaults to Date.now(). */
  startedMs?: number;
}

type SqlValue = number | string | null;

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 10_000;

function dbError(what: string, err: unknown): SentinelError {
  if (err instanceof SentinelError) return err;
  return new SentinelError('SENTINEL_E_DB', `${what}: ${(err as Error).message}`, { cause: err });
}

/** Creates the file 0600 (and its directory 0700) if missing; tightens an existing file to 0600. */
function prepareFile(file: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  chmodSync(file, 0o600);
}

function toNumberOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

export class AuditStore {
  readonly path: string;
  readonly readonly: boolean;
  private db: Database.Database | null;
  private readonly cache = new Map<string, Database.Statement>();
  private readonly tx: ((tick: AuditTick) => void) | null = null;

  constructor(file: string, options: AuditStoreOptions = {}) {
    this.path = file;
    this.readonly = options.readonly === true;
    let db: Database.Database | undefined;
    try {
      if (this.readonly) {
        db = new Database(file, { readonly: true, fileMustExist: true });
      } else {
        if (file !== ':memory:') prepareFile(file);
        db = new Database(file);
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
      }
      db.pragma('busy_timeout = 5000');
      this.checkAndMigrate(db);
    } catch (err) {
      db?.close();
      throw dbError(`cannot open audit database ${file}`, err);
    }
    this.db = db;
    if (!this.readonly) this.tx = this.buildWriter(db);
  }

  /** PRAGMA user_version of the open database. */
  get schemaVersion(): number {
    return this.conn().pragma('user_version', { simple: true }) as number;
  }

  writeTick(tick: AuditTick): void {
    const tx = this.writer();
    try {
      tx(tick);
    } catch (err) {
      throw dbError('audit tick rolled back', err);
    }
  }

  transitions(filter: TransitionFilter = {}): TransitionRow[] {
    const where: string[] = [];
    const args: SqlValue[] = [];
    if (filter.subjectId !== undefined) (where.push('subject_id = ?'), args.push(checkInt('subjectId', filter.subjectId)));
    if (filter.pid !== undefined) (where.push('pid = ?'), args.push(checkInt('pid', filter.pid)));
    if (filter.sinceMs !== undefined) (where.push('at_ms >= ?'), args.push(checkNum('sinceMs', filter.sinceMs)));
    const rows = this.query(
      'SELECT id, at_ms, subject_id, subject_kind, pid, start_time, uid, comm, from_state, to_state, score, reason, "by", event_index, top_features, model_hashes FROM transitions',
      where, args, filter.limit,
    );
    return rows.map((r) => ({
      id: Number(r['id']),
      atMs: Number(r['at_ms']),
      subjectId: Number(r['subject_id']),
      subjectKind: r['subject_kind'] as TransitionRow['subjectKind'],
      pid: Number(r['pid']),
      startTime: String(r['start_time']),
      uid: Number(r['uid']),
      comm: String(r['comm']),
      fromState: Number(r['from_state']) as TransitionRow['fromState'],
      toState: Number(r['to_state']) as TransitionRow['toState'],
      score: Number(r['score']),
      reason: r['reason'] as TransitionRow['reason'],
      by: r['by'] === null ? null : String(r['by']),
      eventIndex: Number(r['event_index']),
      topFeatures: JSON.parse(String(r['top_features'])) as TopFeature[],
      modelHashes: JSON.parse(String(r['model_hashes'])) as Record<string, string>,
    }));
  }

  actions(filter: ActionFilter = {}): ActionRow[] {
    const where: string[] = [];
    const args: SqlValue[] = [];
    if (filter.subjectId !== undefined) (where.push('subject_id = ?'), args.push(checkInt('subjectId', filter.subjectId)));
    if (filter.action !== undefined) (where.push('action = ?'), args.push(String(filter.action)));
    if (filter.sinceMs !== undefined) (where.push('at_ms >= ?'), args.push(checkNum('sinceMs', filter.sinceMs)));
    const rows = this.query('SELECT id, at_ms, subject_id, action, target, result, detail FROM actions', where, args, filter.limit);
    return rows.map((r) => ({
      id: Number(r['id']),
      atMs: Number(r['at_ms']),
      subjectId: Number(r['subject_id']),
      action: String(r['action']),
      target: String(r['target']),
      result: String(r['result']),
      detail: r['detail'] === null ? null : (JSON.parse(String(r['detail'])) as Record<string, unknown>),
    }));
  }

  drops(filter: DropFilter = {}): DropRow[] {
    const where: string[] = [];
    const args: SqlValue[] = [];
    if (filter.hop !== undefined) (where.push('hop = ?'), args.push(String(filter.hop)));
    if (filter.sinceMs !== undefined) (where.push('at_ms >= ?'), args.push(checkNum('sinceMs', filter.sinceMs)));
    const rows = this.query('SELECT id, at_ms, hop, reason, count FROM drops', where, args, filter.limit);
    return rows.map((r) => ({ id: Number(r['id']), atMs: Number(r['at_ms']), hop: String(r['hop']), reason: String(r['reason']), count: Number(r['count']) }));
  }

  runs(limit?: number): RunRow[] {
    const rows = this.query('SELECT id, started_ms, stopped_ms, version, config_hash FROM runs', [], [], limit);
    return rows.map((r) => ({ id: Number(r['id']), startedMs: Number(r['started_ms']), stoppedMs: toNumberOrNull(r['stopped_ms']), version: String(r['version']), configHash: String(r['config_hash']) }));
  }

  counts(): AuditCounts {
    const one = (t: string): number => Number((this.stmt(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n);
    try {
      return { transitions: one('transitions'), actions: one('actions'), drops: one('drops'), runs: one('runs') };
    } catch (err) {
      throw dbError('audit counts', err);
    }
  }

  /** Records a daemon run; returns its id. */
  startRun(run: StartRun): number {
    this.writer();
    try {
      const r = this.stmt('INSERT INTO runs (started_ms, stopped_ms, version, config_hash) VALUES (?, NULL, ?, ?)').run(run.startedMs ?? Date.now(), String(run.version), String(run.configHash));
      return Number(r.lastInsertRowid);
    } catch (err) {
      throw dbError('audit startRun', err);
    }
  }

  stopRun(id: number, stoppedMs: number = Date.now()): void {
    this.writer();
    let changes: number;
    try {
      changes = this.stmt('UPDATE runs SET stopped_ms = ? WHERE id = ?').run(stoppedMs, id).changes;
    } catch (err) {
      throw dbError('audit stopRun', err);
    }
    if (changes === 0) throw new SentinelError('SENTINEL_E_NOT_FOUND', `no audit run with id ${id}`);
  }

  /** The session floors, by uid. */
  sessionFloors(): SessionFloorRow[] {
    try {
      const rows = this.stmt('SELECT uid, state, user, boot_id, since_ms FROM session_floors ORDER BY uid').all() as Record<string, unknown>[];
      return rows.map((r) => ({ uid: Number(r['uid']), state: Number(r['state']) as 2 | 3, user: r['user'] === null ? null : String(r['user']), bootId: String(r['boot_id']), sinceMs: Number(r['since_ms']) }));
    } catch (err) {
      throw dbError('audit sessionFloors', err);
    }
  }

  /**
   * Sets the floor of `f.uid`'s processes: state 2 or 3 stores it (replacing the previous one;
   * `sinceMs` is kept while the state and boot stay the same), 0 or 1 removes it.
   */
  setSessionFloor(f: SessionFloorUpdate, atMs: number = Date.now()): void {
    checkInt('uid', f.uid);
    if (f.uid < 0) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `uid must be >= 0, got ${f.uid}`);
    if (!(f.state === 0 || f.state === 1 || f.state === 2 || f.state === 3)) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `state must be 0..3, got ${String(f.state)}`);
    if (typeof f.bootId !== 'string') throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'bootId must be a string');
    this.writer();
    try {
      if (f.state < 2) this.stmt('DELETE FROM session_floors WHERE uid = ?').run(f.uid);
      else
        this.stmt(
          `INSERT INTO session_floors (uid, state, user, boot_id, since_ms) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (uid) DO UPDATE SET user = excluded.user,
             since_ms = CASE WHEN state = excluded.state AND boot_id = excluded.boot_id THEN since_ms ELSE excluded.since_ms END,
             state = excluded.state, boot_id = excluded.boot_id`,
        ).run(f.uid, f.state, f.user, f.bootId, checkNum('atMs', atMs));
    } catch (err) {
      throw dbError('audit setSessionFloor', err);
    }
  }

  close(): void {
    if (this.db === null) return;
    this.cache.clear();
    this.db.close();
    this.db = null;
  }

  get isOpen(): boolean {
    return this.db !== null;
  }

  // ---- internals ----

  private conn(): Database.Database {
    if (this.db === null) throw new SentinelError('SENTINEL_E_DB', `audit database ${this.path} is closed`);
    return this.db;
  }

  private writer(): (tick: AuditTick) => void {
    this.conn();
    if (this.tx === null) throw new SentinelError('SENTINEL_E_DB', `audit database ${this.path} is open read-only`);
    return this.tx;
  }

  private stmt(sql: string): Database.Statement {
    let s = this.cache.get(sql);
    if (s === undefined) {
      s = this.conn().prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }

  private query(select: string, where: string[], args: SqlValue[], limit: number | undefined): Record<string, unknown>[] {
    const n = limit === undefined ? DEFAULT_LIMIT : checkInt('limit', limit);
    if (n < 1 || n > MAX_LIMIT) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `limit must be 1..${MAX_LIMIT}, got ${n}`);
    const sql = `${select}${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`;
    try {
      return this.stmt(sql).all(...args, n) as Record<string, unknown>[];
    } catch (err) {
      throw dbError('audit query', err);
    }
  }

  private checkAndMigrate(db: Database.Database): void {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw new SentinelError('SENTINEL_E_DB', `audit database ${this.path} has schema version ${current}, newer than this build supports (${SCHEMA_VERSION}); upgrade sentinel or use another database file`);
    }
    if (current === SCHEMA_VERSION) return;
    if (this.readonly) {
      throw new SentinelError('SENTINEL_E_DB', `audit database ${this.path} has schema version ${current}, older than ${SCHEMA_VERSION}; open it read-write once to migrate`);
    }
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      db.transaction(() => {
        db.exec(m.sql);
        db.pragma(`user_version = ${m.version}`);
      })();
    }
  }

  private buildWriter(db: Database.Database): (tick: AuditTick) => void {
    const insT = db.prepare(
      `INSERT INTO transitions (at_ms, subject_id, subject_kind, pid, start_time, uid, comm, from_state, to_state, score, reason, "by", event_index, top_features, model_hashes)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insA = db.prepare('INSERT INTO actions (at_ms, subject_id, action, target, result, detail) VALUES (?, ?, ?, ?, ?, ?)');
    const insD = db.prepare('INSERT INTO drops (at_ms, hop, reason, count) VALUES (?, ?, ?, ?)');
    return db.transaction((tick: AuditTick) => {
      for (const t of tick.transitions) {
        const top = (t.topFeatures ?? []).map((f) => ({ detector: String(f.detector), name: String(f.name), value: Number(f.value) }));
        const hashes: Record<string, string> = {};
        for (const [k, v] of Object.entries(t.modelHashes ?? {})) hashes[k] = String(v);
        insT.run(t.atMs, t.subjectId, t.subjectKind, t.pid, String(t.startTime), t.uid, String(t.comm), t.fromState, t.toState, t.score, t.reason, t.by ?? null, t.eventIndex, JSON.stringify(top), JSON.stringify(hashes));
      }
      for (const a of tick.actions) insA.run(a.atMs, a.subjectId, a.action, a.target, a.result, detailJson(a.detail));
      for (const d of tick.drops) insD.run(d.atMs, d.hop, d.reason, d.count);
    });
  }
}

function checkInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v)) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `${name} must be an integer, got ${String(v)}`);
  return v;
}

function checkNum(name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `${name} must be a finite number, got ${String(v)}`);
  return v;
}
