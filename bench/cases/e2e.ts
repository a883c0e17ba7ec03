/**
 * End-to-end benchmarks against the real daemon process:
 * - events/s from a separate client process over the Unix socket, all acknowledged, with the
 *   daemon's drop counters checked to be zero; baseline: the same client against a sink that
 *   only parses frame headers and acknowledges (socket + Node cost), measured in the same run;
 * - verdict round trip p50/p99 from this process while the client loads the daemon at 100k
 *   events/s; baseline: an echo round trip on a plain Unix socket;
 * - daemon RSS with 10,000 live subjects.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { BenchRow } from '../types.js';
import { startDaemonProcess } from '../../test/support/daemon-process.js';
import { SentinelClient, Role } from '../../src/client/client.js';
import { encodeFrame } from '../../src/protocol/encode.js';
import { FrameType, HEADER_SIZE } from '../../src/protocol/constants.js';

const LOAD_CLIENT = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'load-client.js');

interface LoadResult { events: number; accepted: number; rejected: number; seconds: number }

async function runLoad(socket: string, args: string[]): Promise<LoadResult> {
  const p = spawn(process.execPath, [LOAD_CLIENT, '--socket', socket, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(p, 'close')) as [number];
  if (code !== 0) throw new Error(`load client exited ${code}`);
  return JSON.parse(out) as LoadResult;
}

/** A do-nothing peer: parses headers, acknowledges every EVENT_BATCH with its count. */
async function sinkServer(socketPath: string): Promise<net.Server> {
  const server = net.createServer((s) => {
    let pending: Buffer = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, d]) : d;
      let at = 0;
      const acks: Buffer[] = [];
      while (pending.length - at >= HEADER_SIZE) {
        const len = pending.readUInt32LE(at + 4);
        if (pending.length - at < HEADER_SIZE + len) break;
        if (pending[at + 3] === FrameType.EventBatch) {
          const p = Buffer.alloc(8);
          p.writeUInt32LE(pending.readUInt32LE(at + HEADER_SIZE), 0);
          acks.push(encodeFrame(FrameType.BatchAck, p, pending.readUInt32LE(at + 8)));
        }
        at += HEADER_SIZE + len;
      }
      pending = pending.subarray(at);
      if (acks.length) s.write(Buffer.concat(acks));
    });
  });
  server.listen(socketPath);
  await once(server, 'listening');
  return server;
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

async function echoRtt(dir: string, n: number): Promise<number[]> {
  const p = path.join(dir, 'echo.sock');
  const server = net.createServer((s) => s.on('data', (d) => s.write(d)));
  server.listen(p);
  await once(server, 'listening');
  const c = net.connect(p);
  await once(c, 'connect');
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    c.write(Buffer.alloc(32));
    await once(c, 'data');
    out.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  c.destroy();
  server.close();
  return out.sort((a, b) => a - b);
}

const step = (what: string): void => {
  process.stderr.write(`bench e2e: ${what}\n`);
};

