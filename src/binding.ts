/**
 * The only module that loads the native addon (build/Release/sentinel.node via node-gyp-build).
 *
 * The raw API is small and pre-validated: callers (src/engine.ts) check arguments and supply
 * defaults; the addon still rejects wrong types with a TypeError rather than crashing.
 *
 * Buffer ownership: every TypedArray passed in is owned by JavaScript. The addon reads or
 * fills it during the call only and keeps no reference. `ingest` copies at most the unfinished
 * tail of a chunk (a partial frame) into the connection's own buffer; `reply` and
 * `encodeStatePush` return fresh buffers owned by JavaScript.
 *
 * All calls are synchronous and bounded by the input size (one socket chunk, one tick of rows);
 * none blocks on I/O.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { SentinelError } from './errors.js';

/** Options fixed when an engine is created. */
/** Float64 values per collected row in `meta`, and their offsets (native/core/engine.h kMetaStride). */
export const META_STRIDE = 5;
export const Meta = { Score: 0, LastTsMs: 1, LastEventIndex: 2, Kind: 3, EventsSinceScored: 4 } as const;

export interface RawEngineOptions {
  /** Subject becomes due for scoring after this many new events. */
  dueEveryEvents: number;
  /** ...or when this much event time (ms) has passed since it was last scored and it has new events. */
  dueEveryMs: number;
  /** Heuristic score at or above which a subject is due at once. */
  triggerScore: number;
  /** Bound on live subjects (process + tree). Idle Normal subjects are evicted first. */
  maxSubjects: number;
  /** Subjects with no event for this long (event time, ms) may be evicted. */
  idleEvictMs: number;
  /**
   * Event records one `ingest` call applies at most (0: no bound). When it runs out mid-batch,
   * the rest waits in the connection's backlog and the result has `pending: true`; call
   * `ingest(connId, empty)` on a later turn of the event loop to go on (stop reading that
   * socket meanwhile). Bounds how long one client's batch can delay another's verdict query.
   */
  ingestBudgetEvents?: number;
}

/** Result of one `ingest` call (one socket chunk). */
export interface RawIngestResult {
  /** Frames fully decoded in this call. */
  frames: number;
  /** Event records accepted / rejected in this call. */
  accepted: number;
  rejected: number;
  /** Bytes to write back to the peer (HELLO_ACK, BATCH_ACK, VERDICT_REPLY, ERROR), or null. */
  reply: Uint8Array | null;
  /** Set when this chunk completed the handshake. */
  hello: { version: number; roles: number; pid: number; name: string } | null;
  /** Non-zero protocol error code when the connection must now be closed (after writing `reply`). */
  fatal: number;
  /** The ingest budget ran out: work remains in the connection's backlog (see ingestBudgetEvents). */
  pending: boolean;
  /**
   * Subjects made due at once by this call (heuristic crossed the trigger score, a decoy was
   * touched, or a subject at or above the trigger reached its short 8-event rescoring period):
   * score now rather than at the next tick.
   */
  urgent: number;
  /** Seqs of BARRIER frames processed in this call (absent when none): answer each with BARRIER_ACK after the next scoring tick. */
  barriers?: number[];
  /** Per-code counts of errors in this call, e.g. {6: 3}. Empty object when none. */
  errors: Record<number, number>;
}

export interface RawSubjectInfo {
  id: number;
  kind: 'process' | 'tree';
  pid: number;
  ppid: number;
  uid: number;
  sid: number;
  /** Process start time as sent by the source (0 unknown); as a number (exact below 2^53). */
  startTime: number;
  comm: string;
  /** For a process subject, the id of its tree subject; for a tree subject, 0. */
  treeId: number;
  /** Events seen by this subject since it was created. */
  events: number;
}

export interface RawEngineStats {
  framesIn: number;
  bytesIn: number;
  eventsAccepted: number;
  eventsRejected: number;
  /** Errors by numeric protocol code, cumulative. */
  errorsByCode: Record<number, number>;
  connections: number;
  subjectsLive: number;
  subjectsCreated: number;
  subjectsEvicted: number;
  /** Events that could not get a subject because the table was full of non-evictable subjects. */
  eventsDroppedNoSubject: number;
  dueSubjects: number;
  verdictQueries: number;
  denySetGeneration: number;
  /** Bytes of memory held by the subject table and its windows (approximate). */
  tableBytes: number;
}

