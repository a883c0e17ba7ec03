/**
 * The user-session subject: fuses the per-modality impostor scores of the person at the
 * keyboard into one user trust score and drives it through the same trust state machine as the
 * file-system subjects (docs/biometrics.md, "Session subject").
 *
 * Contract
 * - Synchronous, single-owner, no I/O; time is passed in, never read from a clock.
 * - `observe(modality, p, now)` takes an impostor probability in [0, 1] (0.5 = at the user's
 *   calibrated threshold). Each modality keeps an exponential moving average of its scores, in
 *   log-odds (`emaAlpha` weight on the newest, per modality or for all), starting from the first
 *   score or from `emaStart` (an impostor probability, as if scored once before). A modality
 *   with no score for `silentAfterMs`
 *   drops out of the fusion; the fused score is the weight-averaged log-odds of the modalities
 *   still live, mapped back to [0, 1]. Each observation is one trust-machine observation;
 *   `observeAll` takes several modalities' scores of the same input as one.
 * - Throws SentinelError SENTINEL_E_INVALID_ARGUMENT for a score outside [0, 1] or an unknown
 *   modality, SENTINEL_E_CONFIG for bad options (from the constructor).
 */
import { SentinelError } from '../errors.js';
import { TrustMachine, type Transition, type TrustPolicy, type TrustState } from '../state/trust-machine.js';

/**
 * `mouseCohort` is the same mouse actions scored by the several-users model (against the other
 * users enrolled on the host) beside the one-class `mouse` score: two calibrated opinions, fused
 * like any two modalities.
 */
export type Modality = 'keystroke' | 'mouse' | 'mouseCohort' | 'app';
export const MODALITIES: readonly Modality[] = ['keystroke', 'mouse', 'mouseCohort', 'app'];

/**
 * Fusion weights when none are given (the daemon's `biometrics.weights` defaults). The
 * several-users mouse model stays at 1: a weight of 3 locked 9 points more enrolled impostors
 * with whole-session enrollments but locked genuine users out 0.068 times an hour with two
 * sittings of 500 actions, where 1 never did (docs/biometrics.md, "Mouse: the fusion weight of
 * the several-users model").
 */
export const DEFAULT_MODALITY_WEIGHTS: Readonly<Record<Modality, number>> = { keystroke: 1, mouse: 1, mouseCohort: 1, app: 0.5 };

export interface SessionMonitorOptions {
  /** Subject id of the session in the audit trail and the operator API. */
  subjectId: number;
  policy?: Partial<TrustPolicy>;
  /**
   * EMA weight of the newest score (0 < a <= 1; 1 = no smoothing): one number for every
   * modality, or per modality (a missing one: 0.5). Default 0.5.
   */
  emaAlpha?: number | Partial<Record<Modality, number>>;
  /** A modality silent this long leaves the fusion (default 120 s). */
  silentAfterMs?: number;
  /** Fusion weight per modality (default DEFAULT_MODALITY_WEIGHTS: keystroke 1, mouse 1, mouseCohort 1, app 0.5). */
  weights?: Partial<Record<Modality, number>>;
  /**
   * Impostor probability (0 < p < 1) a modality's average starts from, at start and after a
   * reset, as if one score of it came first: one number for every modality, or per modality.
   * Absent: the first score itself, so one unlucky first window weighs as much as a long
   * history; with a small emaAlpha that window dominates for long (docs/biometrics.md,
   * "Mouse: what the session subject does with these scores").
   */
  emaStart?: number | Partial<Record<Modality, number>>;
}

export interface ModalityStatus {
  modality: Modality;
  /** Smoothed impostor probability, or null before the first score. */
  smoothed: number | null;
  lastMs: number | null;
  scores: number;
  live: boolean;
}

