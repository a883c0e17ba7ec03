/**
 * Per-subject trust state machine: Normal(0) → Monitoring(1) → Restricted(2) → Lockdown(3).
 *
 * Contract
 * - Synchronous, single-owner: the scoring tick owns one instance; nothing here does I/O or keeps
 *   references to caller objects. Time is passed in (`nowMs`), never read from a clock, so the
 *   machine is deterministic.
 * - Throws `SentinelError('SENTINEL_E_CONFIG')` from the constructor for an invalid policy and
 *   `SentinelError('SENTINEL_E_INVALID_ARGUMENT')` for a score outside [0, 1] (or NaN) or a
 *   non-finite time. Nothing else throws.
 *
 * Confirmation counters (escalation)
 * - Each subject holds one counter per level L ∈ {1, 2, 3}: the number of CONSECUTIVE
 *   observations with score ≥ enter[L-1]. An observation below enter[L-1] resets that level's
 *   counter to 0. Because `enter` is ascending, counters are nested (c1 ≥ c2 ≥ c3).
 * - Strong evidence: an observation with score >= strongScore adds strongWeight (× its
 *   observations) to the Monitoring and Restricted counters (Lockdown's counter adds 1 ×), so
 *   a single very high score can enter Restricted without waiting for a second scoring round.
 * - After updating the counters, the target is the highest L with counter[L] ≥ confirmations[L-1].
 *   If the target is above the current state the subject moves there in one transition (levels
 *   may be skipped). `observe` never lowers the state.
 * - Counters keep running across transitions (they count observations, not time in a state) and
 *   are cleared by `reset` and `forget`.
 *
 * Decay (de-escalation), for a subject at level L ≥ 1
 * - The decay timer starts at the first observation with score < exit[L-1]; an observation with
 *   score ≥ exit[L-1] stops it (the next one below starts it afresh). A score between exit[L-1]
 *   and enter[L-1] therefore holds the state (hysteresis).
 * - `tickDecay(now)` steps a subject down ONE level when now − timerStart ≥ decayMs. After the
 *   step the subject is at L-1 since `now`: if its last score is below exit[L-2] the timer
 *   restarts at `now` (each level needs a full decayMs of its own), otherwise it stops.
 *   A subject steps at most one level per call.
 * - With `lockdownSticky`, Lockdown never decays (no timer is kept); only `reset` leaves it.
 * Operator actions
 * - `reset` returns the subject to Normal and clears its counters and timer.
 * - `force(id, to)` sets any state (up or down) as an operator decision: counters are cleared
 *   and the decay timer follows the last score against the new level, as after a decay step.
 *   Both return null when the state does not change.
 * - Cost: `tickDecay` visits only subjects whose timer is running, a subset of the subjects not
 *   in Normal, so it is O(subjects not in Normal).
 */
import { SentinelError } from '../errors.js';
import { resolveTrustPolicy, type TrustPolicy, type TrustState } from './policy.js';

export type { TrustPolicy, TrustState } from './policy.js';
export { DEFAULT_TRUST_POLICY, resolveTrustPolicy } from './policy.js';

export interface Transition {
  subjectId: number;
  from: TrustState;
  to: TrustState;
  /** The score that caused it (escalate), or the last observed score (decay, reset; 0 if none). */
  score: number;
  atMs: number;
  reason: 'escalate' | 'decay' | 'reset' | 'force';
  /** Operator identity, set for reasons 'reset' and 'force' only. */
  by?: string;
}

interface Subject {
  state: TrustState;
  /** Consecutive observations at/above enter[0], enter[1], enter[2]. */
  counts: [number, number, number];
  /** Start of the current below-exit stretch, or null when no timer runs. */
  belowSinceMs: number | null;
  lastScore: number;
}

function checkScore(score: number): void {
  if (typeof score !== 'number' || !(score >= 0 && score <= 1)) {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `trust score must be a number in [0, 1], got ${String(score)}`);
  }
}

function checkTime(nowMs: number): void {
  if (typeof nowMs !== 'number' || !Number.isFinite(nowMs)) {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `time must be a finite number of ms, got ${String(nowMs)}`);
  }
}

export class TrustMachine {
  readonly policy: Readonly<TrustPolicy>;
  private readonly table = new Map<number, Subject>();
  /** Subjects whose decay timer is running (always a subset of those not in Normal). */
  private readonly decaying = new Set<number>();

  constructor(policy?: Partial<TrustPolicy>) {
    this.policy = resolveTrustPolicy(policy);
  }

