/**
 * The scoring tick: due subjects → detectors → fusion → trust state machine → native state
 * table → audit (one SQLite transaction per tick) → listeners (state pushes, alerts, logs).
 *
 * Async: `tick()` awaits the detectors (learned models may run off-thread). Ticks never overlap:
 * a tick requested while one runs is folded into one more run after it.
 * Clock: `eventTime` scores against each row's last event time (replay, deterministic);
 * `wall` uses the injected clock (the daemon).
 */
import type { Engine, DueBatch } from '../engine.js';
import type { Fusion } from '../fusion/fusion.js';
import type { TrustMachine, Transition, TrustState } from '../state/trust-machine.js';
import type { AuditStore } from '../audit/store.js';
import { META_STRIDE, Meta, type RawSubjectInfo } from '../binding.js';
import { TRUST_STATES } from '../protocol/constants.js';

export interface ScoredTransition extends Transition {
  subject: RawSubjectInfo | undefined;
  eventIndex: number;
  /** Event time of the subject's last event, ms; NaN for decay/reset outside a batch. */
  eventTsMs: number;
  topFeatures: { detector: string; name: string; value: number }[];
}

export interface TickResult {
  rows: number;
  transitions: ScoredTransition[];
  denySetChanged: boolean;
}

export interface ScorerOptions {
  engine: Engine;
  fusion: Fusion;
  machine: TrustMachine;
  audit?: AuditStore;
  clock: 'eventTime' | 'wall';
  now?: () => number;
  /** Top contributing features recorded per transition. */
  topK?: number;
  /** True while barrier clients want the hold set: the deny/hold set is refreshed after every scored pass. */
  holds?: () => boolean;
}

export interface SubjectScore {
  score: number;
  tsMs: number;
  eventIndex: number;
}

export class Scorer {
  private readonly o: Required<Omit<ScorerOptions, 'audit' | 'holds'>> & { audit: AuditStore | undefined; holds?: () => boolean };
  private running: Promise<TickResult> | null = null;
  private again = false;
  private readonly listeners: ((r: TickResult) => void)[] = [];
  /** Latest fused score per live subject (evicted subjects are dropped). */
  readonly lastScores = new Map<number, SubjectScore>();
  /** Latest event time seen by any tick (ms), the clock for decay in eventTime mode. */
  private eventClockMs = 0;
  ticks = 0;
  rowsScored = 0;

  constructor(options: ScorerOptions) {
    this.o = { topK: 3, now: Date.now, audit: undefined, ...options };
  }

  onTick(fn: (r: TickResult) => void): void {
    this.listeners.push(fn);
  }

  /** Scoring passes started so far (1-based number of the running or last pass). */
  ticksStarted = 0;
  private readonly endListeners: ((tickNo: number) => void)[] = [];
  /** Called after every scoring pass (after the onTick listeners), with its number, rows or not. */
  onTickEnd(fn: (tickNo: number) => void): void {
    this.endListeners.push(fn);
  }

  /** Runs one tick, or joins the running one and schedules one more after it. */
  tick(): Promise<TickResult> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.runLoop().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Resolves when no tick is running. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async runLoop(): Promise<TickResult> {
    let last: TickResult;
    do {
      this.again = false;
      last = await this.runOnce();
    } while (this.again);
    return last;
  }

  private now(): number {
    return this.o.clock === 'wall' ? this.o.now() : this.eventClockMs;
  }

  /** Operator action: reset or force a state, audited like any transition. */
  setState(subjectId: number, to: TrustState, by: string): ScoredTransition | null {
    const { machine, engine } = this.o;
    const at = this.now();
    const t = to === 0 ? machine.reset(subjectId, at, by) : machine.force(subjectId, to, at, by);
    if (!t) return null;
    const scored = this.describe([t])[0] as ScoredTransition;
    this.trackEnforced(t);
    const denySetChanged = engine.setStates(Uint32Array.of(subjectId), Uint8Array.of(to));
    this.o.audit?.writeTick({ transitions: [this.toRecord(scored)], actions: [], drops: [] });
    this.emit({ rows: 0, transitions: [scored], denySetChanged });
    return scored;
  }

  /** Subjects at Restricted or above (kept from transitions, so no scan is needed). */
  private readonly enforced = new Set<number>();

  private trackEnforced(t: Transition): void {
    if (t.to >= 2) this.enforced.add(t.subjectId);
    else this.enforced.delete(t.subjectId);
  }

  private emit(r: TickResult): void {
    for (const fn of this.listeners) fn(r);
  }

  private async runOnce(): Promise<TickResult> {
    const tickNo = ++this.ticksStarted;
    const r = await this.runPass();
    for (const fn of this.endListeners) fn(tickNo);
    return r;
  }

