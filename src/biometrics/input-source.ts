/**
 * Keyboard and mouse input source (docs/biometrics.md, "Collectors"): a typed, validated wrapper
 * of the addon's InputCollector. The collector's reader thread reads evdev devices (or FIFOs and
 * recordings of `struct input_event`), filters auto-repeat, turns key codes into keyed-hash
 * buckets and mouse motion into per-action feature vectors; this class only moves finished
 * batches to a callback.
 *
 * Contract
 * - Asynchronous: `start()` returns at once; `onBatch` is called on the JS thread whenever the
 *   reader thread has output (woken by a ThreadSafeFunction, never polled).
 * - Buffer ownership: every array of an `InputBatch` is new and owned by the receiver.
 * - Devices: every mouse action names its device by number (ActionMeta.Device); `onBatch` also
 *   gets the identities of the devices by number (docs/biometrics.md, "evdev collector"). The
 *   table holds every device open or named in the batch; a removed device leaves it after the
 *   callback of the batch that removed it returns.
 * - The constructor throws SentinelError: SENTINEL_E_INPUT_PERMISSION when a device may not be
 *   read (EACCES/EPERM), SENTINEL_E_INPUT_DEVICE for any other open failure or a missing input
 *   directory, SENTINEL_E_BIO_KEY for an unsafe key file, SENTINEL_E_INVALID_ARGUMENT for bad
 *   options. Device failures after start arrive as `devices` events in a batch (never thrown).
 * - No key code or raw event crosses into JavaScript (docs/privacy.md).
 */
import { existsSync, statSync } from 'node:fs';
import {
  addon,
  type RawDeviceEvent,
  type RawInputBatch,
  type RawInputCollector,
  type RawInputCollectorOptions,
  type RawInputCollectorStats,
} from '../binding.js';
import { SentinelError } from '../errors.js';

/** The collector's options (documented in src/binding.ts); validated and defaulted here. */
export type InputSourceOptions = RawInputCollectorOptions;

export type InputBatch = RawInputBatch;
export type DeviceEvent = RawDeviceEvent;
export type InputSourceStats = RawInputCollectorStats;
/** Device identities by the collector's device number (ActionMeta.Device of an action). */
export type DeviceIdentities = ReadonlyMap<number, string>;

const EACCES = 13;
const EPERM = 1;

/** Why the input modality cannot run on this host, or null when it can (a directory to watch exists). */
export function inputUnavailableReason(dir: string): string | null {
  if (!existsSync(dir)) return `input modality off: ${dir} does not exist (no evdev devices on this host)`;
  if (!statSync(dir).isDirectory()) return `input modality off: ${dir} is not a directory`;
  return null;
}

function checkPath(what: string, p: unknown): string {
  if (typeof p !== 'string' || p.length === 0 || p.includes('\0')) {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `${what} must be a non-empty path`);
  }
  return p;
}

/**
 * The absScale option (pixels per ABS device unit, RawInputCollectorOptions.absScale) checked:
 * a positive finite number, default 1. Also for callers of the addon's decodeInputEvents.
 */
export function checkAbsScale(v: unknown): number {
  if (v === undefined) return 1;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `absScale must be a positive finite number, got ${String(v)}`);
  }
  return v;
}

export class InputSource {
  private readonly raw: RawInputCollector;
  private started = false;
  private stopped = false;
  private readonly deviceIds = new Map<number, string>();

  constructor(options: InputSourceOptions) {
    const paths = (options.paths ?? []).map((p, i) => checkPath(`paths[${i}]`, p));
    const dir = options.dir === undefined ? undefined : checkPath('dir', options.dir);
    if (paths.length === 0 && dir === undefined) {
      throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'input source: give device paths, an input directory, or both');
    }
    if (dir !== undefined) {
      const why = inputUnavailableReason(dir);
      if (why) throw new SentinelError('SENTINEL_E_INPUT_DEVICE', why);
    }
    const bs = options.backspaceCode ?? 14;
    if (!Number.isInteger(bs) || bs < 0 || bs > 767) {
      throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `backspaceCode must be an integer 0..767, got ${String(bs)}`);
    }
    const absScale = checkAbsScale(options.absScale);
    const mq = options.maxQueued ?? 65536;
    if (!Number.isInteger(mq) || mq < 16) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `maxQueued must be an integer >= 16`);
    try {
      this.raw = new (addon().InputCollector)({
        paths,
        ...(dir === undefined ? {} : { dir }),
        watch: options.watch ?? true,
        keyPath: checkPath('keyPath', options.keyPath),
        backspaceCode: bs,
        absScale,
        maxQueued: mq,
      });
    } catch (err) {
      throw toSentinelError(err);
    }
  }

  /**
   * Starts the reader thread; `onBatch` receives every batch on the JS thread, with the
   * identities of the devices its actions name.
   */
  start(onBatch: (batch: InputBatch, identities: DeviceIdentities) => void): void {
    if (this.started) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'input source already started');
    this.started = true;
    this.raw.start(() => {
      for (let b = this.raw.drain(); b; b = this.raw.drain()) {
        this.noteAdded(b);
        onBatch(b, this.deviceIds);
        for (const d of b.devices) if (d.kind === 'removed') this.deviceIds.delete(d.device);
      }
    });
  }

  /** Identities of the open devices (and of those named by the batch `stop` returned). */
  get identities(): DeviceIdentities {
    return this.deviceIds;
  }

  private noteAdded(b: InputBatch): void {
    for (const d of b.devices) if (d.kind === 'added' || d.kind === 'removed') this.deviceIds.set(d.device, d.identity);
  }

  stats(): InputSourceStats {
    return this.raw.stats();
  }

  /** Stops the reader thread and returns what it had not yet handed over (idempotent). */
  stop(): InputBatch | null {
    if (this.stopped) return null;
    this.stopped = true;
    this.raw.stop();
    const rest = this.raw.drain();
    if (rest) this.noteAdded(rest);
    return rest;
  }
}

/** An addon error as a SentinelError with the catalog code its errno or code means. */
export function toSentinelError(err: unknown): SentinelError {
  if (err instanceof SentinelError) return err;
  const e = err as Error & { errno?: number; code?: string };
  if (e.code === 'SENTINEL_E_BIO_KEY') return new SentinelError('SENTINEL_E_BIO_KEY', e.message, { cause: err });
  if (e.errno === EACCES || e.errno === EPERM) return new SentinelError('SENTINEL_E_INPUT_PERMISSION', e.message, { cause: err });
  if (typeof e.errno === 'number') return new SentinelError('SENTINEL_E_INPUT_DEVICE', e.message, { cause: err });
  return new SentinelError('SENTINEL_E_INVALID_ARGUMENT', e.message, { cause: err });
}
