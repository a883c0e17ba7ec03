/**
 * Verdict barrier in the native engine (docs/protocol.md "Verdict barrier"): the BARRIER role,
 * BARRIER frames (subjects made due, seq returned to the caller), malformed and ungranted frames,
 * and the hold set listed (HOLD action) only in state pushes for barrier clients.
 */
import { describe, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import { Action, FrameType, Role, encodeFrame } from '../../src/protocol/index.js';
import { at, connect, newEngine, replyFrames, sendEvents } from './helpers.js';

function barrier(seq: number, procs: { pid: number; start: bigint }[]): Buffer {
  const p = Buffer.alloc(4 + 16 * procs.length);
  p.writeUInt32LE(procs.length, 0);
  procs.forEach((x, i) => {
    p.writeUInt32LE(x.pid, 4 + i * 16);
    p.writeBigUInt64LE(x.start, 12 + i * 16);
  });
  return encodeFrame(FrameType.Barrier, p, seq);
}

function pushEntries(frame: Uint8Array) {
  const f = replyFrames({ reply: frame } as never)[0];
  if (!f || f.type !== 'state_push') throw new Error('not a state push');
  return f.entries;
}

describe('verdict barrier (engine)', () => {
  it('grants the role, makes the named process due at once, returns the seq; unknown process: seq only', () => {
    const e = newEngine({ dueEveryEvents: 1000 });
    const c = connect(e, Role.Events | Role.Acks | Role.Subscribe | Role.Barrier);
    sendEvents(e, c, [at(0, { pid: 500, op: 'read', path: '/h/a.txt', start: 7n }), at(1, { pid: 500, op: 'write', path: '/h/a.txt', start: 7n })]);
    expect(e.stats().dueSubjects).toBe(0);
    const r = e.ingest(c, barrier(77, [{ pid: 500, start: 7n }]));
    expect(r.barriers).toEqual([77]);
    expect(r.urgent).toBeGreaterThan(0);
    expect(e.stats().dueSubjects).toBeGreaterThan(0);
    const r2 = e.ingest(c, barrier(78, [{ pid: 999, start: 1n }]));
    expect(r2.barriers).toEqual([78]);
    expect(r2.urgent).toBe(0);
  });

  it('refuses BARRIER without the role and a malformed one, with no seq returned', () => {
    const e = newEngine();
    const c = connect(e, Role.Events | Role.Acks);
    const r = e.ingest(c, barrier(5, [{ pid: 1, start: 1n }]));
    expect(r.barriers).toBeUndefined();
    expect(r.errors).toEqual({ 8: 1 });
    const b = connect(e, Role.Events | Role.Barrier);
    const bad = e.ingest(b, encodeFrame(FrameType.Barrier, Buffer.alloc(4), 6)); // count 0
    expect(bad.barriers).toBeUndefined();
    expect(bad.errors).toEqual({ 5: 1 });
  });

  it('lists Monitoring processes with HOLD only for barrier clients; deny entries for everyone', () => {
    const e = newEngine();
    const plain = connect(e, Role.Events | Role.Subscribe);
    sendEvents(e, plain, [at(0, { pid: 600, op: 'write', path: '/h/x', start: 3n })]);
    const n = e.stats().subjectsCreated;
    const proc = e.subjectInfo(new Uint32Array(Array.from({ length: n }, (_, i) => i + 1))).find((i) => i?.kind === 'process' && i.pid === 600);
    if (!proc) throw new Error('no process 600');
    // No barrier client yet: Monitoring changes nothing on the wire.
    expect(e.setStates(new Uint32Array([proc.id]), new Uint8Array([1]))).toBe(false);
    const b = e.openConnection(0);
    const hello = e.ingest(b, encodeFrame(FrameType.Hello, helloPayload(Role.Subscribe | Role.Barrier), 1));
    expect(hello.hello?.roles).toBe(Role.Subscribe | Role.Barrier);
    // The HELLO_ACK's state push to the barrier client already has the hold entry.
    const frames = replyFrames(hello);
    expect(frames[1]).toMatchObject({ type: 'state_push', entries: [{ pid: 600, state: 1, actions: Action.Hold, start: 3n }] });
    expect(pushEntries(e.encodeStatePush(2))).toEqual([]);
    expect(e.setStates(new Uint32Array([proc.id]), new Uint8Array([2]))).toBe(true);
    expect(pushEntries(e.encodeStatePush(3, true))).toEqual([{ pid: 600, state: 2, actions: Action.DenyMutate, start: 3n }]);
    expect(e.setStates(new Uint32Array([proc.id]), new Uint8Array([0]))).toBe(true);
    expect(pushEntries(e.encodeStatePush(4, true))).toEqual([]);
    e.closeConnection(b);
  });
});

function helloPayload(roles: number): Buffer {
  const name = Buffer.from('t');
  const p = Buffer.alloc(14 + name.length);
  p.writeUInt16LE(1, 0);
  p.writeUInt16LE(1, 2);
  p.writeUInt32LE(roles, 4);
  p.writeUInt32LE(1, 8);
  p.writeUInt16LE(name.length, 12);
  name.copy(p, 14);
  return p;
}
