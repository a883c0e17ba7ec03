import { describe, expect, it } from 'vitest';
import {
  FrameType,
  HEADER_SIZE,
  MAGIC,
  MAX_PAYLOAD,
  RECORD_FIXED,
  Role,
  VERSION,
  encodeEventBatches,
  encodeFrame,
  encodeHello,
  encodeVerdictQuery,
  fsEvent,
  writeHeader,
  type ServerFrame,
} from '../../src/protocol/index.js';
import { A, ALL_ROLES, T0, connect, newEngine, replyFrames, sendEvents } from './helpers.js';

interface RawRec {
  op?: number;
  flags?: number;
  pid?: number;
  entropy?: number;
  comm?: string | Uint8Array;
  path?: string | Uint8Array;
  path2?: string | Uint8Array;
  sample?: Uint8Array;
  hb?: Uint8Array;
  ha?: Uint8Array;
  lens?: (number | undefined)[];
  recordLen?: number;
}

const bytes = (v: string | Uint8Array | undefined): Uint8Array => (v === undefined ? new Uint8Array(0) : typeof v === 'string' ? Buffer.from(v) : v);

/** A record built by hand so that any field may be made invalid. */
function rawRecord(o: RawRec): Buffer {
  const parts = [bytes(o.comm ?? 'proc'), bytes(o.path ?? '/tmp/f'), bytes(o.path2), bytes(o.sample), bytes(o.hb), bytes(o.ha)];
  const total = RECORD_FIXED + parts.reduce((a, p) => a + p.length, 0);
  const b = Buffer.alloc(total);
  b.writeUInt16LE(o.recordLen ?? total, 0);
  b.writeUInt8(o.op ?? 3, 2);
  b.writeUInt8(o.flags ?? 0, 3);
  b.writeUInt32LE(o.pid ?? 77, 4);
  b.writeUInt32LE(1, 8);
  b.writeBigUInt64LE(T0, 24);
  b.writeFloatLE(o.entropy ?? 0, 68);
  let at = RECORD_FIXED;
  parts.forEach((p, i) => {
    b.writeUInt16LE(o.lens?.[i] ?? p.length, 72 + 2 * i);
    b.set(p, at);
    at += p.length;
  });
  return b;
}

function batchFrame(records: Buffer[], seq: number, count = records.length): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32LE(count, 0);
  return encodeFrame(FrameType.EventBatch, Buffer.concat([head, ...records]), seq);
}

function errorsOf(frames: ServerFrame[]): Extract<ServerFrame, { type: 'error' }>[] {
  return frames.filter((f): f is Extract<ServerFrame, { type: 'error' }> => f.type === 'error');
}

function rawHeader(magic: number, version: number, type: number, length: number, seq: number): Buffer {
  const b = Buffer.alloc(HEADER_SIZE);
  b.writeUInt16LE(magic, 0);
  b.writeUInt8(version, 2);
  b.writeUInt8(type, 3);
  b.writeUInt32LE(length, 4);
  b.writeUInt32LE(seq, 8);
  return b;
}

describe('protocol constants', () => {
  it('match the TypeScript mirror', () => {
    expect(A.protocolConstants()).toEqual({ magic: MAGIC, version: VERSION, headerSize: HEADER_SIZE, maxPayload: MAX_PAYLOAD, recordFixed: RECORD_FIXED });
  });
});

