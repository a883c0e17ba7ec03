/**
 * fanotify event source (docs/fanotify.md): a typed, validated wrapper of the addon's
 * FanotifyWatcher. The watcher's threads read the kernel and answer permission events natively;
 * this class only moves finished EVENT_BATCH frames to a callback and deny sets to the watcher.
 *
 * Buffer ownership: `onFrames` receives a Buffer that JavaScript owns (the drained native
 * frames, seq fields 0 until `numberFrames` sets them); `setDenySet` copies nothing it keeps
 * beyond the call except the table the addon builds from the entries.
 */
import { addon, type RawFanotifyStats, type RawFanotifyWatcher } from '../binding.js';
import { SentinelError } from '../errors.js';
import { FrameType, HEADER_SIZE, MAGIC, VERDICT_ENTRY_SIZE } from '../protocol/constants.js';
import type { VerdictEntry } from '../protocol/decode.js';

export type MarkMode = 'inode' | 'filesystem';
export type KillPolicy = 'none' | 'stop' | 'kill';

export interface FanotifyOptions {
  paths: string[];
  enforce?: boolean;
  accessPerm?: boolean;
  /** Default 8 MiB; 64 KiB … 1 GiB. */
  maxQueueBytes?: number;
  markMode?: MarkMode;
  killPolicy?: KillPolicy;
  /** Pids never denied or signalled (the daemon's); the watcher itself and pid 1 always are. */
  protectPids?: number[];
}

export type FanotifyStats = RawFanotifyStats;

export interface DenyUpdate {
  lockdown: number;
  newlyDenied: number[];
  signalled: number;
}

const MARK_MODES: readonly MarkMode[] = ['inode', 'filesystem'];
const KILL_POLICIES: readonly KillPolicy[] = ['none', 'stop', 'kill'];

/** STATE_PUSH entries back to their 16-byte wire form (docs/protocol.md, verdict entries). */
export function encodeVerdictEntries(entries: readonly VerdictEntry[]): Uint8Array {
  const b = Buffer.alloc(entries.length * VERDICT_ENTRY_SIZE);
  entries.forEach((e, i) => {
    const o = i * VERDICT_ENTRY_SIZE;
    b.writeUInt32LE(e.pid >>> 0, o);
    b.writeUInt8(e.state & 0xff, o + 4);
    b.writeUInt8(e.actions & 0xff, o + 5);
    b.writeBigUInt64LE(BigInt.asUintN(64, e.start), o + 8);
  });
  return b;
}

/**
 * Gives every EVENT_BATCH frame of `buf` a sequence number from `nextSeq` (in place) and
 * returns how many frames and records it holds. Throws on anything that is not a well-formed
 * run of EVENT_BATCH frames (the native side only ever produces those).
 */
export function numberFrames(buf: Buffer, nextSeq: () => number): { frames: number; records: number } {
  let at = 0;
  let frames = 0;
  let records = 0;
  while (at < buf.length) {
    if (buf.length - at < HEADER_SIZE + 4 || buf.readUInt16LE(at) !== MAGIC || buf.readUInt8(at + 3) !== FrameType.EventBatch) {
      throw new SentinelError('SENTINEL_E_MALFORMED_FRAME', `fanotify frame ${frames} is not an EVENT_BATCH`);
    }
    const len = buf.readUInt32LE(at + 4);
    if (at + HEADER_SIZE + len > buf.length) throw new SentinelError('SENTINEL_E_MALFORMED_FRAME', 'truncated fanotify frame');
    buf.writeUInt32LE(nextSeq() >>> 0, at + 8);
    records += buf.readUInt32LE(at + HEADER_SIZE);
    frames++;
    at += HEADER_SIZE + len;
  }
  return { frames, records };
}

function validate(o: FanotifyOptions): void {
  if (!Array.isArray(o.paths) || o.paths.length === 0 || o.paths.length > 1024 || o.paths.some((p) => typeof p !== 'string' || p.length === 0 || p.includes('\0'))) {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'paths must be 1..1024 non-empty path strings');
  }
  if (o.maxQueueBytes !== undefined && !(Number.isInteger(o.maxQueueBytes) && o.maxQueueBytes >= 65536 && o.maxQueueBytes <= 2 ** 30)) {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'maxQueueBytes must be an integer in 65536..2^30');
  }
  if (o.markMode !== undefined && !MARK_MODES.includes(o.markMode)) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `markMode must be one of ${MARK_MODES.join(', ')}`);
  if (o.killPolicy !== undefined && !KILL_POLICIES.includes(o.killPolicy)) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `killPolicy must be one of ${KILL_POLICIES.join(', ')}`);
  if (o.protectPids !== undefined && (!Array.isArray(o.protectPids) || o.protectPids.some((p) => !Number.isInteger(p) || p < 1))) {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'protectPids must be positive integers');
  }
}

export class FanotifySource {
  private readonly w: RawFanotifyWatcher;
  private started = false;
  private stopped = false;

  private constructor(w: RawFanotifyWatcher) {
    this.w = w;
  }

  /**
   * Opens the fanotify groups and marks the paths. Throws SentinelError: SENTINEL_E_INVALID_ARGUMENT
   * for bad options or a missing path, SENTINEL_E_IO for everything the kernel refuses (the
   * message says why: not root, kernel too old, file system without file handles, ...).
   */
  static open(o: FanotifyOptions): FanotifySource {
    validate(o);
    const A = addon();
    if (typeof A.FanotifyWatcher !== 'function') throw new SentinelError('SENTINEL_E_NATIVE_LOAD', 'the addon has no FanotifyWatcher (rebuild: npm run build:native)');
    try {
      return new FanotifySource(new A.FanotifyWatcher({ ...o }));
    } catch (err) {
      const msg = (err as Error).message;
      const code = /No such file|cannot watch/.test(msg) ? 'SENTINEL_E_INVALID_ARGUMENT' : 'SENTINEL_E_IO';
      throw new SentinelError(code, msg, { cause: err });
    }
  }

  /** Canonical watched roots. */
  roots(): string[] {
    return this.w.roots();
  }

  /**
   * Starts the native threads. `onReady` runs on the JS thread whenever frames are waiting;
   * call `drain()` from it (or later: the native queue is bounded and counts what it drops).
   */
  start(onReady: () => void): void {
    if (this.started) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'fanotify source already started');
    this.started = true;
    this.w.start(onReady);
  }

  /** The waiting EVENT_BATCH frames (seq 0), or null. */
  drain(): Buffer | null {
    const b = this.w.drain();
    return b ? Buffer.from(b.buffer, b.byteOffset, b.byteLength) : null;
  }

  /** Replaces the permission thread's deny table with a STATE_PUSH snapshot. */
  setDenySet(entries: readonly VerdictEntry[]): DenyUpdate {
    return this.w.setDenySet(encodeVerdictEntries(entries));
  }

  /** The daemon's pid (0: none), protected like protectPids; call again after a reconnect. */
  setDaemonPid(pid: number): void {
    if (!Number.isInteger(pid) || pid < 0) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'daemon pid must be a non-negative integer');
    this.w.setDaemonPid(pid);
  }

  stats(): FanotifyStats {
    return this.w.stats();
  }

  /** Joins the threads and closes the groups (pending permission events are allowed). Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.w.stop();
  }
}
