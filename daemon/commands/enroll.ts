/**
 * `sentinel enroll`: records the user's typing and mouse use from the input devices (or recordings of
 * `struct input_event`), builds the keystroke profile on the libuv pool, calibrates it to a
 * false-reject rate, and writes the profile file (0600) the daemon loads at start. Prints a
 * JSON summary. Nothing typed is kept: the collector hands over keyed-hash buckets, timings and
 * mouse action feature rows only; the profile holds their statistics (docs/privacy.md).
 *
 * Input ends when `--keys` keystrokes and `--actions` mouse actions were collected, or when
 * every device given with `--device` has ended (a recording's end, a FIFO's writer closing). A
 * modality with too little input is skipped (said on stderr and in the summary); when neither
 * can be enrolled the command fails with SENTINEL_E_BIO_ENROLL and writes nothing.
 *
 * The keystroke modality also stores its reference under the shipped learned embedding
 * (`keystroke.embedding`, computed on the embedder's worker thread) when the embedder loads and
 * the window is one its fusion was fit for; otherwise the keystrokes are enrolled without it and
 * the summary (`keystroke.embeddingOff`) and stderr say why.
 *
 * The mouse modality records the identities of the pointing devices its actions came from
 * (`mouse.devices`); the daemon scores only those devices' actions (`biometrics.mouseDevices`).
 *
 * `--add` records one more sitting of the mouse only and adds it to the existing profile
 * (`addMouseSitting`: the model then scores as if enrolled from every sitting together, and the
 * threshold is recalibrated as enrolling on every sitting at once would calibrate it). The keystroke and
 * app modalities, the user, creation time and key fingerprint are kept as they are; the mouse
 * keeps its block and (unless `--frr` is given) its false-reject rate, sums its samples and
 * takes the union of the device identities. On any failure nothing is written. A running
 * daemon watches the file and switches to the new model.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { InputSource, type DeviceIdentities, type InputBatch } from '../../src/biometrics/input-source.js';
import { actionDevices, concatFloat32 } from '../../src/biometrics/input-batch.js';
import { concatKeyRecords, enrollKeystrokeProfile, keyRecordCount, KeystrokeStream, DEFAULT_ENROLL_FRR, DEFAULT_KEYSTROKE_WINDOW } from '../../src/biometrics/keystroke-model.js';
import { checkUserName, listProfiles, profilePathFor } from '../../src/biometrics/profile-dir.js';
import { keyFingerprint, loadProfile, sameModelBytes, saveProfile, type BioProfile, type KeystrokeEmbeddingRef, type ModalityProfile } from '../../src/biometrics/profile-file.js';
import { openKeystrokeEmbedding, type KeystrokeEmbeddingModels } from '../../src/biometrics/keystroke-embedded-stream.js';
import { fusionWindow } from '../../src/models/keystroke-fusion-model.js';
import { classicalMismatch, loadKeystrokeClassical } from '../../src/models/keystroke-classical-model.js';
import { actionCount, addMouseSitting, DEFAULT_MOUSE_BLOCK, enrollMouseProfile, loadMousePopulation, mouseProfileInfo, withSitting } from '../../src/biometrics/mouse-model.js';
import { addon, ACTION_META_STRIDE, KEY_RECORD_STRIDE } from '../../src/binding.js';
import { intOption } from './options.js';
import { errorCode, SentinelError } from '../../src/errors.js';

interface EnrollOptions {
  config?: string;
  dataDir?: string;
  user: string;
  device?: string[];
  inputDir?: string;
  keys: number;
  window: number;
  actions: number;
  block: number;
  frr: number;
  profile?: string;
  add?: boolean;
}

interface Collected {
  keys: Float64Array;
  actions: Float32Array;
  actionMeta: Float64Array;
  /** Identities of the devices the collected actions came from, in order of first action. */
  pointerDevices: string[];
}

