/**
 * Trust policy: the thresholds, confirmations and timing that drive the trust state machine,
 * its defaults, and its validation.
 *
 * Synchronous and pure. `resolveTrustPolicy` returns a fresh, frozen policy object (the caller's
 * input is copied, never kept) and throws `SentinelError('SENTINEL_E_CONFIG')` naming the first
 * invalid field.
 *
 * Index convention: `enter[i]`, `exit[i]` and `confirmations[i]` belong to level `i + 1`
 * (0 → Monitoring, 1 → Restricted, 2 → Lockdown).
 */
import { SentinelError } from '../errors.js';

/** 0 Normal, 1 Monitoring, 2 Restricted, 3 Lockdown (the wire values of docs/protocol.md). */
export type TrustState = 0 | 1 | 2 | 3;

export interface TrustPolicy {
  /** Score to enter Monitoring, Restricted, Lockdown. */
  enter: [number, number, number];
  /** Hysteresis: score below which a level may decay. */
  exit: [number, number, number];
  /** Consecutive observations at/above enter[L] needed to reach level L. */
  confirmations: [number, number, number];
  /** Time continuously below exit[current] before stepping down one level. */
  decayMs: number;
  /** Lockdown leaves only by operator reset. */
  lockdownSticky: boolean;
  /**
   * Strong evidence: an observation with score >= strongScore counts as `strongWeight`
   * observations toward Monitoring and Restricted (not Lockdown, which is sticky and refuses
   * everything: it keeps its own confirmations). With the defaults (0.85, 2) a single score
   * at or above 0.85 enters Restricted at once. strongWeight 1 turns this off. Must be
   * >= enter[1] (Restricted).
   */
  strongScore: number;
  strongWeight: number;
}

export const DEFAULT_TRUST_POLICY: Readonly<TrustPolicy> = Object.freeze<TrustPolicy>({
  enter: [0.5, 0.75, 0.92],
  exit: [0.35, 0.6, 0.8],
  confirmations: [1, 2, 3],
  decayMs: 60_000,
  lockdownSticky: true,
  strongScore: 0.85,
  strongWeight: 2,
});

const LEVEL_NAMES = ['Monitoring', 'Restricted', 'Lockdown'] as const;

function fail(message: string): never {
  throw new SentinelError('SENTINEL_E_CONFIG', `trust policy: ${message}`);
}

function triple(name: string, v: unknown): [number, number, number] {
  if (!Array.isArray(v) || v.length !== 3) fail(`${name} must be an array of 3 numbers`);
  const out = v.map((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) fail(`${name}[${i}] must be a finite number, got ${String(x)}`);
    return x;
  });
  return [out[0] as number, out[1] as number, out[2] as number];
}

/** Defaults overlaid with `partial`, validated. */
export function resolveTrustPolicy(partial: Partial<TrustPolicy> = {}): Readonly<TrustPolicy> {
  const enter = triple('enter', partial.enter ?? DEFAULT_TRUST_POLICY.enter);
  const exit = triple('exit', partial.exit ?? DEFAULT_TRUST_POLICY.exit);
  const confirmations = triple('confirmations', partial.confirmations ?? DEFAULT_TRUST_POLICY.confirmations);
  const decayMs = partial.decayMs ?? DEFAULT_TRUST_POLICY.decayMs;
  const lockdownSticky = partial.lockdownSticky ?? DEFAULT_TRUST_POLICY.lockdownSticky;
  const strongScore = partial.strongScore ?? DEFAULT_TRUST_POLICY.strongScore;
  const strongWeight = partial.strongWeight ?? DEFAULT_TRUST_POLICY.strongWeight;

  for (let i = 0; i < 3; i++) {
    const lvl = LEVEL_NAMES[i] as string;
    const en = enter[i] as number;
    const ex = exit[i] as number;
    const c = confirmations[i] as number;
    if (!(en > 0 && en <= 1)) fail(`enter[${i}] (${lvl}) must be in (0, 1], got ${en}`);
    if (!(ex > 0 && ex <= 1)) fail(`exit[${i}] (${lvl}) must be in (0, 1], got ${ex}`);
    if (!(ex < en)) fail(`exit[${i}] (${ex}) must be below enter[${i}] (${en}) for ${lvl}`);
    if (!Number.isInteger(c) || c < 1) fail(`confirmations[${i}] (${lvl}) must be an integer >= 1, got ${c}`);
    if (i > 0 && !(en > (enter[i - 1] as number))) fail(`enter must be strictly ascending, but enter[${i}] (${en}) <= enter[${i - 1}] (${enter[i - 1]})`);
  }
  if (typeof decayMs !== 'number' || !Number.isFinite(decayMs) || decayMs < 0) fail(`decayMs must be a finite number >= 0, got ${String(decayMs)}`);
  if (typeof lockdownSticky !== 'boolean') fail(`lockdownSticky must be a boolean, got ${String(lockdownSticky)}`);
  if (typeof strongScore !== 'number' || !(strongScore > 0 && strongScore <= 1)) fail(`strongScore must be in (0, 1], got ${String(strongScore)}`);
  if (!(strongScore >= enter[1])) fail(`strongScore (${strongScore}) must be >= enter[1] (${enter[1]}, Restricted)`);
  if (typeof strongWeight !== 'number' || !Number.isInteger(strongWeight) || strongWeight < 1) fail(`strongWeight must be an integer >= 1, got ${String(strongWeight)}`);

  return Object.freeze({
    enter: Object.freeze(enter) as [number, number, number],
    exit: Object.freeze(exit) as [number, number, number],
    confirmations: Object.freeze(confirmations) as [number, number, number],
    decayMs,
    lockdownSticky,
    strongScore,
    strongWeight,
  });
}