export interface RawEngine {
  /** Opens a protocol connection; peerUid is from SO_PEERCRED (trusted by the caller). Returns connId. */
  openConnection(peerUid: number): number;
  /** Frees the connection's state. Returns the number of unfinished bytes that were dropped. */
  closeConnection(connId: number): number;
  /** Decodes every complete frame of `chunk` (a partial tail is kept for the next call). */
  ingest(connId: number, chunk: Uint8Array): RawIngestResult;
  /**
   * Fills up to `ids.length` due subjects, clears their due mark, returns the count n.
   * ids[i]            subject id
   * rows[i*F ..]      F = featureNames().length feature values (Float32)
   * contrib[i*C ..]   C = contributionNames().length heuristic contributions (Float32)
   * meta[i*META_STRIDE ..]  [heuristic score 0..1, last event ts in ms (fractional), last
   *                    event global index (0-based, across all connections), kind (0 process,
   *                    1 tree), events since the subject was last scored]
   * All arrays are owned by the caller and must hold n rows' worth; the addon throws
   * RangeError when they are too small.
   */
  collectDue(ids: Uint32Array, rows: Float32Array, contrib: Float32Array, meta: Float64Array): number;
  /** Sets trust states (0..3) of the given subjects. Returns true if the deny set changed. */
  setStates(ids: Uint32Array, states: Uint8Array): boolean;
  /** Floor (0..3; 0 removes it) on the effective state of every process of `uid`. True if the deny set changed. */
  setUidFloor(uid: number, state: number): boolean;
  /** Effective state of a process: max(own, tree), 0 when unknown. */
  verdict(pid: number, startTime: number): number;
  /** A full STATE_PUSH frame (header included) for the current deny set; withHolds adds the hold set (barrier clients). */
  encodeStatePush(seq: number, withHolds?: boolean): Uint8Array;
  /** One entry per id, null for an id that is not live (never existed or evicted). */
  subjectInfo(ids: Uint32Array): (RawSubjectInfo | null)[];
  /** Decoy (canary) file paths; touching one is a strong feature and an immediate trigger. */
  setDecoys(paths: string[]): void;
  /**
   * Heuristic weights, one per contribution name (contributionNames() order). Each contribution
   * is weight_k * indicator_k with indicator_k in [0, 1] computed natively; the heuristic score
   * is 1 - exp(-sum_k contribution_k). Throws RangeError on a wrong length or a negative or
   * non-finite weight. The addon starts with the defaults of models/heuristic/weights.json.
   */
  setHeuristicWeights(weights: Float32Array): void;
  /** Ids of subjects evicted since the last call (so the state machine can forget them). */
  takeEvicted(): Uint32Array;
  stats(): RawEngineStats;
}

/** Options of `new FanotifyWatcher(...)` (native/fanotify, docs/fanotify.md). */
export interface RawFanotifyOptions {
  /** Files or directories to watch (1..1024); canonicalized with realpath. */
  paths: string[];
  /** Open a FAN_CLASS_CONTENT group and answer FAN_OPEN_PERM from the deny set. */
  enforce?: boolean;
  /** Also FAN_ACCESS_PERM (reads through already-open files) when enforcing. */
  accessPerm?: boolean;
  /** Bound on finished frames waiting for drain(); whole frames are dropped (counted) beyond it. Default 8 MiB. */
  maxQueueBytes?: number;
  /** Notification group marks: 'inode' (every directory of the trees, default) or 'filesystem'. */
  markMode?: 'inode' | 'filesystem';
  /** Signal a process tree when it enters Lockdown (default 'none'). */
  killPolicy?: 'none' | 'stop' | 'kill';
  /** Pids never denied or signalled (the daemon); the watcher itself and pid 1 always are. */
  protectPids?: number[];
  /** Pair FAN_MOVED_FROM/TO instead of using FAN_RENAME (what kernels before 5.17 get; for tests). */
  movedEvents?: boolean;
}

