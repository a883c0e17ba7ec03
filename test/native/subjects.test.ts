import { META_STRIDE } from '../../src/binding.js';
import { describe, expect, it } from 'vitest';
import { FrameReader, Role, encodeHello, type ServerFrame } from '../../src/protocol/index.js';
import { at, collect, connect, feat, newEngine, processRow, replyFrames, sendEvents, type DueRow } from './helpers.js';

function ids(e: ReturnType<typeof newEngine>, n: number): Uint32Array {
  return new Uint32Array(Array.from({ length: n }, (_, i) => i + 1));
}

function findProcess(e: ReturnType<typeof newEngine>, pid: number, start = 0): number {
  const info = e.subjectInfo(ids(e, e.stats().subjectsCreated)).find((i) => i?.kind === 'process' && i.pid === pid && i.startTime === start);
  if (!info) throw new Error(`no process ${pid}/${start}`);
  return info.id;
}

function decodePush(b: Uint8Array): Extract<ServerFrame, { type: 'state_push' }> {
  const f = new FrameReader().push(Buffer.from(b));
  expect(f).toHaveLength(1);
  expect(f[0]?.type).toBe('state_push');
  return f[0] as Extract<ServerFrame, { type: 'state_push' }>;
}

describe('subjects', () => {
  it('PID reuse with a new start time is a new subject', () => {
    const e = newEngine();
    const c = connect(e);
    sendEvents(e, c, [at(0, { pid: 77, ppid: 70, start: 1000n, op: 'write', path: '/a' }), at(1, { pid: 77, ppid: 70, start: 2000n, op: 'write', path: '/b' }), at(2, { pid: 77, ppid: 70, start: 1000n, op: 'read', path: '/c' })]);
    const a = findProcess(e, 77, 1000);
    const b = findProcess(e, 77, 2000);
    expect(a).not.toBe(b);
    expect(b).toBeGreaterThan(a);
    const [ia, ib] = e.subjectInfo(new Uint32Array([a, b]));
    expect(ia?.events).toBe(2);
    expect(ib?.events).toBe(1);
    expect(ia?.treeId).toBe(ib?.treeId);
    e.setStates(new Uint32Array([b]), new Uint8Array([2]));
    expect(e.verdict(77, 2000)).toBe(2);
    expect(e.verdict(77, 1000)).toBe(0);
    expect(e.verdict(77, 3000)).toBe(0);
    expect(e.verdict(77, 2000n as unknown as number)).toBe(2);
  });

  it('a tree subject (sid) aggregates its processes, including read-by-one / overwrite-by-another', () => {
    const e = newEngine();
    const c = connect(e);
    sendEvents(e, c, [
      at(0, { pid: 81, sid: 500, op: 'read', path: '/home/u/a.docx' }),
      at(1, { pid: 81, sid: 500, op: 'read', path: '/home/u/b.docx' }),
      at(2, { pid: 82, sid: 500, op: 'write', path: '/home/u/a.docx', entropy: 7.9 }),
      at(3, { pid: 82, sid: 500, op: 'write', path: '/home/u/b.docx', entropy: 7.9 }),
      at(4, { pid: 82, sid: 500, op: 'write', path: '/home/u/c.docx', entropy: 7.9 }),
    ]);
    const rows = collect(e);
    const tree = rows.filter((r) => r.info.kind === 'tree').pop() as DueRow;
    expect(tree.info).toMatchObject({ kind: 'tree', sid: 500, events: 5, treeId: 0 });
    expect(feat(tree, 'w1s.ops')).toBe(5);
    expect(feat(tree, 'w1s.read_then_overwrite')).toBe(2);
    expect(feat(processRow(rows, 81), 'w1s.ops')).toBe(2);
    expect(feat(processRow(rows, 82), 'w1s.ops')).toBe(3);
    expect(feat(processRow(rows, 82), 'w1s.read_then_overwrite')).toBe(0);
    expect(processRow(rows, 81).info.treeId).toBe(tree.id);
  });

  it('without a sid the tree is keyed by ppid', () => {
    const e = newEngine();
    const c = connect(e);
    sendEvents(e, c, [at(0, { pid: 91, ppid: 90, op: 'read', path: '/x' }), at(1, { pid: 92, ppid: 90, op: 'read', path: '/y' }), at(2, { pid: 93, ppid: 95, op: 'read', path: '/z' })]);
    const info = e.subjectInfo(ids(e, 5));
    const t91 = info.find((i) => i?.pid === 91)?.treeId;
    expect(info.find((i) => i?.pid === 92)?.treeId).toBe(t91);
    expect(info.find((i) => i?.pid === 93)?.treeId).not.toBe(t91);
    expect(info.filter((i) => i?.kind === 'tree').map((i) => i?.ppid).sort()).toEqual([90, 95]);
    expect(e.stats().subjectsLive).toBe(5);
  });

  it('a child of init or a reaper (ppid <= 1, no sid) is the root of its own tree', () => {
    const e = newEngine();
    const c = connect(e);
    sendEvents(e, c, [at(0, { pid: 61, ppid: 1, op: 'read', path: '/x' }), at(1, { pid: 62, ppid: 1, op: 'read', path: '/y' }), at(2, { pid: 63, ppid: 0, start: 5n, op: 'read', path: '/z' })]);
    const info = e.subjectInfo(ids(e, 6));
    const trees = new Set(info.filter((i) => i?.kind === 'process').map((i) => i?.treeId));
    expect(trees.size).toBe(3);
    expect(info.filter((i) => i?.kind === 'tree').map((i) => i?.pid).sort()).toEqual([61, 62, 63]);
  });

  it('stays within maxSubjects, evicting least recently active Normal subjects; ids are never reused', () => {
    const e = newEngine({ maxSubjects: 8, dueEveryEvents: 1000 });
    const c = connect(e);
    sendEvents(e, c, [at(0, { pid: 1000, ppid: 7, op: 'write', path: '/keep' })]);
    const kept = findProcess(e, 1000);
    e.setStates(new Uint32Array([kept]), new Uint8Array([1])); // Monitoring: not evictable
    for (let i = 1; i <= 30; i++) {
      sendEvents(e, c, [at(i, { pid: 1000 + i, ppid: 7, op: 'write', path: `/f/${i}` })]);
      expect(e.stats().subjectsLive).toBeLessThanOrEqual(8);
    }
    const s = e.stats();
    expect(s.subjectsCreated).toBe(32); // 31 processes + 1 tree
    expect(s.subjectsLive).toBe(8);
    expect(s.subjectsEvicted).toBe(24);
    expect(s.eventsDroppedNoSubject).toBe(0);
    const ev = Array.from(e.takeEvicted());
    expect(ev).toHaveLength(24);
    expect(new Set(ev).size).toBe(24);
    expect(ev).not.toContain(kept);
    expect(e.takeEvicted()).toHaveLength(0);
    expect(e.subjectInfo(new Uint32Array([kept]))[0]?.pid).toBe(1000);
    expect(e.subjectInfo(new Uint32Array([ev[0] as number]))[0]).toBeNull();
    // The oldest went first: the evicted ids are the earliest processes in order.
    expect(ev).toEqual([...ev].sort((a, b) => a - b));
    // A returning evicted process gets a new, larger id.
    sendEvents(e, c, [at(100, { pid: 1001, ppid: 7, op: 'read', path: '/again' })]);
    expect(findProcess(e, 1001)).toBeGreaterThan(32);
    expect(s.tableBytes).toBeGreaterThan(0);
  });

  it('10,000 live subjects: about 6 KB each, far below 150 MB', () => {
    const before = process.memoryUsage().rss;
    const e = newEngine({ maxSubjects: 10_000, dueEveryEvents: 1_000_000, dueEveryMs: 1e9 });
    const c = connect(e);
    for (let part = 0; part < 9; part++) {
      const evs = [];
      for (let i = part * 1000; i < (part + 1) * 1000; i++)
        for (let k = 0; k < 3; k++) evs.push(at(i * 0.01 + k, { pid: 10_000 + i, sid: 1 + (i % 1000), op: 'write', path: `/m/${i % 50}/f${k}.txt`, entropy: 5 }));
      expect(sendEvents(e, c, evs, part * 100).accepted).toBe(3000);
    }
    const s = e.stats();
    expect(s.subjectsLive).toBe(10_000);
    expect(s.subjectsEvicted).toBe(0);
    expect(s.tableBytes / s.subjectsLive).toBeLessThan(8192);
    expect(process.memoryUsage().rss - before).toBeLessThan(150 * 2 ** 20);
  });

  it('counts events that cannot get a subject when nothing is evictable', () => {
    const e = newEngine({ maxSubjects: 2 });
    const c = connect(e);
    sendEvents(e, c, [at(0, { pid: 5, ppid: 7, op: 'write', path: '/a' })]);
    e.setStates(new Uint32Array([findProcess(e, 5)]), new Uint8Array([2]));
    const res = sendEvents(e, c, [at(1, { pid: 6, ppid: 7, op: 'write', path: '/b' })]);
    expect(res.accepted).toBe(1);
    expect(e.stats()).toMatchObject({ subjectsLive: 2, eventsDroppedNoSubject: 1, subjectsEvicted: 0 });
  });

  it('due after dueEveryEvents events, after dueEveryMs of event time, and cleared by collectDue', () => {
    const e = newEngine({ dueEveryEvents: 3, dueEveryMs: 500 });
    const c = connect(e);
    sendEvents(e, c, [at(0, { pid: 7, op: 'read', path: '/a' }), at(100, { pid: 7, op: 'read', path: '/a' })]);
    expect(e.stats().dueSubjects).toBe(0);
    sendEvents(e, c, [at(200, { pid: 7, op: 'read', path: '/a' })]);
    expect(e.stats().dueSubjects).toBe(2);
    const first = collect(e);
    expect(first).toHaveLength(2);
    expect(first.map((r) => r.eventsSinceScored)).toEqual([3, 3]);
    expect(e.stats().dueSubjects).toBe(0);
    sendEvents(e, c, [at(650, { pid: 7, op: 'read', path: '/a' })]);
    expect(e.stats().dueSubjects).toBe(0); // 450 ms since scored
    sendEvents(e, c, [at(701, { pid: 7, op: 'read', path: '/a' })]);
    expect(e.stats().dueSubjects).toBe(2); // 501 ms since scored (2 events)
    // collectDue fills at most ids.length and keeps the rest due.
    const one = new Uint32Array(1);
    expect(e.collectDue(one, new Float32Array(1000), new Float32Array(100), new Float64Array(META_STRIDE))).toBe(1);
    expect(e.stats().dueSubjects).toBe(1);
  });

  it('due at once when the heuristic score crosses triggerScore', () => {
    const e = newEngine({ dueEveryEvents: 10_000, dueEveryMs: 1e9, triggerScore: 0.5 });
    const c = connect(e);
    let dueAt = -1;
    for (let i = 0; i < 10 && dueAt < 0; i++) {
      sendEvents(e, c, [
        at(i * 30, { pid: 8, op: 'read', path: `/v/${i}.docx` }),
        at(i * 30 + 10, { pid: 8, op: 'write', path: `/v/${i}.docx`, entropy: 7.99 }),
        at(i * 30 + 20, { pid: 8, op: 'rename', path: `/v/${i}.docx`, path2: `/v/${i}.docx.qqx` }),
      ]);
      if (e.stats().dueSubjects > 0) dueAt = i;
    }
    expect(dueAt).toBeGreaterThanOrEqual(0);
    expect(dueAt).toBeLessThan(3);
    const r = processRow(collect(e), 8);
    expect(r.score).toBeGreaterThanOrEqual(0.5);
  });
});