/** Collects until both targets are met, or every given device has ended (when no directory is watched). */
function collect(source: InputSource, wantKeys: number, wantActions: number, deviceCount: number, watchingDir: boolean): Promise<Collected> {
  const keys: Float64Array[] = [];
  const acts: Float32Array[] = [];
  const metas: Float64Array[] = [];
  let haveKeys = 0;
  let haveActions = 0;
  let ended = 0;
  // Device numbers are never reused by one collector, so this keeps every device ever seen.
  const identities = new Map<number, string>();
  return new Promise((resolve) => {
    let done = false;
    source.start((b: InputBatch, ids: DeviceIdentities) => {
      if (done) return;
      for (const [n, id] of ids) identities.set(n, id);
      if (b.keys.length) {
        keys.push(b.keys);
        haveKeys += keyRecordCount(b.keys);
      }
      if (b.actionMeta.length) {
        acts.push(b.actions);
        metas.push(b.actionMeta);
        haveActions += actionCount(b.actionMeta);
      }
      for (const d of b.devices) {
        if (d.kind === 'removed') ended++;
        if (d.kind === 'error') process.stderr.write(`sentinel enroll: ${d.message}\n`);
      }
      if ((haveKeys >= wantKeys && haveActions >= wantActions) || (!watchingDir && ended >= deviceCount)) {
        done = true;
        const nf = addon().biometricsConstants().actionFeatures;
        const na = Math.min(haveActions, wantActions || haveActions);
        const actionMeta = concatKeyRecords(metas).subarray(0, na * ACTION_META_STRIDE);
        resolve({
          keys: concatKeyRecords(keys).subarray(0, Math.min(haveKeys, wantKeys || haveKeys) * KEY_RECORD_STRIDE),
          actions: concatFloat32(acts).subarray(0, na * nf),
          actionMeta,
          pointerDevices: [...new Set(actionDevices(actionMeta).map((n) => identities.get(n) ?? `unknown:${n}`))],
        });
      }
    });
  });
}