export interface RawFanotifyStats {
  events: number;
  records: number;
  recordsQueued: number;
  /** Records dropped because the bounded queue was full. */
  dropped: number;
  frames: number;
  /** FAN_Q_OVERFLOW events: the kernel queue overflowed and events were lost. */
  overflows: number;
  filtered: number;
  unresolved: number;
  sampleFailures: number;
  marks: number;
  markFailures: number;
  permAllowed: number;
  permDenied: number;
  signalled: number;
  /** Entries found in a new directory when it was marked, reported as mkdir/create. */
  synthesized: number;
  denyEntries: number;
  denyUpdates: number;
  queuedBytes: number;
  dirCache: number;
  renameEvents: boolean;
  filesystemMarks: boolean;
  running: boolean;
}

/**
 * A fanotify watcher. The constructor opens the groups and places the marks (throws Error with
 * the errno text and its meaning: not root, old kernel, unsupported file system). `start`
 * runs its threads; `onReady` is called on the JS thread (ThreadSafeFunction) when frames wait.
 * `drain` returns the waiting EVENT_BATCH frames (seq 0; the caller numbers them) as a buffer
 * JavaScript owns, or null. `setDenySet` takes n × 16-byte verdict entries (a STATE_PUSH's
 * entries) and swaps the permission thread's table. `stop` joins the threads (idempotent).
 */
export interface RawFanotifyWatcher {
  start(onReady: () => void): void;
  drain(): Uint8Array | null;
  setDenySet(entries: Uint8Array): { lockdown: number; newlyDenied: number[]; signalled: number };
  stats(): RawFanotifyStats;
  stop(): void;
  roots(): string[];
  /** The daemon's pid (0: none): never denied or signalled, its own events dropped. Changes on reconnect. */
  setDaemonPid(pid: number): void;
}

// ---- biometrics: input collector and keystroke model (native/addon/biometrics_binding.cc) ----

/** Float64 values per key record, and their offsets. No key code is in a record. */
export const KEY_RECORD_STRIDE = 7;
export const KeyRec = { PressMs: 0, Flags: 1, MonoBucket: 2, DigraphBucket: 3, HoldMs: 4, PpMs: 5, RpMs: 6 } as const;
/** Bits of KeyRec.Flags. */
export const KeyFlag = { Backspace: 1, Hold: 2, Digraph: 4 } as const;
/**
 * Float64 values per mouse action in `actionMeta`: [type (0 MM, 1 PC, 2 DD), tStartS, tEndS,
 * device]. `device` is the collector's number of the device the action came from (0 from
 * decodeInputEvents); a batch's `devices` events map it to the device's identity.
 */
export const ACTION_META_STRIDE = 4;
export const ActionMeta = { Type: 0, TStartS: 1, TEndS: 2, Device: 3 } as const;

export interface RawInputCollectorOptions {
  /** Devices opened at once (character devices, FIFOs, recordings); a failure throws (errno set). */
  paths?: string[];
  /** A directory whose `event*` entries are opened (e.g. /dev/input). */
  dir?: string;
  /** inotify hot-plug in `dir` (default true). */
  watch?: boolean;
  /** Host-local 16-byte digraph key file, created 0600 when absent; refused if group/other may read it. */
  keyPath: string;
  /** Key code counted as backspace (default 14, evdev KEY_BACKSPACE). */
  backspaceCode?: number;
  /**
   * Pixels per ABS_X/ABS_Y device unit for a device that reports no resolution (FIFOs,
   * recordings; a positive finite number, default 1). An evdev device whose EVIOCGABS gives a
   * resolution is scaled to nominal pixels at 96 dpi instead.
   */
  absScale?: number;
  /** Keystrokes + actions that may wait for drain (default 65536); more are dropped, counted. */
  maxQueued?: number;
}

export interface RawDeviceEvent {
  kind: 'added' | 'removed' | 'error';
  path: string;
  /** errno of an error, or of a removal caused by one (ENODEV: unplugged); 0 otherwise. */
  errno: number;
  /** Removal only: bytes of an incomplete last record (a truncated stream). */
  truncatedBytes: number;
  message: string;
  /**
   * 'added' / 'removed': the device's number in this collector (1, 2, ... in open order, never
   * reused), as in the Device column of its actions' `actionMeta`; 0 for 'error'.
   */
  device: number;
  /**
   * 'added' / 'removed': what the device is, independent of its path: "bus:vvvv:pppp name" (hex,
   * from EVIOCGID and EVIOCGNAME; printable ASCII, the name at most 64 characters) for an evdev
   * character device, "file:<basename>" for anything else (FIFO, recording); '' for 'error'.
   */
  identity: string;
}

