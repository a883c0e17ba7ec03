import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../src/audit/schema.js';
import { AuditStore, SCHEMA_VERSION, type ActionRecord, type DropRecord, type TransitionRecord } from '../../src/audit/store.js';
import { SentinelError } from '../../src/errors.js';
import { catchError } from '../support/catch-error.js';

let dir: string;
const stores: AuditStore[] = [];

function open(file = path.join(dir, 'audit.db'), readonly = false): AuditStore {
  const s = new AuditStore(file, { readonly });
  stores.push(s);
  return s;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sentinel-audit-'));
});
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  rmSync(dir, { recursive: true, force: true });
});

function transition(over: Partial<TransitionRecord> = {}): TransitionRecord {
  return {
    atMs: 1000,
    subjectId: 7,
    subjectKind: 'process',
    pid: 4242,
    startTime: '18446744073709551615',
    uid: 1000,
    comm: 'python3',
    fromState: 0,
    toState: 2,
    score: 0.81,
    reason: 'escalate',
    by: null,
    eventIndex: 12,
    topFeatures: [{ detector: 'heuristic', name: 'overwrite_entropy', value: 0.7 }],
    modelHashes: { heuristic: 'a'.repeat(64), fusion: 'f'.repeat(64) },
    ...over,
  };
}
const action = (over: Partial<ActionRecord> = {}): ActionRecord => ({ atMs: 1000, subjectId: 7, action: 'deny_mutate', target: 'pid 4242', result: 'ok', detail: { files: 3 }, ...over });
const drop = (over: Partial<DropRecord> = {}): DropRecord => ({ atMs: 1000, hop: 'socket', reason: 'truncated', count: 5, ...over });


