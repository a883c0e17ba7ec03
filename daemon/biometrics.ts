/**
 * Continuous authentication in the daemon: input collector → keystroke scorer → session monitor
 * (fusion + trust machine) → audit and actions (docs/biometrics.md, "Session subject").
 *
 * - Off, with the reason logged and shown in /v1/status, when disabled, when no profile was
 *   enrolled, or when there is no input directory and no device configured. Never fatal: the
 *   file-system side runs without it.
 * - Whose profile (daemon/session-user.ts): `biometrics.user`'s, else the active session's user
 *   on logind's seat (its file watched: each switch stops the collector, scores what it held for
 *   the old user, and starts again for the new one from Normal; a user left Restricted or
 *   Lockdown keeps their processes' floor until their session is active again), else the only
 *   profile. Each switch is audited as a `notify`.
 * - Floors survive a restart (`restrictProcesses`): every uid floor is kept in the audit
 *   database's `session_floors` table as it changes. The first start re-applies them: the user
 *   whose session is active then continues at their saved state (a `force` transition by
 *   `sentinel-restart`: no login came between), the others stay held until their session is
 *   active again. A floor saved before a reboot (another kernel boot id), or with
 *   `restrictProcesses` off, is dropped, and logged.
 * - Actions: entering Restricted is logged and audited as a `notify` action and runs the optional
 *   restrict command (`restrict_session`); entering Lockdown runs the lock command (default
 *   `loginctl lock-session`) once per entry and audits `lock_session` with its result; a failed
 *   command is logged with SENTINEL_E_LOCK_FAILED.
 * - Nothing from the input is logged or stored beyond scores, states and counts.
 * - Collector drops (full queue) become audit `drops` rows (hop "input") as they rise.
 * - Pointer devices (`mouseDevices`, default 'enrolled'): a mouse action from a device whose
 *   identity is not among the profile's `mouse.devices` is not scored, because the mouse model's
 *   verdict on a device it was not enrolled on carries no information (a genuine user's new
 *   mouse would look like an impostor). Such actions are counted; the first action of each such
 *   identity is logged and audited once as a `notify` on the session subject. A profile without
 *   `mouse.devices` (enrolled before they were recorded) scores every device.
 * - Mouse learning by use (`mouseLearnActions`, default 500; 0 off): the scored mouse actions
 *   are buffered in memory while the session is Normal; any transition out of Normal discards
 *   the buffer. The newest two blocks' actions are held back (the monitor needs a few blocks to
 *   move out of Normal on someone else's mouse). Each time the buffer holds `mouseLearnActions`
 *   actions before those, the oldest `mouseLearnActions` become one more sitting
 *   (`addMouseSitting`, on the libuv pool, one at a time), the profile file is re-read and
 *   rewritten with only `mouse` replaced (never when its mouse model changed on disk since:
 *   then the sitting is dropped and the daemon switches to the model on disk), the mouse
 *   stream switches to the new model, and the
 *   sitting is logged and audited (`mouse_model_learned`). Off, with the reason in the log and
 *   /v1/status, for a profile that cannot take sittings, a sitting under four blocks, or no
 *   population model. Nothing of the buffered actions is logged or written, except through the
 *   profile's model.
 * - The profile file is watched: a profile rewritten while the daemon runs (`sentinel enroll`,
 *   `--add`) is reloaded, each changed model switched in, the session state kept; one enrolled
 *   while the modality is off for want of a profile starts it.
 * - The app model learned by use is written the same way: the file is re-read and only `app`
 *   replaced, so a `sentinel enroll --add` run since the daemon started is kept.
 * - A mouse profile of fewer than `mouseMinSittings` sittings (default 2) is scored but not fused
 *   into the session score; a mouse-only shadow monitor takes its blocks instead, and its
 *   reaching Restricted discards the learning buffer (nothing is learned while it stays there).
 *   Smoothing per modality: `emaAlpha`, `emaStart` (docs/biometrics.md, "Mouse: what the session
 *   subject does with these scores").
 * - With two or more users enrolled (`mouseCohort`), the session user's scored mouse actions are
 *   also scored by the several-users model (daemon/mouse-cohort.ts: fitted from every profile,
 *   refitted on each change) and observed as the modality `mouseCohort`; it votes when the mouse
 *   does.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { AuditStore } from '../src/audit/store.js';
import type { ActionRecord, SessionFloorRow, TransitionRecord } from '../src/audit/records.js';
import { InputSource, inputUnavailableReason, type DeviceIdentities, type InputBatch } from '../src/biometrics/input-source.js';
import { concatFloat32, concatFloat64, selectActions } from '../src/biometrics/input-batch.js';
import { KeystrokeStream, recalibrateKeystrokeProfile } from '../src/biometrics/keystroke-model.js';
import { classicalMismatch, KEYSTROKE_CLASSICAL_V1, loadKeystrokeClassical, type KeystrokeClassicalModel } from '../src/models/keystroke-classical-model.js';
import { EmbeddedKeystrokeStream, embeddingFit, openKeystrokeEmbedding, type KeystrokeEmbeddingModels } from '../src/biometrics/keystroke-embedded-stream.js';
import { actionCount, addMouseSitting, loadMousePopulation, mouseProfileInfo, MouseStream, withSitting } from '../src/biometrics/mouse-model.js';
import { keyFingerprint, loadProfile, sameModelBytes, saveProfile, type BioProfile, type ModalityProfile } from '../src/biometrics/profile-file.js';
import { ACTION_META_STRIDE } from '../src/binding.js';
import { AppModality, type AppModalityConfig } from './app-modality.js';
import { watchFolder, type FolderWatch } from './folder-watch.js';
import { chooseSessionUser, type SessionUserChoice, type SessionUserSource } from './session-user.js';
import { readBootId } from './boot-id.js';
import { listProfiles } from '../src/biometrics/profile-dir.js';
import { splitMembers } from '../src/biometrics/mouse-background.js';
import { MouseCohortStream, type MouseCohortFit } from '../src/biometrics/mouse-cohort.js';
import { MouseCohortModel, type MouseCohortStatus } from './mouse-cohort.js';
import type { MouseDevicesPolicy } from './config.js';
import { SessionMonitor, type Modality, type ModalityStatus } from '../src/biometrics/session-monitor.js';
import { errorCode, SentinelError } from '../src/errors.js';
import { stateName } from '../src/scoring/scorer.js';
import type { Transition, TrustPolicy, TrustState } from '../src/state/trust-machine.js';

/** Subject id of the user session: above every native subject id (those are 32-bit). */
export const SESSION_SUBJECT_ID = 2 ** 32;
/** `by` of the transition that resumes a session user's saved state after a daemon restart. */
export const RESTART_BY = 'sentinel-restart';

export interface BiometricsConfig {
  enabled: boolean;
  /** Directory of evdev devices, watched for hot-plug ("" for none). */
  inputDir: string;
  /** Extra devices (character devices, FIFOs, recordings) opened at start. */
  devices: string[];
  keyPath: string;
  /** One profile per enrolled user, `<user>.json` (src/biometrics/profile-dir.ts). */
  profileDir: string;
  /** Score this user's profile whoever is logged in ("": follow the seat, or the only profile; daemon/session-user.ts). */
  user: string;
  /** logind's seat file, followed to score the active session's user ("": not followed). */
  seatFile: string;
  /** argv of the command that locks the session on Lockdown. */
  lockCommand: string[];
  /** argv of a command run on entering Restricted (empty: none; the entry is always notified). */
  restrictCommand: string[];
  /** Hold the session user's own processes at the session state (Restricted and up) in the deny set. */
  restrictProcesses: boolean;
  /** uid of the session's user when the seat does not say it; -1: look up the profile's user name in /etc/passwd. */
  sessionUid: number;
  /** Score a keystroke window every this many keystrokes (0: a quarter of the window). */
  stride: number;
  /**
   * Combine the classical keystroke score with the learned embedding (models/keystroke-embed,
   * models/keystroke-fusion) when the profile holds a reference from the shipped embedder.
   */
  keystrokeEmbedding: boolean;
  /**
   * Which pointing devices the mouse model scores: 'enrolled' (those in the profile's
   * `mouse.devices`; every device when the profile lists none) or 'any'.
   */
  mouseDevices: MouseDevicesPolicy;
  /**
   * Mouse actions per sitting learned by use while the session is Normal (0: no learning; else
   * at least four of the profile's blocks, checked at start).
   */
  mouseLearnActions: number;
  /** The shipped models (`models/mouse` is the population mouse learning needs); set by the daemon from the top-level `modelsDir`. */
  modelsDir?: string;
  /**
   * Sittings the mouse profile must hold before its scores take part in the fusion (1: from
   * enrollment). Below that the mouse is scored, shown and learned from, but cannot move the
   * session: one sitting locks the user out too often (docs/biometrics.md).
   */
  mouseMinSittings: number;
  /**
   * With two or more users enrolled, score the session user's mouse also against the other
   * enrolled users (the several-users model, daemon/mouse-cohort.ts), as the `mouseCohort`
   * modality. It votes when the mouse does (`mouseMinSittings`).
   */
  mouseCohort: boolean;
  /** Boosting rounds of the several-users model (its CPU per fit). */
  mouseCohortRounds: number;
  /** Most recent enrolled actions of each user the several-users model is fitted on. */
  mouseCohortActions: number;
  /**
   * The file of other people's mouse profiles the several-users model is also fitted with, never
   * scored (src/biometrics/mouse-background.ts; default `<dataDir>/mouse-background.bin`, built on
   * this machine by scripts/bio/mouse_background.sh); used when it exists; "none": no background.
   * With one, a single enrolled user is enough for the model (it is not used with two or more).
   */
  mouseBackground: string;
  /** EMA weight of the newest score, per modality (SessionMonitor). */
  emaAlpha: Record<Modality, number>;
  /** Impostor probability each modality's average starts from; 0: from its first score. */
  emaStart: Record<Modality, number>;
  /** Fusion weight per modality (SessionMonitor); 0 leaves a modality out of the fused score. */
  weights: Record<Modality, number>;
  silentAfterMs: number;
  policy: Partial<TrustPolicy>;
  app: AppModalityConfig;
}

