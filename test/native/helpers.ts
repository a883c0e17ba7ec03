/** Shared helpers of the native contract tests (test/native/*.test.ts). */
import { addon, META_STRIDE, type RawEngine, type RawEngineOptions, type RawIngestResult, type RawSubjectInfo } from '../../src/binding.js';
import {
  FrameReader,
  Role,
  encodeEventBatches,
  encodeHello,
  fsEvent,
  type FsEvent,
  type ServerFrame,
} from '../../src/protocol/index.js';

export const A = addon();
export const FEATURES = A.featureNames();
export const CONTRIBS = A.contributionNames();
export const ALL_ROLES = Role.Events | Role.Query | Role.Subscribe | Role.Acks;

export function newEngine(opts: Partial<RawEngineOptions> = {}): RawEngine {
  return new A.Engine({ dueEveryEvents: 1, dueEveryMs: 1000, triggerScore: 0.8, maxSubjects: 10_000, idleEvictMs: 60_000, ...opts });
}

export function replyFrames(res: RawIngestResult): ServerFrame[] {
  if (!res.reply) return [];
  return new FrameReader().push(Buffer.from(res.reply.buffer, res.reply.byteOffset, res.reply.byteLength));
}

/** Opens a connection and completes the handshake. */
export function connect(engine: RawEngine, roles: number = Role.Events | Role.Query | Role.Acks): number {
  const conn = engine.openConnection(1000);
  const res = engine.ingest(conn, encodeHello(1, roles, 4242, 'test'));
  if (!res.hello) throw new Error('handshake failed');
  return conn;
}

export function sendEvents(engine: RawEngine, conn: number, events: FsEvent[], seq = 100): RawIngestResult {
  return engine.ingest(conn, encodeEventBatches(events, seq).bytes);
}

export interface DueRow {
  id: number;
  info: RawSubjectInfo;
  row: Float32Array;
  contrib: Float32Array;
  score: number;
  lastTsMs: number;
  lastIndex: number;
  kind: number;
  eventsSinceScored: number;
}

/** Collects every due subject. */
export function collect(engine: RawEngine): DueRow[] {
  const n = Math.max(1, engine.stats().dueSubjects);
  const ids = new Uint32Array(n);
  const rows = new Float32Array(n * FEATURES.length);
  const contrib = new Float32Array(n * CONTRIBS.length);
  const meta = new Float64Array(n * META_STRIDE);
  const got = engine.collectDue(ids, rows, contrib, meta);
  const infos = engine.subjectInfo(ids.subarray(0, got));
  const out: DueRow[] = [];
  for (let i = 0; i < got; i++) {
    out.push({
      id: ids[i] as number,
      info: infos[i] as RawSubjectInfo,
      row: rows.slice(i * FEATURES.length, (i + 1) * FEATURES.length),
      contrib: contrib.slice(i * CONTRIBS.length, (i + 1) * CONTRIBS.length),
      score: meta[i * META_STRIDE] as number,
      lastTsMs: meta[i * META_STRIDE + 1] as number,
      lastIndex: meta[i * META_STRIDE + 2] as number,
      kind: meta[i * META_STRIDE + 3] as number,
      eventsSinceScored: meta[i * META_STRIDE + 4] as number,
    });
  }
  return out;
}

export function feat(r: DueRow, name: string): number {
  const i = FEATURES.indexOf(name);
  if (i < 0) throw new Error(`no feature ${name}`);
  return r.row[i] as number;
}

export function contribution(r: DueRow, name: string): number {
  const i = CONTRIBS.indexOf(name);
  if (i < 0) throw new Error(`no contribution ${name}`);
  return r.contrib[i] as number;
}

/** Feeds events (dueEveryEvents 1) and returns the latest row of the process subject `pid`. */
export function processRow(rows: DueRow[], pid: number): DueRow {
  const r = rows.filter((x) => x.info.kind === 'process' && x.info.pid === pid).pop();
  if (!r) throw new Error(`no due row for pid ${pid}`);
  return r;
}

export const SEC = 1_000_000_000n;
export const MS = 1_000_000n;
export const T0 = 1_700_000_000n * SEC;

/** Event at T0 + ms. */
export function at(ms: number, e: Parameters<typeof fsEvent>[0]): FsEvent {
  return fsEvent({ ts: T0 + BigInt(Math.round(ms * 1000)) * 1000n, ...e });
}

/** Deterministic pseudo-random numbers (xorshift32). */
export { xorshift32 as prng } from '../support/prng.js';
import { xorshift32 as prng } from '../support/prng.js';

export function randomBytes(n: number, seed: number): Uint8Array {
  const r = prng(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = r() & 0xff;
  return b;
}

export function textBytes(n: number): Uint8Array {
  const words = 'the quick brown fox jumps over the lazy dog while sentinel watches files and processes '.split(' ');
  let s = '';
  let i = 0;
  while (s.length < n) s += (words[i++ % words.length] as string) + ' ';
  return new Uint8Array(Buffer.from(s.slice(0, n), 'latin1'));
}

export function randomName(r: () => number, n: number): string {
  const abc = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < n; i++) s += abc[r() % abc.length];
  return s;
}
