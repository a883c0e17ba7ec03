/**
 * Decoder of EVENT_BATCH payloads (docs/protocol.md, "Event record") into FsEvent, the same
 * shape the trace reader/writer uses. The daemon decodes natively; this is for TypeScript peers
 * that receive events (the lab's recording proxy, test daemons, tools). Sync; throws an Error
 * on a structurally bad payload. Returned byte fields are copies owned by the caller.
 */
import { OPS, RECORD_FIXED } from './constants.js';
import type { FsEvent } from './event.js';

export function decodeEventBatch(p: Buffer): FsEvent[] {
  if (p.length < 4) throw new Error('EVENT_BATCH payload shorter than its count');
  const count = p.readUInt32LE(0);
  const out: FsEvent[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + RECORD_FIXED > p.length) throw new Error(`record ${i} past the end of the payload`);
    const len = p.readUInt16LE(at);
    if (len < RECORD_FIXED || at + len > p.length) throw new Error(`bad record_len ${len} at ${at}`);
    const lens = [0, 1, 2, 3, 4, 5].map((k) => p.readUInt16LE(at + 72 + 2 * k));
    if (RECORD_FIXED + lens.reduce((a, b) => a + b, 0) !== len) throw new Error(`record ${i}: lengths do not add up to record_len`);
    let s = at + RECORD_FIXED;
    const take = (n: number): Buffer => {
      const b = Buffer.from(p.subarray(s, s + n));
      s += n;
      return b;
    };
    const op = OPS[p.readUInt8(at + 2) - 1];
    if (!op) throw new Error(`record ${i}: bad op ${p.readUInt8(at + 2)}`);
    const flags = p.readUInt8(at + 3);
    const comm = take(lens[0] as number).toString('utf8');
    const path = take(lens[1] as number).toString('utf8');
    const path2 = take(lens[2] as number).toString('utf8');
    const sample = take(lens[3] as number);
    const headerBefore = take(lens[4] as number);
    const headerAfter = take(lens[5] as number);
    const e: FsEvent = {
      op,
      pid: p.readUInt32LE(at + 4),
      ppid: p.readUInt32LE(at + 8),
      uid: p.readUInt32LE(at + 12),
      sid: p.readUInt32LE(at + 16),
      result: p.readInt32LE(at + 20),
      ts: p.readBigUInt64LE(at + 24),
      start: p.readBigUInt64LE(at + 32),
      offset: p.readBigUInt64LE(at + 40),
      len: p.readBigUInt64LE(at + 48),
      size: p.readBigUInt64LE(at + 56),
      flags: p.readUInt32LE(at + 64),
      comm,
      path,
      path2,
    };
    if (flags & 1) e.entropy = p.readFloatLE(at + 68);
    if (sample.length > 0) e.sample = sample;
    if (headerBefore.length > 0) e.headerBefore = headerBefore;
    if (headerAfter.length > 0) e.headerAfter = headerAfter;
    out.push(e);
    at += len;
  }
  if (at !== p.length) throw new Error('trailing bytes after the last record');
  return out;
}
