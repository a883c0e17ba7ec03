/**
 * Protocol v1 decoder for daemon → client frames (HELLO_ACK, BATCH_ACK, VERDICT_REPLY,
 * STATE_PUSH, ERROR). Used by TypeScript clients, tests and benchmarks; the daemon's own
 * decoding of client frames is native (native/core/protocol.h).
 */
import { FrameType, HEADER_SIZE, MAGIC, MAX_PAYLOAD, VERDICT_ENTRY_SIZE, VERSION } from './constants.js';
import { SentinelError, codeFromWire } from '../errors.js';

export interface VerdictEntry {
  pid: number;
  state: number;
  actions: number;
  start: bigint;
}

export type ServerFrame =
  | { type: 'hello_ack'; seq: number; version: number; roles: number; maxPayload: number }
  | { type: 'batch_ack'; seq: number; accepted: number; rejected: number }
  | { type: 'verdict_reply'; seq: number; entries: VerdictEntry[] }
  | { type: 'state_push'; seq: number; generation: bigint; entries: VerdictEntry[] }
  | { type: 'barrier_ack'; seq: number }
  | { type: 'error'; seq: number; code: number; name: string; refSeq: number; message: string };

function entries(p: Buffer, at: number, count: number): VerdictEntry[] {
  if (p.length !== at + count * VERDICT_ENTRY_SIZE) throw new SentinelError('SENTINEL_E_MALFORMED_FRAME', 'verdict entry count does not match payload');
  const out: VerdictEntry[] = [];
  for (let i = 0; i < count; i++) {
    const o = at + i * VERDICT_ENTRY_SIZE;
    out.push({ pid: p.readUInt32LE(o), state: p.readUInt8(o + 4), actions: p.readUInt8(o + 5), start: p.readBigUInt64LE(o + 8) });
  }
  return out;
}

function decodePayload(type: number, seq: number, p: Buffer): ServerFrame {
  switch (type) {
    case FrameType.HelloAck:
      return { type: 'hello_ack', seq, version: p.readUInt16LE(0), roles: p.readUInt32LE(4), maxPayload: p.readUInt32LE(8) };
    case FrameType.BatchAck:
      return { type: 'batch_ack', seq, accepted: p.readUInt32LE(0), rejected: p.readUInt32LE(4) };
    case FrameType.VerdictReply:
      return { type: 'verdict_reply', seq, entries: entries(p, 4, p.readUInt32LE(0)) };
    case FrameType.StatePush:
      return { type: 'state_push', seq, generation: p.readBigUInt64LE(0), entries: entries(p, 16, p.readUInt32LE(8)) };
    case FrameType.BarrierAck:
      return { type: 'barrier_ack', seq };
    case FrameType.Error: {
      const code = p.readUInt32LE(0);
      const len = p.readUInt16LE(8);
      return { type: 'error', seq, code, name: codeFromWire(code) ?? `code ${code}`, refSeq: p.readUInt32LE(4), message: p.subarray(10, 10 + len).toString('utf8') };
    }
    default:
      throw new SentinelError('SENTINEL_E_UNKNOWN_FRAME_TYPE', `unknown frame type 0x${type.toString(16)}`);
  }
}

/** Accumulates a byte stream and yields complete frames; keeps only the unfinished tail. */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): ServerFrame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: ServerFrame[] = [];
    let at = 0;
    while (this.pending.length - at >= HEADER_SIZE) {
      const magic = this.pending.readUInt16LE(at);
      const version = this.pending.readUInt8(at + 2);
      const type = this.pending.readUInt8(at + 3);
      const length = this.pending.readUInt32LE(at + 4);
      const seq = this.pending.readUInt32LE(at + 8);
      if (magic !== MAGIC) throw new SentinelError('SENTINEL_E_BAD_MAGIC');
      if (version !== VERSION) throw new SentinelError('SENTINEL_E_UNSUPPORTED_VERSION');
      if (length > MAX_PAYLOAD) throw new SentinelError('SENTINEL_E_FRAME_TOO_LARGE');
      if (this.pending.length - at < HEADER_SIZE + length) break;
      out.push(decodePayload(type, seq, this.pending.subarray(at + HEADER_SIZE, at + HEADER_SIZE + length)));
      at += HEADER_SIZE + length;
    }
    this.pending = this.pending.subarray(at);
    return out;
  }

  /** Bytes of an unfinished frame still buffered. */
  get buffered(): number {
    return this.pending.length;
  }
}