/** The mouse modality's pointing devices, as /v1/status shows them. */
export interface PointerDevicesStatus {
  policy: MouseDevicesPolicy;
  /** The profile's enrolled identities; null when every device is scored (policy 'any', or a profile without `mouse.devices`). */
  enrolled: string[] | null;
  /** Mouse actions not scored because their device is not enrolled. */
  unenrolledActions: number;
  /** Each unenrolled identity seen, with its count of actions not scored. */
  unenrolled: { identity: string; actions: number }[];
}

export interface BiometricsStatus {
  on: boolean;
  reason: string | null;
  user: string | null;
  subjectId: number;
  state: string;
  score: number;
  modalities: ModalityStatus[];
  /** Keystroke windows and mouse blocks scored. */
  windowsScored: number;
  blocksScored: number;
  locks: number;
  pointerDevices: PointerDevicesStatus;
  input: Record<string, number | boolean> | null;
  app: { on: boolean; reason: string | null; model: boolean; visits: number; windowsScored: number; learned: number; dropped: number };
  mouseLearning: MouseLearningStatus;
  mouseFusion: MouseFusionStatus;
  keystrokeScoring: KeystrokeScoringStatus;
  sessionUser: SessionUserStatus;
  mouseCohort: MouseCohortScoringStatus;
}

/** The several-users mouse model and whether the session user is scored by it, as /v1/status shows it. */
export interface MouseCohortScoringStatus extends MouseCohortStatus {
  /** The session user is scored by the model (a member, with a mouse model). */
  scoring: boolean;
  /** The session user's cross-fitted calibration (null when not scoring). */
  member: { user: string; threshold: number; enrolledFar: number; calibrationBlocks: number } | null;
  blocksScored: number;
  /** Blocks scored but kept out of the fusion, as the mouse's are (`mouseMinSittings`). */
  blocksNotFused: number;
}

/** Whose profile the session is scored against, and why, as /v1/status shows it. */
export interface SessionUserStatus {
  /** How `user` was chosen (null while off). */
  source: SessionUserSource | null;
  /** The profile file in use (null while off). */
  profile: string | null;
  /** The users enrolled in `biometrics.profileDir`. */
  enrolled: string[];
  /** The seat file followed ("" when not followed: `biometrics.user` is set or `seatFile` is ""). */
  seatFile: string;
  /** Times the session's user changed (a seat switch, or a profile enrolled or removed that changes the choice). */
  switches: number;
  /** Users switched away from while Restricted or Lockdown: their processes stay held at that state until their session is active again. */
  heldFloors: { uid: number; state: string }[];
}

/** How keystroke windows are scored, as /v1/status shows it. */
export interface KeystrokeScoringStatus {
  /** 'fused+embedding': the classical fused score combined with the learned embedding; 'fused': the classical score alone; null: keystrokes not scored. */
  method: 'fused+embedding' | 'fused' | null;
  /** Why the embedding is not used (null when it is, or keystrokes are not scored). */
  reason: string | null;
  /** sha256 of the ONNX embedder in use (null when the embedding is not used). */
  model: string | null;
  /** Batches whose windows were lost because the embedder failed (scoring then falls back to 'fused'). */
  embeddingFailures: number;
  /**
   * The classical score's weights in use (models/keystroke-classical's version; 'compiled
   * keystroke-fused-v1' without a models directory); null when keystrokes are not scored.
   */
  classical: string | null;
  /**
   * Whether the profile was calibrated under other classical weights and is scored after
   * recalibrating it in memory under the loaded ones.
   */
  recalibrated: boolean;
  /**
   * Why the profile's keystroke model is not scored (the classical weights missing or failing
   * their manifest); null when it is, or the profile has none.
   */
  off: string | null;
}

/** Whether the mouse's scores take part in the fusion (`mouseMinSittings`), as /v1/status shows it. */
export interface MouseFusionStatus {
  on: boolean;
  /** Sittings the mouse profile holds now (0 without a mouse model). */
  sittings: number;
  minSittings: number;
  /** Mouse blocks scored but kept out of the fusion because the profile held too few sittings. */
  blocksNotFused: number;
}

/** Mouse learning by use, as /v1/status shows it. */
export interface MouseLearningStatus {
  on: boolean;
  /** Why it is off (null when on). */
  reason: string | null;
  /** Actions held for the next sitting (Normal-state, scored actions). */
  buffered: number;
  /** Sittings this daemon run added to the profile. */
  learnedSittings: number;
  /** Buffered actions discarded because the session left Normal. */
  discardedActions: number;
  /** Sittings that could not be added or written (each logged with its error code). */
  failures: number;
}

export class BiometricsService {
  private source: InputSource | null = null;
  private keystrokes: KeystrokeStream | EmbeddedKeystrokeStream | null = null;
  /** The shipped embedder and its fusion (openModels); null with the reason in embeddingOffReason. */
  private embedding: KeystrokeEmbeddingModels | null = null;
  private embeddingOffReason = 'keystroke embedding not loaded';
  private keystrokeEmbeddingWhy: string | null = null;
  /** Why the profile's keystrokes are not scored (see KeystrokeScoringStatus.off). */
  private keystrokeOffWhy: string | null = null;
  /** Whether the profile in use was recalibrated under the loaded classical weights. */
  private keystrokeRecalibrated = false;
  /** models/keystroke-classical once read: the model, or why it did not load (null: not read yet). */
  private classical: KeystrokeClassicalModel | string | null = null;
  private embeddingFailures = 0;
  /**
   * Set while a batch waits for its keystroke embedding: later batches queue behind it, so the
   * session sees every batch whole and in order (stop waits for the queue).
   */
  private batchQueue: Promise<void> | null = null;
  private mouse: MouseStream | null = null;
  private app: AppModality | null = null;
  private profile: BioProfile | null = null;
  private monitor: SessionMonitor | null = null;
  private offReason: string | null = null;
  private user: string | null = null;
  private windowsScored = 0;
  private blocksScored = 0;
  private locks = 0;
  private lastDropped = 0;
  private readonly pendingActions = new Set<Promise<void>>();
  /** Identities whose mouse actions are scored; null: every device's. */
  private enrolledPointers: ReadonlySet<string> | null = null;
  /** Actions not scored, per unenrolled identity (insertion order: first seen first). */
  private readonly unenrolledPointers = new Map<string, number>();
  private unenrolledActions = 0;

  // Mouse learning by use (see the file comment).
  private learnPopulation: Uint8Array | null = null;
  private learnOffReason: string | null = 'mouse learning off: biometrics off';
  private learnActions: Float32Array[] = [];
  private learnMeta: Float64Array[] = [];
  private learnBuffered = 0;
  private learnInFlight: Promise<void> | null = null;
  private learnedSittings = 0;
  private mouseBlocksNotFused = 0;
  /**
   * While the mouse does not vote (too few sittings) its scores still drive this mouse-only
   * monitor, with the session's policy and smoothing, so that learning never takes in a sitting
   * the mouse itself finds foreign: reaching Restricted here discards what was buffered. It
   * acts on nothing else and is not audited.
   */
  private shadow: SessionMonitor | null = null;
  private watcher: FolderWatch | null = null;
  private shadowRestricted = 0;
  private discardedActions = 0;
  private learnFailures = 0;
  /** Transitions out of Normal so far (a batch during which one happened is not learned from). */
  private leftNormal = 0;

  /** uid of the session's user (from the configuration or the profile's user name), or -1 unknown. */
  private uid = -1;
  /** The profile file of the session's user (null while off). */
  private profilePath: string | null = null;
  private userSource: SessionUserSource | null = null;
  private seatWatcher: FolderWatch | null = null;
  /** A change of the session's user in progress (the old user's input drained first). */
  private switching: Promise<void> | null = null;
  private switchAgain = false;
  private userSwitches = 0;
  /** uid → state of users switched away from while Restricted or Lockdown (their floor is kept). */
  private readonly heldFloors = new Map<number, TrustState>();
  /** Restored floors whose user has not started since the restart: their first start resumes the state. */
  private readonly resumable = new Set<number>();
  private floorsRestored = false;
  /** This boot's id, saved with every floor (a floor of another boot is not restored). */
  private readonly bootId = readBootId();
  /**
   * The users enrolled in the profiles folder, for /v1/status and the metrics: listed at start
   * and whenever the folder changes, not on every status call (a legacy user.json is parsed to
   * list it).
   */
  private enrolledUsers: string[] = [];
  /** Set by stop(): nothing starts again (a switch in flight ends without starting). */
  private stopping = false;
  /** The several-users mouse model (fitted from every enrolled profile) and the session user's stream of it. */
  private readonly cohort: MouseCohortModel;
  private cohortStream: MouseCohortStream | null = null;
  private cohortBlocksScored = 0;
  private cohortBlocksNotFused = 0;

