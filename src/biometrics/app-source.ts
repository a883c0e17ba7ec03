/**
 * Active-application source on X11 (docs/biometrics.md, "Active application (X11)"): a typed,
 * validated wrapper of the addon's AppWatcher, and of the per-user app-transition model.
 *
 * Contract
 * - `AppSource.available(options)` says whether the app modality can run here: `{ ok: false,
 *   reason }` when no X display is reachable or the window manager does not publish
 *   _NET_ACTIVE_WINDOW (the reason starts with "app modality off:"). It connects once and
 *   disconnects; it creates the key file when absent, as the source itself would.
 * - `new AppSource(options)` throws SentinelError: SENTINEL_E_APP_UNAVAILABLE (same reasons),
 *   SENTINEL_E_BIO_KEY (unsafe key file), SENTINEL_E_INVALID_ARGUMENT (bad options).
 * - Asynchronous: `start()` returns at once; batches are read with `for await (const b of src)`.
 *   The native thread wakes JavaScript through a ThreadSafeFunction; nothing polls. While nobody
 *   iterates, changes wait in the native queue (bounded by maxQueue; excess dropped, counted).
 *   The iteration ends after `stop()` or when the X server goes away (`ended()` then says why).
 *   One consumer at a time.
 * - Buffer ownership: every array of a batch is new and owned by the receiver.
 * - Privacy: batches hold keyed-hash app ids (bigint, 0n = no app), monotonic times and hours,
 *   never a window class or title (docs/privacy.md). Nothing here logs a batch.
 */
import {
  addon,
  type RawAppBatch,
  type RawAppModelInfo,
  type RawAppModelOptions,
  type RawAppWatcher,
  type RawAppWatcherStats,
} from '../binding.js';
import { SentinelError, type ErrorCode } from '../errors.js';

export interface AppSourceOptions {
  /** X display, e.g. ":1" (default $DISPLAY). */
  display?: string;
  /** Host-local key file (16 bytes, 0600; created when absent). */
  keyPath: string;
  /** Changes that may wait in the native queue (1..2^20, default 65536). */
  maxQueue?: number;
  /** Hold time of a "no app" state before it is reported, in ms (0..10000, default 100). */
  noneSettleMs?: number;
}

export type AppChangeBatch = RawAppBatch;
export type AppSourceStats = RawAppWatcherStats;
export type AppAvailability = { ok: true } | { ok: false; reason: string };

/** The id reported for "no active window" or a window without WM_CLASS. */
export const NO_APP = 0n;

function checkOptions(o: AppSourceOptions): AppSourceOptions {
  if (typeof o !== 'object' || o === null) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'app source options must be an object');
  if (typeof o.keyPath !== 'string' || o.keyPath.length === 0 || o.keyPath.includes('\0')) {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'keyPath must be a non-empty path');
  }
  if (o.display !== undefined && (typeof o.display !== 'string' || o.display.length === 0 || o.display.length > 256 || o.display.includes('\0'))) {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'display must be a non-empty X display string');
  }
  const mq = o.maxQueue ?? 65536;
  if (!Number.isInteger(mq) || mq < 1 || mq > 2 ** 20) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'maxQueue must be an integer in 1..2^20');
  const ns = o.noneSettleMs ?? 100;
  if (!Number.isInteger(ns) || ns < 0 || ns > 10_000) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'noneSettleMs must be an integer in 0..10000');
  return { keyPath: o.keyPath, maxQueue: mq, noneSettleMs: ns, ...(o.display === undefined ? {} : { display: o.display }) };
}

const CODES: readonly ErrorCode[] = ['SENTINEL_E_APP_UNAVAILABLE', 'SENTINEL_E_BIO_KEY', 'SENTINEL_E_BIO_PROFILE', 'SENTINEL_E_BIO_ENROLL'];

/** An addon error as a SentinelError with the catalog code the addon attached. */
function toSentinelError(err: unknown): SentinelError {
  if (err instanceof SentinelError) return err;
  const e = err as Error & { code?: unknown };
  const code = CODES.find((c) => c === e.code) ?? 'SENTINEL_E_INVALID_ARGUMENT';
  return new SentinelError(code, e.message, { cause: err });
}

export class AppSource implements AsyncIterable<AppChangeBatch> {
  private readonly raw: RawAppWatcher;
  private started = false;
  private stopped = false;
  private waiter: ((r: IteratorResult<AppChangeBatch>) => void) | null = null;