export function registerEnroll(program: Command): void {
  program
    .command('enroll')
    .description('enroll the user at the keyboard: record typing and mouse rhythm and write the biometric profile')
    .option('-c, --config <file>', 'JSON configuration file (key and profile paths, input directory)')
    .option('--data-dir <dir>', 'data directory')
    .option('--user <name>', "login name of the enrolled user (default: who ran sudo, else $USER; the profile is <profileDir>/<user>.json; the daemon scores the active session's user)", process.env['SUDO_USER'] || process.env['USER'] || 'user')
    .option('--device <path...>', 'input devices or recordings to read (default: the configured input directory)')
    .option('--input-dir <dir>', 'directory of evdev devices (default from the configuration)')
    .option('--keys <n>', 'keystrokes to record (0: no keystroke model)', intOption, 600)
    .option('--window <n>', 'keystroke scoring window', intOption, DEFAULT_KEYSTROKE_WINDOW)
    .option('--actions <n>', 'mouse actions to record (0: no mouse model)', intOption, 200)
    .option('--block <n>', "mouse scoring block in actions (with --add: must be the profile's)", intOption, DEFAULT_MOUSE_BLOCK)
    .option('--frr <rate>', "false-reject rate to calibrate the thresholds to (with --add: default the profile's)", (v) => Number(v), DEFAULT_ENROLL_FRR)
    .option('--profile <file>', "profile file to write (default: the user's in biometrics.profileDir)")
    .option('--add', 'add one more mouse sitting to the existing profile (keystroke and app models kept as they are)')
    .action(async (opts: EnrollOptions, cmd: Command) => {
      const cfg = loadConfig(opts.config, opts.dataDir ? { dataDir: opts.dataDir } : {});
      try {
        checkUserName(opts.user);
      } catch (err) {
        throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `--user: ${(err as Error).message}`);
      }
      if (opts.add) {
        await addSitting(cfg, opts, (name) => cmd.getOptionValueSource(name) === 'cli');
        return;
      }
      const b = cfg.biometrics;
      const devices = opts.device ?? [];
      const dir = opts.inputDir ?? (devices.length ? undefined : b.inputDir);
      if (opts.keys === 0 && opts.actions === 0) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'nothing to enroll: --keys and --actions are both 0');
      if (opts.keys > 0 && opts.keys < 2 * opts.window) {
        throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `--keys must be at least twice --window (${2 * opts.window})`);
      }
      if (opts.actions > 0 && opts.actions < 4 * opts.block) {
        throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `--actions must be at least four times --block (${4 * opts.block})`);
      }
      mkdirSync(path.dirname(b.keyPath), { recursive: true, mode: 0o700 });
      const source = new InputSource({ paths: devices, ...(dir ? { dir } : {}), keyPath: b.keyPath });
      if (process.stderr.isTTY) process.stderr.write(`sentinel enroll: type and use the mouse naturally; recording ${opts.keys} keystrokes and ${opts.actions} mouse actions...\n`);
      let got: Collected;
      try {
        got = await collect(source, opts.keys, opts.actions, devices.length, dir !== undefined);
      } finally {
        source.stop();
      }
      const skipped: Record<string, string> = {};
      let keystroke: ModalityProfile | undefined;
      let mouse: ModalityProfile | undefined;
      let embeddingOff: string | null = null;
      const nKeys = keyRecordCount(got.keys);
      if (opts.keys > 0) {
        try {
          // Calibrated under the shipped classical weights, whose sha256 the profile records.
          const classical = loadKeystrokeClassical(cfg.modelsDir);
          const bytes = await enrollKeystrokeProfile(got.keys, { window: opts.window, frr: opts.frr, weights: classical.weights });
          keystroke = { bytes, samples: nKeys, window: opts.window, frr: opts.frr, classicalSha256: classical.sha256 };
        } catch (err) {
          skipped['keystroke'] = (err as Error).message;
        }
        if (keystroke) {
          const e = await keystrokeEmbeddingReference(cfg.modelsDir, cfg.biometrics.keystrokeEmbedding, got.keys, opts.window);
          if (typeof e === 'string') {
            embeddingOff = e;
            process.stderr.write(`sentinel enroll: keystrokes enrolled without the learned embedding: ${e}\n`);
          } else keystroke.embedding = e;
        }
      }
      const nActions = actionCount(got.actionMeta);
      if (opts.actions > 0) {
        try {
          const m = await enrollMouseProfile(got.actions, got.actionMeta, loadMousePopulation(cfg.modelsDir), { blockActions: opts.block, frr: opts.frr });
          mouse = { bytes: m.bytes, samples: nActions, window: opts.block, frr: opts.frr, threshold: m.threshold, genuineSd: m.genuineSd, devices: got.pointerDevices, sittings: 1 };
        } catch (err) {
          skipped['mouse'] = (err as Error).message;
        }
      }
      for (const [mod, why] of Object.entries(skipped)) process.stderr.write(`sentinel enroll: ${mod} not enrolled: ${why}\n`);
      if (!keystroke && !mouse) throw new SentinelError('SENTINEL_E_BIO_ENROLL', `nothing enrolled: ${Object.values(skipped).join('; ')}`);
      const profilePath = opts.profile ?? profilePathFor(b.profileDir, opts.user);
      saveProfile(profilePath, {
        user: opts.user,
        createdMs: Date.now(),
        keySha256: keyFingerprint(b.keyPath),
        ...(keystroke ? { keystroke } : {}),
        ...(mouse ? { mouse } : {}),
      });
      process.stdout.write(
        JSON.stringify({
          user: opts.user,
          profile: profilePath,
          keystrokes: nKeys,
          actions: nActions,
          keystroke: keystroke ? { ...keystrokeSummary(cfg.modelsDir, keystroke), embedding: keystroke.embedding !== undefined, embeddingOff } : null,
          mouse: mouse ? { block: mouse.window, threshold: mouse.threshold, genuineSd: mouse.genuineSd, devices: mouse.devices, sittings: 1 } : null,
          sittings: mouse ? 1 : 0,
          added: false,
          skipped,
        }) + '\n',
      );
      if (mouse && process.stderr.isTTY) {
        // With the default biometrics.mouseMinSittings (2) a one-sitting mouse is scored but does not move the session.
        process.stderr.write('sentinel enroll: the mouse takes part in the session score from its second sitting: the daemon learns one from use while the session is Normal, or run sentinel enroll --add on another day\n');
      }
    });
}