  /**
   * `onFloor(uid, state)` is told the session state whenever it changes, so the daemon can hold
   * the session user's own processes at that state on the file-system side
   * (`biometrics.restrictProcesses`). `openEmbedding` loads the keystroke embedder and its
   * fusion (default: the shipped models of `modelsDir`); tests pass their own to hold a handle
   * on the embedder.
   */
  constructor(
    private readonly cfg: BiometricsConfig,
    private readonly audit: AuditStore,
    private readonly log: Logger,
    private readonly onFloor: (uid: number, state: TrustState) => void = () => {},
    private readonly openEmbedding: (modelsDir: string) => Promise<KeystrokeEmbeddingModels> = openKeystrokeEmbedding,
  ) {
    this.cohort = new MouseCohortModel({
      off: !cfg.enabled ? 'biometrics off' : !cfg.mouseCohort ? 'biometrics.mouseCohort is false' : !cfg.modelsDir ? 'no models directory (the mouse population model is needed)' : null,
      profileDir: cfg.profileDir,
      keyPath: cfg.keyPath,
      modelsDir: cfg.modelsDir ?? '',
      log,
      onFitted: (fit) => this.useCohort(fit),
      rounds: cfg.mouseCohortRounds,
      maxActions: cfg.mouseCohortActions,
      background: cfg.mouseBackground === 'none' ? null : cfg.mouseBackground,
    });
  }

  /** The floor for the session user's processes follows the session state (Restricted and up). */
  private applyFloor(): void {
    if (!this.cfg.restrictProcesses || this.uid < 0) return;
    const st = this.monitor?.state ?? 0;
    this.setFloor(this.uid, st >= 2 ? st : 0, this.user);
  }

  /**
   * Holds `uid`'s processes at `state` (0: none) and saves it in the audit database, so a
   * restarted daemon holds them too. A failed save is logged, never thrown: the floor itself
   * is in place.
   */
  private setFloor(uid: number, state: TrustState, user: string | null): void {
    this.onFloor(uid, state);
    try {
      this.audit.setSessionFloor({ uid, state, user, bootId: this.bootId });
    } catch (err) {
      this.log.error({ err, 'error.code': errorCode(err, 'SENTINEL_E_DB'), uid, state: stateName(state) }, `could not save the ${stateName(state)} floor of uid ${uid}: a restarted daemon would not hold its processes`);
    }
  }

  /**
   * Once, at the first start: the floors saved by the daemon before this one. With
   * `restrictProcesses` each is applied again and held (the session user's is taken over by
   * startOrThrow); without it they are dropped.
   */
  private restoreFloors(): void {
    if (this.floorsRestored) return;
    this.floorsRestored = true;
    let saved: SessionFloorRow[];
    try {
      saved = this.audit.sessionFloors();
    } catch (err) {
      this.log.error({ err, 'error.code': errorCode(err, 'SENTINEL_E_DB') }, 'could not read the saved session floors: no process is held from before the restart');
      return;
    }
    for (const f of saved) {
      const rebooted = this.bootId !== '' && f.bootId !== '' && f.bootId !== this.bootId;
      if (!this.cfg.enabled || !this.cfg.restrictProcesses || rebooted) {
        const why = !this.cfg.enabled
          ? 'biometrics is off'
          : !this.cfg.restrictProcesses
            ? 'biometrics.restrictProcesses is off'
            : 'the host has rebooted since: every session ended, and each one since took a login';
        this.log.warn({ 'event.action': 'session_floor_dropped', uid: f.uid, user: f.user, state: stateName(f.state), reason: why }, `the ${stateName(f.state)} floor saved for uid ${f.uid} is dropped: ${why}`);
        this.setFloor(f.uid, 0, f.user);
        continue;
      }
      this.heldFloors.set(f.uid, f.state);
      this.resumable.add(f.uid);
      this.onFloor(f.uid, f.state);
      this.log.warn({ 'event.action': 'session_floor_restored', uid: f.uid, user: f.user, state: stateName(f.state), sinceMs: f.sinceMs }, `uid ${f.uid}${f.user ? ` (${f.user})` : ''} was held at ${stateName(f.state)} before the restart: held again`);
    }
  }

  /**
   * Loads the shipped models whose runtime starts asynchronously (the keystroke embedder's ONNX
   * Runtime session, on its worker thread). Call once before `start`. Never throws: without them
   * keystrokes are scored by the classical score alone, and the reason is logged and shown.
   */
  async openModels(): Promise<void> {
    if (!this.cfg.enabled) return;
    if (!this.cfg.keystrokeEmbedding) {
      this.embeddingOffReason = 'keystroke embedding off: biometrics.keystrokeEmbedding is false';
      return;
    }
    if (!this.cfg.modelsDir) {
      this.embeddingOffReason = 'keystroke embedding off: no models directory';
      return;
    }
    try {
      this.embedding = await this.openEmbedding(this.cfg.modelsDir);
      this.log.info({ 'event.action': 'keystroke_embedding_loaded', model: this.embedding.embedder.sha256, fusion: this.embedding.fusion.version }, 'keystroke embedder loaded (ONNX Runtime, worker thread)');
    } catch (err) {
      const code = errorCode(err, 'SENTINEL_E_MODEL_RUNTIME');
      this.embeddingOffReason = `keystroke embedding off: ${code}: ${(err as Error).message}`;
      this.log.warn({ 'error.code': code, 'event.action': 'keystroke_embedding_off' }, this.embeddingOffReason);
    }
  }

  /**
   * Starts the collector when everything it needs is there; otherwise records and logs why not.
   * Never throws: a broken profile or an unreadable device must not take the file-system side
   * down with it (the error is logged with its code and shown in the status).
   */
  start(): void {
    if (this.stopping) return;
    this.restoreFloors();
    this.enrolledUsers = listProfiles(this.cfg.profileDir).map((p) => p.user);
    this.cohort.refresh('start');
    try {
      this.startOrThrow();
    } catch (err) {
      const code = errorCode(err, 'SENTINEL_E_IO');
      this.offReason = `biometrics off: ${code}: ${(err as Error).message}`;
      this.source?.stop();
      this.source = null;
      void this.app?.stop();
      this.app = null;
      this.monitor = null;
      this.keystrokes = null;
      this.mouse = null;
      this.cohortStream = null;
      this.learnPopulation = null;
      this.learnOffReason = 'mouse learning off: biometrics off';
      this.log.error({ 'error.code': code, 'event.action': 'biometrics_off' }, this.offReason);
    }
    // Only the first start comes straight after the restart; any later one follows a login.
    this.resumable.clear();
    // Off for want of a (loadable) profile: a profile enrolled later starts it (watchProfile);
    // off for want of an active enrolled user: a switch of the seat starts it (watchSeat).
    if (this.cfg.enabled) {
      this.watchProfile();
      this.watchSeat();
    }
  }

  /** Starts again from the profiles on disk, after being off (no profile, one that did not load, no active enrolled user). */
  private restart(why: string): void {
    void this.app?.stop();
    this.app = null;
    this.log.info({ 'event.action': 'biometrics_restart', reason: why }, `${why} while off: starting continuous authentication again`);
    this.start();
  }

  private startOrThrow(): void {
    this.offReason = null; // a restart (watchProfile) starts from a clean slate
    this.profilePath = null;
    this.userSource = null;
    const why = this.unavailable();
    if (why) {
      this.offReason = why;
      this.log.info({ 'event.action': 'biometrics_off', reason: why }, why);
      return;
    }
    const choice = chooseSessionUser(this.cfg);
    if (!choice.ok) {
      this.offReason = `biometrics off: ${choice.why}`;
      this.log.info({ 'event.action': 'biometrics_off', reason: this.offReason }, this.offReason);
      return;
    }
    const profile = loadProfile(choice.path, keyFingerprint(this.cfg.keyPath));
    if (profile.user !== choice.user) {
      throw new SentinelError('SENTINEL_E_BIO_PROFILE', `profile ${choice.path} is enrolled for ${profile.user}, not ${choice.user} (a profile's file is named after its user: ${profile.user}.json)`);
    }
    if (!profile.keystroke && !profile.mouse) {
      this.offReason = `biometrics off: profile ${choice.path} has no keystroke or mouse model`;
      this.log.info({ 'event.action': 'biometrics_off', reason: this.offReason }, this.offReason);
      return;
    }
    this.profilePath = choice.path;
    this.userSource = choice.source;
    this.user = profile.user;
    this.profile = profile;
    this.uid = choice.uid;
    if (this.cfg.restrictProcesses && this.uid < 0) {
      this.log.warn({ 'event.action': 'session_uid_unknown', user: profile.user }, `no uid for user ${profile.user}: the session user's processes will not be restricted (set biometrics.sessionUid)`);
    }
    // Their session was active across the restart (no login since): the saved state goes on.
    const resume = this.resumable.has(this.uid) ? this.heldFloors.get(this.uid) : undefined;
    if (resume === undefined) this.releaseHeldFloor(this.uid);
    else this.heldFloors.delete(this.uid);
    this.useKeystrokeModel(profile.keystroke);
    const m = profile.mouse;
    this.useMouseModel(m);
    this.startMouseLearning(m);
    this.logMouseFusion();
    this.useCohort(this.cohort.current());
    this.monitor = new SessionMonitor(this.monitorOptions());
    this.shadow = m ? new SessionMonitor(this.monitorOptions()) : null;
    if (resume !== undefined) this.resumeState(resume);
    const inputWhy = this.inputUnavailable();
    const dir = this.cfg.inputDir && !inputUnavailableReason(this.cfg.inputDir) ? this.cfg.inputDir : undefined;
    if (inputWhy) {
      this.log.info({ 'event.action': 'input_modality_off', reason: inputWhy }, inputWhy);
    } else {
      this.source = new InputSource({ paths: this.cfg.devices, ...(dir ? { dir } : {}), keyPath: this.cfg.keyPath });
      this.source.start((b, ids) => this.onBatch(b, ids));
    }
    this.startApp(profile);
    if (inputWhy && this.app?.offReason) {
      // Nothing to observe the user with: the session subject would never move.
      this.offReason = `biometrics off: ${inputWhy}; ${this.app.offReason}`;
      this.monitor = null;
      this.log.info({ 'event.action': 'biometrics_off', reason: this.offReason }, this.offReason);
      return;
    }
    this.log.info(
      {
        'event.action': 'biometrics_on',
        user: profile.user,
        source: choice.source,
        profile: choice.path,
        inputDir: dir ?? null,
        devices: this.cfg.devices.length,
        keystroke: this.keystrokes !== null,
        mouse: this.mouse !== null,
        mouseDevices: this.enrolledPointers ? [...this.enrolledPointers] : 'any',
      },
      `continuous authentication on for ${profile.user}`,
    );
  }

