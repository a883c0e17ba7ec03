/**
 * Load client for the end-to-end benchmarks, run as its own process:
 *   node dist/bench/load-client.js --socket S --events N [--subjects K] [--rate R --duration-ms D]
 * Pre-encodes a pool of EVENT_BATCH frames (no content samples, entropy field set), then sends
 * N events as fast as the socket takes them (or R events/s for D ms), waits for the BATCH_ACK
 * of every frame, and prints one JSON line: {events, accepted, rejected, seconds}.
 */
import net from 'node:net';
import { once } from 'node:events';
import { encodeEventBatches, encodeHello } from '../src/protocol/encode.js';
import { FrameReader } from '../src/protocol/decode.js';
import { HEADER_SIZE, Role } from '../src/protocol/constants.js';
import { fsEvent, type FsEvent } from '../src/protocol/event.js';
import type { OpName } from '../src/protocol/constants.js';

function arg(name: string, def?: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) {
    if (def === undefined) throw new Error(`--${name} is required`);
    return def;
  }
  return Number(process.argv[i + 1]);
}

const socketPath = process.argv[process.argv.indexOf('--socket') + 1] as string;
const total = arg('events');
const subjects = arg('subjects', 1000);
const rate = arg('rate', 0);
const durationMs = arg('duration-ms', 0);
const POOL = Math.min(total, 65_536);
const OPS: OpName[] = ['open', 'read', 'write', 'write', 'close', 'read', 'write', 'rename'];

function pool(startNs: bigint): { bytes: Buffer; frames: { at: number; len: number; events: number }[] } {
  const events: FsEvent[] = [];
  for (let i = 0; i < POOL; i++) {
    const s = i % subjects;
    const op = OPS[i % OPS.length] as OpName;
    events.push(fsEvent({
      ts: startNs + BigInt(i) * 1000n, pid: 100_000 + s, ppid: 1000 + (s % 50), uid: 1000, comm: 'worker',
      op, path: `/data/d${s % 64}/f${i % 512}.dat`, path2: op === 'rename' ? `/data/d${s % 64}/f${i % 512}.bak` : '',
      len: 4096n, size: 65536n, entropy: op === 'write' ? 4.5 : undefined,
    }));
  }
  const { bytes } = encodeEventBatches(events, 1);
  const frames: { at: number; len: number; events: number }[] = [];
  for (let at = 0; at < bytes.length; ) {
    const len = HEADER_SIZE + bytes.readUInt32LE(at + 4);
    frames.push({ at, len, events: bytes.readUInt32LE(at + HEADER_SIZE) });
    at += len;
  }
  return { bytes, frames };
}

/** Shifts every record's ts by `delta` ns and renumbers the frame seqs (a fresh copy per round). */
function shifted(p: Buffer, frames: { at: number; len: number; events: number }[], delta: bigint, firstSeq: number): Buffer {
  const b = Buffer.from(p);
  frames.forEach((f, k) => {
    b.writeUInt32LE(firstSeq + k, f.at + 8);
    let o = f.at + HEADER_SIZE + 4;
    for (let i = 0; i < f.events; i++) {
      b.writeBigUInt64LE(b.readBigUInt64LE(o + 24) + delta, o + 24);
      o += b.readUInt16LE(o);
    }
  });
  return b;
}

async function main(): Promise<void> {
  const sock = net.connect(socketPath);
  await once(sock, 'connect');
  const reader = new FrameReader();
  let accepted = 0;
  let rejected = 0;
  let acks = 0;
  let wantAcks = Infinity;
  let done: () => void = () => {};
  const allAcked = new Promise<void>((r) => (done = r));
  sock.on('data', (d: Buffer) => {
    for (const f of reader.push(d)) {
      if (f.type === 'batch_ack') {
        accepted += f.accepted;
        rejected += f.rejected;
        acks++;
        if (acks >= wantAcks) done();
      } else if (f.type === 'error') {
        process.stderr.write(`load-client: ${f.name}: ${f.message}\n`);
      }
    }
  });
  sock.write(encodeHello(0, Role.Events | Role.Acks, process.pid, 'bench-load'));
  const startNs = BigInt(Date.now()) * 1_000_000n;
  const { bytes, frames } = pool(startNs);
  const span = BigInt(POOL) * 1000n;
  let sentEvents = 0;
  let sentFrames = 0;
  let round = 0;
  const t0 = process.hrtime.bigint();
  const deadline = durationMs > 0 ? Date.now() + durationMs : Infinity;
  while (sentEvents < total && Date.now() < deadline) {
    const chunk = shifted(bytes, frames, span * BigInt(round), 1 + sentFrames);
    round++;
    for (const f of frames) {
      if (sentEvents >= total) break;
      if (rate > 0) {
        // Paced: keep sentEvents at or below rate * elapsed.
        const elapsedS = Number(process.hrtime.bigint() - t0) / 1e9;
        const ahead = sentEvents - rate * elapsedS;
        if (ahead > 0) await new Promise((r) => setTimeout(r, Math.ceil((ahead / rate) * 1000)));
        if (Date.now() >= deadline) break;
      }
      if (!sock.write(chunk.subarray(f.at, f.at + f.len))) await once(sock, 'drain');
      sentEvents += f.events;
      sentFrames++;
    }
  }
  wantAcks = sentFrames;
  if (acks >= wantAcks) done();
  await allAcked;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  sock.end();
  process.stdout.write(JSON.stringify({ events: sentEvents, accepted, rejected, seconds }) + '\n');
}

await main();
