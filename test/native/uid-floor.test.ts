// Engine.setUidFloor: the user-session subject holds its user's own processes at its state. Only
// processes of that uid are affected, new ones too, and Normal lifts the floor.
import { describe, expect, it } from 'vitest';
import { fsEvent } from '../../src/protocol/index.js';
import { connect, newEngine, sendEvents } from './helpers.js';

describe('uid floor', () => {
  it('raises the effective state of every process of the uid, and only those', () => {
    const e = newEngine();
    const conn = connect(e);
    const ts = 1_700_000_000_000_000_000n;
    sendEvents(e, conn, [
      fsEvent({ pid: 100, uid: 1000, op: 'open', path: '/home/a/x', ts, start: 1n }),
      fsEvent({ pid: 200, uid: 1001, op: 'open', path: '/home/b/y', ts, start: 2n }),
    ]);
    expect(e.verdict(100, 1)).toBe(0);
    expect(e.setUidFloor(1000, 2)).toBe(true); // the deny set changed
    expect(e.verdict(100, 1)).toBe(2);
    expect(e.verdict(200, 2)).toBe(0);
    // A process of that user first seen after the floor was set is covered as well.
    sendEvents(e, conn, [fsEvent({ pid: 101, uid: 1000, op: 'open', path: '/home/a/z', ts: ts + 1000n, start: 3n })], 101);
    expect(e.verdict(101, 3)).toBe(2);
    expect(e.setUidFloor(1000, 3)).toBe(true);
    expect(e.verdict(100, 1)).toBe(3);
    expect(e.setUidFloor(1000, 3)).toBe(false); // no change
    expect(e.setUidFloor(1000, 0)).toBe(true);
    expect(e.verdict(100, 1)).toBe(0);
    expect(e.verdict(101, 3)).toBe(0);
  });

  it('rejects bad arguments', () => {
    const e = newEngine();
    expect(() => e.setUidFloor(-1, 2)).toThrow(RangeError);
    expect(() => e.setUidFloor(1, 4)).toThrow(RangeError);
    expect(() => e.setUidFloor('1' as never, 2)).toThrow(TypeError);
  });
});