  /**
   * Scores keystrokes with this model (none: the modality is not scored): combined with the
   * embedding when the profile's reference fits the loaded embedder, else by the classical score.
   */
  private useKeystrokeModel(k: ModalityProfile | undefined): void {
    const stride = this.cfg.stride > 0 ? this.cfg.stride : undefined;
    this.keystrokes = null;
    this.keystrokeEmbeddingWhy = null;
    this.keystrokeOffWhy = null;
    this.keystrokeRecalibrated = false;
    if (!k) return;
    // The profile's threshold was calibrated on the classical score under particular weights,
    // never to be read under others (they move every score). Weights that do not load leave
    // keystrokes unscored; other weights than the profile's recalibrate it in memory from its
    // stored enrollment windows (exactly what enrolling again under them would give).
    const classical = this.classicalModel();
    if (typeof classical === 'string') {
      this.keystrokeOffWhy = `keystrokes not scored: ${classical}`;
      this.log.warn({ 'event.action': 'keystroke_modality_off', 'error.code': 'SENTINEL_E_CONFIG', reason: this.keystrokeOffWhy }, this.keystrokeOffWhy);
      return;
    }
    const weights = classical?.weights;
    let bytes = k.bytes;
    const mismatch = classical ? classicalMismatch(classical, k.classicalSha256) : null;
    this.keystrokeRecalibrated = mismatch !== null;
    if (classical && mismatch) {
      try {
        bytes = recalibrateKeystrokeProfile(k.bytes, k.frr, classical.weights);
      } catch (err) {
        const code = errorCode(err, 'SENTINEL_E_BIO_PROFILE');
        this.keystrokeOffWhy = `keystrokes not scored: ${code}: ${(err as Error).message}`;
        this.log.warn({ 'event.action': 'keystroke_modality_off', 'error.code': code, reason: this.keystrokeOffWhy }, this.keystrokeOffWhy);
        return;
      }
      this.log.info({ 'event.action': 'keystroke_recalibrated', classical: classical.version, classicalSha256: classical.sha256, profileClassicalSha256: k.classicalSha256 ?? null }, `keystroke profile recalibrated under ${classical.version}: ${mismatch}`);
    }
    let why = this.embeddingOffReason;
    if (this.embedding) {
      const fit = embeddingFit(this.embedding, k);
      const classicalVersion = classical?.version ?? KEYSTROKE_CLASSICAL_V1;
      if ('params' in fit && this.embedding.fusion.classicalVersion !== classicalVersion) {
        why = `models/keystroke-fusion was fit on the classical score ${this.embedding.fusion.classicalVersion}, but ${classicalVersion} is loaded`;
      } else if ('params' in fit) {
        this.keystrokes = new EmbeddedKeystrokeStream(bytes, fit.reference, fit.params, this.embedding.embedder, k.frr, stride, weights);
        return;
      } else why = fit.why;
    }
    this.keystrokes = new KeystrokeStream(bytes, stride, weights);
    this.keystrokeEmbeddingWhy = why;
    this.log.info({ 'event.action': 'keystroke_embedding_unused', reason: why }, `keystrokes scored by the classical score alone: ${why}`);
  }

  /**
   * The embedder failed on a batch: its windows are lost (counted), and keystrokes are scored by
   * the classical score from now on.
   */
  private embeddingFailed(stream: EmbeddedKeystrokeStream, err: unknown): void {
    this.embeddingFailures++;
    const code = errorCode(err, 'SENTINEL_E_MODEL_RUNTIME');
    this.log.error({ 'error.code': code, 'event.action': 'keystroke_embedding_failed' }, `keystroke embedding failed; this batch's windows are lost and keystrokes are scored by the classical score from now on: ${(err as Error).message}`);
    if (this.keystrokes !== stream) return;
    this.embeddingOffReason = `keystroke embedding off: ${code}: ${(err as Error).message}`;
    const models = this.embedding;
    this.embedding = null;
    void models?.embedder.close();
    this.useKeystrokeModel(this.profile?.keystroke);
  }

  /**
   * Scores the session user's mouse with the several-users model too, when they are one of its
   * members and have a mouse model (null: not; a new fit replaces the stream, so its block
   * starts empty). A model that does not load is logged and not used.
   */
  private useCohort(fit: MouseCohortFit | null): void {
    const user = this.user;
    this.cohortStream = null;
    if (!fit || !user || !this.profile?.mouse || !fit.members.some((m) => m.user === user)) return;
    try {
      this.cohortStream = new MouseCohortStream(fit, loadMousePopulation(this.cfg.modelsDir as string), user);
      const split = splitMembers(fit.members);
      this.log.info({ 'event.action': 'mouse_cohort_scoring', user, members: fit.members.length, threshold: Number(this.cohortStream.member.threshold.toFixed(4)), enrolledFar: Number(this.cohortStream.member.enrolledFar.toFixed(4)) }, `${user}'s mouse is also scored against the other members of the several-users model (${fit.members.length - 1}: ${split.enrolled.length - 1} enrolled, ${split.background} background)`);
    } catch (err) {
      const code = errorCode(err, 'SENTINEL_E_BIO_PROFILE');
      this.log.warn({ 'error.code': code, 'event.action': 'mouse_cohort_not_used' }, `several-users mouse model not used: ${(err as Error).message}`);
    }
  }

  /** Scores the mouse with this model, on its enrolled pointers (`mouseDevices`). */
  private useMouseModel(m: ModalityProfile | undefined): void {
    this.mouse = m ? new MouseStream(m.bytes, m.threshold as number, m.genuineSd as number, m.window) : null;
    this.enrolledPointers = m && this.cfg.mouseDevices === 'enrolled' && m.devices ? new Set(m.devices) : null;
  }

  /** The session monitor's options (the shadow monitor uses the same). */
  private monitorOptions(): ConstructorParameters<typeof SessionMonitor>[0] {
    return {
      subjectId: SESSION_SUBJECT_ID,
      policy: this.cfg.policy,
      emaAlpha: this.cfg.emaAlpha,
      emaStart: Object.fromEntries(Object.entries(this.cfg.emaStart).filter(([, v]) => v > 0)),
      weights: this.cfg.weights,
      silentAfterMs: this.cfg.silentAfterMs,
    };
  }

