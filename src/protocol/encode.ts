/**
 * Protocol v1 encoder (client side): HELLO, EVENT_BATCH, VERDICT_QUERY. Synchronous, allocates
 * one Buffer per call. Strings longer than their cap are rejected, not truncated, so a caller
 * never sends a silently altered path.
 */
import { FLAG_HAS_ENTROPY, FrameType, HEADER_SIZE, MAGIC, MAX_COMM, MAX_HEADER, MAX_PATH, MAX_PAYLOAD, MAX_SAMPLE, MAX_VERDICT_QUERIES, RECORD_FIXED, VERSION, opCode } from './constants.js';
import type { FsEvent } from './event.js';
import { SentinelError } from '../errors.js';

export function writeHeader(buf: Buffer, at: number, type: number, length: number, seq: number): void {
  buf.writeUInt16LE(MAGIC, at);
  buf.writeUInt8(VERSION, at + 2);
  buf.writeUInt8(type, at + 3);
  buf.writeUInt32LE(length, at + 4);
  buf.writeUInt32LE(seq >>> 0, at + 8);
}

export function encodeFrame(type: number, payload: Uint8Array, seq: number): Buffer {
  if (payload.length > MAX_PAYLOAD) throw new SentinelError('SENTINEL_E_FRAME_TOO_LARGE');
  const buf = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  writeHeader(buf, 0, type, payload.length, seq);
  buf.set(payload, HEADER_SIZE);
  return buf;
}

export function encodeHello(seq: number, roles: number, pid: number, name: string, minVersion = VERSION, maxVersion = VERSION): Buffer {
  const nameBytes = Buffer.from(name, 'utf8').subarray(0, 64);
  const p = Buffer.alloc(14 + nameBytes.length);
  p.writeUInt16LE(minVersion, 0);
  p.writeUInt16LE(maxVersion, 2);
  p.writeUInt32LE(roles >>> 0, 4);
  p.writeUInt32LE(pid >>> 0, 8);
  p.writeUInt16LE(nameBytes.length, 12);
  nameBytes.copy(p, 14);
  return encodeFrame(FrameType.Hello, p, seq);
}

interface EncodedStrings {
  comm: Buffer;
  path: Buffer;
  path2: Buffer;
  sample: Uint8Array;
  hb: Uint8Array;
  ha: Uint8Array;
}

const EMPTY = new Uint8Array(0);

function strings(e: FsEvent): EncodedStrings {
  const s: EncodedStrings = {
    comm: Buffer.from(e.comm, 'utf8'),
    path: Buffer.from(e.path, 'utf8'),
    path2: Buffer.from(e.path2, 'utf8'),
    sample: e.sample ?? EMPTY,
    hb: e.headerBefore ?? EMPTY,
    ha: e.headerAfter ?? EMPTY,
  };
  const over = (what: string, n: number, cap: number): void => {
    if (n > cap) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `${what} is ${n} bytes, over its cap of ${cap}`);
  };
  over('comm', s.comm.length, MAX_COMM);
  over('path', s.path.length, MAX_PATH);
  over('path2', s.path2.length, MAX_PATH);
  over('sample', s.sample.length, MAX_SAMPLE);
  over('header_before', s.hb.length, MAX_HEADER);
  over('header_after', s.ha.length, MAX_HEADER);
  return s;
}

/** Bytes one record of `e` takes on the wire. */
export function recordSize(e: FsEvent): number {
  const s = strings(e);
  return RECORD_FIXED + s.comm.length + s.path.length + s.path2.length + s.sample.length + s.hb.length + s.ha.length;
}