/** Log-odds of p, clipped so 0 and 1 stay finite. */
function logit(p: number): number {
  const q = Math.min(1 - 1e-6, Math.max(1e-6, p));
  return Math.log(q / (1 - q));
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

interface ModalityState {
  ema: number | null;
  lastMs: number | null;
  scores: number;
}

export class SessionMonitor {
  readonly subjectId: number;
  private readonly machine: TrustMachine;
  private readonly alpha: Record<Modality, number>;
  private readonly silentAfterMs: number;
  private readonly weights: Record<Modality, number>;
  private readonly emaStart: Record<Modality, number | null>;
  private readonly mods = new Map<Modality, ModalityState>();
  private fusedScore = 0;

  constructor(options: SessionMonitorOptions) {
    this.subjectId = options.subjectId;
    this.silentAfterMs = options.silentAfterMs ?? 120_000;
    if (!(this.silentAfterMs > 0)) throw new SentinelError('SENTINEL_E_CONFIG', `silentAfterMs must be > 0`);
    const perModality = <T>(v: number | Partial<Record<Modality, number>> | undefined, dflt: T): Record<Modality, number | T> => {
      const out = {} as Record<Modality, number | T>;
      for (const m of MODALITIES) out[m] = typeof v === 'number' ? v : (v?.[m] ?? dflt);
      return out;
    };
    this.alpha = perModality(options.emaAlpha, 0.5) as Record<Modality, number>;
    this.emaStart = perModality(options.emaStart, null);
    for (const m of MODALITIES) {
      const a = this.alpha[m];
      if (!(a > 0 && a <= 1)) throw new SentinelError('SENTINEL_E_CONFIG', `emaAlpha of ${m} must be in (0, 1], got ${a}`);
      const st = this.emaStart[m];
      if (st !== null && !(st > 0 && st < 1)) throw new SentinelError('SENTINEL_E_CONFIG', `emaStart of ${m} must be in (0, 1), got ${st}`);
    }
    this.weights = { ...DEFAULT_MODALITY_WEIGHTS, ...options.weights };
    for (const m of MODALITIES) {
      const w = this.weights[m];
      if (!(w >= 0 && Number.isFinite(w))) throw new SentinelError('SENTINEL_E_CONFIG', `weight of ${m} must be a finite number >= 0`);
      this.mods.set(m, { ema: null, lastMs: null, scores: 0 });
    }
    // All-zero weights would leave the fused score at 0 forever: a monitor that never moves.
    if (!MODALITIES.some((m) => this.weights[m] > 0)) {
      throw new SentinelError('SENTINEL_E_CONFIG', `at least one modality weight must be > 0`);
    }
    this.machine = new TrustMachine(options.policy);
  }

  observe(modality: Modality, impostorP: number, nowMs: number): Transition | null {
    return this.observeAll([[modality, impostorP]], nowMs);
  }

  /**
   * Several modalities' scores of the same input (one block of mouse actions scored by both
   * mouse models): each modality's average takes its score, then the fused score is ONE
   * trust-machine observation. Observing them one by one would count the same actions twice
   * toward the machine's confirmations (consecutive observations), so a second model of the
   * same actions would halve the evidence a lockdown needs. Every score is checked before any
   * state changes; an empty list changes nothing and returns null.
   */
  observeAll(scores: ReadonlyArray<readonly [Modality, number]>, nowMs: number): Transition | null {
    const seen = new Set<Modality>();
    for (const [modality, impostorP] of scores) {
      if (!this.mods.has(modality)) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `unknown modality ${String(modality)}`);
      if (seen.has(modality)) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `modality ${modality} given twice in one observation`);
      seen.add(modality);
      if (typeof impostorP !== 'number' || !(impostorP >= 0 && impostorP <= 1)) {
        throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `impostor score must be in [0, 1], got ${String(impostorP)}`);
      }
    }
    if (!scores.length) return null;
    for (const [modality, impostorP] of scores) {
      const m = this.mods.get(modality) as ModalityState;
      const l = logit(impostorP);
      const start = this.emaStart[modality];
      const prev = m.ema ?? (start === null ? null : logit(start));
      const a = this.alpha[modality];
      m.ema = prev === null ? l : a * l + (1 - a) * prev;
      m.lastMs = nowMs;
      m.scores++;
    }
    this.fusedScore = this.fuse(nowMs);
    return this.machine.observe(this.subjectId, this.fusedScore, nowMs);
  }

  private fuse(nowMs: number): number {
    let sum = 0;
    let wsum = 0;
    for (const [mod, s] of this.mods) {
      if (s.ema === null || s.lastMs === null || nowMs - s.lastMs > this.silentAfterMs) continue;
      const w = this.weights[mod];
      sum += w * s.ema;
      wsum += w;
    }
    return wsum > 0 ? sigmoid(sum / wsum) : 0;
  }

  /** Steps the state down when the fused score has stayed low (trust machine decay). */
  tickDecay(nowMs: number): Transition[] {
    return this.machine.tickDecay(nowMs);
  }

  reset(nowMs: number, by: string): Transition | null {
    for (const s of this.mods.values()) {
      s.ema = null;
      s.lastMs = null;
    }
    this.fusedScore = 0;
    return this.machine.reset(this.subjectId, nowMs, by);
  }

  force(to: TrustState, nowMs: number, by: string): Transition | null {
    return this.machine.force(this.subjectId, to, nowMs, by);
  }

  get state(): TrustState {
    return this.machine.state(this.subjectId);
  }

  /** The last fused impostor score (0 before any). */
  get score(): number {
    return this.fusedScore;
  }

  status(nowMs: number): ModalityStatus[] {
    return MODALITIES.map((modality) => {
      const s = this.mods.get(modality) as ModalityState;
      return {
        modality,
        smoothed: s.ema === null ? null : sigmoid(s.ema),
        lastMs: s.lastMs,
        scores: s.scores,
        live: s.lastMs !== null && nowMs - s.lastMs <= this.silentAfterMs,
      };
    });
  }
}
