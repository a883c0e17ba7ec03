/**
 * Continuous authentication in the daemon: input collector → keystroke scorer → session monitor
 * (fusion + trust machine) → audit and actions (docs/biometrics.md, "Session subject").
 *
 * - Off, with the reason logged and shown in /v1/status, when disabled, when no profile was
 *   enrolled, or when there is no input directory and no device configured. Never fatal: the
 *   file-system side runs without it.
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
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { AuditStore } from '../src/audit/store.js';
import type { ActionRecord, TransitionRecord } from '../src/audit/records.js';
import { InputSource, inputUnavailableReason, type DeviceIdentities, type InputBatch } from '../src/biometrics/input-source.js';
import { selectActions } from '../src/biometrics/input-batch.js';
import { KeystrokeStream } from '../src/biometrics/keystroke-model.js';
import { MouseStream } from '../src/biometrics/mouse-model.js';
import { keyFingerprint, loadProfile, saveProfile, type BioProfile } from '../src/biometrics/profile-file.js';
import { AppModality, type AppModalityConfig } from './app-modality.js';
import type { MouseDevicesPolicy } from './config.js';
import { SessionMonitor, type ModalityStatus } from '../src/biometrics/session-monitor.js';
import { SentinelError } from '../src/errors.js';
import { stateName } from '../src/scoring/scorer.js';
import type { Transition, TrustPolicy, TrustState } from '../src/state/trust-machine.js';

/** Subject id of the user session: above every native subject id (those are 32-bit). */
export const SESSION_SUBJECT_ID = 2 ** 32;

export interface BiometricsConfig {
  enabled: boolean;
  /** Directory of evdev devices, watched for hot-plug ("" for none). */
  inputDir: string;
  /** Extra devices (character devices, FIFOs, recordings) opened at start. */
  devices: string[];
  keyPath: string;
  profilePath: string;
  /** argv of the command that locks the session on Lockdown. */
  lockCommand: string[];
  /** argv of a command run on entering Restricted (empty: none; the entry is always notified). */
  restrictCommand: string[];
  /** Hold the session user's own processes at the session state (Restricted and up) in the deny set. */
  restrictProcesses: boolean;
  /** uid of the session's user; -1: look up the profile's user name in /etc/passwd. */
  sessionUid: number;
  /** Score a keystroke window every this many keystrokes (0: a quarter of the window). */
  stride: number;
  /**
   * Which pointing devices the mouse model scores: 'enrolled' (those in the profile's
   * `mouse.devices`; every device when the profile lists none) or 'any'.
   */
  mouseDevices: MouseDevicesPolicy;
  emaAlpha: number;
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
}

/** uid of a local user name from /etc/passwd, or null. */
export function uidOfUser(name: string, passwd = '/etc/passwd'): number | null {
  let text: string;
  try {
    text = readFileSync(passwd, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f[2] !== undefined && /^\d+$/.test(f[2])) return Number(f[2]);
  }
  return null;
}

export class BiometricsService {
  private source: InputSource | null = null;
  private keystrokes: KeystrokeStream | null = null;
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

  /** uid of the session's user (from the configuration or the profile's user name), or -1 unknown. */
  private uid = -1;

  /**
   * `onFloor(uid, state)` is told the session state whenever it changes, so the daemon can hold
   * the session user's own processes at that state on the file-system side
   * (`biometrics.restrictProcesses`).
   */
  constructor(
    private readonly cfg: BiometricsConfig,
    private readonly audit: AuditStore,
    private readonly log: Logger,
    private readonly onFloor: (uid: number, state: TrustState) => void = () => {},
  ) {}

  /** The floor for the session user's processes follows the session state (Restricted and up). */
  private applyFloor(): void {
    if (!this.cfg.restrictProcesses || this.uid < 0) return;
    const st = this.monitor?.state ?? 0;
    this.onFloor(this.uid, st >= 2 ? st : 0);
  }

  /**
   * Starts the collector when everything it needs is there; otherwise records and logs why not.
   * Never throws: a broken profile or an unreadable device must not take the file-system side
   * down with it (the error is logged with its code and shown in the status).
   */
  start(): void {
    try {
      this.startOrThrow();
    } catch (err) {
      const code = err instanceof SentinelError ? err.code : 'SENTINEL_E_IO';
      this.offReason = `biometrics off: ${code}: ${(err as Error).message}`;
      this.source?.stop();
      this.source = null;
      void this.app?.stop();
      this.app = null;
      this.monitor = null;
      this.keystrokes = null;
      this.mouse = null;
      this.log.error({ 'error.code': code, 'event.action': 'biometrics_off' }, this.offReason);
    }
  }