/**
 * One drained batch. Every array is new and owned by JavaScript (zero-copy: its memory is the
 * addon's drained vector, freed when the array is collected; the addon keeps no reference).
 * `keys`: KEY_RECORD_STRIDE numbers per keystroke (KeyRec offsets), in press order; no device.
 * `actions`: actionFeatures float32 per mouse action; `actionMeta`: ACTION_META_STRIDE per action
 * (ActionMeta offsets). The 'added' event of an action's device is in this batch or an earlier one.
 */
export interface RawInputBatch {
  keys: Float64Array;
  actions: Float32Array;
  actionMeta: Float64Array;
  devices: RawDeviceEvent[];
}

export interface RawDecodeStats {
  bytes: number;
  records: number;
  malformed: number;
  repeats: number;
  synDropped: number;
  keystrokes: number;
  unreleased: number;
  pointerEvents: number;
  actions: number;
  ignored: number;
}

export interface RawInputCollectorStats extends RawDecodeStats {
  dropped: number;
  devicesOpen: number;
  devicesAdded: number;
  devicesRemoved: number;
  deviceErrors: number;
  readErrors: number;
  truncatedRecords: number;
  queued: number;
  running: boolean;
}

/**
 * The evdev collector. The constructor opens `paths` and the key (throws Error with `errno`, or
 * code SENTINEL_E_BIO_KEY). `start` runs its reader thread; `onReady` is called on the JS thread
 * (ThreadSafeFunction) when output waits. `drain` returns the waiting batch or null. `stop` joins
 * the thread (idempotent; a stopped collector cannot start again).
 */
export interface RawInputCollector {
  start(onReady: () => void): void;
  drain(): RawInputBatch | null;
  stats(): RawInputCollectorStats;
  stop(): void;
}

export interface RawKeystrokeScorerInfo {
  window: number;
  stride: number;
  /** Per-user accept threshold on the fused score (calibrated at enrollment to a false-reject rate). */
  threshold: number;
  /** Sd of the enrollment's own leave-one-window-out fused scores. */
  genuineSd: number;
  enrollmentWindows: number;
  buffered: number;
}

/**
 * Scores a stream of key records against a serialized profile (throws code SENTINEL_E_BIO_PROFILE
 * for a malformed, truncated or unknown-version profile). `push` returns the fused scores (higher
 * = more likely the enrolled user) of the windows the batch completed. Synchronous, cheap.
 */
export interface RawKeystrokeScorer {
  push(keys: Float64Array): Float64Array;
  /** As `push`; `ends[i]` is the index (in records of `keys`) of the record that completed window i. */
  pushWindows(keys: Float64Array): { scores: Float64Array; ends: Uint32Array };
  info(): RawKeystrokeScorerInfo;
  reset(): void;
}

export type RawMouseMethod = 'robustZ' | 'knn' | 'histLlr' | 'gauss';

export interface RawMouseEnrollResult {
  /** Serialized one-class mouse profile (SMO1), owned by JavaScript. */
  profile: Uint8Array;
  /** Accept when a block score is at least this (calibrated to the requested false-reject rate). */
  threshold: number;
  /** Sd of the enrollment's leave-out block scores. */
  genuineSd: number;
  calibrationBlocks: number;
  /** Sittings the profile is built from: 1 after enrollment ('histLlr'; 0 for the other methods), 2 after the first added sitting. */
  sittings: number;
}

export interface RawMouseProfileInfo {
  threshold: number;
  sittings: number;
  canAddSittings: boolean;
  /** Actions of the quantised enrollment the model is built from (0 for a version-2 profile). */
  enrolledActions: number;
  /**
   * Whether the profile was enrolled with the population passed to `mouseProfileInfo` (what
   * `addMouseSitting` requires); null when none was passed.
   */
  populationMatches: boolean | null;
}

/**
 * Scores mouse action rows against a serialized one-class profile (throws code
 * SENTINEL_E_BIO_PROFILE when malformed). `push` returns the block scores (mean action score over
 * the last `blockActions`; higher = more likely the enrolled user) completed by the batch.
 */
export interface RawMouseScorer {
  push(actions: Float32Array, actionMeta: Float64Array): Float64Array;
  reset(): void;
  info(): { threshold: number; blockActions: number; stride: number; buffered: number };
}