  private async runPass(): Promise<TickResult> {
    const { engine, fusion, machine } = this.o;
    const transitions: ScoredTransition[] = [];
    let rows = 0;
    for (;;) {
      const batch = engine.collect();
      if (batch.n === 0) break;
      rows += batch.n;
      transitions.push(...(await this.scoreBatch(batch)));
      if (batch.n < engine.maxRowsPerCollect) break;
    }
    for (const id of engine.takeEvicted()) {
      machine.forget(id);
      this.lastScores.delete(id);
      this.enforced.delete(id);
    }
    const decayed = machine.tickDecay(this.now());
    transitions.push(...this.describe(decayed));
    let denySetChanged = false;
    for (const t of transitions) this.trackEnforced(t);
    // While any subject is enforced, new scores can implicate more processes in an enforced
    // tree (native effectiveState), so the deny set is refreshed even without transitions.
    // Barrier clients get the hold set (score-based), refreshed whenever something was scored.
    if (transitions.length > 0 || (rows > 0 && (this.enforced.size > 0 || (this.o.holds?.() ?? false)))) {
      const ids = new Uint32Array(transitions.length);
      const states = new Uint8Array(transitions.length);
      transitions.forEach((t, i) => {
        ids[i] = t.subjectId;
        states[i] = t.to;
      });
      denySetChanged = engine.setStates(ids, states);
      if (transitions.length > 0) this.o.audit?.writeTick({ transitions: transitions.map((t) => this.toRecord(t)), actions: [], drops: [] });
    }
    this.ticks++;
    this.rowsScored += rows;
    const result = { rows, transitions, denySetChanged };
    if (transitions.length > 0 || rows > 0) this.emit(result);
    return result;
  }

  private async scoreBatch(batch: DueBatch): Promise<ScoredTransition[]> {
    const { fusion, machine } = this.o;
    const { fused } = await fusion.score(batch);
    const out: ScoredTransition[] = [];
    const pending: { t: Transition; row: number }[] = [];
    for (let i = 0; i < batch.n; i++) {
      const id = batch.ids[i] as number;
      const score = fused[i] as number;
      const m = i * META_STRIDE;
      const tsMs = batch.meta[m + Meta.LastTsMs] as number;
      const eventIndex = batch.meta[m + Meta.LastEventIndex] as number;
      // A row covering several due periods of events counts as that many observations, so
      // confirmations follow the events, not how often this tick ran.
      const observations = Math.max(1, Math.floor((batch.meta[m + Meta.EventsSinceScored] as number) / this.o.engine.options.dueEveryEvents));
      if (tsMs > this.eventClockMs) this.eventClockMs = tsMs;
      this.lastScores.set(id, { score, tsMs, eventIndex });
      const at = this.o.clock === 'wall' ? this.o.now() : tsMs;
      const t = machine.observe(id, score, at, observations);
      if (t) pending.push({ t, row: i });
    }
    if (pending.length === 0) return out;
    const infos = this.o.engine.subjectInfo(pending.map((p) => p.t.subjectId));
    pending.forEach(({ t, row }, k) => {
      out.push({
        ...t,
        subject: infos[k] ?? undefined,
        eventIndex: batch.meta[row * META_STRIDE + Meta.LastEventIndex] as number,
        eventTsMs: batch.meta[row * META_STRIDE + Meta.LastTsMs] as number,
        topFeatures: fusion.explain(batch, row, this.o.topK),
      });
    });
    return out;
  }

  /** Transitions outside a scored batch (decay, operator): subject info, no features. */
  private describe(ts: Transition[]): ScoredTransition[] {
    if (ts.length === 0) return [];
    const infos = this.o.engine.subjectInfo(ts.map((t) => t.subjectId));
    return ts.map((t, k) => {
      const last = this.lastScores.get(t.subjectId);
      return { ...t, subject: infos[k] ?? undefined, eventIndex: last?.eventIndex ?? -1, eventTsMs: Number.NaN, topFeatures: [] };
    });
  }

  private toRecord(t: ScoredTransition) {
    const s = t.subject;
    return {
      atMs: t.atMs,
      subjectId: t.subjectId,
      subjectKind: s?.kind ?? 'process',
      pid: s?.pid ?? 0,
      startTime: String(s?.startTime ?? 0),
      uid: s?.uid ?? 0,
      comm: s?.comm ?? '',
      fromState: t.from,
      toState: t.to,
      score: t.score,
      reason: t.reason,
      by: t.by ?? null,
      eventIndex: t.eventIndex,
      topFeatures: t.topFeatures,
      modelHashes: this.o.fusion.modelHashes(),
    };
  }
}

export function stateName(s: number): string {
  return TRUST_STATES[s] ?? `state ${s}`;
}
