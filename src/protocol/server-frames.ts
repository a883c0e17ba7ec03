/** Daemon-side frames built in TypeScript (the native engine builds the per-chunk replies). */
import { FrameType } from './constants.js';
import { encodeFrame } from './encode.js';

export function encodeError(code: number, refSeq: number, message: string): Buffer {
  const msg = Buffer.from(message, 'utf8').subarray(0, 1024);
  const p = Buffer.alloc(10 + msg.length);
  p.writeUInt32LE(code >>> 0, 0);
  p.writeUInt32LE(refSeq >>> 0, 4);
  p.writeUInt16LE(msg.length, 8);
  msg.copy(p, 10);
  return encodeFrame(FrameType.Error, p, 0);
}

/** BARRIER_ACK (empty payload, the BARRIER's seq): every event sent before that BARRIER was scored. */
export function encodeBarrierAck(seq: number): Buffer {
  return encodeFrame(FrameType.BarrierAck, Buffer.alloc(0), seq >>> 0);
}