/** Per member of a several-users mouse model: its cross-fitted calibration. */
export interface RawMouseCohortMember {
  /** Accept when the member's block score is at least this (the requested false-reject rate of held-out own blocks). */
  threshold: number;
  /** Sd of those held-out block scores. */
  genuineSd: number;
  calibrationBlocks: number;
  /** Share of the other members' held-out blocks the threshold accepts (the estimated FAR against them). */
  enrolledFar: number;
}

export interface RawMouseCohortFit {
  /** Serialized several-users model (SMC1), owned by JavaScript. */
  model: Uint8Array;
  /** In the order of the profiles given. */
  members: RawMouseCohortMember[];
}

/**
 * Scores mouse action rows as one member of a several-users model: block scores (mean over the
 * last `blockActions` actions of log p(member) − log mean p(other members), clipped to ±6, the
 * means over the other enrolled members and over the background taken apart and the lower
 * score kept; higher = more likely that member) completed by the batch.
 */
export interface RawMouseCohortScorer {
  push(actions: Float32Array, actionMeta: Float64Array): Float64Array;
  reset(): void;
  info(): { members: number; member: number; threshold: number; blockActions: number; stride: number; buffered: number };
}

export interface RawBiometricsConstants {
  keyRecordStride: number;
  actionFeatures: number;
  actionMetaStride: number;
  mouseSchemaVersion: number;
  inputEventSize: number;
  monoBuckets: number;
  digraphBuckets: number;
  /** Mouse action feature names, index-aligned with each action's features. */
  actionFeatureNames: string[];
  /** The compiled fused-v1 keystroke weights (KEYSTROKE_COMPONENTS numbers), a fresh array per call. */
  keystrokeFusedV1Weights: Float64Array;
  /** Their global accept threshold at 100-keystroke windows (evaluation only). */
  keystrokeFusedV1GlobalThreshold: number;
}

// ---- X11 active-application watcher and app model (native/x11, native/addon/app_binding.cc) ----

/** Options of `new AppWatcher(...)` (docs/biometrics.md, "Active application (X11)"). */
export interface RawAppWatcherOptions {
  /** X display string, e.g. ":1"; default $DISPLAY. */
  display?: string;
  /** Host key file (16 bytes, mode 0600), created when absent; app ids are keyed with it. */
  keyPath: string;
  /** Events waiting for drain() (1..2^20, default 65536); newer ones are dropped, counted. */
  maxQueue?: number;
  /** Hold time of a "no app" state before it is reported (0..10000 ms, default 100). */
  noneSettleMs?: number;
}

/**
 * One drained batch of app changes, index-aligned. Every array is new and owned by JavaScript
 * (the addon copies into fresh ArrayBuffers and keeps nothing).
 * `t`: CLOCK_MONOTONIC µs; `ids`: keyed-hash app ids (0n: no active app), never class names;
 * `hours`: local hour of day 0..23 when the change was seen.
 */
export interface RawAppBatch {
  t: Float64Array;
  ids: BigUint64Array;
  hours: Uint8Array;
}

export interface RawAppWatcherStats {
  propertyNotifies: number;
  emitted: number;
  duplicates: number;
  dropped: number;
  noWindow: number;
  noClass: number;
  transientNone: number;
  /** 1 once the X connection failed while running (server gone). */
  connectionLost: number;
  queued: number;
  running: boolean;
  ended: boolean;
  endReason: string;
}

/**
 * The X11 active-application watcher. The constructor connects and checks _NET_SUPPORTED
 * (throws Error with code SENTINEL_E_APP_UNAVAILABLE and message "app modality off: <reason>"
 * when no display is reachable or the WM does not publish _NET_ACTIVE_WINDOW; code
 * SENTINEL_E_BIO_KEY for an unsafe key file). `start` runs its thread; `onReady` is
 * called on the JS thread (ThreadSafeFunction) when changes wait and once when the connection
 * is lost. `drain` returns the waiting batch or null. `stop` joins the thread (idempotent; a
 * stopped watcher cannot start again).
 */
export interface RawAppWatcher {
  start(onReady: () => void): void;
  drain(): RawAppBatch | null;
  stats(): RawAppWatcherStats;
  stop(): void;
}

export interface RawAppModelOptions {
  maxGapS?: number;
  beta?: number;
  windowTransitions?: number;
  frr?: number;
}