describe('handshake', () => {
  it('answers HELLO with HELLO_ACK, granting requested & mask', () => {
    const e = newEngine();
    const c = e.openConnection(0);
    const res = e.ingest(c, encodeHello(9, 0xff, 31337, 'sentinel-fuse'));
    expect(res.fatal).toBe(0);
    expect(res.hello).toEqual({ version: 1, roles: 0x1f, pid: 31337, name: 'sentinel-fuse' });
    const frames = replyFrames(res);
    expect(frames[0]).toEqual({ type: 'hello_ack', seq: 9, version: 1, roles: 0x1f, maxPayload: MAX_PAYLOAD });
    // SUBSCRIBE was granted: a STATE_PUSH follows the ack.
    expect(frames[1]?.type).toBe('state_push');
    expect(frames).toHaveLength(2);
  });

  it('picks version 1 from a range and rejects a range without it (fatal 2)', () => {
    const e = newEngine();
    const c1 = e.openConnection(0);
    expect(replyFrames(e.ingest(c1, encodeHello(1, Role.Events, 1, 'x', 1, 5)))[0]).toMatchObject({ type: 'hello_ack', version: 1 });
    const c2 = e.openConnection(0);
    const res = e.ingest(c2, encodeHello(1, Role.Events, 1, 'x', 2, 3));
    expect(res.fatal).toBe(2);
    expect(errorsOf(replyFrames(res))[0]).toMatchObject({ code: 2, refSeq: 1 });
    expect(res.hello).toBeNull();
  });

  it('requires HELLO first (fatal 7) and ignores input after a fatal error', () => {
    const e = newEngine();
    const c = e.openConnection(0);
    const res = e.ingest(c, encodeEventBatches([fsEvent({ pid: 5, op: 'write', path: '/a' })], 3).bytes);
    expect(res.fatal).toBe(7);
    expect(errorsOf(replyFrames(res))).toEqual([expect.objectContaining({ code: 7, refSeq: 3 })]);
    const again = e.ingest(c, encodeHello(4, Role.Events, 1, 'late'));
    expect(again.fatal).toBe(7);
    expect(again.frames).toBe(0);
    expect(again.hello).toBeNull();
    expect(e.stats().errorsByCode).toEqual({ 7: 1 });
  });

  it('skips a malformed HELLO (5) and still accepts a good one', () => {
    const e = newEngine();
    const c = e.openConnection(0);
    const bad = encodeFrame(FrameType.Hello, Buffer.alloc(6), 2);
    const res = e.ingest(c, Buffer.concat([bad, encodeHello(3, Role.Events, 1, 'ok')]));
    expect(res.fatal).toBe(0);
    const f = replyFrames(res);
    expect(f.map((x) => x.type)).toEqual(['error', 'hello_ack']);
    expect(errorsOf(f)[0]).toMatchObject({ code: 5, refSeq: 2 });
  });
});

