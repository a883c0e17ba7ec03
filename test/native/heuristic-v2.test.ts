/**
 * heuristic-v2 / fs-features-v2: high_entropy_overwrite, rare_ext_renames, numeric extensions
 * as common, and the sibling rule of tree-state inheritance (engine.cc effectiveState).
 */
import { describe, expect, it } from 'vitest';
import { at, collect, connect, feat, newEngine, processRow, sendEvents } from './helpers.js';

function findProcess(e: ReturnType<typeof newEngine>, pid: number): number {
  const n = e.stats().subjectsCreated;
  const info = e.subjectInfo(new Uint32Array(Array.from({ length: n }, (_, i) => i + 1))).find((i) => i?.kind === 'process' && i.pid === pid);
  if (!info) throw new Error(`no process ${pid}`);
  return info.id;
}

describe('fs-features-v2', () => {
  it('high_entropy_overwrite needs the high-entropy bytes on the file that was read, once per path', () => {
    const e = newEngine();
    const c = connect(e);
    sendEvents(e, c, [
      // npm-like: one config file read and rewritten with text, compressed files written elsewhere
      at(0, { pid: 10, op: 'read', path: '/p/package.json', entropy: 4.5 }),
      at(1, { pid: 10, op: 'write', path: '/p/package.json', entropy: 4.6 }),
      at(2, { pid: 10, op: 'write', path: '/p/node_modules/a.png', entropy: 7.9 }),
      at(3, { pid: 10, op: 'write', path: '/p/node_modules/b.png', entropy: 7.9 }),
      // ransomware-like: read then overwrite the same file with ciphertext (twice: counted once)
      at(4, { pid: 11, op: 'read', path: '/h/a.docx', entropy: 5 }),
      at(5, { pid: 11, op: 'write', path: '/h/a.docx', entropy: 7.99 }),
      at(6, { pid: 11, op: 'write', path: '/h/a.docx', entropy: 7.99 }),
      at(7, { pid: 11, op: 'read', path: '/h/b.docx', entropy: 5 }),
      at(8, { pid: 11, op: 'write', path: '/h/b.docx', entropy: 7.99 }),
    ]);
    const rows = collect(e);
    const npm = processRow(rows, 10);
    expect(feat(npm, 'w10s.read_then_overwrite')).toBe(1);
    expect(feat(npm, 'w10s.high_entropy_writes')).toBe(2);
    expect(feat(npm, 'w10s.high_entropy_overwrite')).toBe(0);
    expect(npm.contrib[0]).toBe(0); // overwrite_entropy: v1 gave 2 * min(1, 2) / 3
    const rw = processRow(rows, 11);
    expect(feat(rw, 'w10s.high_entropy_overwrite')).toBe(2);
    expect(rw.contrib[0]).toBeCloseTo((2.0 * 2) / 3, 5);
  });

  it('rare_ext_renames counts renames to a rare new extension, not temp files renamed to common names or numeric suffixes', () => {
    const e = newEngine();
    const c = connect(e);
    sendEvents(e, c, [
      // rsync: temp file with a random extension renamed to its final (common) name
      at(0, { pid: 20, op: 'create', path: '/b/.f1.c.Xa9QzT' }),
      at(1, { pid: 20, op: 'rename', path: '/b/.f1.c.Xa9QzT', path2: '/b/f1.c' }),
      at(2, { pid: 20, op: 'create', path: '/b/.f2.c.Yb8RwU' }),
      at(3, { pid: 20, op: 'rename', path: '/b/.f2.c.Yb8RwU', path2: '/b/f2.c' }),
      // log rotation: numeric suffixes are common
      at(4, { pid: 21, op: 'rename', path: '/l/app.log.1', path2: '/l/app.log.2' }),
      at(5, { pid: 21, op: 'rename', path: '/l/app.log', path2: '/l/app.log.1' }),
      // ransomware: a new rare extension
      at(6, { pid: 22, op: 'rename', path: '/h/a.pdf', path2: '/h/a.pdf.lockedq' }),
      at(7, { pid: 22, op: 'rename', path: '/h/b.pdf', path2: '/h/b.pdf.lockedq' }),
      at(8, { pid: 22, op: 'rename', path: '/h/c.lockedq', path2: '/h/d.lockedq' }), // same extension: not a change
    ]);
    const rows = collect(e);
    const rs = processRow(rows, 20);
    expect(feat(rs, 'w10s.ext_changes')).toBe(2);
    expect(feat(rs, 'w10s.rare_ext')).toBe(2); // the temp creates
    expect(feat(rs, 'w10s.rare_ext_renames')).toBe(0);
    const lr = processRow(rows, 21);
    expect(feat(lr, 'w10s.ext_changes')).toBe(2);
    expect(feat(lr, 'w10s.rare_ext')).toBe(0);
    expect(feat(lr, 'w10s.rare_ext_renames')).toBe(0);
    const rw = processRow(rows, 22);
    expect(feat(rw, 'w10s.rare_ext_renames')).toBe(2);
    expect(rw.contrib[2]).toBeCloseTo(2 / 3, 5); // rare_ext_change
  });
});

