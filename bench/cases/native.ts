/**
 * Native engine throughput, on one core (the Node main thread), against the plain-TypeScript
 * mirror of the same feature extraction (bench/ts-features.ts) measured in the same run.
 *
 * Workload: pre-encoded EVENT_BATCH frames cut into 64 KiB socket-sized chunks (frames cross
 * chunk boundaries, as on a socket), 2,000 processes in 200 sessions (~2,200 subjects), runs of
 * a few events per process, short realistic paths, the usual op mix; the "samples" variant adds
 * 4 KiB content samples to 10 % of the writes.
 *
 *   npm run build:native && npx tsc -p tsconfig.json && node dist/bench/run.js --only native
 *   (SENTINEL_BENCH_REPS, SENTINEL_BENCH_EVENTS; SENTINEL_BENCH_DUMP=file writes the no-sample
 *   stream for build-cmake/sentinel_bench_ingest)
 *
 * Rates are medians over the repetitions of the steady state ("warm": the same subjects, the
 * stream replayed 10 s later in event time); "cold" includes creating the subjects.
 */
import { xorshift32 } from '../../test/support/prng.js';
import { addon, type RawEngine } from '../../src/binding.js';
import { Role, encodeEventBatches, encodeHello, fsEvent, type FsEvent, type OpName } from '../../src/protocol/index.js';
import type { BenchRow } from '../types.js';
import { TsFeatureEngine } from '../ts-features.js';

export interface Workload {
  /** 64 KiB chunks, the first one starting with HELLO. */
  chunks: Buffer[];
  events: number;
  bytes: number;
}

const xorshift = xorshift32;

const OPS: [OpName, number][] = [
  ['open', 18], ['read', 30], ['write', 25], ['close', 12], ['create', 5], ['rename', 3], ['unlink', 3], ['truncate', 1], ['setattr', 1], ['mkdir', 1], ['chmod', 1],
];
const EXTS = ['c', 'h', 'o', 'txt', 'json', 'js', 'py', 'docx', 'pdf', 'png', 'log', 'tmp', 'x7q', 'dat'];

/** A deterministic, realistic event stream (no ransomware in it). */
export function makeEvents(n: number, opts: { samples: boolean; processes?: number; sessions?: number; seed?: number; t0Sec?: number; meanStepNs?: number }): FsEvent[] {
  const r = xorshift(opts.seed ?? 42);
  const step = opts.meanStepNs ?? 1100;
  const procs = opts.processes ?? 2000;
  const sessions = opts.sessions ?? 200;
  const total = OPS.reduce((a, [, w]) => a + w, 0);
  const sample = new Uint8Array(4096);
  for (let i = 0; i < sample.length; i++) sample[i] = r() & 0xff;
  const out: FsEvent[] = [];
  let ts = BigInt(opts.t0Sec ?? 1_700_000_000) * 1_000_000_000n;
  let pidIdx = 0;
  let run = 0;
  for (let i = 0; i < n; i++) {
    if (run === 0) {
      pidIdx = r() % procs;
      run = 1 + (r() % 8);
    }
    run--;
    ts += BigInt(Math.round(((200 + (r() % 1800)) * step) / 1100)); // by default ~1 µs apart: ~1 M events per second of event time
    let pick = r() % total;
    let op: OpName = 'read';
    for (const [name, w] of OPS) {
      if (pick < w) {
        op = name;
        break;
      }
      pick -= w;
    }
    const pid = 1000 + pidIdx;
    const dir = `/home/u${pidIdx % 50}/p${pidIdx % 7}/d${r() % 16}`;
    const ext = EXTS[r() % EXTS.length] as string;
    const path = `${dir}/f${r() % 64}.${ext}`;
    const e = fsEvent({
      ts,
      pid,
      ppid: 1 + (pidIdx % 97),
      uid: 1000 + (pidIdx % 50),
      sid: sessions > 0 ? 500 + (pidIdx % sessions) : 0,
      start: BigInt(100_000 + pidIdx),
      comm: `proc${pidIdx % 300}`,
      op,
      path,
      path2: op === 'rename' ? `${dir}/f${r() % 64}.${EXTS[r() % EXTS.length]}` : '',
      len: op === 'read' || op === 'write' ? BigInt(512 + (r() % 65536)) : 0n,
      size: BigInt(r() % 1_000_000),
    });
    if (op === 'write' || (op === 'read' && r() % 4 === 0)) e.entropy = (r() % 8000) / 1000;
    if (opts.samples && op === 'write' && r() % 10 === 0) {
      e.sample = sample;
      e.entropy = undefined;
    }
    out.push(e);
  }
  return out;
}

export function encodeWorkload(events: FsEvent[], chunkSize = 64 * 1024, hello = true): Workload {
  const enc = encodeEventBatches(events, 2);
  const all = hello ? Buffer.concat([encodeHello(1, Role.Events | Role.Query, 1, 'bench'), enc.bytes]) : enc.bytes;
  const chunks: Buffer[] = [];
  for (let at = 0; at < all.length; at += chunkSize) chunks.push(all.subarray(at, at + chunkSize));
  return { chunks, events: events.length, bytes: all.length };
}

