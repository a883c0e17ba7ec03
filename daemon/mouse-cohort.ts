/**
 * The several-users mouse model in the daemon (src/biometrics/mouse-cohort.ts): fitted from the
 * mouse profiles of every user enrolled in `profileDir`, and fitted again whenever one of them
 * changes (enrolled, removed, `--add`, a sitting learned by use). The session user's mouse is
 * then scored against the other enrolled users as a second mouse modality, `mouseCohort`
 * (docs/biometrics.md, "Several users on one host: one mouse model over all of them").
 *
 * Contract
 * - `refresh(why)` is synchronous and cheap when nothing changed (it reads the profiles to see);
 *   a change starts a fit on the libuv pool. One fit at a time: a change seen during a fit is
 *   fitted once that one is done. `onFitted` is called with each new model, or with null when
 *   the model is dropped (fewer than two usable profiles, a refused fit).
 * - A profile is a member when it loads under the host key and its mouse model holds a
 *   quantised enrollment (version 3 and later) under the shipped population; the others are
 *   listed, each with why, in `status().excluded`. The model is held in memory only.
 * - A background (`background`, src/biometrics/mouse-background.ts: other people's profiles built
 *   on this machine from a research data set) adds members that are never scored, fitted as
 *   one class, on a host with one usable enrolled profile only. With two or more the model is
 *   the enrolled users' alone: measured, the background costs more against an enrolled
 *   impostor than it gains against an outsider (docs/biometrics.md, "Mouse: the background on
 *   every host, as one class"). It is read once, at the first refresh. No file there: no
 *   background, the reason in `status().background`. A file that does not load is logged
 *   (SENTINEL_E_BIO_PROFILE or SENTINEL_E_IO) and the model goes on without it, likewise.
 * - Never throws; errors are logged with their code and shown in the status.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import { existsSync } from 'node:fs';
import { loadMouseBackground, splitMembers } from '../src/biometrics/mouse-background.js';
import { fitMouseCohort, type CohortMemberInput, type MouseCohortFit } from '../src/biometrics/mouse-cohort.js';
import { loadMousePopulation, mouseProfileInfo } from '../src/biometrics/mouse-model.js';
import { listProfiles } from '../src/biometrics/profile-dir.js';
import { keyFingerprint, loadProfile } from '../src/biometrics/profile-file.js';
import { errorCode } from '../src/errors.js';

export interface MouseCohortOptions {
  /** Why the model is never fitted (biometrics off, `mouseCohort` false, no models); null: it is. */
  off: string | null;
  profileDir: string;
  keyPath: string;
  /** The shipped models (`models/mouse` is the population the profiles were enrolled with). */
  modelsDir: string;
  log: Logger;
  onFitted: (fit: MouseCohortFit | null) => void;
  /** Boosting rounds (default the addon's 200); tests fit fewer. */
  rounds?: number;
  /** Most recent enrolled actions of each member fitted on (default DEFAULT_COHORT_ACTIONS). */
  maxActions?: number;
  /** The background file, used when it exists; null: none (`biometrics.mouseBackground` "none"). */
  background?: string | null;
}

/** The background of the several-users model, as /v1/status shows it. */
export interface MouseBackgroundStatus {
  /** Background members the model is fitted with (0 when none). */
  members: number;
  file: string | null;
  /** Why none is in the model: not loaded, or not used with two or more enrolled users; null when it is in. */
  reason: string | null;
}

/** The several-users mouse model, as /v1/status shows it. */
export interface MouseCohortStatus {
  /** A fitted model is in use. */
  on: boolean;
  /** Why not (or why the last fit failed); null when on. */
  reason: string | null;
  /** Enrolled users in the model (background members are counted in `background`). */
  members: string[];
  background: MouseBackgroundStatus;
  /** Enrolled users left out of the model, with why. */
  excluded: { user: string; why: string }[];
  fitting: boolean;
  fits: number;
  failures: number;
  /** Milliseconds the last successful fit took. */
  lastFitMs: number | null;
}