  /**
   * `observations` (integer ≥ 1) is how many scoring periods this score stands for: a row whose
   * events spanned several due points since the subject was last scored counts that many times,
   * so confirmations follow the events, not how often the tick happened to run.
   */
  observe(subjectId: number, score: number, nowMs: number, observations = 1): Transition | null {
    checkScore(score);
    checkTime(nowMs);
    if (!Number.isInteger(observations) || observations < 1) {
      throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `observations must be an integer >= 1, got ${String(observations)}`);
    }
    let s = this.table.get(subjectId);
    if (s === undefined) {
      s = { state: 0, counts: [0, 0, 0], belowSinceMs: null, lastScore: 0 };
      this.table.set(subjectId, s);
    }
    s.lastScore = score;

    const { enter, confirmations, strongScore, strongWeight } = this.policy;
    const strong = score >= strongScore ? strongWeight : 1;
    let target: TrustState = 0;
    for (let i = 0; i < 3; i++) {
      // Strong evidence counts strongWeight times toward Monitoring and Restricted only.
      const add = i < 2 ? observations * strong : observations;
      s.counts[i] = score >= (enter[i] as number) ? (s.counts[i] as number) + add : 0;
      if ((s.counts[i] as number) >= (confirmations[i] as number)) target = (i + 1) as TrustState;
    }

    if (target > s.state) {
      const from = s.state;
      s.state = target;
      this.updateTimer(subjectId, s, score, nowMs);
      return { subjectId, from, to: target, score, atMs: nowMs, reason: 'escalate' };
    }
    this.updateTimer(subjectId, s, score, nowMs);
    return null;
  }

  tickDecay(nowMs: number): Transition[] {
    checkTime(nowMs);
    const out: Transition[] = [];
    const due: number[] = [];
    for (const id of this.decaying) {
      const s = this.table.get(id);
      if (s !== undefined && s.belowSinceMs !== null && nowMs - s.belowSinceMs >= this.policy.decayMs) due.push(id);
    }
    for (const id of due) {
      const s = this.table.get(id) as Subject;
      const from = s.state;
      const to = (from - 1) as TrustState;
      s.state = to;
      s.belowSinceMs = null;
      this.decaying.delete(id);
      this.updateTimer(id, s, s.lastScore, nowMs);
      out.push({ subjectId: id, from, to, score: s.lastScore, atMs: nowMs, reason: 'decay' });
    }
    return out;
  }

  reset(subjectId: number, nowMs: number, by: string): Transition | null {
    checkTime(nowMs);
    const s = this.table.get(subjectId);
    if (s === undefined) return null;
    const from = s.state;
    s.state = 0;
    s.counts = [0, 0, 0];
    s.belowSinceMs = null;
    this.decaying.delete(subjectId);
    if (from === 0) return null;
    return { subjectId, from, to: 0, score: s.lastScore, atMs: nowMs, reason: 'reset', by };
  }

  force(subjectId: number, to: TrustState, nowMs: number, by: string): Transition | null {
    checkTime(nowMs);
    if (to !== 0 && to !== 1 && to !== 2 && to !== 3) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `trust state must be 0..3, got ${String(to)}`);
    if (to === 0) return this.reset(subjectId, nowMs, by);
    let s = this.table.get(subjectId);
    if (s === undefined) {
      s = { state: 0, counts: [0, 0, 0], belowSinceMs: null, lastScore: 0 };
      this.table.set(subjectId, s);
    }
    const from = s.state;
    s.counts = [0, 0, 0];
    s.state = to;
    s.belowSinceMs = null;
    this.decaying.delete(subjectId);
    this.updateTimer(subjectId, s, s.lastScore, nowMs);
    if (from === to) return null;
    return { subjectId, from, to, score: s.lastScore, atMs: nowMs, reason: 'force', by };
  }

  state(subjectId: number): TrustState {
    return this.table.get(subjectId)?.state ?? 0;
  }

  forget(subjectId: number): void {
    this.table.delete(subjectId);
    this.decaying.delete(subjectId);
  }

  *subjects(): IterableIterator<[number, TrustState]> {
    for (const [id, s] of this.table) yield [id, s.state];
  }

  get size(): number {
    return this.table.size;
  }

  /** Starts, keeps or stops the decay timer for the subject's current level given `score`. */
  private updateTimer(id: number, s: Subject, score: number, nowMs: number): void {
    const canDecay = s.state > 0 && !(s.state === 3 && this.policy.lockdownSticky);
    if (!canDecay) {
      s.belowSinceMs = null;
      this.decaying.delete(id);
      return;
    }
    if (score < (this.policy.exit[s.state - 1] as number)) {
      if (s.belowSinceMs === null) {
        s.belowSinceMs = nowMs;
        this.decaying.add(id);
      }
    } else {
      s.belowSinceMs = null;
      this.decaying.delete(id);
    }
  }
}