describe('codec round trip', () => {
  it('decodes TS-encoded batches natively: counts, subjects and fields', () => {
    const e = newEngine({ dueEveryEvents: 1000 });
    const c = connect(e);
    const start = 123_456_789_012n;
    const events = [
      fsEvent({ ts: T0, pid: 4242, ppid: 4000, uid: 1000, sid: 77, start, comm: 'python3', op: 'open', path: '/home/u/a.docx', flags: 0o2 }),
      fsEvent({ ts: T0 + 1n, pid: 4242, ppid: 4000, uid: 1000, sid: 77, start, comm: 'python3', op: 'read', path: '/home/u/a.docx', len: 4096n }),
      fsEvent({ ts: T0 + 2n, pid: 4242, ppid: 4000, uid: 1000, sid: 77, start, comm: 'python3', op: 'write', path: '/home/u/a.docx', len: 4096n, entropy: 7.9 }),
      fsEvent({ ts: T0 + 3n, pid: 4242, ppid: 4000, uid: 1000, sid: 77, start, comm: 'python3', op: 'rename', path: '/home/u/a.docx', path2: '/home/u/a.docx.enc' }),
      fsEvent({ ts: T0 + 4n, pid: 5151, ppid: 4000, uid: 0, sid: 77, comm: 'bash', op: 'unlink', path: '/tmp/x', result: -2 }),
    ];
    const res = sendEvents(e, c, events, 10);
    expect(res).toMatchObject({ frames: 1, accepted: 5, rejected: 0, fatal: 0, errors: {} });
    expect(replyFrames(res)).toEqual([{ type: 'batch_ack', seq: 10, accepted: 5, rejected: 0 }]);
    const s = e.stats();
    expect(s.eventsAccepted).toBe(5);
    expect(s.subjectsLive).toBe(3); // two processes + one tree (sid 77)
    const infos = e.subjectInfo(new Uint32Array([1, 2, 3]));
    const tree = infos.find((i) => i?.kind === 'tree');
    const p1 = infos.find((i) => i?.pid === 4242);
    const p2 = infos.find((i) => i?.pid === 5151);
    expect(tree).toMatchObject({ kind: 'tree', sid: 77, events: 5, treeId: 0 });
    expect(p1).toEqual({ id: p1?.id, kind: 'process', pid: 4242, ppid: 4000, uid: 1000, sid: 77, startTime: 123456789012, comm: 'python3', treeId: tree?.id, events: 4 });
    expect(p2).toMatchObject({ kind: 'process', pid: 5151, uid: 0, startTime: 0, comm: 'bash', events: 1, treeId: tree?.id });
  });

  it('splits large event sets into several 64 KiB frames and accepts them all', () => {
    const e = newEngine({ dueEveryEvents: 1000 });
    const c = connect(e);
    const events = Array.from({ length: 3000 }, (_, i) =>
      fsEvent({ ts: T0 + BigInt(i) * 1000n, pid: 100 + (i % 7), op: 'write', path: `/data/dir${i % 13}/file-${i}.bin`, len: 512n, entropy: (i % 80) / 10 }),
    );
    const enc = encodeEventBatches(events, 1);
    expect(enc.frames).toBeGreaterThan(1);
    const res = e.ingest(c, enc.bytes);
    expect(res.frames).toBe(enc.frames);
    expect(res.accepted).toBe(3000);
    expect(replyFrames(res).filter((f) => f.type === 'batch_ack')).toHaveLength(enc.frames);
    expect(e.stats().framesIn).toBe(enc.frames + 1);
  });

  it('answers VERDICT_QUERY from the native state table', () => {
    const e = newEngine();
    const c = connect(e);
    sendEvents(e, c, [fsEvent({ ts: T0, pid: 10, start: 5n, op: 'write', path: '/a' }), fsEvent({ ts: T0, pid: 11, op: 'write', path: '/b' })]);
    const ids = e.subjectInfo(new Uint32Array([1, 2, 3, 4])).filter((x) => x?.kind === 'process' && x.pid === 10).map((x) => x!.id);
    e.setStates(new Uint32Array(ids), new Uint8Array([3]));
    const res = e.ingest(c, encodeVerdictQuery(55, [{ pid: 10, start: 5n }, { pid: 11, start: 0n }, { pid: 10, start: 6n }, { pid: 999, start: 0n }]));
    expect(replyFrames(res)).toEqual([
      {
        type: 'verdict_reply',
        seq: 55,
        entries: [
          { pid: 10, state: 3, actions: 3, start: 5n },
          { pid: 11, state: 0, actions: 0, start: 0n },
          { pid: 10, state: 0, actions: 0, start: 6n },
          { pid: 999, state: 0, actions: 0, start: 0n },
        ],
      },
    ]);
    expect(e.stats().verdictQueries).toBe(4);
  });
});