/**
 * The keystroke model's part of the JSON summary both forms of the command print; its genuine
 * sd under the weights the profile was calibrated with (the shipped ones when it matches them,
 * else the compiled fused-v1 of profiles that record none). `classical`: the shipped weights'
 * version when the profile was calibrated under them, else null (the daemon recalibrates it).
 */
function keystrokeSummary(modelsDir: string, k: ModalityProfile): { window: number; enrollmentWindows: number; threshold: number; genuineSd: number; classical: string | null } {
  let weights: Float64Array | undefined;
  let classical: string | null = null;
  try {
    const model = loadKeystrokeClassical(modelsDir);
    if (classicalMismatch(model, k.classicalSha256) === null) {
      weights = model.weights;
      classical = model.version;
    }
  } catch {
    // the summary of a profile kept by --add: the daemon reports a missing model itself
  }
  const ks = new KeystrokeStream(k.bytes, undefined, weights).info;
  return { window: ks.window, enrollmentWindows: ks.enrollmentWindows, threshold: ks.threshold, genuineSd: ks.genuineSd, classical };
}

/**
 * The enrollment's reference under the shipped keystroke embedder, or why there is none (the
 * embedder off in the configuration, missing or refused by ONNX Runtime, a window the fusion was
 * not fit for). The embedder's worker is closed before this returns.
 */
async function keystrokeEmbeddingReference(modelsDir: string, enabled: boolean, keys: Float64Array, window: number): Promise<KeystrokeEmbeddingRef | string> {
  if (!enabled) return 'biometrics.keystrokeEmbedding is false';
  let models: KeystrokeEmbeddingModels;
  try {
    models = await openKeystrokeEmbedding(modelsDir);
  } catch (err) {
    return `${errorCode(err, 'SENTINEL_E_MODEL_RUNTIME')}: ${(err as Error).message}`;
  }
  try {
    const params = fusionWindow(models.fusion, window);
    if (typeof params === 'string') return params;
    const ref = await models.embedder.reference(keys);
    return { modelSha256: models.embedder.sha256, reference: Array.from(ref) };
  } catch (err) {
    return `${errorCode(err, 'SENTINEL_E_MODEL_RUNTIME')}: ${(err as Error).message}`;
  } finally {
    await models.embedder.close();
  }
}

/**
 * The profile `--add` extends: the `--user`'s; without `--user`, the default user's (who ran sudo,
 * else $USER) when enrolled, else the only profile of the folder. Several profiles and none of
 * them the default user's: SENTINEL_E_INVALID_ARGUMENT
 * naming them (a sitting must not go into someone else's profile by default).
 */
function addTarget(dir: string, user: string, userGiven: boolean): string {
  const own = profilePathFor(dir, user);
  if (userGiven || existsSync(own)) return own;
  const all = listProfiles(dir);
  if (all.length === 1) return (all[0] as (typeof all)[number]).path;
  if (all.length > 1) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `--add: ${all.length} users are enrolled in ${dir} (${all.map((p) => p.user).join(', ')}) and ${user} is not one of them; say whose profile with --user`);
  return own;
}

/**
 * `sentinel enroll --add`: one more mouse sitting added to the profile on disk. Everything that
 * can be refused is checked before recording; the profile is written only once the new model is
 * built, and re-read just before (a running daemon may have saved a newly learned app model in
 * the meantime: that one is kept; a mouse model changed meanwhile fails instead of being lost).
 */