  constructor(options: AppSourceOptions) {
    const o = checkOptions(options);
    try {
      this.raw = new (addon().AppWatcher)(o);
    } catch (err) {
      throw toSentinelError(err);
    }
  }

  /** Whether the app modality can run with these options (see the contract above). */
  static available(options: AppSourceOptions): AppAvailability {
    try {
      new AppSource(options).stop();
      return { ok: true };
    } catch (err) {
      if (err instanceof SentinelError && err.code === 'SENTINEL_E_APP_UNAVAILABLE') return { ok: false, reason: err.message };
      throw err;
    }
  }

  /** Starts the watcher thread. The first batch holds the app active at start. */
  start(): void {
    if (this.started || this.stopped) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'app source already started or stopped');
    this.started = true;
    this.raw.start(() => this.pump());
  }

  /** Resolves a waiting `next()` with a batch, or with the end when the watcher has ended. */
  private pump(): void {
    const w = this.waiter;
    if (!w) return; // changes stay in the native queue until someone asks
    const r = this.take();
    if (r) {
      this.waiter = null;
      w(r);
    }
  }

  private take(): IteratorResult<AppChangeBatch> | null {
    if (this.stopped) return { done: true, value: undefined };
    const b = this.raw.drain();
    if (b) return { done: false, value: b };
    if (this.raw.stats().ended) return { done: true, value: undefined };
    return null;
  }

  [Symbol.asyncIterator](): AsyncIterator<AppChangeBatch> {
    return {
      next: () => {
        if (!this.started) return Promise.reject(new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'app source not started'));
        if (this.waiter) return Promise.reject(new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'app source has one consumer at a time'));
        const r = this.take();
        if (r) return Promise.resolve(r);
        return new Promise((resolve) => {
          this.waiter = resolve;
        });
      },
      return: () => {
        this.stop();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  stats(): AppSourceStats {
    return this.raw.stats();
  }

  /** `{ended: true, reason}` once the X connection was lost (reason '' after stop()). */
  ended(): { ended: boolean; reason: string } {
    const s = this.raw.stats();
    return { ended: s.ended, reason: s.endReason };
  }

  /** Joins the watcher thread and ends the iteration (idempotent). Changes not yet taken are dropped. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.raw.stop();
    const w = this.waiter;
    this.waiter = null;
    w?.({ done: true, value: undefined });
  }
}

/** Batches joined in order (for enrollment from several drains). */
export function concatBatches(batches: readonly AppChangeBatch[]): AppChangeBatch {
  const n = batches.reduce((s, b) => s + b.t.length, 0);
  const out: AppChangeBatch = { t: new Float64Array(n), ids: new BigUint64Array(n), hours: new Uint8Array(n) };
  let at = 0;
  for (const b of batches) {
    out.t.set(b.t, at);
    out.ids.set(b.ids, at);
    out.hours.set(b.hours, at);
    at += b.t.length;
  }
  return out;
}

export type AppModelOptions = RawAppModelOptions;
export type AppModelInfo = RawAppModelInfo;

/**
 * Per-user app-transition model (native/x11/app_model.h). Immutable; holds only its serialized
 * bytes (counts over keyed-hash ids, dwell statistics, threshold). Synchronous.
 */
export class AppModel {
  readonly bytes: Uint8Array;
  readonly info: AppModelInfo;

  private constructor(bytes: Uint8Array, info: AppModelInfo) {
    this.bytes = bytes;
    this.info = info;
  }

  /** Enrolls from a visit sequence. Throws SENTINEL_E_BIO_ENROLL (no transition, bad times or hours) or SENTINEL_E_INVALID_ARGUMENT. */
  static enroll(visits: AppChangeBatch, options: AppModelOptions = {}): AppModel {
    try {
      const bytes = addon().appModelEnroll(visits.t, visits.ids, visits.hours, options);
      return new AppModel(bytes, addon().appModelInfo(bytes));
    } catch (err) {
      throw toSentinelError(err);
    }
  }

  /** Loads a serialized model. Throws SENTINEL_E_BIO_PROFILE for a malformed, truncated or other-version buffer. */
  static fromBytes(bytes: Uint8Array): AppModel {
    try {
      return new AppModel(bytes, addon().appModelInfo(bytes));
    } catch (err) {
      throw toSentinelError(err);
    }
  }

  /** Mean log-likelihood ratio per transition of the window (higher = more like the user; NaN without a transition). */
  score(window: AppChangeBatch): { score: number; transitions: number } {
    return addon().appModelScore(this.bytes, window.t, window.ids, window.hours);
  }
}