describe('tree-state inheritance by siblings', () => {
  it('a process takes its Restricted tree state when a sibling (same parent, same tree) is itself Restricted', () => {
    const e = newEngine();
    const c = connect(e);
    sendEvents(e, c, [
      at(0, { pid: 301, ppid: 300, sid: 50, op: 'read', path: '/a' }),
      at(1, { pid: 302, ppid: 300, sid: 50, op: 'read', path: '/b' }), // sibling of 301
      at(2, { pid: 303, ppid: 299, sid: 50, op: 'read', path: '/c' }), // same session, other parent
    ]);
    const p301 = findProcess(e, 301);
    const tree = e.subjectInfo(new Uint32Array([p301]))[0]?.treeId as number;
    expect(e.setStates(new Uint32Array([tree]), new Uint8Array([2]))).toBe(false);
    expect(e.verdict(302, 0)).toBe(0);
    // 301 itself Restricted: its sibling 302 takes the tree's state, 303 (other parent) does not.
    expect(e.setStates(new Uint32Array([p301]), new Uint8Array([2]))).toBe(true);
    expect(e.verdict(301, 0)).toBe(2);
    expect(e.verdict(302, 0)).toBe(2);
    expect(e.verdict(303, 0)).toBe(0);
    // Back to Normal: the sibling rule goes with it.
    e.setStates(new Uint32Array([p301]), new Uint8Array([0]));
    expect(e.verdict(302, 0)).toBe(0);
  });

  it('a new process in a Restricted tree is due at once (urgent), so the deny set is refreshed before its next events', () => {
    const e = newEngine({ dueEveryEvents: 1000, dueEveryMs: 1e9 });
    const c = connect(e);
    sendEvents(e, c, [at(0, { pid: 401, ppid: 400, sid: 60, op: 'read', path: '/a' })]);
    collect(e);
    const p401 = findProcess(e, 401);
    const tree = e.subjectInfo(new Uint32Array([p401]))[0]?.treeId as number;
    e.setStates(new Uint32Array([tree, p401]), new Uint8Array([2, 2]));
    const r = sendEvents(e, c, [at(1, { pid: 402, ppid: 400, sid: 60, op: 'read', path: '/b' })], 200);
    expect(r.urgent).toBe(1);
    const rows = collect(e);
    expect(rows.map((x) => x.info.pid)).toEqual([402]);
    e.setStates(new Uint32Array(0), new Uint8Array(0));
    expect(e.verdict(402, 0)).toBe(2);
    // Outside an enforced tree a new process is not due at once.
    expect(sendEvents(e, c, [at(2, { pid: 501, ppid: 500, sid: 61, op: 'read', path: '/c' })], 300).urgent).toBe(0);
  });
});