const OPTIONS = { dueEveryEvents: 64, dueEveryMs: 1000, triggerScore: 0.8, maxSubjects: 10_000, idleEvictMs: 300_000 };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

interface Timing {
  wall: number;
  cpu: number;
}

function timed(fn: () => void): Timing {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1e6 };
}

/**
 * A fresh native engine: `cold` ingests the first pass (subjects are created), `warm` the same
 * events 10 s later in event time on the same connection (the steady state of a daemon).
 */
function runNative(cold: Workload, warm: Workload): { cold: Timing; warm: Timing; engine: RawEngine } {
  const engine = new (addon().Engine)(OPTIONS);
  const conn = engine.openConnection(0);
  const tc = timed(() => {
    for (const c of cold.chunks) engine.ingest(conn, c);
  });
  const tw = timed(() => {
    for (const c of warm.chunks) engine.ingest(conn, c);
  });
  if (engine.stats().eventsAccepted !== cold.events + warm.events) throw new Error(`native accepted ${engine.stats().eventsAccepted} of ${cold.events + warm.events}`);
  return { cold: tc, warm: tw, engine };
}

function runTs(cold: Workload, warm: Workload): { cold: Timing; warm: Timing } {
  const engine = new TsFeatureEngine(OPTIONS);
  const tc = timed(() => {
    for (const c of cold.chunks) engine.ingest(c);
  });
  const tw = timed(() => {
    for (const c of warm.chunks) engine.ingest(c);
  });
  if (engine.accepted !== cold.events + warm.events) throw new Error(`ts mirror accepted ${engine.accepted} of ${cold.events + warm.events}`);
  return { cold: tc, warm: tw };
}

export async function run(): Promise<BenchRow[]> {
  const reps = Number(process.env.SENTINEL_BENCH_REPS ?? 5);
  const n = Number(process.env.SENTINEL_BENCH_EVENTS ?? 400_000);
  const T0 = 1_700_000_000;
  const plain = encodeWorkload(makeEvents(n, { samples: false, t0Sec: T0 }));
  const plain2 = encodeWorkload(makeEvents(n, { samples: false, t0Sec: T0 + 10 }), 64 * 1024, false);
  const smp = encodeWorkload(makeEvents(n / 2, { samples: true, seed: 7, t0Sec: T0 }));
  const smp2 = encodeWorkload(makeEvents(n / 2, { samples: true, seed: 7, t0Sec: T0 + 10 }), 64 * 1024, false);
  const dump = process.env.SENTINEL_BENCH_DUMP;
  if (dump) {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(dump, Buffer.concat(plain.chunks)); // for build-cmake/sentinel_bench_ingest
  }

  // Warm up both paths (JIT, allocator).
  runNative(plain, plain2);
  runTs(plain, plain2);

  const rate = (w: Workload, t: number): number => w.events / t;
  const nat = { cold: [] as number[], warm: [] as number[], warmCpu: [] as number[] };
  const ts = { warm: [] as number[], warmCpu: [] as number[] };
  const natS: number[] = [];
  let tableBytes = 0;
  let subjects = 0;
  for (let i = 0; i < reps; i++) {
    const r = runNative(plain, plain2);
    nat.cold.push(rate(plain, r.cold.wall));
    nat.warm.push(rate(plain2, r.warm.wall));
    nat.warmCpu.push(rate(plain2, r.warm.cpu));
    const st = r.engine.stats();
    tableBytes = st.tableBytes;
    subjects = st.subjectsLive;
    const t = runTs(plain, plain2);
    ts.warm.push(rate(plain2, t.warm.wall));
    ts.warmCpu.push(rate(plain2, t.warm.cpu));
    natS.push(rate(smp2, runNative(smp, smp2).warm.wall));
  }
  const nw = median(nat.warm);
  const tw = median(ts.warm);
  return [
    { name: 'native.ingest.no_samples', unit: 'events/s', value: nw },
    { name: 'native.ingest.no_samples.per_cpu_s', unit: 'events/s', value: median(nat.warmCpu) },
    { name: 'native.ingest.no_samples.cold', unit: 'events/s', value: median(nat.cold) },
    { name: 'native.ingest.no_samples.bytes', unit: 'MB/s', value: (nw * plain2.bytes) / plain2.events / 1e6 },
    { name: 'native.ingest.samples_10pct_4KiB', unit: 'events/s', value: median(natS) },
    { name: 'ts_mirror.features.no_samples', unit: 'events/s', value: tw },
    { name: 'ts_mirror.features.no_samples.per_cpu_s', unit: 'events/s', value: median(ts.warmCpu) },
    { name: 'native_vs_ts.no_samples', unit: 'x', value: nw / tw },
    { name: 'native.subjects', unit: 'subjects', value: subjects },
    { name: 'native.table_bytes_per_subject', unit: 'bytes', value: tableBytes / Math.max(1, subjects) },
  ];
}