describe('bad input (docs/protocol.md)', () => {
  const good = () => rawRecord({});

  it.each([
    ['bad magic', rawHeader(0x1234, 1, FrameType.EventBatch, 4, 8), 1],
    ['wrong version', rawHeader(MAGIC, 2, FrameType.EventBatch, 4, 8), 2],
    ['oversized length', rawHeader(MAGIC, 1, FrameType.EventBatch, MAX_PAYLOAD + 1, 8), 3],
  ])('%s is fatal with its code', (_name, header, code) => {
    const e = newEngine();
    const c = connect(e);
    const res = e.ingest(c, Buffer.concat([header, Buffer.alloc(4)]));
    expect(res.fatal).toBe(code);
    expect(errorsOf(replyFrames(res))).toEqual([expect.objectContaining({ code, refSeq: 8 })]);
    expect(res.errors).toEqual({ [code]: 1 });
    // Nothing after it is decoded.
    const more = sendEvents(e, c, [fsEvent({ pid: 3, op: 'read', path: '/x' })]);
    expect(more.fatal).toBe(code);
    expect(more.accepted).toBe(0);
  });

  it('checks the header as soon as its 12 bytes are in, before the payload arrives', () => {
    const e = newEngine();
    const c = connect(e);
    const res = e.ingest(c, rawHeader(MAGIC, 1, FrameType.EventBatch, MAX_PAYLOAD + 1, 4));
    expect(res.fatal).toBe(3);
    expect(e.closeConnection(c)).toBe(0);
  });

  it('skips an unknown frame type (4) and goes on', () => {
    const e = newEngine();
    const c = connect(e);
    const res = e.ingest(c, Buffer.concat([encodeFrame(0x55, Buffer.alloc(10), 21), encodeFrame(FrameType.HelloAck, Buffer.alloc(12), 22), batchFrame([good()], 23)]));
    expect(res.fatal).toBe(0);
    const f = replyFrames(res);
    expect(errorsOf(f).map((x) => [x.code, x.refSeq])).toEqual([[4, 21], [4, 22]]);
    expect(f.at(-1)).toEqual({ type: 'batch_ack', seq: 23, accepted: 1, rejected: 0 });
    expect(res.errors).toEqual({ 4: 2 });
    expect(res.frames).toBe(3);
  });

  it.each([
    ['short batch payload', encodeFrame(FrameType.EventBatch, Buffer.alloc(2), 30)],
    ['count larger than the records', batchFrame([rawRecord({}), rawRecord({})], 30, 3)],
    ['count smaller than the records (trailing bytes)', batchFrame([rawRecord({}), rawRecord({})], 30, 1)],
    ['short verdict query', encodeFrame(FrameType.VerdictQuery, Buffer.alloc(3), 30)],
    ['verdict query count 0', encodeFrame(FrameType.VerdictQuery, Buffer.alloc(4), 30)],
    ['verdict query count mismatch', (() => { const q = encodeVerdictQuery(30, [{ pid: 1, start: 0n }]); q.writeUInt32LE(2, HEADER_SIZE); return q; })()],
  ])('%s: MALFORMED_FRAME (5), frame skipped, nothing counted as events', (_name, frame) => {
    const e = newEngine();
    const c = connect(e);
    const res = e.ingest(c, Buffer.concat([frame, batchFrame([good()], 31)]));
    expect(res.fatal).toBe(0);
    const f = replyFrames(res);
    expect(errorsOf(f)).toEqual([expect.objectContaining({ code: 5, refSeq: 30 })]);
    expect(f.at(-1)).toEqual({ type: 'batch_ack', seq: 31, accepted: 1, rejected: 0 });
    expect(res).toMatchObject({ accepted: 1, rejected: 0, errors: { 5: 1 } });
  });

  const badRecords: [string, Buffer][] = [
    ['op 0', rawRecord({ op: 0 })],
    ['op 13', rawRecord({ op: 13 })],
    ['pid 0', rawRecord({ pid: 0 })],
    ['empty path', rawRecord({ path: '' })],
    ['rename without path2', rawRecord({ op: 6, path2: '' })],
    ['comm over its cap', rawRecord({ comm: Buffer.alloc(256, 0x61) })],
    ['path over its cap', rawRecord({ path: Buffer.alloc(4097, 0x61) })],
    ['sample over its cap', rawRecord({ sample: Buffer.alloc(4097) })],
    ['header_before over its cap', rawRecord({ hb: Buffer.alloc(257) })],
    ['header_after over its cap', rawRecord({ ha: Buffer.alloc(257) })],
    ['lengths not adding up', rawRecord({ comm: 'abcd', lens: [2] })],
    ['entropy above 8', rawRecord({ flags: 1, entropy: 8.5 })],
    ['entropy below 0', rawRecord({ flags: 1, entropy: -0.1 })],
    ['entropy NaN', rawRecord({ flags: 1, entropy: NaN })],
    ['unknown flag', rawRecord({ flags: 2 })],
  ];

  it.each(badRecords)('%s: that record rejected (6), the rest of the batch processed', (_name, bad) => {
    const e = newEngine();
    const c = connect(e);
    const res = e.ingest(c, batchFrame([good(), bad, good(), bad, good()], 40));
    expect(res).toMatchObject({ frames: 1, accepted: 3, rejected: 2, fatal: 0, errors: { 6: 2 } });
    const f = replyFrames(res);
    const errs = errorsOf(f);
    expect(errs).toHaveLength(1); // one ERROR per offending frame
    expect(errs[0]).toMatchObject({ code: 6, refSeq: 40 });
    expect(errs[0]?.message).toMatch(/^2 bad records/);
    expect(f.at(-1)).toEqual({ type: 'batch_ack', seq: 40, accepted: 3, rejected: 2 });
    expect(e.stats()).toMatchObject({ eventsAccepted: 3, eventsRejected: 2, errorsByCode: { 6: 2 } });
  });

  it('accepts entropy exactly 0 and 8', () => {
    const e = newEngine();
    const c = connect(e);
    const res = e.ingest(c, batchFrame([rawRecord({ flags: 1, entropy: 0 }), rawRecord({ flags: 1, entropy: 8 })], 1));
    expect(res).toMatchObject({ accepted: 2, rejected: 0 });
  });

  it.each([
    ['record_len below 84', 50],
    ['record_len past the end of the payload', 60_000],
  ])('%s: that record and the rest rejected (6), earlier ones accepted', (_name, recordLen) => {
    const e = newEngine();
    const c = connect(e);
    const broken = rawRecord({});
    broken.writeUInt16LE(recordLen, 0);
    const res = e.ingest(c, Buffer.concat([batchFrame([good(), broken, good(), good()], 50), batchFrame([good()], 51)]));
    expect(res).toMatchObject({ frames: 2, accepted: 2, rejected: 3, fatal: 0, errors: { 6: 3 } });
    const f = replyFrames(res);
    expect(errorsOf(f)).toEqual([expect.objectContaining({ code: 6, refSeq: 50 })]);
    expect(errorsOf(f)[0]?.message).toMatch(/^3 bad records/);
    expect(f.filter((x) => x.type === 'batch_ack')).toEqual([
      { type: 'batch_ack', seq: 50, accepted: 1, rejected: 3 },
      { type: 'batch_ack', seq: 51, accepted: 1, rejected: 0 },
    ]);
  });

  it('a record cut one byte short at the end of the payload rejects only itself', () => {
    const e = newEngine();
    const c = connect(e);
    const last = rawRecord({});
    const payloadRecs = [good(), last.subarray(0, last.length - 1)];
    const res = e.ingest(c, batchFrame(payloadRecs, 60, 2));
    expect(res).toMatchObject({ accepted: 1, rejected: 1, errors: { 6: 1 } });
  });

  it('refuses frames whose role was not granted (8) and goes on', () => {
    const e = newEngine();
    const cq = connect(e, Role.Query);
    const r1 = e.ingest(cq, Buffer.concat([batchFrame([good()], 70), encodeVerdictQuery(71, [{ pid: 1, start: 0n }])]));
    expect(r1.fatal).toBe(0);
    expect(r1).toMatchObject({ accepted: 0, errors: { 8: 1 } });
    expect(replyFrames(r1).map((x) => x.type)).toEqual(['error', 'verdict_reply']);
    expect(errorsOf(replyFrames(r1))[0]).toMatchObject({ code: 8, refSeq: 70 });

    const ce = connect(e, Role.Events);
    const r2 = e.ingest(ce, Buffer.concat([encodeVerdictQuery(72, [{ pid: 1, start: 0n }]), batchFrame([good()], 73)]));
    expect(r2).toMatchObject({ accepted: 1, errors: { 8: 1 } });
    // No ACKS role: no BATCH_ACK, only the ERROR.
    expect(replyFrames(r2)).toEqual([expect.objectContaining({ type: 'error', code: 8, refSeq: 72 })]);
    expect(e.stats().errorsByCode).toEqual({ 8: 2 });
  });

  it('counts a truncated frame at close as dropped bytes', () => {
    const e = newEngine();
    const c = connect(e);
    const f = batchFrame([good()], 80);
    expect(e.ingest(c, f.subarray(0, 30)).frames).toBe(0);
    expect(e.closeConnection(c)).toBe(30);
    expect(e.stats().connections).toBe(0);
  });
});