function writeRecord(buf: Buffer, at: number, e: FsEvent, s: EncodedStrings): number {
  const total = RECORD_FIXED + s.comm.length + s.path.length + s.path2.length + s.sample.length + s.hb.length + s.ha.length;
  const hasEntropy = e.entropy !== undefined;
  buf.writeUInt16LE(total, at);
  buf.writeUInt8(opCode(e.op), at + 2);
  buf.writeUInt8(hasEntropy ? FLAG_HAS_ENTROPY : 0, at + 3);
  buf.writeUInt32LE(e.pid >>> 0, at + 4);
  buf.writeUInt32LE(e.ppid >>> 0, at + 8);
  buf.writeUInt32LE(e.uid >>> 0, at + 12);
  buf.writeUInt32LE(e.sid >>> 0, at + 16);
  buf.writeInt32LE(e.result | 0, at + 20);
  buf.writeBigUInt64LE(e.ts, at + 24);
  buf.writeBigUInt64LE(e.start, at + 32);
  buf.writeBigUInt64LE(e.offset, at + 40);
  buf.writeBigUInt64LE(e.len, at + 48);
  buf.writeBigUInt64LE(e.size, at + 56);
  buf.writeUInt32LE(e.flags >>> 0, at + 64);
  buf.writeFloatLE(hasEntropy ? (e.entropy as number) : 0, at + 68);
  const parts = [s.comm, s.path, s.path2, s.sample, s.hb, s.ha];
  let o = at + RECORD_FIXED;
  parts.forEach((b, i) => {
    buf.writeUInt16LE(b.length, at + 72 + 2 * i);
    buf.set(b, o);
    o += b.length;
  });
  return total;
}

/**
 * Encodes events as EVENT_BATCH frames, starting a new frame whenever the next record would
 * push the payload past `maxPayload`. Returns one Buffer with all frames back to back and the
 * number of frames (seq numbers firstSeq, firstSeq+1, ...).
 */
export function encodeEventBatches(events: readonly FsEvent[], firstSeq: number, maxPayload = 64 * 1024 - HEADER_SIZE): { bytes: Buffer; frames: number } {
  const enc = events.map(strings);
  const sizes = enc.map((s) => RECORD_FIXED + s.comm.length + s.path.length + s.path2.length + s.sample.length + s.hb.length + s.ha.length);
  const groups: number[][] = [];
  let cur: number[] = [];
  let curBytes = 4;
  sizes.forEach((n, i) => {
    if (cur.length > 0 && curBytes + n > maxPayload) {
      groups.push(cur);
      cur = [];
      curBytes = 4;
    }
    cur.push(i);
    curBytes += n;
  });
  if (cur.length > 0) groups.push(cur);
  const total = groups.reduce((acc, g) => acc + HEADER_SIZE + 4 + g.reduce((a, i) => a + (sizes[i] as number), 0), 0);
  const buf = Buffer.allocUnsafe(total);
  let at = 0;
  groups.forEach((g, gi) => {
    const payload = 4 + g.reduce((a, i) => a + (sizes[i] as number), 0);
    writeHeader(buf, at, FrameType.EventBatch, payload, firstSeq + gi);
    buf.writeUInt32LE(g.length, at + HEADER_SIZE);
    let o = at + HEADER_SIZE + 4;
    for (const i of g) o += writeRecord(buf, o, events[i] as FsEvent, enc[i] as EncodedStrings);
    at = o;
  });
  return { bytes: buf, frames: groups.length };
}

export interface VerdictQueryItem {
  pid: number;
  start: bigint;
}

export function encodeVerdictQuery(seq: number, items: readonly VerdictQueryItem[]): Buffer {
  if (items.length === 0 || items.length > MAX_VERDICT_QUERIES) {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `a verdict query holds 1..${MAX_VERDICT_QUERIES} items, not ${items.length}`);
  }
  const p = Buffer.alloc(4 + 16 * items.length);
  p.writeUInt32LE(items.length, 0);
  items.forEach((it, i) => {
    p.writeUInt32LE(it.pid >>> 0, 4 + 16 * i);
    p.writeBigUInt64LE(it.start, 4 + 16 * i + 8);
  });
  return encodeFrame(FrameType.VerdictQuery, p, seq);
}