describe('AuditStore file', () => {
  it('creates the directory and a 0600 file in WAL mode with synchronous=NORMAL', () => {
    const file = path.join(dir, 'sub', 'dir', 'audit.db');
    const s = open(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    s.writeTick({ transitions: [transition()], actions: [], drops: [] });
    expect(existsSync(file + '-wal')).toBe(true);
    expect(statSync(file + '-wal').mode & 0o777).toBe(0o600);
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    } finally {
      raw.close();
    }
    expect(s.schemaVersion).toBe(SCHEMA_VERSION);
  });

  it('tightens an existing file to 0600', () => {
    const file = path.join(dir, 'audit.db');
    writeFileSync(file, '', { mode: 0o644 });
    open(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses a database with a newer schema version', () => {
    const file = path.join(dir, 'audit.db');
    open(file).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    const err = catchError(() => open(file));
    expect(err.code).toBe('SENTINEL_E_DB');
    expect(err.message).toMatch(new RegExp(`schema version ${SCHEMA_VERSION + 1}, newer than this build supports \\(${SCHEMA_VERSION}\\)`));
    expect(catchError(() => open(file, true)).code).toBe('SENTINEL_E_DB');
  });

  it('refuses a file that is not a database', () => {
    const file = path.join(dir, 'junk.db');
    writeFileSync(file, 'this is not sqlite, not at all, definitely not'.repeat(100));
    expect(catchError(() => open(file)).code).toBe('SENTINEL_E_DB');
  });

  it('read-only: needs an existing migrated file and refuses writes', () => {
    expect(catchError(() => open(path.join(dir, 'none.db'), true)).code).toBe('SENTINEL_E_DB');
    const file = path.join(dir, 'audit.db');
    const w = open(file);
    w.writeTick({ transitions: [transition()], actions: [], drops: [] });
    const r = open(file, true);
    expect(r.transitions()).toHaveLength(1);
    expect(catchError(() => r.writeTick({ transitions: [], actions: [], drops: [] })).message).toMatch(/read-only/);
    expect(catchError(() => r.startRun({ version: 'v', configHash: 'h' })).message).toMatch(/read-only/);
  });

  it('close is idempotent and later calls throw SENTINEL_E_DB', () => {
    const s = open();
    s.close();
    s.close();
    expect(s.isOpen).toBe(false);
    expect(catchError(() => s.counts()).code).toBe('SENTINEL_E_DB');
    expect(catchError(() => s.writeTick({ transitions: [], actions: [], drops: [] })).code).toBe('SENTINEL_E_DB');
  });
});

describe('AuditStore.writeTick', () => {
  it('stores a tick and reads every field back', () => {
    const s = open();
    s.writeTick({ transitions: [transition(), transition({ reason: 'reset', by: 'alice', fromState: 2, toState: 0, topFeatures: [] })], actions: [action()], drops: [drop()] });
    expect(s.counts()).toEqual({ transitions: 2, actions: 1, drops: 1, runs: 0 });
    const [latest, first] = s.transitions();
    expect(first).toEqual({ id: 1, ...transition() });
    expect(latest).toMatchObject({ id: 2, reason: 'reset', by: 'alice', topFeatures: [] });
    expect(s.actions()).toEqual([{ id: 1, ...action() }]);
    expect(s.drops()).toEqual([{ id: 1, ...drop() }]);
  });

  it('is one transaction: a failing record rolls back the whole tick', () => {
    const s = open();
    s.writeTick({ transitions: [transition()], actions: [], drops: [] });
    const bad = { ...drop(), count: -1 };
    const err = catchError(() => s.writeTick({ transitions: [transition(), transition()], actions: [action()], drops: [drop(), bad] }));
    expect(err.code).toBe('SENTINEL_E_DB');
    expect(err.message).toMatch(/rolled back/);
    expect(s.counts()).toEqual({ transitions: 1, actions: 0, drops: 0, runs: 0 });
    const badState = transition({ toState: 9 as never });
    expect(() => s.writeTick({ transitions: [transition(), badState], actions: [], drops: [] })).toThrow(SentinelError);
    expect(s.counts().transitions).toBe(1);
  });

  it('never stores binary event content', () => {
    const s = open();
    const err = catchError(() => s.writeTick({ transitions: [transition()], actions: [action({ detail: { sample: new Uint8Array([1, 2, 3]) } })], drops: [] }));
    expect(err.code).toBe('SENTINEL_E_INVALID_ARGUMENT');
    expect(s.counts().transitions).toBe(0);
    // Only {detector, name, value} of top features is kept.
    const sneaky = transition({ topFeatures: [{ detector: 'h', name: 'n', value: 1, sample: 'AAAA' } as never] });
    s.writeTick({ transitions: [sneaky], actions: [], drops: [] });
    expect(s.transitions()[0]?.topFeatures).toEqual([{ detector: 'h', name: 'n', value: 1 }]);
  });
});

describe('AuditStore queries and runs', () => {
  it('filters transitions by subject, pid and time, newest first, with a limit', () => {
    const s = open();
    s.writeTick({
      transitions: [
        transition({ atMs: 100, subjectId: 1, pid: 10 }),
        transition({ atMs: 200, subjectId: 2, pid: 20 }),
        transition({ atMs: 300, subjectId: 1, pid: 10 }),
        transition({ atMs: 400, subjectId: 3, pid: 10 }),
      ],
      actions: [action({ subjectId: 1, atMs: 100 }), action({ subjectId: 2, atMs: 200, action: 'sigstop', detail: undefined })],
      drops: [drop({ hop: 'ring', atMs: 50 }), drop({ hop: 'socket', atMs: 500 })],
    });
    expect(s.transitions({ subjectId: 1 }).map((t) => t.atMs)).toEqual([300, 100]);
    expect(s.transitions({ pid: 10 }).map((t) => t.atMs)).toEqual([400, 300, 100]);
    expect(s.transitions({ pid: 10, sinceMs: 300 }).map((t) => t.atMs)).toEqual([400, 300]);
    expect(s.transitions({ limit: 2 }).map((t) => t.atMs)).toEqual([400, 300]);
    expect(s.actions({ subjectId: 2 })).toEqual([{ id: 2, ...action({ subjectId: 2, atMs: 200, action: 'sigstop' }), detail: null }]);
    expect(s.actions({ action: 'deny_mutate' })).toHaveLength(1);
    expect(s.drops({ hop: 'ring' }).map((d) => d.atMs)).toEqual([50]);
    expect(s.drops({ sinceMs: 100 }).map((d) => d.hop)).toEqual(['socket']);
    expect(catchError(() => s.transitions({ limit: 0 })).code).toBe('SENTINEL_E_INVALID_ARGUMENT');
    expect(catchError(() => s.transitions({ subjectId: 1.5 })).code).toBe('SENTINEL_E_INVALID_ARGUMENT');
  });

  it('records runs', () => {
    const s = open();
    const id = s.startRun({ version: '0.1.0', configHash: 'abc', startedMs: 10 });
    expect(s.runs()).toEqual([{ id, startedMs: 10, stoppedMs: null, version: '0.1.0', configHash: 'abc' }]);
    s.stopRun(id, 20);
    expect(s.runs()[0]?.stoppedMs).toBe(20);
    expect(catchError(() => s.stopRun(id + 5, 30)).code).toBe('SENTINEL_E_NOT_FOUND');
    expect(s.counts().runs).toBe(1);
  });

  it('keeps data across reopen', () => {
    const file = path.join(dir, 'audit.db');
    const a = open(file);
    a.writeTick({ transitions: [transition()], actions: [], drops: [] });
    a.close();
    expect(open(file).counts().transitions).toBe(1);
  });
});

describe('AuditStore session floors', () => {
  it('sets, replaces and removes a uid floor, keeps it across reopen, and refuses bad values', () => {
    const file = path.join(dir, 'audit.db');
    const a = open(file);
    const floor = (uid: number, state: number, user: string | null, bootId = 'boot-1') => ({ uid, state, user, bootId });
    expect(a.sessionFloors()).toEqual([]);
    a.setSessionFloor(floor(1001, 2, 'alice'), 10);
    a.setSessionFloor(floor(1002, 3, null), 11);
    a.setSessionFloor(floor(1001, 2, 'alice'), 20); // the same state and boot: since stays
    expect(a.sessionFloors()).toEqual([
      { uid: 1001, state: 2, user: 'alice', bootId: 'boot-1', sinceMs: 10 },
      { uid: 1002, state: 3, user: null, bootId: 'boot-1', sinceMs: 11 },
    ]);
    a.setSessionFloor(floor(1001, 3, 'alice'), 30); // a new state: since moves
    a.setSessionFloor(floor(1002, 3, null, 'boot-2'), 40); // another boot: since moves
    a.close();
    const b = open(file);
    expect(b.sessionFloors()).toEqual([
      { uid: 1001, state: 3, user: 'alice', bootId: 'boot-1', sinceMs: 30 },
      { uid: 1002, state: 3, user: null, bootId: 'boot-2', sinceMs: 40 },
    ]);
    b.setSessionFloor(floor(1002, 1, null)); // Monitoring holds nothing: removed
    b.setSessionFloor(floor(1001, 0, 'alice'));
    b.setSessionFloor(floor(1003, 0, null)); // nothing to remove
    expect(b.sessionFloors()).toEqual([]);
    const bad = [
      () => b.setSessionFloor(floor(-1, 2, null)),
      () => b.setSessionFloor(floor(1.5, 2, null)),
      () => b.setSessionFloor(floor(1, 4, null)),
      () => b.setSessionFloor(floor(1, Number.NaN, null)),
      () => b.setSessionFloor(floor(1, 2, null), Number.POSITIVE_INFINITY),
      () => b.setSessionFloor({ ...floor(1, 2, null), bootId: 7 as unknown as string }),
    ];
    for (const f of bad) expect(catchError(f).code).toBe('SENTINEL_E_INVALID_ARGUMENT');
    expect(b.sessionFloors()).toEqual([]);
  });

  it('migrates a schema-2 database to the floors table and keeps its rows', () => {
    const file = path.join(dir, 'audit.db');
    const raw = new Database(file);
    try {
      for (const m of MIGRATIONS.filter((x) => x.version <= 2)) raw.exec(m.sql);
      raw.pragma('user_version = 2');
      raw.prepare('INSERT INTO runs (started_ms, stopped_ms, version, config_hash) VALUES (1, NULL, ?, ?)').run('0.0.0', 'h');
    } finally {
      raw.close();
    }
    const s = open(file);
    expect(s.schemaVersion).toBe(SCHEMA_VERSION);
    expect(s.runs()).toHaveLength(1);
    s.setSessionFloor({ uid: 1001, state: 3, user: 'alice', bootId: 'b' }, 5);
    expect(s.sessionFloors()).toHaveLength(1);
  });
});
