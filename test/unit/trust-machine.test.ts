import { describe, expect, it } from 'vitest';
import { DEFAULT_TRUST_POLICY, TrustMachine, type TrustPolicy } from '../../src/state/trust-machine.js';
import { SentinelError } from '../../src/errors.js';

function expectConfigError(p: Partial<TrustPolicy>, match: RegExp): void {
  let caught: unknown;
  try {
    new TrustMachine(p);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(SentinelError);
  expect((caught as SentinelError).code).toBe('SENTINEL_E_CONFIG');
  expect((caught as SentinelError).message).toMatch(match);
}

describe('TrustMachine escalation', () => {
  it('enters Monitoring on one observation at enter[0] (confirmations 1)', () => {
    const m = new TrustMachine();
    expect(m.observe(1, 0.49, 0)).toBeNull();
    expect(m.state(1)).toBe(0);
    expect(m.observe(1, 0.5, 10)).toEqual({ subjectId: 1, from: 0, to: 1, score: 0.5, atMs: 10, reason: 'escalate' });
    expect(m.state(1)).toBe(1);
  });

  it('needs 2 consecutive observations for Restricted and 3 for Lockdown', () => {
    const m = new TrustMachine();
    expect(m.observe(1, 0.8, 0)?.to).toBe(1); // c1=1 ≥1, c2=1 <2
    expect(m.observe(1, 0.8, 1)?.to).toBe(2); // c2=2
    expect(m.observe(1, 0.95, 2)).toBeNull(); // c3=1
    expect(m.observe(1, 0.95, 3)).toBeNull(); // c3=2
    const t = m.observe(1, 0.95, 4); // c3=3
    expect(t).toEqual({ subjectId: 1, from: 2, to: 3, score: 0.95, atMs: 4, reason: 'escalate' });
  });

  it('one score standing for several observations counts them all', () => {
    const m = new TrustMachine();
    expect(m.observe(1, 0.8, 0, 2)?.to).toBe(2); // c2 = 2 at once
    expect(m.observe(2, 0.95, 0, 3)?.to).toBe(3);
    expect(m.observe(3, 0.6, 0, 5)?.to).toBe(1); // below enter[1]: no Restricted however many
    expect(() => m.observe(4, 0.9, 0, 0)).toThrow(/observations must be an integer >= 1/);
    expect(() => m.observe(4, 0.9, 0, 1.5)).toThrow(/observations must be an integer >= 1/);
  });

  it('an observation below enter[L] resets that level counter only', () => {
    const m = new TrustMachine();
    m.observe(1, 0.8, 0); // Monitoring, c2=1
    expect(m.observe(1, 0.7, 1)).toBeNull(); // c2 reset (0.7 < 0.75), c1 continues
    expect(m.observe(1, 0.8, 2)).toBeNull(); // c2=1
    expect(m.state(1)).toBe(1);
    expect(m.observe(1, 0.8, 3)?.to).toBe(2); // c2=2
  });

  it('skips levels when the higher counter is met in the same observation', () => {
    const m = new TrustMachine({ confirmations: [1, 1, 1] });
    expect(m.observe(7, 0.99, 5)).toEqual({ subjectId: 7, from: 0, to: 3, score: 0.99, atMs: 5, reason: 'escalate' });
  });

  it('skips from Normal to Restricted when Monitoring needs more confirmations than Restricted has', () => {
    const m = new TrustMachine({ confirmations: [3, 2, 3] });
    expect(m.observe(1, 0.8, 0)).toBeNull(); // c1=1, c2=1
    expect(m.observe(1, 0.8, 1)).toEqual({ subjectId: 1, from: 0, to: 2, score: 0.8, atMs: 1, reason: 'escalate' });
  });

  it('never de-escalates in observe', () => {
    const m = new TrustMachine({ confirmations: [1, 1, 1] });
    m.observe(1, 0.8, 0);
    expect(m.state(1)).toBe(2);
    expect(m.observe(1, 0, 1)).toBeNull();
    expect(m.state(1)).toBe(2);
  });

  it('keeps subjects independent', () => {
    const m = new TrustMachine();
    m.observe(1, 0.8, 0);
    m.observe(2, 0.8, 0);
    m.observe(1, 0.8, 1);
    expect(m.state(1)).toBe(2);
    expect(m.state(2)).toBe(1);
    expect(m.state(3)).toBe(0);
  });

  it('refuses scores outside [0, 1] and non-finite times', () => {
    const m = new TrustMachine();
    expect(() => m.observe(1, 1.5, 0)).toThrow(SentinelError);
    expect(() => m.observe(1, -0.1, 0)).toThrow(/\[0, 1\]/);
    expect(() => m.observe(1, Number.NaN, 0)).toThrow(SentinelError);
    expect(() => m.observe(1, 0.5, Number.POSITIVE_INFINITY)).toThrow(SentinelError);
    expect(m.size).toBe(0);
  });
});

describe('TrustMachine hysteresis and decay', () => {
  const policy = { decayMs: 1000 };

  it('a score between exit and enter holds the state indefinitely', () => {
    const m = new TrustMachine(policy);
    m.observe(1, 0.6, 0);
    for (let t = 100; t <= 10_000; t += 100) expect(m.observe(1, 0.4, t)).toBeNull(); // 0.35 ≤ 0.4 < 0.5
    expect(m.tickDecay(20_000)).toEqual([]);
    expect(m.state(1)).toBe(1);
  });

  it('steps down after decayMs continuously below exit, one level per decayMs', () => {
    const m = new TrustMachine({ ...policy, confirmations: [1, 1, 1], lockdownSticky: false });
    m.observe(1, 0.95, 0); // Lockdown
    expect(m.state(1)).toBe(3);
    m.observe(1, 0.1, 100); // timer starts at 100 (below exit[2] 0.8)
    expect(m.tickDecay(1099)).toEqual([]);
    expect(m.tickDecay(1100)).toEqual([{ subjectId: 1, from: 3, to: 2, score: 0.1, atMs: 1100, reason: 'decay' }]);
    // The new level's timer restarts at the step (last score 0.1 < exit[1] 0.6).
    expect(m.tickDecay(2099)).toEqual([]);
    expect(m.tickDecay(2100)).toEqual([{ subjectId: 1, from: 2, to: 1, score: 0.1, atMs: 2100, reason: 'decay' }]);
    expect(m.tickDecay(3100)).toEqual([{ subjectId: 1, from: 1, to: 0, score: 0.1, atMs: 3100, reason: 'decay' }]);
    expect(m.tickDecay(100_000)).toEqual([]);
    expect(m.state(1)).toBe(0);
  });

  it('steps at most one level per call even when long overdue', () => {
    const m = new TrustMachine({ ...policy, confirmations: [1, 1, 1] });
    m.observe(1, 0.8, 0); // Restricted
    m.observe(1, 0.0, 0);
    expect(m.tickDecay(50_000).map((t) => t.to)).toEqual([1]);
    expect(m.tickDecay(50_000)).toEqual([]);
    expect(m.tickDecay(51_000).map((t) => t.to)).toEqual([0]);
  });

  it('an observation at/above exit restarts the timer', () => {
    const m = new TrustMachine(policy);
    m.observe(1, 0.6, 0); // Monitoring
    m.observe(1, 0.2, 100); // timer from 100
    m.observe(1, 0.35, 900); // = exit[0] → timer stops
    expect(m.tickDecay(1200)).toEqual([]);
    m.observe(1, 0.2, 1000); // timer from 1000
    m.observe(1, 0.3, 1500); // still below: timer keeps running from 1000
    expect(m.tickDecay(1999)).toEqual([]);
    expect(m.tickDecay(2000)).toHaveLength(1);
  });

  it('after a step, a last score at/above the new exit stops the timer', () => {
    const m = new TrustMachine({ ...policy, confirmations: [1, 1, 1] });
    m.observe(1, 0.8, 0); // Restricted
    m.observe(1, 0.5, 0); // 0.5 < exit[1] 0.6: timer from 0
    expect(m.tickDecay(1000)[0]?.to).toBe(1);
    // At Monitoring, 0.5 ≥ exit[0] 0.35: no timer, state holds.
    expect(m.tickDecay(100_000)).toEqual([]);
    expect(m.state(1)).toBe(1);
  });

  it('escalating stops a running decay timer', () => {
    const m = new TrustMachine(policy);
    m.observe(1, 0.6, 0);
    m.observe(1, 0.1, 100);
    m.observe(1, 0.8, 500);
    m.observe(1, 0.8, 600); // Restricted
    expect(m.state(1)).toBe(2);
    expect(m.tickDecay(5000)).toEqual([]);
  });

  it('Lockdown is sticky by default and leaves only by reset', () => {
    const m = new TrustMachine({ ...policy, confirmations: [1, 1, 1] });
    m.observe(1, 0.99, 0);
    m.observe(1, 0, 1);
    expect(m.tickDecay(1e9)).toEqual([]);
    expect(m.state(1)).toBe(3);
    expect(m.reset(1, 5, 'alice')).toEqual({ subjectId: 1, from: 3, to: 0, score: 0, atMs: 5, reason: 'reset', by: 'alice' });
    expect(m.state(1)).toBe(0);
  });

  it('decay visits only subjects with a running timer', () => {
    const m = new TrustMachine(policy);
    for (let id = 0; id < 1000; id++) m.observe(id, 0.1, 0); // all Normal
    m.observe(5000, 0.6, 0);
    m.observe(5000, 0.1, 0);
    const out = m.tickDecay(1000);
    expect(out.map((t) => t.subjectId)).toEqual([5000]);
    expect(m.size).toBe(1001);
  });
});

describe('TrustMachine reset, force, forget, subjects', () => {
  it('reset clears counters', () => {
    const m = new TrustMachine();
    m.observe(1, 0.8, 0);
    m.observe(1, 0.8, 1); // Restricted, c2=2
    expect(m.reset(1, 2, 'op')?.to).toBe(0);
    // Counters start over: one 0.8 only reaches Monitoring again.
    expect(m.observe(1, 0.8, 3)?.to).toBe(1);
  });

  it('reset of a Normal or unknown subject returns null', () => {
    const m = new TrustMachine();
    m.observe(1, 0.1, 0);
    expect(m.reset(1, 1, 'op')).toBeNull();
    expect(m.reset(99, 1, 'op')).toBeNull();
  });

  it('force sets a state with reason force and audits the operator', () => {
    const m = new TrustMachine();
    expect(m.force(4, 2, 10, 'bob')).toEqual({ subjectId: 4, from: 0, to: 2, score: 0, atMs: 10, reason: 'force', by: 'bob' });
    expect(m.force(4, 2, 11, 'bob')).toBeNull();
    expect(m.force(4, 0, 12, 'bob')?.reason).toBe('reset');
    expect(() => m.force(4, 5 as never, 13, 'bob')).toThrow(SentinelError);
  });

  it('forget drops a subject and its timer', () => {
    const m = new TrustMachine({ decayMs: 10 });
    m.observe(1, 0.6, 0);
    m.observe(1, 0.1, 0);
    m.forget(1);
    expect(m.state(1)).toBe(0);
    expect(m.size).toBe(0);
    expect(m.tickDecay(1000)).toEqual([]);
  });

  it('subjects lists every tracked subject with its state', () => {
    const m = new TrustMachine();
    m.observe(1, 0.6, 0);
    m.observe(2, 0.1, 0);
    expect([...m.subjects()].sort()).toEqual([[1, 1], [2, 0]]);
    expect(m.size).toBe(2);
  });
});

describe('TrustPolicy validation', () => {
  it('accepts and exposes the defaults', () => {
    expect(new TrustMachine().policy).toEqual(DEFAULT_TRUST_POLICY);
  });
  it('refuses thresholds outside (0, 1]', () => {
    expectConfigError({ enter: [0, 0.75, 0.92] }, /enter\[0\].*\(0, 1\]/);
    expectConfigError({ enter: [0.5, 0.75, 1.1] }, /enter\[2\]/);
    expectConfigError({ exit: [0, 0.6, 0.8] }, /exit\[0\]/);
    expectConfigError({ enter: [Number.NaN, 0.75, 0.92] }, /finite/);
  });
  it('refuses exit at or above enter', () => {
    expectConfigError({ exit: [0.5, 0.6, 0.8] }, /exit\[0\].*below enter\[0\]/);
    expectConfigError({ exit: [0.35, 0.6, 0.95] }, /exit\[2\]/);
  });
  it('refuses enter not strictly ascending', () => {
    expectConfigError({ enter: [0.5, 0.5, 0.92], exit: [0.35, 0.4, 0.8] }, /ascending/);
  });
  it('refuses confirmations that are not integers >= 1', () => {
    expectConfigError({ confirmations: [0, 2, 3] }, /confirmations\[0\]/);
    expectConfigError({ confirmations: [1, 1.5, 3] }, /confirmations\[1\]/);
  });
  it('refuses wrong shapes, decayMs and lockdownSticky', () => {
    expectConfigError({ enter: [0.5, 0.75] as unknown as [number, number, number] }, /array of 3/);
    expectConfigError({ decayMs: -1 }, /decayMs/);
    expectConfigError({ lockdownSticky: 'yes' as unknown as boolean }, /lockdownSticky/);
  });
});

describe('TrustMachine strong evidence (strongScore, strongWeight)', () => {
  it('defaults: one score >= 0.85 enters Restricted at once; 0.84 still needs two', () => {
    expect(DEFAULT_TRUST_POLICY.strongScore).toBe(0.85);
    expect(DEFAULT_TRUST_POLICY.strongWeight).toBe(2);
    const m = new TrustMachine();
    expect(m.observe(1, 0.85, 0)?.to).toBe(2);
    expect(m.observe(2, 0.84, 0)?.to).toBe(1);
    expect(m.observe(2, 0.84, 1)?.to).toBe(2);
  });

  it('does not speed up Lockdown: its counter adds one per observation', () => {
    const m = new TrustMachine();
    expect(m.observe(1, 0.99, 0)?.to).toBe(2); // c2 = 2, c3 = 1
    expect(m.observe(1, 0.99, 1)).toBeNull(); // c3 = 2
    expect(m.observe(1, 0.99, 2)?.to).toBe(3); // c3 = 3
  });

  it('multiplies a row standing for several observations, and resets like any counter', () => {
    const m = new TrustMachine({ confirmations: [1, 4, 3] });
    expect(m.observe(1, 0.9, 0, 2)?.to).toBe(2); // 2 observations x weight 2 = 4
    expect(m.observe(2, 0.9, 0)?.to).toBe(1); // c2 = 2
    expect(m.observe(2, 0.7, 1)).toBeNull(); // below enter[1]: c2 = 0
    expect(m.observe(2, 0.9, 2)).toBeNull(); // c2 = 2 again
    expect(m.observe(2, 0.9, 3)?.to).toBe(2); // c2 = 4
  });

  it('strongWeight 1 restores plain confirmations', () => {
    const m = new TrustMachine({ strongWeight: 1 });
    expect(m.observe(1, 0.99, 0)?.to).toBe(1);
    expect(m.observe(1, 0.99, 1)?.to).toBe(2);
  });

  it('validates strongScore and strongWeight', () => {
    expectConfigError({ strongScore: 0.7 }, /strongScore \(0.7\) must be >= enter\[1\]/);
    expectConfigError({ strongScore: 1.5 }, /strongScore must be in \(0, 1\]/);
    expectConfigError({ strongWeight: 0 }, /strongWeight must be an integer >= 1/);
    expectConfigError({ strongWeight: 1.5 }, /strongWeight must be an integer >= 1/);
    expect(new TrustMachine({ strongScore: 1, strongWeight: 3 }).policy).toMatchObject({ strongScore: 1, strongWeight: 3 });
  });
});