  private startOrThrow(): void {
    const why = this.unavailable();
    if (why) {
      this.offReason = why;
      this.log.info({ 'event.action': 'biometrics_off', reason: why }, why);
      return;
    }
    const profile = loadProfile(this.cfg.profilePath, keyFingerprint(this.cfg.keyPath));
    if (!profile.keystroke && !profile.mouse) {
      this.offReason = `biometrics off: profile ${this.cfg.profilePath} has no keystroke or mouse model`;
      this.log.info({ 'event.action': 'biometrics_off', reason: this.offReason }, this.offReason);
      return;
    }
    this.user = profile.user;
    this.profile = profile;
    this.uid = this.cfg.sessionUid >= 0 ? this.cfg.sessionUid : (uidOfUser(profile.user) ?? -1);
    if (this.cfg.restrictProcesses && this.uid < 0) {
      this.log.warn({ 'event.action': 'session_uid_unknown', user: profile.user }, `no uid for user ${profile.user}: the session user's processes will not be restricted (set biometrics.sessionUid)`);
    }
    if (profile.keystroke) this.keystrokes = new KeystrokeStream(profile.keystroke.bytes, this.cfg.stride > 0 ? this.cfg.stride : undefined);
    const m = profile.mouse;
    if (m) this.mouse = new MouseStream(m.bytes, m.threshold as number, m.genuineSd as number, m.window);
    this.enrolledPointers = m && this.cfg.mouseDevices === 'enrolled' && m.devices ? new Set(m.devices) : null;
    this.monitor = new SessionMonitor({
      subjectId: SESSION_SUBJECT_ID,
      policy: this.cfg.policy,
      emaAlpha: this.cfg.emaAlpha,
      silentAfterMs: this.cfg.silentAfterMs,
    });
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
        inputDir: dir ?? null,
        devices: this.cfg.devices.length,
        keystroke: this.keystrokes !== null,
        mouse: this.mouse !== null,
        mouseDevices: this.enrolledPointers ? [...this.enrolledPointers] : 'any',
      },
      `continuous authentication on for ${profile.user}`,
    );
  }

  /** The app modality runs beside the input collector; when it cannot, the reason is logged and shown. */
  private startApp(profile: BioProfile): void {
    const app = new AppModality(this.cfg.app, this.cfg.keyPath, this.log, profile.app?.bytes, {
      isNormal: () => (this.monitor?.state ?? 0) === 0,
      onLearned: (m) => {
        if (!this.profile) return;
        this.profile = { ...this.profile, app: { bytes: m.bytes, samples: m.info.transitions, window: this.cfg.app.window, frr: 0.05, threshold: m.info.threshold } };
        saveProfile(this.cfg.profilePath, this.profile);
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
    if (!existsSync(this.cfg.profilePath)) return `biometrics off: no enrolled profile at ${this.cfg.profilePath} (run \`sentinel enroll\`)`;
    return null;
  }

  /** Why the input collector cannot run (no input directory and no device), or null. */
  private inputUnavailable(): string | null {
    const dirWhy = this.cfg.inputDir ? inputUnavailableReason(this.cfg.inputDir) : 'input modality off: no input directory configured';
    return dirWhy && this.cfg.devices.length === 0 ? dirWhy : null;
  }

  private onBatch(b: InputBatch, identities: DeviceIdentities): void {
    const now = Date.now();
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
    if (this.keystrokes && this.monitor && b.keys.length) {
      for (const p of this.keystrokes.push(b.keys)) {
        this.windowsScored++;
        const t = this.monitor.observe('keystroke', p, now);
        if (t) this.onTransition(t, transitions, actions);
      }
    }
    if (this.mouse && this.monitor && b.actionMeta.length) {
      const scored = this.scoredPointerActions(b, identities, now, actions);
      for (const p of this.mouse.push(scored.actions, scored.actionMeta)) {
        this.blocksScored++;
        const t = this.monitor.observe('mouse', p, now);
        if (t) this.onTransition(t, transitions, actions);
      }
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
      const reason = `pointer device not enrolled: ${identity}; run sentinel enroll --add on it, then restart the daemon`;
      this.log.warn({ 'event.action': 'pointer_device_unenrolled', 'device.identity': identity, user: this.user }, reason);
      actions.push({ atMs: now, subjectId: SESSION_SUBJECT_ID, action: 'notify', target: `session ${this.user ?? ''}`, result: 'logged', detail: { reason, device: identity } });
    }
    return sel;
  }

  private onTransition(t: Transition, transitions: TransitionRecord[], actions: ActionRecord[]): void {
    const monitor = this.monitor as SessionMonitor;
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
          this.log.error({ err, 'error.code': err instanceof SentinelError ? err.code : 'SENTINEL_E_DB' }, `could not audit the ${action} action`);
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
    if (t) {
      this.audit.writeTick({ transitions: [this.record(t, this.monitor)], actions: [], drops: [] });
      this.applyFloor();
    }
    return t;
  }

  get subjectId(): number {
    return SESSION_SUBJECT_ID;
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
    };
  }

  /** Stops the collector, scores what it still held, and waits for running lock commands. */
  async stop(): Promise<void> {
    const rest = this.source?.stop();
    if (rest && this.source) this.onBatch(rest, this.source.identities);
    await this.app?.stop();
    await Promise.all([...this.pendingActions]);
  }
}