export interface RawAppModelInfo {
  version: number;
  vocabulary: number;
  transitions: number;
  /** Calibrated per-user threshold on the score; NaN when enrollment had under 5 windows. */
  threshold: number;
  calibrationWindows: number;
}

/** The app-modality part of the addon. All functions are synchronous; arrays are read during the call only. */
export interface RawAppAddon {
  AppWatcher: new (options: RawAppWatcherOptions) => RawAppWatcher;
  /** The id the watcher reports for a WM_CLASS class under the key at keyPath (tests, labelling). */
  appIdForClass(keyPath: string, wmClass: string): bigint;
  /** A serialized app model (new Uint8Array owned by JS); throws Error code SENTINEL_E_BIO_ENROLL for an invalid or transition-free sequence. */
  appModelEnroll(t: Float64Array, ids: BigUint64Array, hours: Uint8Array, options?: RawAppModelOptions): Uint8Array;
  /** Mean log-likelihood ratio per transition (higher = more like the user; NaN with 0 transitions). Throws Error code SENTINEL_E_BIO_PROFILE for a malformed, truncated or other-version model (also appModelInfo). */
  appModelScore(model: Uint8Array, t: Float64Array, ids: BigUint64Array, hours: Uint8Array): { score: number; transitions: number };
  appModelInfo(model: Uint8Array): RawAppModelInfo;
}

// ---- end of the X11 app block ----