  /**
   * Picks up profiles written on disk while the daemon runs (`sentinel enroll`, `--add`): the
   * profiles folder (created, 0700, if missing) is watched, since files are replaced by rename.
   * Once the events settle, a change of the profile in use is reloaded (reloadProfile); any other
   * change (a user enrolled or removed, a profile enrolled while off) re-decides whose profile is
   * scored (followSessionUser). Without a watch (an error from inotify) changes need a restart;
   * that is logged. Idempotent.
   */
  private watchProfile(): void {
    if (this.watcher) return;
    const dir = this.cfg.profileDir;
    const failed = (err: Error, what: string): void => {
      this.log.warn({ err, 'error.code': 'SENTINEL_E_IO', 'event.action': 'profile_watch_failed' }, `${what}: a changed profile is used after a restart`);
      this.watcher = null;
    };
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      this.watcher = watchFolder(
        dir,
        (name) => name.endsWith('.json'),
        (names) => {
          this.enrolledUsers = listProfiles(dir).map((p) => p.user);
          this.cohort.refresh(`profiles changed: ${names.join(', ')}`);
          const mine = this.profilePath !== null && names.includes(path.basename(this.profilePath));
          if (this.monitor && mine) this.reloadProfile('the profile file changed');
          this.followSessionUser(`profiles changed: ${names.join(', ')}`);
        },
        (err) => failed(err, 'profile watch failed'),
      );
    } catch (err) {
      failed(err as Error, 'cannot watch the profiles');
    }
  }

  /**
   * Follows the seat (`biometrics.seatFile`, unless `biometrics.user` is set): logind replaces
   * the file on every switch of the active session, so its folder is watched, and each change
   * re-decides whose profile is scored. A folder that does not exist (no logind) is not watched,
   * and that is logged once. Idempotent.
   */
  private watchSeat(): void {
    if (this.seatWatcher || !this.cfg.seatFile || this.cfg.user) return;
    const dir = path.dirname(this.cfg.seatFile);
    const base = path.basename(this.cfg.seatFile);
    if (!existsSync(dir)) {
      this.log.info({ 'event.action': 'seat_not_followed', seatFile: this.cfg.seatFile }, `seat not followed: no ${dir} (no logind); the only enrolled profile is scored`);
      return;
    }
    const failed = (err: Error, what: string): void => {
      this.log.warn({ err, 'error.code': 'SENTINEL_E_IO', 'event.action': 'seat_watch_failed' }, `${what}: a change of the active session is followed after a restart`);
      this.seatWatcher = null;
    };
    try {
      this.seatWatcher = watchFolder(dir, (name) => name === base, () => this.followSessionUser('the seat changed'), (err) => failed(err, 'seat watch failed'));
    } catch (err) {
      failed(err as Error, 'cannot watch the seat');
    }
  }

  /**
   * Re-decides whose profile is scored (daemon/session-user.ts); when the answer changed, the
   * session switches to it (switchSessionUser). One switch at a time: a change seen during one
   * is decided again once it is done.
   */
  private followSessionUser(why: string): void {
    if (!this.cfg.enabled || this.stopping) return;
    if (this.switching) {
      this.switchAgain = true;
      return;
    }
    const choice = chooseSessionUser(this.cfg);
    if (choice.ok && this.monitor && choice.path === this.profilePath && choice.uid === this.uid) return;
    if (!choice.ok && !this.monitor && this.offReason === `biometrics off: ${choice.why}`) return;
    if (!this.monitor) return this.restart(why);
    this.switching = this.switchSessionUser(why, choice).finally(() => {
      this.switching = null;
      if (!this.switchAgain) return;
      this.switchAgain = false;
      this.followSessionUser(why);
    });
  }

  /**
   * Ends scoring for the current user and starts again for `choice`: the collector is stopped
   * and what it still held is scored for the user who typed it; a sitting being learned is
   * written to that user's profile first; the learning buffer is discarded. The new session
   * starts Normal: logind only switches the active session after a login or unlock, which
   * authenticated the user. A user left while Restricted or Lockdown keeps their processes held
   * at that state (`restrictProcesses`) until their own session is active again. Audited as a
   * `notify` on the session subject.
   */
  private async switchSessionUser(why: string, choice: SessionUserChoice): Promise<void> {
    const from = this.user;
    const fromUid = this.uid;
    const fromState = this.monitor?.state ?? 0;
    const source = this.source;
    this.source = null;
    const rest = source?.stop();
    if (rest && source) this.onBatch(rest, source.identities);
    while (this.batchQueue) await this.batchQueue;
    while (this.learnInFlight) await this.learnInFlight;
    await this.app?.stop();
    this.app = null;
    this.clearLearnBuffer('the session user changed', {});
    if (this.cfg.restrictProcesses && fromUid >= 0 && fromState >= 2 && this.monitor) {
      this.heldFloors.set(fromUid, fromState);
      this.log.warn({ 'event.action': 'session_floor_held', user: from, uid: fromUid, state: stateName(fromState) }, `${from ?? `uid ${fromUid}`} left the seat while ${stateName(fromState)}: their processes stay held at it until their session is active again`);
    }
    this.monitor = null;
    this.shadow = null;
    this.keystrokes = null;
    this.mouse = null;
    this.cohortStream = null;
    this.enrolledPointers = null;
    this.profile = null;
    this.user = null;
    this.uid = -1;
    this.learnPopulation = null;
    this.userSwitches++;
    const to = choice.ok ? choice.user : null;
    const detail = { from, to, why, ...(choice.ok ? { source: choice.source } : { off: choice.why }) };
    this.log.info({ 'event.action': 'session_user_changed', ...detail }, `session user ${from ?? '(none)'} -> ${to ?? '(none)'} (${why})`);
    try {
      this.audit.writeTick({ transitions: [], actions: [{ atMs: Date.now(), subjectId: SESSION_SUBJECT_ID, action: 'notify', target: `session ${to ?? ''}`, result: 'logged', detail: { event: 'session_user_changed', ...detail } }], drops: [] });
    } catch (err) {
      this.log.error({ err, 'error.code': errorCode(err, 'SENTINEL_E_DB') }, 'could not audit the session user change');
    }
    this.start();
  }

  /**
   * The session user was held at `state` when the daemon before this one stopped: the session
   * subject goes on from it (audited as a `force` by `sentinel-restart`), and the floor stays.
   */
  private resumeState(state: TrustState): void {
    const monitor = this.monitor as SessionMonitor;
    const t = monitor.force(state, Date.now(), RESTART_BY);
    if (t) {
      this.discardLearning(t.to);
      try {
        this.audit.writeTick({ transitions: [this.record(t, monitor)], actions: [], drops: [] });
      } catch (err) {
        this.log.error({ err, 'error.code': errorCode(err, 'SENTINEL_E_DB') }, 'could not audit the session state resumed after the restart');
      }
    }
    this.log.warn({ 'event.action': 'session_state_restored', user: this.user, uid: this.uid, state: stateName(state) }, `${this.user ?? ''}'s session was ${stateName(state)} before the restart and still is (an operator reset ends it)`);
    this.applyFloor();
  }

  /**
   * An operator lifts the floor held on `uid`'s processes (`POST /v1/session/floors/{uid}/release`):
   * audited as a `notify` on the session subject. The live session user's floor is not a held
   * one: it follows their session state (reset the session subject instead). Throws
   * SENTINEL_E_NOT_FOUND when no floor is held for `uid`.
   */
  releaseFloorByOperator(uid: number, by: string): { uid: number; was: string } {
    const held = this.heldFloors.get(uid);
    if (held === undefined) {
      const live = uid === this.uid && (this.monitor?.state ?? 0) >= 2 ? `: uid ${uid} is the session user, whose floor follows the session state (POST /v1/subjects/${SESSION_SUBJECT_ID}/state)` : '';
      throw new SentinelError('SENTINEL_E_NOT_FOUND', `no session floor is held for uid ${uid}${live}`);
    }
    this.releaseHeldFloor(uid, by);
    try {
      this.audit.writeTick({ transitions: [], actions: [{ atMs: Date.now(), subjectId: SESSION_SUBJECT_ID, action: 'notify', target: `uid ${uid}`, result: 'ok', detail: { event: 'session_floor_released', uid, was: stateName(held), by } }], drops: [] });
    } catch (err) {
      this.log.error({ err, 'error.code': errorCode(err, 'SENTINEL_E_DB') }, 'could not audit the released session floor');
    }
    return { uid, was: stateName(held) };
  }

  /** The user's own session is active again (or an operator says so): a floor kept when they left it is lifted. */
  private releaseHeldFloor(uid: number, by?: string): void {
    const held = this.heldFloors.get(uid);
    if (held === undefined) return;
    this.heldFloors.delete(uid);
    this.setFloor(uid, 0, null);
    const why = by === undefined ? `uid ${uid}'s session is active again` : `${by} released it`;
    this.log.info({ 'event.action': 'session_floor_released', uid, was: stateName(held), ...(by === undefined ? {} : { by }) }, `${why}: the ${stateName(held)} floor on uid ${uid}'s processes is lifted`);
  }

  /**
   * Re-reads the profile and switches every model whose bytes changed (keystroke, mouse and its
   * devices, mouse learning, whether the mouse votes); the session state and the other models
   * are kept. A file that does not load (mid-write by a foreign tool, another key) is logged
   * and the models in use stay. The daemon's own writes change nothing here: they match what
   * it holds.
   */
  private reloadProfile(why: string): void {
    if (!this.monitor || !this.profile) return;
    let now: BioProfile;
    try {
      now = this.readProfile();
    } catch (err) {
      const code = errorCode(err, 'SENTINEL_E_IO');
      this.log.warn({ 'error.code': code, 'event.action': 'profile_not_reloaded' }, `profile not reloaded (${why}): ${(err as Error).message}; the models in use stay`);
      return;
    }
    const old = this.profile;
    if (now.user !== old.user) {
      // A profile's file is named after its user (profile-dir.ts); a file that names someone else is not theirs to score with.
      this.log.warn({ 'error.code': 'SENTINEL_E_BIO_PROFILE', 'event.action': 'profile_not_reloaded', user: now.user }, `profile not reloaded (${why}): ${this.profilePath ?? ''} now names ${now.user}, not ${old.user}; the models in use stay`);
      return;
    }
    const changed: string[] = [];
    if (!sameModelBytes(now.keystroke?.bytes, old.keystroke?.bytes) || JSON.stringify(now.keystroke?.embedding) !== JSON.stringify(old.keystroke?.embedding)) {
      this.useKeystrokeModel(now.keystroke);
      changed.push('keystroke');
    }
    const m = now.mouse;
    const mouseChanged = !sameModelBytes(m?.bytes, old.mouse?.bytes) || JSON.stringify(m?.devices) !== JSON.stringify(old.mouse?.devices);
    this.profile = now;
    if (mouseChanged) {
      this.useMouseModel(m);
      this.clearLearnBuffer('the profile changed on disk', {});
      this.startMouseLearning(m);
      this.shadow = m ? new SessionMonitor(this.monitorOptions()) : null;
      this.logMouseFusion();
      changed.push('mouse');
    }
    if (changed.length) {
      this.log.info({ 'event.action': 'profile_reloaded', changed, sittings: m?.sittings ?? (m ? 1 : 0) }, `profile reloaded (${why}): ${changed.join(', ')}`);
    }
  }

  /** The app modality runs beside the input collector; when it cannot, the reason is logged and shown. */
  private startApp(profile: BioProfile): void {
    const app = new AppModality(this.cfg.app, this.cfg.keyPath, this.log, profile.app?.bytes, {
      isNormal: () => (this.monitor?.state ?? 0) === 0,
      onLearned: (m) => {
        if (!this.profile) return;
        const app: ModalityProfile = { bytes: m.bytes, samples: m.info.transitions, window: this.cfg.app.window, frr: 0.05, threshold: m.info.threshold };
        // Re-read: what is on disk now (a `sentinel enroll --add` since the start) is kept; only
        // the app model is replaced. A failure here throws into AppModality, which logs it.
        const file = this.profileFile();
        const now = this.readProfile();
        saveProfile(file, { ...now, app });
        this.profile = { ...this.profile, app };
      },
      onScore: (p) => {
        if (!this.monitor) return;
        const transitions: TransitionRecord[] = [];
        const actions: ActionRecord[] = [];
        const t = this.monitor.observe('app', p, Date.now());
        if (t) this.onTransition(t, transitions, actions);
        if (transitions.length || actions.length) this.audit.writeTick({ transitions, actions, drops: [] });
      },
    });
    const why = app.start();
    if (why) this.log.info({ 'event.action': 'app_modality_off', reason: why }, why);
    else this.log.info({ 'event.action': 'app_modality_on', model: app.hasModel }, 'app modality on');
    this.app = app;
  }

  private unavailable(): string | null {
    if (!this.cfg.enabled) return 'biometrics off: disabled in the configuration';
    return null;
  }

  /** Why the input collector cannot run (no input directory and no device), or null. */
  private inputUnavailable(): string | null {
    const dirWhy = this.cfg.inputDir ? inputUnavailableReason(this.cfg.inputDir) : 'input modality off: no input directory configured';
    return dirWhy && this.cfg.devices.length === 0 ? dirWhy : null;
  }

  /**
   * A drained batch. With the embedded keystroke score its windows go to the embedder now (the
   * native window buffer advances in arrival order), and the batch is handled once their scores
   * are back; until then, later batches wait their turn. Otherwise it is handled at once.
   */
  private onBatch(b: InputBatch, identities: DeviceIdentities): void {
    const now = Date.now();
    // Keystrokes go to their stream now, in arrival order, whatever waits in the queue.
    const stream = this.monitor && b.keys.length ? this.keystrokes : null;
    const classical = stream instanceof KeystrokeStream ? stream.push(b.keys) : [];
    const embedded = stream instanceof EmbeddedKeystrokeStream ? { stream, scores: stream.push(b.keys) } : null;
    if (!embedded && !this.batchQueue) {
      this.handleBatch(b, identities, now, classical);
      return;
    }
    const run = (this.batchQueue ?? Promise.resolve()).then(async () => {
      let keystrokes = classical;
      if (embedded) {
        try {
          keystrokes = await embedded.scores;
        } catch (err) {
          this.embeddingFailed(embedded.stream, err);
        }
      }
      this.handleBatch(b, identities, now, keystrokes);
    });
    const queued = run.catch((err: unknown) => {
      this.log.error({ err, 'error.code': 'SENTINEL_E_IO', 'event.action': 'input_batch_failed' }, 'an input batch could not be handled');
    });
    this.batchQueue = queued;
    void queued.then(() => {
      if (this.batchQueue === queued) this.batchQueue = null;
    });
  }

  /**
   * One batch into the session: device events, the impostor probabilities of the keystroke
   * windows it completed (scored on arrival), mouse actions, drops.
   */
  private handleBatch(b: InputBatch, identities: DeviceIdentities, now: number, keystrokes: readonly number[]): void {
    for (const d of b.devices) {
      const fields = {
        'event.action': `input_device_${d.kind}`,
        'device.path': d.path,
        'device.identity': d.identity || undefined,
        errno: d.errno || undefined,
        truncatedBytes: d.truncatedBytes || undefined,
      };
      if (d.kind === 'error') this.log.warn({ ...fields, 'error.code': d.errno === 13 || d.errno === 1 ? 'SENTINEL_E_INPUT_PERMISSION' : 'SENTINEL_E_INPUT_DEVICE' }, d.message);
      else this.log.info(fields, `input device ${d.kind}: ${d.path}`);
    }
    const transitions: TransitionRecord[] = [];
    const actions: ActionRecord[] = [];
    if (this.monitor) {
      for (const p of keystrokes) {
        this.windowsScored++;
        const t = this.monitor.observe('keystroke', p, now);
        if (t) this.onTransition(t, transitions, actions);
      }
    }
    if (this.mouse && this.monitor && b.actionMeta.length) {
      const scored = this.scoredPointerActions(b, identities, now, actions);
      const leftBefore = this.leftNormal;
      const wasNormal = this.monitor.state === 0;
      const votes = this.mouseVotes();
      const shadowBefore = this.shadowRestricted;
      const mouseP = this.mouse.push(scored.actions, scored.actionMeta);
      const cohortP = this.cohortStream?.push(scored.actions, scored.actionMeta) ?? [];
      this.blocksScored += mouseP.length;
      this.cohortBlocksScored += cohortP.length;
      if (!votes) {
        this.mouseBlocksNotFused += mouseP.length;
        this.cohortBlocksNotFused += cohortP.length;
        for (const p of mouseP) this.observeShadow(p, now);
      } else {
        // The two models score the same actions (blocks of the same size and stride, paired in
        // order; the cohort's stream may have started a few actions out of step): each pair is
        // ONE trust-machine observation, so a block does not count twice toward a lockdown.
        for (let i = 0; i < Math.max(mouseP.length, cohortP.length); i++) {
          const scores: Array<[Modality, number]> = [];
          if (i < mouseP.length) scores.push(['mouse', mouseP[i] as number]);
          if (i < cohortP.length) scores.push(['mouseCohort', cohortP[i] as number]);
          const t = this.monitor.observeAll(scores, now);
          if (t) this.onTransition(t, transitions, actions);
        }
      }
      // Only actions scored throughout Normal (and, while the mouse is not fused, not found foreign
      // by it): none of a batch that moved the session out of Normal or the mouse to Restricted.
      const foreign = !votes && (this.shadowRestricted !== shadowBefore || (this.shadow?.state ?? 0) >= 2);
      const n = actionCount(scored.actionMeta);
      if (n > 0 && wasNormal && this.monitor.state === 0 && this.leftNormal === leftBefore && !foreign) this.bufferForLearning(scored.actions, scored.actionMeta, n);
      else if (n > 0 && wasNormal && this.learnOffReason === null) this.discardedActions += n;
    }
    const dropped = this.source?.stats().dropped ?? 0;
    const drops = dropped > this.lastDropped ? [{ atMs: now, hop: 'input', reason: 'queue_full', count: dropped - this.lastDropped }] : [];
    if (drops.length) this.log.warn({ 'error.code': 'SENTINEL_E_ALERT_DROPPED', hop: 'input', count: dropped - this.lastDropped }, 'input collector dropped outputs (queue full)');
    this.lastDropped = dropped;
    if (transitions.length || actions.length || drops.length) this.audit.writeTick({ transitions, actions, drops });
  }

  /**
   * The batch's mouse actions from enrolled devices (all of them when every device is scored).
   * The others are counted; the first sighting of each unenrolled identity is logged and
   * audited (a `notify` appended to `actions`).
   */
  private scoredPointerActions(b: InputBatch, identities: DeviceIdentities, now: number, actions: ActionRecord[]): { actions: Float32Array; actionMeta: Float64Array } {
    const enrolled = this.enrolledPointers;
    if (!enrolled) return b;
    // A number the table does not know cannot be shown to be an enrolled device.
    const identityOf = (n: number): string => identities.get(n) ?? `unknown device ${n}`;
    const sel = selectActions(b.actions, b.actionMeta, (n) => enrolled.has(identityOf(n)));
    for (const [n, count] of sel.refused) {
      const identity = identityOf(n);
      this.unenrolledActions += count;
      const before = this.unenrolledPointers.get(identity);
      this.unenrolledPointers.set(identity, (before ?? 0) + count);
      if (before !== undefined) continue;
      const reason = `pointer device not enrolled: ${identity}; run sentinel enroll --add on it`;
      this.log.warn({ 'event.action': 'pointer_device_unenrolled', 'device.identity': identity, user: this.user }, reason);
      actions.push({ atMs: now, subjectId: SESSION_SUBJECT_ID, action: 'notify', target: `session ${this.user ?? ''}`, result: 'logged', detail: { reason, device: identity } });
    }
    return sel;
  }

  private onTransition(t: Transition, transitions: TransitionRecord[], actions: ActionRecord[]): void {
    const monitor = this.monitor as SessionMonitor;
    if (t.from === 0 && t.to !== 0) this.discardLearning(t.to);
    transitions.push(this.record(t, monitor));
    const fields = { 'event.action': 'transition', 'subject.id': t.subjectId, 'subject.kind': 'session', user: this.user, from: stateName(t.from), to: stateName(t.to), score: Number(t.score.toFixed(4)), reason: t.reason };
    const msg = `session ${this.user ?? ''} ${stateName(t.from)} -> ${stateName(t.to)}`;
    if (t.to > t.from) this.log.warn(fields, msg);
    else this.log.info(fields, msg);
    if (t.to >= 2 && t.from < 2) {
      actions.push({ atMs: t.atMs, subjectId: t.subjectId, action: 'notify', target: `session ${this.user ?? ''}`, result: 'logged', detail: { state: stateName(t.to) } });
    }
    this.applyFloor();
    if (t.to >= 2 && t.from < 2) this.runAction('restrict_session', this.cfg.restrictCommand, t.atMs);
    if (t.to === 3 && t.from < 3) this.runAction('lock_session', this.cfg.lockCommand, t.atMs);
  }

  private record(t: Transition, monitor: SessionMonitor): TransitionRecord {
    return {
      atMs: t.atMs,
      subjectId: t.subjectId,
      subjectKind: 'session',
      pid: 0,
      startTime: '0',
      uid: this.uid,
      comm: this.user ?? '',
      fromState: t.from,
      toState: t.to,
      score: t.score,
      reason: t.reason,
      by: t.by ?? null,
      eventIndex: -1,
      topFeatures: monitor.status(t.atMs).filter((m) => m.smoothed !== null).map((m) => ({ detector: m.modality, name: 'impostor_smoothed', value: m.smoothed as number })),
      modelHashes: {},
    };
  }

  /**
   * Runs a session action command (`restrict_session` on entering Restricted, `lock_session` on
   * entering Lockdown); its outcome is audited when it exits. An empty argv does nothing.
   */
  private runAction(action: 'restrict_session' | 'lock_session', argv: readonly string[], atMs: number): void {
    const [cmd, ...args] = argv;
    if (!cmd) return;
    if (action === 'lock_session') this.locks++;
    const done = new Promise<void>((resolve) => {
      let settled = false;
      const finish = (result: 'ok' | 'failed', detail: Record<string, unknown>): void => {
        if (settled) return;
        settled = true;
        if (result === 'failed') this.log.error({ 'error.code': 'SENTINEL_E_LOCK_FAILED', 'event.action': action, command: argv, ...detail }, `session action ${action} failed`);
        else this.log.warn({ 'event.action': action, command: argv }, action === 'lock_session' ? 'session locked' : 'session restricted');
        try {
          this.audit.writeTick({ transitions: [], actions: [{ atMs, subjectId: SESSION_SUBJECT_ID, action, target: `session ${this.user ?? ''}`, result, detail: { command: argv.join(' '), ...detail } }], drops: [] });
        } catch (err) {
          this.log.error({ err, 'error.code': errorCode(err, 'SENTINEL_E_DB') }, `could not audit the ${action} action`);
        }
        resolve();
      };
      const child = spawn(cmd, args, { stdio: 'ignore', timeout: 10_000 });
      child.on('error', (err) => finish('failed', { error: err.message }));
      child.on('exit', (code, signal) => finish(code === 0 ? 'ok' : 'failed', { exitCode: code, signal }));
    });
    this.pendingActions.add(done);
    void done.then(() => this.pendingActions.delete(done));
  }

  tickDecay(nowMs: number): void {
    if (!this.monitor) return;
    const transitions: TransitionRecord[] = [];
    for (const t of this.monitor.tickDecay(nowMs)) transitions.push(this.record(t, this.monitor));
    if (transitions.length) {
      this.audit.writeTick({ transitions, actions: [], drops: [] });
      this.applyFloor();
    }
  }

  /** Operator state change of the session subject (reset to Normal or force a state). */
  setState(state: TrustState, by: string): object | null {
    if (!this.monitor) throw new SentinelError('SENTINEL_E_NOT_FOUND', this.offReason ?? 'biometrics off');
    const now = Date.now();
    const t = state === 0 ? this.monitor.reset(now, by) : this.monitor.force(state, now, by);
    if (t && t.from === 0 && t.to !== 0) this.discardLearning(t.to);
    if (t) {
      this.audit.writeTick({ transitions: [this.record(t, this.monitor)], actions: [], drops: [] });
      this.applyFloor();
    }
    return t;
  }

  get subjectId(): number {
    return SESSION_SUBJECT_ID;
  }

  /** Keystroke batches lost because the embedder failed (a loss counter the daemon alerts on). */
  get keystrokeEmbeddingFailures(): number {
    return this.embeddingFailures;
  }

  status(): BiometricsStatus {
    const now = Date.now();
    const st = this.source?.stats() ?? null;
    return {
      on: this.monitor !== null,
      reason: this.offReason,
      user: this.user,
      subjectId: SESSION_SUBJECT_ID,
      state: stateName(this.monitor?.state ?? 0),
      score: this.monitor?.score ?? 0,
      modalities: this.monitor?.status(now) ?? [],
      windowsScored: this.windowsScored,
      blocksScored: this.blocksScored,
      locks: this.locks,
      pointerDevices: {
        policy: this.cfg.mouseDevices,
        enrolled: this.enrolledPointers ? [...this.enrolledPointers] : null,
        unenrolledActions: this.unenrolledActions,
        unenrolled: [...this.unenrolledPointers].map(([identity, n]) => ({ identity, actions: n })),
      },
      input: st ? { ...st } : null,
      app: {
        on: this.app !== null && this.app.offReason === null,
        reason: this.app?.offReason ?? null,
        model: this.app?.hasModel ?? false,
        visits: this.app?.visits ?? 0,
        windowsScored: this.app?.windowsScored ?? 0,
        learned: this.app?.learned ?? 0,
        dropped: this.app?.dropped ?? 0,
      },
      keystrokeScoring: {
        method: this.keystrokes === null ? null : this.keystrokes instanceof EmbeddedKeystrokeStream ? 'fused+embedding' : 'fused',
        reason: this.keystrokes === null ? null : this.keystrokeEmbeddingWhy,
        model: this.keystrokes instanceof EmbeddedKeystrokeStream ? (this.embedding?.embedder.sha256 ?? null) : null,
        embeddingFailures: this.embeddingFailures,
        classical: this.keystrokes === null ? null : this.classical && typeof this.classical !== 'string' ? this.classical.version : `compiled ${KEYSTROKE_CLASSICAL_V1}`,
        recalibrated: this.keystrokes !== null && this.keystrokeRecalibrated,
        off: this.keystrokeOffWhy,
      },
      mouseFusion: {
        on: this.mouse !== null && this.mouseVotes(),
        sittings: this.mouse ? (this.profile?.mouse?.sittings ?? 1) : 0,
        minSittings: this.cfg.mouseMinSittings,
        blocksNotFused: this.mouseBlocksNotFused,
      },
      sessionUser: {
        source: this.monitor ? this.userSource : null,
        profile: this.monitor ? this.profilePath : null,
        enrolled: this.enrolledUsers,
        seatFile: this.cfg.user ? '' : this.cfg.seatFile,
        switches: this.userSwitches,
        heldFloors: [...this.heldFloors].map(([uid, st]) => ({ uid, state: stateName(st) })),
      },
      mouseCohort: {
        ...this.cohort.status(),
        scoring: this.cohortStream !== null,
        member: this.cohortStream
          ? { user: this.cohortStream.member.user, threshold: this.cohortStream.member.threshold, enrolledFar: this.cohortStream.member.enrolledFar, calibrationBlocks: this.cohortStream.member.calibrationBlocks }
          : null,
        blocksScored: this.cohortBlocksScored,
        blocksNotFused: this.cohortBlocksNotFused,
      },
      mouseLearning: {
        on: this.learnOffReason === null,
        reason: this.learnOffReason,
        buffered: this.learnBuffered,
        learnedSittings: this.learnedSittings,
        discardedActions: this.discardedActions,
        failures: this.learnFailures,
      },
    };
  }

  /** Stops the collector, scores what it still held, and waits for running lock commands and a mouse sitting being added. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.watcher?.close();
    this.watcher = null;
    this.seatWatcher?.close();
    this.seatWatcher = null;
    this.switchAgain = false;
    while (this.switching) await this.switching;
    const rest = this.source?.stop();
    if (rest && this.source) this.onBatch(rest, this.source.identities);
    while (this.batchQueue) await this.batchQueue;
    await this.embedding?.embedder.close();
    this.embedding = null;
    await this.app?.stop();
    await this.cohort.stop();
    await Promise.all([...this.pendingActions]);
    // One add at a time; the one that ends may start the next from what was buffered meanwhile.
    while (this.learnInFlight) await this.learnInFlight;
  }

  /** The profile file as it is on disk now (SentinelError SENTINEL_E_BIO_PROFILE / _BIO_KEY). */
  private readProfile(): BioProfile {
    return loadProfile(this.profileFile(), keyFingerprint(this.cfg.keyPath));
  }

  /** The profile file in use (SENTINEL_E_BIO_PROFILE while off). */
  private profileFile(): string {
    if (this.profilePath === null) throw new SentinelError('SENTINEL_E_BIO_PROFILE', 'no profile in use (biometrics off)');
    return this.profilePath;
  }

  /** One non-voting mouse block: into the shadow monitor; Restricted there discards the learning buffer. */
  private observeShadow(p: number, now: number): void {
    if (!this.shadow) return;
    this.shadow.tickDecay(now);
    const before = this.shadow.state;
    this.shadow.observe('mouse', p, now);
    if (this.shadow.state >= 2 && before < 2) {
      this.shadowRestricted++;
      this.log.info({ 'event.action': 'mouse_shadow_restricted', score: Number(this.shadow.score.toFixed(4)) }, 'mouse (not fused yet) finds the recent actions foreign: not learned from');
      this.clearLearnBuffer('the mouse, not fused yet, reached Restricted on its own', { shadow: stateName(this.shadow.state) });
    }
  }

  /** Whether the mouse profile holds enough sittings for its scores to move the session. */
  private mouseVotes(): boolean {
    return (this.profile?.mouse?.sittings ?? 1) >= this.cfg.mouseMinSittings;
  }

  /** Says once at start (and when a learned sitting changes it) whether the mouse takes part in the fusion. */
  private logMouseFusion(): void {
    if (!this.mouse) return;
    const sittings = this.profile?.mouse?.sittings ?? 1;
    if (this.mouseVotes()) {
      this.log.info({ 'event.action': 'mouse_fusion_on', sittings, minSittings: this.cfg.mouseMinSittings }, `mouse scores take part in the session score (${sittings} sittings)`);
    } else {
      const why = `mouse scored but not fused yet: the profile holds ${sittings} sitting(s), biometrics.mouseMinSittings is ${this.cfg.mouseMinSittings} (learned by use while Normal, or sentinel enroll --add)`;
      this.log.info({ 'event.action': 'mouse_fusion_waiting', sittings, minSittings: this.cfg.mouseMinSittings }, why);
    }
  }

  /** Decides whether the mouse is learned by use; logs why not. */
  private startMouseLearning(m: ModalityProfile | undefined): void {
    this.learnPopulation = null;
    const off = (reason: string, fields: Record<string, unknown> = {}): void => {
      this.learnOffReason = reason;
      this.log.info({ 'event.action': 'mouse_learning_off', reason, ...fields }, reason);
    };
    const n = this.cfg.mouseLearnActions;
    if (n === 0) return off('mouse learning off: biometrics.mouseLearnActions is 0');
    if (!m || !this.mouse) return off('mouse learning off: the profile has no mouse model');
    if (n < 4 * m.window) {
      return off(`mouse learning off: biometrics.mouseLearnActions ${n} is under four of the profile's ${m.window}-action blocks (${4 * m.window}); raise it or set 0`);
    }
    try {
      if (!mouseProfileInfo(m.bytes).canAddSittings) {
        return off('mouse learning off: the profile\'s mouse model was written before sittings could be added (version 2) or uses another method; re-enroll (sentinel enroll) to let the daemon learn');
      }
      if (!this.cfg.modelsDir) return off('mouse learning off: no models directory (the mouse population model is needed)');
      const population = loadMousePopulation(this.cfg.modelsDir);
      if (!mouseProfileInfo(m.bytes, population).populationMatches) {
        return off(`mouse learning off: the profile's mouse model was enrolled with another mouse population model than ${path.join(this.cfg.modelsDir, 'mouse')} (another release's); re-enroll (sentinel enroll) to let the daemon learn`);
      }
      this.learnPopulation = population;
    } catch (err) {
      const code = errorCode(err, 'SENTINEL_E_IO');
      return off(`mouse learning off: ${code}: ${(err as Error).message}`, { 'error.code': code });
    }
    this.learnOffReason = null;
    this.log.info(
      { 'event.action': 'mouse_learning_on', actions: n, block: m.window, holdback: 2 * m.window, sittings: m.sittings ?? 1 },
      `mouse learning on: a sitting every ${n} Normal-state actions (the newest ${2 * m.window} held back until more follow in Normal)`,
    );
  }

  /** Holds Normal-state scored actions for the next sitting (copies: the batch is not kept). */
  private bufferForLearning(actions: Float32Array, actionMeta: Float64Array, n: number): void {
    if (this.learnOffReason !== null) return;
    const want = this.cfg.mouseLearnActions;
    // While an add is in flight the next sitting fills; beyond one full sitting (and its holdback) nothing more is held.
    if (this.learnBuffered >= want + this.learnHoldback()) return;
    this.learnActions.push(actions.slice());
    this.learnMeta.push(actionMeta.slice());
    this.learnBuffered += n;
    this.maybeLearn();
  }

  /**
   * Newest actions never put into a sitting until this many more followed them in Normal: two
   * of the profile's blocks. Someone else's first actions are scored only as the blocks that
   * hold them complete, and the smoothed score takes a few of those to leave Normal; without
   * the holdback those actions could complete a sitting just before the session left Normal.
   */
  private learnHoldback(): number {
    return 2 * (this.profile?.mouse?.window ?? 0);
  }

  /**
   * models/keystroke-classical, read once: the model; a reason when it does not load (the
   * keystrokes are then not scored, and the status says why); null without a models directory
   * (the compiled fused-v1, which every profile without `classicalSha256` was calibrated under).
   */
  private classicalModel(): KeystrokeClassicalModel | string | null {
    if (!this.cfg.modelsDir) return null;
    if (this.classical === null) {
      try {
        this.classical = loadKeystrokeClassical(this.cfg.modelsDir);
      } catch (err) {
        this.classical = `${errorCode(err, 'SENTINEL_E_CONFIG')}: ${(err as Error).message}`;
      }
    }
    return this.classical;
  }

  /** Any transition out of Normal: the buffered actions are not the user's for sure any more. */
  private discardLearning(to: TrustState): void {
    this.leftNormal++;
    this.clearLearnBuffer('session left Normal', { to: stateName(to) });
  }

  private clearLearnBuffer(why: string, fields: Record<string, unknown>): void {
    if (this.learnBuffered === 0) return;
    this.log.info({ 'event.action': 'mouse_learning_discarded', actions: this.learnBuffered, ...fields }, `mouse learning: ${this.learnBuffered} buffered actions discarded (${why})`);
    this.discardedActions += this.learnBuffered;
    this.learnActions = [];
    this.learnMeta = [];
    this.learnBuffered = 0;
  }

  /** Starts adding a sitting when one is buffered and none is in flight. */
  private maybeLearn(): void {
    const want = this.cfg.mouseLearnActions;
    if (this.learnInFlight || this.learnOffReason !== null || this.learnBuffered < want + this.learnHoldback()) return;
    const base = this.profile?.mouse;
    const population = this.learnPopulation;
    if (!base || !population) return;
    const allA = concatFloat32(this.learnActions);
    const allM = concatFloat64(this.learnMeta);
    const nf = allA.length / this.learnBuffered;
    const actions = allA.slice(0, want * nf);
    const actionMeta = allM.slice(0, want * ACTION_META_STRIDE);
    const restN = this.learnBuffered - want;
    this.learnActions = restN > 0 ? [allA.slice(want * nf)] : [];
    this.learnMeta = restN > 0 ? [allM.slice(want * ACTION_META_STRIDE)] : [];
    this.learnBuffered = restN;
    const run = this.learnSitting(base, actions, actionMeta, population, want).finally(() => {
      this.learnInFlight = null;
      this.maybeLearn();
    });
    this.learnInFlight = run;
  }

  private async learnSitting(base: ModalityProfile, actions: Float32Array, actionMeta: Float64Array, population: Uint8Array, n: number): Promise<void> {
    try {
      // The sitting is the current user's: a switch of user waits for it before changing the file in use.
      const file = this.profileFile();
      const r = await addMouseSitting(base.bytes, actions, actionMeta, population, { blockActions: base.window, frr: base.frr });
      // Re-read: keep whatever else is on disk now; never overwrite a mouse model changed meanwhile.
      const now = this.readProfile();
      if (!now.mouse || !sameModelBytes(now.mouse.bytes, base.bytes)) {
        // Someone enrolled meanwhile (sentinel enroll, --add): their model wins; this sitting was
        // built on the older one and is dropped, and the daemon switches to what is on disk.
        const reason = 'the profile\'s mouse model changed on disk while a sitting was being learned (sentinel enroll?); the sitting was dropped';
        this.log.warn({ 'event.action': 'mouse_model_learn_dropped', reason }, reason);
        this.reloadProfile(reason);
        return;
      }
      const mouse = withSitting(now.mouse, r, n);
      const stream = new MouseStream(mouse.bytes, r.threshold, r.genuineSd, mouse.window);
      saveProfile(file, { ...now, mouse });
      this.mouse = stream;
      this.profile = { ...(this.profile ?? now), mouse };
      this.learnedSittings++;
      if ((r.sittings >= this.cfg.mouseMinSittings) !== ((base.sittings ?? 1) >= this.cfg.mouseMinSittings)) this.logMouseFusion();
      const detail = { sittings: r.sittings, actions: n, samples: mouse.samples, threshold: r.threshold, calibrationBlocks: r.calibrationBlocks };
      this.log.info({ 'event.action': 'mouse_model_learned', ...detail }, `mouse model learned: sitting ${r.sittings} from ${n} Normal-state actions`);
      try {
        this.audit.writeTick({ transitions: [], actions: [{ atMs: Date.now(), subjectId: SESSION_SUBJECT_ID, action: 'mouse_model_learned', target: `session ${this.user ?? ''}`, result: 'ok', detail }], drops: [] });
      } catch (err) {
        this.log.error({ err, 'error.code': errorCode(err, 'SENTINEL_E_DB') }, 'could not audit the mouse_model_learned action');
      }
    } catch (err) {
      this.learnFailures++;
      const code = errorCode(err, 'SENTINEL_E_BIO_ENROLL');
      this.log.error({ 'error.code': code, 'event.action': 'mouse_model_learn_failed', actions: n }, `mouse sitting not learned: ${(err as Error).message}`);
    }
  }
}