describe('partial frames', () => {
  function stream(): Buffer {
    const events = Array.from({ length: 6 }, (_, i) =>
      fsEvent({ ts: T0 + BigInt(i), pid: 300 + (i % 2), op: i % 2 ? 'write' : 'read', path: `/p/${i}`, entropy: i, sample: i === 3 ? new Uint8Array([1, 2, 3]) : undefined }),
    );
    return Buffer.concat([
      encodeHello(1, ALL_ROLES, 9, 'split'),
      encodeEventBatches(events.slice(0, 3), 2).bytes,
      encodeVerdictQuery(3, [{ pid: 300, start: 0n }]),
      encodeFrame(0x66, Buffer.alloc(3), 4),
      encodeEventBatches(events.slice(3), 5).bytes,
      batchFrame([rawRecord({ pid: 0 })], 6),
    ]);
  }

  function run(chunks: Buffer[]): { reply: Buffer; accepted: number; rejected: number; frames: number } {
    const e = newEngine({ maxSubjects: 64 });
    const c = e.openConnection(0);
    const replies: Buffer[] = [];
    let accepted = 0;
    let rejected = 0;
    let frames = 0;
    for (const ch of chunks) {
      const r = e.ingest(c, ch);
      if (r.reply) replies.push(Buffer.from(r.reply));
      accepted += r.accepted;
      rejected += r.rejected;
      frames += r.frames;
      expect(r.fatal).toBe(0);
    }
    expect(e.closeConnection(c)).toBe(0);
    return { reply: Buffer.concat(replies), accepted, rejected, frames };
  }

  it('gives the same replies and counts for a split at every byte boundary', () => {
    const s = stream();
    const whole = run([s]);
    expect(whole).toMatchObject({ accepted: 6, rejected: 1, frames: 6 });
    for (let k = 0; k <= s.length; k++) {
      const got = run([s.subarray(0, k), s.subarray(k)]);
      expect(got.accepted).toBe(6);
      expect(got.rejected).toBe(1);
      expect(got.frames).toBe(6);
      expect(got.reply.equals(whole.reply)).toBe(true);
    }
  });

  it('gives the same result fed one byte at a time', () => {
    const s = stream();
    const whole = run([s]);
    const bytewise = run(Array.from({ length: s.length }, (_, i) => s.subarray(i, i + 1)));
    expect(bytewise.reply.equals(whole.reply)).toBe(true);
    expect(bytewise.accepted).toBe(6);
  });

  it('keeps a large (1 MiB) frame across chunks', () => {
    const e = newEngine({ dueEveryEvents: 1_000_000 });
    const c = connect(e);
    const events = Array.from({ length: 250 }, (_, i) => fsEvent({ ts: T0, pid: 2, op: 'write', path: `/big/${i}`, sample: new Uint8Array(4000) }));
    const enc = encodeEventBatches(events, 1, MAX_PAYLOAD);
    expect(enc.frames).toBe(1);
    let accepted = 0;
    for (let at = 0; at < enc.bytes.length; at += 65536) accepted += e.ingest(c, enc.bytes.subarray(at, at + 65536)).accepted;
    expect(accepted).toBe(250);
  });
});

describe('header helpers', () => {
  it('writeHeader round-trips through the native reader', () => {
    const e = newEngine();
    const c = connect(e);
    const b = Buffer.alloc(HEADER_SIZE + 4);
    writeHeader(b, 0, FrameType.EventBatch, 4, 7);
    const r = e.ingest(c, b);
    expect(replyFrames(r)).toEqual([{ type: 'batch_ack', seq: 7, accepted: 0, rejected: 0 }]);
  });
});
