/**
 * The app modality of the session subject: which application has the focus (X11), learned by
 * use and scored as app-transition windows (docs/biometrics.md, "Active application (X11)").
 *
 * - Off, with a reason, when disabled or when no X display with an EWMH window manager is
 *   reachable (`AppSource.available`).
 * - Visits to "no focused window" (app id 0) are skipped.
 * - Learning by use: app visits seen while the session is Normal are kept in memory (keyed-hash
 *   ids, times, hours; at most MAX_LEARN_VISITS, never written anywhere). After `learnAfter`
 *   such visits, and again after every further `learnAfter`, the per-user app model is enrolled
 *   from them and handed to `onLearned` (the service stores it in the profile; counts only).
 * - Scoring: once a calibrated model exists, every `stride` visits the last `window` transitions
 *   are scored; the mean log-likelihood ratio s becomes p = σ(2 (threshold − s) / scale).
 * - Asynchronous: one `for await` loop over the source; everything else is synchronous.
 */
import type { Logger } from 'pino';
import { AppModel, AppSource, NO_APP, type AppChangeBatch } from '../src/biometrics/app-source.js';
import { errorCode } from '../src/errors.js';

export interface AppModalityConfig {
  enabled: boolean;
  /** X display ("" = $DISPLAY). */
  display: string;
  /** Normal-state visits before the model is (re)learned. */
  learnAfter: number;
  /** Transitions per scored window. */
  window: number;
  /** Score every this many visits. */
  stride: number;
  /** Log-likelihood-ratio units (nats per transition) per 2 logits of impostor score. */
  scale: number;
}

const MAX_LEARN_VISITS = 20_000;

interface Visits {
  t: number[];
  ids: bigint[];
  hours: number[];
}

function batchOf(v: Visits, from = 0): AppChangeBatch {
  return { t: Float64Array.from(v.t.slice(from)), ids: BigUint64Array.from(v.ids.slice(from)), hours: Uint8Array.from(v.hours.slice(from)) };
}

export class AppModality {
  private source: AppSource | null = null;
  private model: AppModel | null;
  private readonly learn: Visits = { t: [], ids: [], hours: [] };
  private readonly recent: Visits = { t: [], ids: [], hours: [] };
  private sinceLearned = 0;
  private sinceScored = 0;
  private loop: Promise<void> | null = null;
  offReason: string | null = null;
  windowsScored = 0;
  visits = 0;
  learned = 0;

  constructor(
    private readonly cfg: AppModalityConfig,
    private readonly keyPath: string,
    private readonly log: Logger,
    model: Uint8Array | undefined,
    private readonly hooks: { isNormal: () => boolean; onLearned: (m: AppModel) => void; onScore: (p: number) => void },
  ) {
    this.model = model ? AppModel.fromBytes(model) : null;
  }

  /** Starts watching; returns why not when the modality cannot run here. */
  start(): string | null {
    if (!this.cfg.enabled) return (this.offReason = 'app modality off: disabled in the configuration');
    const opts = { keyPath: this.keyPath, ...(this.cfg.display ? { display: this.cfg.display } : {}) };
    const av = AppSource.available(opts);
    if (!av.ok) return (this.offReason = av.reason);
    const src = new AppSource(opts);
    this.source = src;
    src.start();
    this.loop = (async () => {
      for await (const b of src) this.onVisits(b);
      const end = src.ended();
      if (end.ended && end.reason) {
        this.offReason = `app modality off: ${end.reason}`;
        this.log.warn({ 'event.action': 'app_modality_ended', 'error.code': 'SENTINEL_E_APP_UNAVAILABLE' }, this.offReason);
      }
    })();
    return null;
  }

  private onVisits(b: AppChangeBatch): void {
    for (let i = 0; i < b.t.length; i++) {
      const t = b.t[i] as number;
      const id = b.ids[i] as bigint;
      const hour = b.hours[i] as number;
      // "No focused window" (between two windows, an empty desktop) says nothing about who
      // works here, and how often the WM shows it depends on load: not a visit.
      if (id === NO_APP) continue;
      this.visits++;
      this.recent.t.push(t);
      this.recent.ids.push(id);
      this.recent.hours.push(hour);
      if (this.recent.t.length > this.cfg.window + 1) {
        this.recent.t.shift();
        this.recent.ids.shift();
        this.recent.hours.shift();
      }
      if (this.hooks.isNormal()) {
        this.learn.t.push(t);
        this.learn.ids.push(id);
        this.learn.hours.push(hour);
        if (this.learn.t.length > MAX_LEARN_VISITS) {
          this.learn.t.shift();
          this.learn.ids.shift();
          this.learn.hours.shift();
        }
        if (++this.sinceLearned >= this.cfg.learnAfter) this.relearn();
      }
      if (this.model && Number.isFinite(this.model.info.threshold) && this.recent.t.length === this.cfg.window + 1 && ++this.sinceScored >= this.cfg.stride) {
        this.sinceScored = 0;
        const { score, transitions } = this.model.score(batchOf(this.recent));
        if (transitions > 0 && Number.isFinite(score)) {
          this.windowsScored++;
          const z = (2 * (this.model.info.threshold - score)) / this.cfg.scale;
          this.hooks.onScore(1 / (1 + Math.exp(-z)));
        }
      }
    }
  }

  private relearn(): void {
    this.sinceLearned = 0;
    try {
      // Calibrated on windows of the length it is scored on.
      const m = AppModel.enroll(batchOf(this.learn), { windowTransitions: this.cfg.window });
      this.model = m;
      this.learned++;
      this.hooks.onLearned(m);
      this.log.info(
        { 'event.action': 'app_model_learned', visits: this.learn.t.length, transitions: m.info.transitions, calibrated: Number.isFinite(m.info.threshold) },
        `app model learned from ${this.learn.t.length} visits`,
      );
    } catch (err) {
      const code = errorCode(err, 'SENTINEL_E_BIO_ENROLL');
      this.log.warn({ 'error.code': code }, `app model not learned: ${(err as Error).message}`);
    }
  }

  /** App changes the watcher's queue dropped (0 when not running). */
  get dropped(): number {
    return this.source?.stats().dropped ?? 0;
  }

  get hasModel(): boolean {
    return this.model !== null;
  }

  async stop(): Promise<void> {
    this.source?.stop();
    await this.loop;
  }
}