async function addSitting(cfg: ReturnType<typeof loadConfig>, opts: EnrollOptions, fromCli: (option: string) => boolean): Promise<void> {
  const b = cfg.biometrics;
  for (const o of ['keys', 'window'] as const) {
    if (fromCli(o)) {
      throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `--${o} cannot be given with --add: --add extends the mouse model only (the keystroke model is kept as it is; enroll again without --add to re-record typing)`);
    }
  }
  if (opts.actions === 0) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'nothing to add: --actions is 0 (--add records one more mouse sitting)');
  const profilePath = opts.profile ?? addTarget(b.profileDir, opts.user, fromCli('user'));
  if (!existsSync(profilePath)) throw new SentinelError('SENTINEL_E_BIO_PROFILE', `no profile of ${opts.user} to add to at ${profilePath}; run sentinel enroll --user ${opts.user} first`);
  const keySha256 = keyFingerprint(b.keyPath);
  const old = loadProfile(profilePath, keySha256);
  const oldMouse = old.mouse;
  if (!oldMouse) throw new SentinelError('SENTINEL_E_BIO_PROFILE', `profile ${profilePath} has no mouse model to add a sitting to; run sentinel enroll with --actions first`);
  if (fromCli('user') && opts.user !== old.user) {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `--user ${opts.user} differs from the profile's user ${old.user}: a sitting is added to the same user's profile`);
  }
  const block = fromCli('block') ? opts.block : oldMouse.window;
  if (block !== oldMouse.window) {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `--block ${block} differs from the profile's mouse block (${oldMouse.window}): a sitting is added with the block the profile was enrolled with`);
  }
  const frr = fromCli('frr') ? opts.frr : oldMouse.frr;
  if (!(frr >= 1e-4 && frr <= 0.5)) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `--frr must be in 0.0001..0.5, got ${frr}`);
  if (opts.actions < 4 * block) {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `--actions must be at least four times the block (${4 * block})`);
  }
  const population = loadMousePopulation(cfg.modelsDir);
  const info = mouseProfileInfo(oldMouse.bytes, population);
  if (!info.canAddSittings) {
    throw new SentinelError('SENTINEL_E_BIO_PROFILE', `profile ${profilePath}: the mouse model was written before sittings could be added (version 2) or uses another method; enroll again without --add`);
  }
  if (!info.populationMatches) {
    throw new SentinelError('SENTINEL_E_BIO_PROFILE', `profile ${profilePath}: the mouse model was enrolled with another mouse population model than ${path.join(cfg.modelsDir, 'mouse')} (another release's); enroll again without --add`);
  }
  const sitting = (oldMouse.sittings ?? 1) + 1;

  const devices = opts.device ?? [];
  const dir = opts.inputDir ?? (devices.length ? undefined : b.inputDir);
  const source = new InputSource({ paths: devices, ...(dir ? { dir } : {}), keyPath: b.keyPath });
  if (process.stderr.isTTY) {
    process.stderr.write(`sentinel enroll --add: use the mouse naturally; recording mouse sitting ${sitting} (${opts.actions} actions; keystrokes are not recorded)...\n`);
  }
  let got: Collected;
  try {
    got = await collect(source, 0, opts.actions, devices.length, dir !== undefined);
  } finally {
    source.stop();
  }
  const nActions = actionCount(got.actionMeta);
  const m = await addMouseSitting(oldMouse.bytes, got.actions, got.actionMeta, population, { blockActions: block, frr });

  // Re-read: keep whatever else is on disk now, but never overwrite a mouse model that changed.
  const now: BioProfile = loadProfile(profilePath, keySha256);
  if (!now.mouse || !sameModelBytes(now.mouse.bytes, oldMouse.bytes)) {
    throw new SentinelError('SENTINEL_E_BIO_PROFILE', `profile ${profilePath}: its mouse model changed while the sitting was recorded (another sentinel enroll?); nothing written`);
  }
  // The block is the profile's (checked above); a profile without devices keeps scoring every device.
  const mouse = withSitting(oldMouse, m, nActions, { frr, devices: [...new Set([...(oldMouse.devices ?? []), ...got.pointerDevices])] });
  saveProfile(profilePath, { ...now, mouse });
  process.stdout.write(
    JSON.stringify({
      user: now.user,
      profile: profilePath,
      keystrokes: 0,
      actions: nActions,
      keystroke: now.keystroke ? keystrokeSummary(cfg.modelsDir, now.keystroke) : null,
      mouse: { block, threshold: m.threshold, genuineSd: m.genuineSd, devices: mouse.devices ?? null, sittings: m.sittings, calibrationBlocks: m.calibrationBlocks, samples: mouse.samples },
      sittings: m.sittings,
      added: true,
      kept: [...(now.keystroke ? ['keystroke'] : []), ...(now.app ? ['app'] : [])],
      skipped: {},
    }) + '\n',
  );
  if (process.stderr.isTTY) process.stderr.write(`sentinel enroll --add: mouse sitting ${m.sittings} added; a running daemon switches to it\n`);
}