describe('states, verdicts and state push', () => {
  it('an implicated process takes its tree state; the deny set is effective >= Restricted', () => {
    const e = newEngine();
    const c = connect(e);
    sendEvents(e, c, [at(0, { pid: 201, sid: 9, start: 11n, op: 'read', path: '/a' }), at(1, { pid: 202, sid: 9, start: 12n, op: 'read', path: '/b' }), at(2, { pid: 300, sid: 10, op: 'read', path: '/c' })]);
    const p201 = findProcess(e, 201, 11);
    const tree9 = e.subjectInfo(new Uint32Array([p201]))[0]?.treeId as number;
    const p300 = findProcess(e, 300);

    expect(e.setStates(new Uint32Array([p300]), new Uint8Array([1]))).toBe(false); // Monitoring: not in the deny set
    expect(e.verdict(300, 0)).toBe(1);
    expect(e.stats().denySetGeneration).toBe(0);

    // A Restricted tree does not touch members that are not implicated themselves (score 0, Normal).
    expect(e.setStates(new Uint32Array([tree9]), new Uint8Array([2]))).toBe(false);
    expect(e.verdict(201, 11)).toBe(0);
    expect(e.verdict(202, 12)).toBe(0);
    expect(e.stats().denySetGeneration).toBe(0);
    // Once a member is itself in Monitoring it takes the tree's Restricted.
    const p202 = findProcess(e, 202, 12);
    expect(e.setStates(new Uint32Array([p201, p202]), new Uint8Array([1, 1]))).toBe(true);
    expect(e.verdict(201, 11)).toBe(2);
    expect(e.verdict(202, 12)).toBe(2);
    expect(e.verdict(201, 12)).toBe(0);
    expect(e.stats().denySetGeneration).toBe(1);
    expect(e.setStates(new Uint32Array([tree9]), new Uint8Array([2]))).toBe(false);

    let push = decodePush(e.encodeStatePush(5));
    expect(push.seq).toBe(5);
    expect(push.generation).toBe(1n);
    expect(push.entries).toEqual([
      { pid: 201, state: 2, actions: 1, start: 11n },
      { pid: 202, state: 2, actions: 1, start: 12n },
    ]);

    expect(e.setStates(new Uint32Array([p201]), new Uint8Array([3]))).toBe(true);
    push = decodePush(e.encodeStatePush(6));
    expect(push.generation).toBe(2n);
    expect(push.entries[0]).toEqual({ pid: 201, state: 3, actions: 3, start: 11n });

    // A subscriber gets the snapshot right after HELLO_ACK.
    const sub = e.openConnection(0);
    const f = replyFrames(e.ingest(sub, encodeHello(1, Role.Subscribe, 1, 'fuse')));
    expect(f.map((x) => x.type)).toEqual(['hello_ack', 'state_push']);
    expect((f[1] as Extract<ServerFrame, { type: 'state_push' }>).entries).toHaveLength(2);

    expect(e.setStates(new Uint32Array([tree9, p201, p202]), new Uint8Array([0, 0, 0]))).toBe(true);
    expect(decodePush(e.encodeStatePush(7)).entries).toEqual([]);
    expect(e.stats().denySetGeneration).toBe(3);
    // Unknown ids are ignored.
    expect(e.setStates(new Uint32Array([99999]), new Uint8Array([3]))).toBe(false);
  });
});