/** Verdict queries one at a time for 4 s while a load client sends 100k events/s. */
async function verdictUnderLoad(socket: string): Promise<{ rtts: number[]; loadEventsPerS: number }> {
  const q = await SentinelClient.connect({ socketPath: socket, roles: Role.Query, name: 'bench-query' });
  const load = runLoad(socket, ['--events', String(100_000 * 60), '--rate', '100000', '--duration-ms', '6000', '--subjects', '1000']);
  await new Promise((res) => setTimeout(res, 500));
  const rtts: number[] = [];
  const until = Date.now() + 4000;
  while (Date.now() < until) {
    const t = process.hrtime.bigint();
    await q.queryVerdicts([{ pid: 100_000 + (rtts.length % 1000), start: 0n }]);
    rtts.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  const loadResult = await load;
  await q.close();
  return { rtts: rtts.sort((a, b) => a - b), loadEventsPerS: loadResult.events / loadResult.seconds };
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sentinel-bench-'));
  try {
    const N = 2_000_000;
    step('baseline: load client against a header-parsing sink');
    const sink = await sinkServer(path.join(tmp, 'sink.sock'));
    const base = await runLoad(path.join(tmp, 'sink.sock'), ['--events', String(N), '--subjects', '1000']);
    sink.close();
    rows.push({ name: 'e2e.baseline_sink_events_per_s', unit: 'events/s', value: base.events / base.seconds });

    step('load client against the daemon');
    const d = await startDaemonProcess({ dataDir: path.join(tmp, 'd1')});
    try {
      const r = await runLoad(d.socket, ['--events', String(N), '--subjects', '1000']);
      const st = (await d.http<{ engine: { eventsAccepted: number; eventsRejected: number; eventsDroppedNoSubject: number } }>('GET', '/v1/status')).body.engine;
      // Lost = sent but not acknowledged as accepted, or not counted by the engine, or dropped for want of a subject slot.
      const lost = Math.max(r.events - r.accepted, r.events - st.eventsAccepted) + st.eventsDroppedNoSubject;
      rows.push({ name: 'e2e.daemon_events_per_s', unit: 'events/s', value: r.events / r.seconds });
      rows.push({ name: 'e2e.daemon_vs_sink_ratio', unit: 'ratio', value: r.events / r.seconds / (base.events / base.seconds) });
      rows.push({ name: 'e2e.events_lost', unit: 'events', value: lost });

    } finally {
      await d.stop();
      d.cleanup();
    }

    // Verdict round trips under a 100k events/s background load, with the daemon's default
    // ingest budget and, as the baseline in the same run, with no budget.
    const echo = await echoRtt(tmp, 5000);
    rows.push({ name: 'verdict.baseline_echo_rtt_p50', unit: 'us', value: percentile(echo, 0.5) });
    rows.push({ name: 'verdict.baseline_echo_rtt_p99', unit: 'us', value: percentile(echo, 0.99) });
    const p99: Record<string, number> = {};
    for (const [label, budget] of [['budget_default', undefined], ['no_budget', 0]] as const) {
      step(`verdict round trips under a 100k events/s load (${label})`);
      const cfg = path.join(tmp, `verdict-${label}.json`);
      writeFileSync(cfg, JSON.stringify(budget === undefined ? {} : { engine: { ingestBudgetEvents: budget } }));
      const dv = await startDaemonProcess({ dataDir: path.join(tmp, `v-${label}`), extraArgs: ['--config', cfg] });
      try {
        const r = await verdictUnderLoad(dv.socket);
        p99[label] = percentile(r.rtts, 0.99);
        rows.push({ name: `verdict.${label}.rtt_p50_under_100k_load`, unit: 'us', value: percentile(r.rtts, 0.5) });
        rows.push({ name: `verdict.${label}.rtt_p99_under_100k_load`, unit: 'us', value: percentile(r.rtts, 0.99) });
        rows.push({ name: `verdict.${label}.background_events_per_s`, unit: 'events/s', value: r.loadEventsPerS });
      } finally {
        await dv.stop();
        dv.cleanup();
      }
    }
    rows.push({ name: 'verdict.p99_budget_vs_no_budget_ratio', unit: 'ratio', value: (p99['budget_default'] as number) / (p99['no_budget'] as number) });
    rows.push({ name: 'verdict.p99_budget_vs_echo_p99_ratio', unit: 'ratio', value: (p99['budget_default'] as number) / percentile(echo, 0.99) });

    step('daemon RSS with 10,000 process subjects');
    const d2 = await startDaemonProcess({ dataDir: path.join(tmp, 'd2')});
    try {
      const idle = rssBytes(d2.proc.pid as number);
      await runLoad(d2.socket, ['--events', String(200_000), '--subjects', '10000']);
      const st = (await d2.http<{ engine: { subjectsLive: number; tableBytes: number } }>('GET', '/v1/status')).body.engine;
      rows.push({ name: 'rss.daemon_idle', unit: 'MB', value: idle / 2 ** 20 });
      rows.push({ name: 'rss.daemon_10k_process_subjects', unit: 'MB', value: rssBytes(d2.proc.pid as number) / 2 ** 20 });
      rows.push({ name: 'rss.live_subjects', unit: 'subjects', value: st.subjectsLive });
      rows.push({ name: 'rss.engine_table', unit: 'MB', value: st.tableBytes / 2 ** 20 });
    } finally {
      await d2.stop();
      d2.cleanup();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return rows;
}