export class MouseCohortModel {
  private fit: MouseCohortFit | null = null;
  /** What the model in use (or the one being fitted) was fitted from: users and their mouse bytes. */
  private fittedFrom = '';
  private inFlight: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private population: Uint8Array | null = null;
  private reason: string | null;
  private excluded: { user: string; why: string }[] = [];
  private fits = 0;
  private failures = 0;
  private lastFitMs: number | null = null;
  /** The background's members once read (null: not read yet). */
  private background: CohortMemberInput[] | null = null;
  private backgroundReason: string | null = null;
  private backgroundUnused: string | null = null;
  /** sha256 of the background's members, in order (set when it loads). */
  private backgroundDigest = '';

  constructor(private readonly opts: MouseCohortOptions) {
    this.reason = `several-users mouse model off: ${opts.off ?? 'not fitted yet'}`;
  }

  current(): MouseCohortFit | null {
    return this.fit;
  }

  refresh(why: string): void {
    try {
      this.refreshOrThrow(why);
    } catch (err) {
      // Nothing here may take the session down with it: logged, and the model is dropped.
      const code = errorCode(err, 'SENTINEL_E_IO');
      this.drop(`several-users mouse model off: ${code}: ${(err as Error).message}`, 'warn', code);
    }
  }

  private refreshOrThrow(why: string): void {
    if (this.opts.off !== null || this.stopped) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    const enrolled = this.members();
    if (enrolled === null) return;
    const loaded = this.loadBackground();
    // Single-user hosts only: with two or more enrolled users the model stays theirs (measured:
    // the background costs more against an enrolled impostor than it gains against an outsider).
    const background = enrolled.length === 1 ? loaded : [];
    this.backgroundUnused = enrolled.length > 1 && loaded.length > 0 ? `not used with ${enrolled.length} enrolled users (it is for a host with one)` : null;
    if (enrolled.length < 1 || enrolled.length + background.length < 2) {
      const needs = loaded.length > 0 ? `it needs one, with the background of ${loaded.length} members` : `it needs two, or one and a background: ${this.backgroundReason ?? 'none'}`;
      const off = `several-users mouse model off: ${enrolled.length} enrolled user(s) with a mouse model that can take part (${needs})`;
      this.fittedFrom = '';
      this.drop(off, 'info');
      return;
    }
    const members = [...enrolled, ...background];
    // The background never changes while the daemon runs: its digest is taken once, at load.
    const from = [...enrolled.map((m) => `${m.user}:${createHash('sha256').update(m.mouse).digest('hex')}`), ...(background.length ? [`background:${this.backgroundDigest}`] : [])].join(',');
    if (from === this.fittedFrom) return;
    this.fittedFrom = from;
    const population = this.population as Uint8Array;
    const started = Date.now();
    this.inFlight = fitMouseCohort(members, population, {
      ...(this.opts.rounds ? { rounds: this.opts.rounds } : {}),
      ...(this.opts.maxActions ? { maxActions: this.opts.maxActions } : {}),
      background: background.length,
    })
      .then(
        (fit) => {
          if (this.stopped) return;
          this.fit = fit;
          this.reason = null;
          this.fits++;
          this.lastFitMs = Date.now() - started;
          const split = splitMembers(fit.members);
          this.opts.log.info(
            {
              'event.action': 'mouse_cohort_on',
              why,
              ms: this.lastFitMs,
              members: fit.members.map((m) => ({ user: m.user, threshold: Number(m.threshold.toFixed(4)), enrolledFar: Number(m.enrolledFar.toFixed(4)), calibrationBlocks: m.calibrationBlocks })),
            },
            `several-users mouse model fitted over ${split.enrolled.join(', ')}${split.background ? ` and ${split.background} background members` : ''} (${this.lastFitMs} ms)`,
          );
          this.opts.onFitted(fit);
        },
        (err: unknown) => {
          if (this.stopped) return;
          this.failures++;
          const code = errorCode(err, 'SENTINEL_E_BIO_ENROLL');
          // fittedFrom stays `from`: the same profiles would be refused again, so wait for a change.
          this.drop(`several-users mouse model off: ${code}: ${(err as Error).message}`, 'warn', code);
        },
      )
      .finally(() => {
        this.inFlight = null;
        if (!this.again) return;
        this.again = false;
        this.refresh(why);
      });
  }