export interface RawAddon extends RawAppAddon {
  FanotifyWatcher: new (options: RawFanotifyOptions) => RawFanotifyWatcher;
  Engine: new (options: RawEngineOptions) => RawEngine;
  InputCollector: new (options: RawInputCollectorOptions) => RawInputCollector;
  /**
   * `weights`: the fused score's KEYSTROKE_COMPONENTS weights (copied), those the profile was
   * calibrated with; absent, the compiled fused-v1. Throws TypeError/RangeError for a bad array.
   */
  KeystrokeScorer: new (profile: Uint8Array, stride: number, weights?: Float64Array) => RawKeystrokeScorer;
  /**
   * Synchronous decode of at most 256 KiB of input_event records (tests, benchmarks; the
   * collector is the asynchronous path). `chunkBytes` > 0 feeds it in pieces (short reads).
   * `absScale`: pixels per ABS_X/ABS_Y device unit (a positive finite number, default 1; the
   * bytes have no EVIOCGABS resolution), as in RawInputCollectorOptions. Validated by the
   * caller (checkAbsScale); the addon throws RangeError for one that is not.
   */
  decodeInputEvents(
    bytes: Uint8Array,
    options: { keyPath: string; backspaceCode?: number; chunkBytes?: number; absScale?: number },
  ): RawInputBatch & { stats: RawDecodeStats; partialBytes: number };
  /** Enrollment on the libuv pool: resolves a serialized keystroke profile (rejects SENTINEL_E_BIO_ENROLL). */
  enrollKeystrokes(keys: Float64Array, window: number, frr: number, weights?: Float64Array): Promise<Uint8Array>;
  /**
   * Synchronous (microseconds): the profile with its threshold calibrated again under `weights`
   * (default fused-v1) from its stored enrollment windows; a fresh array the caller owns.
   * Throws code SENTINEL_E_BIO_PROFILE for a bad profile, TypeError/RangeError for bad arguments.
   */
  recalibrateKeystrokes(profile: Uint8Array, frr: number, weights?: Float64Array): Uint8Array;
  biometricsConstants(): RawBiometricsConstants;
  MouseScorer: new (profile: Uint8Array, blockActions: number, stride: number) => RawMouseScorer;
  /**
   * One-class mouse enrollment on the libuv pool (rejects SENTINEL_E_BIO_ENROLL). `population` is
   * the shipped models/mouse model (needed by 'histLlr' and 'gauss'; throws SENTINEL_E_BIO_PROFILE
   * when malformed).
   */
  enrollMouse(
    actions: Float32Array,
    actionMeta: Float64Array,
    population: Uint8Array | null,
    options: { method?: RawMouseMethod; blockActions?: number; frr?: number },
  ): Promise<RawMouseEnrollResult>;
  /**
   * Adds one more sitting of the enrolled user to a one-class mouse profile (histogram method,
   * profile version 3), on the libuv pool. The returned profile scores as if enrolled from every
   * sitting together, calibrated exactly as enrolling on every sitting's actions at once would be
   * (leave-out blocks of 4 contiguous chunks over all of them), and `genuineSd`/`calibrationBlocks`
   * describe those blocks. `maxActions` > 0 keeps only the most recent that many actions (oldest
   * first out; RangeError below four blocks); 0 keeps every one. The arrays passed in are read,
   * never kept; the returned profile is
   * owned by JavaScript. Throws SENTINEL_E_BIO_PROFILE synchronously for a malformed profile or
   * one that cannot take sittings (version 2, another method); rejects SENTINEL_E_BIO_ENROLL
   * when the sitting holds fewer than 4 * blockActions actions and SENTINEL_E_BIO_PROFILE when
   * the population is not the one the profile was enrolled with.
   */
  addMouseSitting(
    profile: Uint8Array,
    actions: Float32Array,
    actionMeta: Float64Array,
    population: Uint8Array,
    options: { blockActions?: number; frr?: number; maxActions?: number },
  ): Promise<RawMouseEnrollResult>;
  /**
   * What a serialized one-class mouse profile says about its sittings (synchronous; throws
   * SENTINEL_E_BIO_PROFILE when the profile or the optional population is malformed).
   * `canAddSittings` is false for version-2 profiles and methods other than 'histLlr';
   * `populationMatches` says whether `population` is the one the profile was enrolled with.
   */
  mouseProfileInfo(profile: Uint8Array, population?: Uint8Array | null): RawMouseProfileInfo;
  /**
   * Fits the several-users mouse model (one softmax GBT over the members' quantised enrollments,
   * cross-fitted calibration per member) on the libuv pool. Profiles and population are checked
   * on the JS thread (SENTINEL_E_BIO_PROFILE when malformed; RangeError outside 2..64 profiles);
   * the fit rejects SENTINEL_E_BIO_ENROLL with the reason when a profile has no quantised
   * enrollment, was enrolled under another population, or is too short. The last
   * `backgroundMembers` profiles (default 0, at most all but one) are background: one class of
   * the model, never scored, and a member's score against them is taken apart from its score
   * against the other members, the lower kept (native/biometrics/mouse_cohort.h). The inputs
   * are read, never kept.
   */
  fitMouseCohort(
    profiles: Uint8Array[],
    population: Uint8Array,
    options: { blockActions?: number; frr?: number; maxActions?: number; rounds?: number; backgroundMembers?: number },
  ): Promise<RawMouseCohortFit>;
  /** Throws SENTINEL_E_BIO_PROFILE for a malformed model or a population it was not fitted under. */
  MouseCohortScorer: new (model: Uint8Array, population: Uint8Array, member: number, blockActions: number, stride: number) => RawMouseCohortScorer;
  /** Feature names in row order, e.g. "w10s.write_rate". */
  featureNames(): string[];
  /** Heuristic contribution names in contrib order. */
  contributionNames(): string[];
  /** Numeric protocol constants mirrored from native/core/protocol.h, for a consistency check. */
  protocolConstants(): { magic: number; version: number; headerSize: number; maxPayload: number; recordFixed: number };
  /** SO_PEERCRED of a connected Unix socket file descriptor. Throws on a non-socket fd. */
  peerCredentials(fd: number): { pid: number; uid: number; gid: number };
  /** Sends a state string to $NOTIFY_SOCKET; false when not run by systemd. */
  sdNotify(state: string): boolean;
  /** Shannon entropy (bits per byte) and chi-square statistic of a byte sample. */
  sampleStats(sample: Uint8Array): { entropy: number; chiSquare: number };
}

/** The checkout root: the nearest folder above this file holding binding.gyp (src/ or dist/src/). */
function findProjectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'binding.gyp'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new SentinelError('SENTINEL_E_NATIVE_LOAD', 'binding.gyp not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

function load(): RawAddon {
  const require = createRequire(import.meta.url);
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
  const projectRoot = findProjectRoot();
  try {
    return nodeGypBuild(projectRoot) as RawAddon;
  } catch (err) {
    throw new SentinelError(
      'SENTINEL_E_NATIVE_LOAD',
      `cannot load the native addon from ${projectRoot} (run \`npm run build:native\`): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

let cached: RawAddon | undefined;

/** The addon, loaded once per process (the addon keeps its own state per Node environment). */
export function addon(): RawAddon {
  cached ??= load();
  return cached;
}
