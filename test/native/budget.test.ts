/**
 * The ingest budget: a call applies at most `ingestBudgetEvents` records; the rest of a batch
 * (and anything that arrives behind it) waits in the connection's backlog, in order, and the
 * result is exactly what an unbounded ingest gives.
 */
import { describe, expect, it } from 'vitest';
import { encodeEventBatches, encodeVerdictQuery, fsEvent, type FsEvent } from '../../src/protocol/index.js';
import { at, collect, connect, newEngine, replyFrames } from './helpers.js';

const EMPTY = new Uint8Array(0);

function events(n: number): FsEvent[] {
  return Array.from({ length: n }, (_, i) => at(i, { pid: 300 + (i % 3), ppid: 9, op: i % 4 === 0 ? 'rename' : 'write', path: `/d/f${i}.txt`, path2: i % 4 === 0 ? `/d/f${i}.enc` : '', entropy: 7.5, len: 4096n }));
}

describe('ingest budget', () => {
  it('suspends mid-batch, keeps later frames behind it in order, and resumes with empty chunks', () => {
    const e = newEngine({ ingestBudgetEvents: 10 });
    const c = connect(e);
    const batch = encodeEventBatches(events(25), 7).bytes;
    const query = encodeVerdictQuery(8, [{ pid: 300, start: 0n }]);
    const r1 = e.ingest(c, Buffer.concat([batch, query]));
    expect(r1).toMatchObject({ pending: true, accepted: 0, reply: null, frames: 1 });
    expect(e.stats().eventsAccepted).toBe(0);
    const r2 = e.ingest(c, EMPTY);
    expect(r2).toMatchObject({ pending: true, accepted: 0, frames: 0 });
    const r3 = e.ingest(c, EMPTY);
    expect(r3.pending).toBe(false);
    expect(r3.accepted).toBe(25);
    // The BATCH_ACK for seq 7 comes first, then the reply to the query that waited behind it.
    expect(replyFrames(r3).map((f) => [f.type, f.seq])).toEqual([['batch_ack', 7], ['verdict_reply', 8]]);
    expect(e.stats()).toMatchObject({ eventsAccepted: 25, framesIn: 3 });
  });

  it('queues bytes that arrive while a batch is suspended, including partial frames', () => {
    const e = newEngine({ ingestBudgetEvents: 4 });
    const c = connect(e);
    const bytes = Buffer.concat([encodeEventBatches(events(9), 1).bytes, encodeEventBatches(events(5), 2).bytes]);
    const cut = bytes.length - 20;
    let r = e.ingest(c, bytes.subarray(0, cut));
    expect(r.pending).toBe(true);
    const frames = replyFrames(r);
    r = e.ingest(c, bytes.subarray(cut)); // arrives while suspended
    frames.push(...replyFrames(r));
    while (r.pending) {
      r = e.ingest(c, EMPTY);
      frames.push(...replyFrames(r));
    }
    expect(frames.filter((f) => f.type === 'batch_ack').map((f) => (f.type === 'batch_ack' ? [f.seq, f.accepted] : []))).toEqual([[1, 9], [2, 5]]);
    expect(e.stats().eventsAccepted).toBe(14);
    expect(e.closeConnection(c)).toBe(0);
  });

  it('gives the same features and scores as an unbounded ingest', () => {
    const evs = events(200);
    const bytes = encodeEventBatches(evs, 1).bytes;
    const free = newEngine();
    free.ingest(connect(free), bytes);
    const bounded = newEngine({ ingestBudgetEvents: 7 });
    const c = connect(bounded);
    let r = bounded.ingest(c, bytes);
    let calls = 1;
    while (r.pending) {
      r = bounded.ingest(c, EMPTY);
      calls++;
    }
    expect(calls).toBe(Math.ceil(200 / 7));
    const a = collect(free).map((x) => [x.info.kind, x.info.pid, Array.from(x.row), x.score]);
    const b = collect(bounded).map((x) => [x.info.kind, x.info.pid, Array.from(x.row), x.score]);
    expect(b).toEqual(a);
  });

  it('bad records still count in a resumed batch', () => {
    const e = newEngine({ ingestBudgetEvents: 3 });
    const c = connect(e);
    const evs = events(8);
    evs[5] = fsEvent({ pid: 0, op: 'write', path: '/bad', ts: evs[5]!.ts });
    let r = e.ingest(c, encodeEventBatches(evs, 4).bytes);
    const frames = replyFrames(r);
    while (r.pending) {
      r = e.ingest(c, EMPTY);
      frames.push(...replyFrames(r));
    }
    expect(frames.map((f) => f.type)).toEqual(['error', 'batch_ack']);
    expect(frames[1]).toMatchObject({ accepted: 7, rejected: 1 });
    expect(frames[0]).toMatchObject({ name: 'SENTINEL_E_MALFORMED_EVENT', refSeq: 4 });
  });
});