  status(): MouseCohortStatus {
    const split = splitMembers(this.fit?.members ?? []);
    return {
      on: this.fit !== null,
      reason: this.reason,
      members: split.enrolled,
      background: {
        members: split.background,
        file: this.opts.background ?? null,
        reason: this.backgroundReason ?? this.backgroundUnused,
      },
      excluded: this.excluded.map((e) => ({ ...e })),
      fitting: this.inFlight !== null,
      fits: this.fits,
      failures: this.failures,
      lastFitMs: this.lastFitMs,
    };
  }

  /** Waits for a fit in flight; no fit starts afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.again = false;
    while (this.inFlight) await this.inFlight;
  }

  /**
   * The background's members, read at the first call (the population is loaded by then); [] when
   * there is none or it does not load (logged once, the reason kept for the status).
   */
  private loadBackground(): CohortMemberInput[] {
    if (this.background) return this.background;
    const file = this.opts.background;
    this.background = [];
    if (!file) {
      this.backgroundReason = 'biometrics.mouseBackground is "none"';
    } else if (!existsSync(file)) {
      this.backgroundReason = `no background file ${file} (scripts/bio/mouse_background.sh builds one)`;
    } else {
      try {
        this.background = loadMouseBackground(file, this.population as Uint8Array);
        const h = createHash('sha256');
        for (const m of this.background) h.update(m.user).update(m.mouse);
        this.backgroundDigest = h.digest('hex');
        this.backgroundReason = null;
        this.opts.log.info({ 'event.action': 'mouse_background_loaded', file, members: this.background.length }, `mouse background ${file}: ${this.background.length} members`);
      } catch (err) {
        const code = errorCode(err, 'SENTINEL_E_BIO_PROFILE');
        this.backgroundReason = `${code}: ${(err as Error).message}`;
        this.opts.log.warn({ 'event.action': 'mouse_background_not_used', 'error.code': code }, `mouse background not used: ${(err as Error).message}`);
      }
    }
    return this.background;
  }

  /** The usable members of the profiles folder, sorted by user; null (logged) when the population does not load. */
  private members(): CohortMemberInput[] | null {
    try {
      this.population ??= loadMousePopulation(this.opts.modelsDir);
    } catch (err) {
      const code = errorCode(err, 'SENTINEL_E_CONFIG');
      this.drop(`several-users mouse model off: ${code}: ${(err as Error).message}`, 'warn', code);
      return null;
    }
    const entries = listProfiles(this.opts.profileDir);
    const members: CohortMemberInput[] = [];
    const excluded: { user: string; why: string }[] = [];
    let key = '';
    if (entries.length) {
      try {
        key = keyFingerprint(this.opts.keyPath);
      } catch (err) {
        // Without the key no profile loads: each is left out with why.
        for (const e of entries) excluded.push({ user: e.user, why: (err as Error).message });
        this.excluded = excluded;
        return members;
      }
    }
    for (const entry of entries) {
      try {
        const p = loadProfile(entry.path, key);
        if (p.user !== entry.user) throw new Error(`the file names ${p.user}`);
        if (!p.mouse) {
          excluded.push({ user: entry.user, why: 'no mouse model' });
          continue;
        }
        const info = mouseProfileInfo(p.mouse.bytes, this.population);
        if (!info.canAddSittings) excluded.push({ user: entry.user, why: 'mouse model written before profiles kept a quantised enrollment (version 2): re-enroll' });
        else if (!info.populationMatches) excluded.push({ user: entry.user, why: `mouse model enrolled under another population model than ${path.join(this.opts.modelsDir, 'mouse')}: re-enroll` });
        else members.push({ user: entry.user, mouse: p.mouse.bytes });
      } catch (err) {
        excluded.push({ user: entry.user, why: `profile does not load: ${(err as Error).message}` });
      }
    }
    this.excluded = excluded;
    return members;
  }

  private drop(reason: string, level: 'info' | 'warn', code?: string): void {
    const had = this.fit !== null;
    const changed = this.reason !== reason;
    this.fit = null;
    this.reason = reason;
    if (changed) this.opts.log[level]({ 'event.action': 'mouse_cohort_off', reason, ...(code ? { 'error.code': code } : {}) }, reason);
    if (had) this.opts.onFitted(null);
  }
}
