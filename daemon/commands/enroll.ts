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
 * The mouse modality records the identities of the pointing devices its actions came from
 * (`mouse.devices`); the daemon scores only those devices' actions (`biometrics.mouseDevices`).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { InputSource, type DeviceIdentities, type InputBatch } from '../../src/biometrics/input-source.js';
import { actionDevices, concatFloat32 } from '../../src/biometrics/input-batch.js';
import { concatKeyRecords, enrollKeystrokeProfile, keyRecordCount, KeystrokeStream, DEFAULT_ENROLL_FRR, DEFAULT_KEYSTROKE_WINDOW } from '../../src/biometrics/keystroke-model.js';
import { keyFingerprint, saveProfile, type ModalityProfile } from '../../src/biometrics/profile-file.js';
import { actionCount, DEFAULT_MOUSE_BLOCK, enrollMouseProfile, loadMousePopulation } from '../../src/biometrics/mouse-model.js';
import { addon, ACTION_META_STRIDE, KEY_RECORD_STRIDE } from '../../src/binding.js';
import { intOption } from './options.js';
import { SentinelError } from '../../src/errors.js';

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
    .option('--user <name>', 'name of the enrolled user', process.env['USER'] ?? 'user')
    .option('--device <path...>', 'input devices or recordings to read (default: the configured input directory)')
    .option('--input-dir <dir>', 'directory of evdev devices (default from the configuration)')
    .option('--keys <n>', 'keystrokes to record (0: no keystroke model)', intOption, 600)
    .option('--window <n>', 'keystroke scoring window', intOption, DEFAULT_KEYSTROKE_WINDOW)
    .option('--actions <n>', 'mouse actions to record (0: no mouse model)', intOption, 200)
    .option('--block <n>', 'mouse scoring block in actions', intOption, DEFAULT_MOUSE_BLOCK)
    .option('--frr <rate>', 'false-reject rate to calibrate the thresholds to', (v) => Number(v), DEFAULT_ENROLL_FRR)
    .option('--profile <file>', 'profile file to write (default from the configuration)')
    .action(async (opts: EnrollOptions) => {
      const cfg = loadConfig(opts.config, opts.dataDir ? { dataDir: opts.dataDir } : {});
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
      const nKeys = keyRecordCount(got.keys);
      if (opts.keys > 0) {
        try {
          const bytes = await enrollKeystrokeProfile(got.keys, { window: opts.window, frr: opts.frr });
          keystroke = { bytes, samples: nKeys, window: opts.window, frr: opts.frr };
        } catch (err) {
          skipped['keystroke'] = (err as Error).message;
        }
      }
      const nActions = actionCount(got.actionMeta);
      if (opts.actions > 0) {
        try {
          const m = await enrollMouseProfile(got.actions, got.actionMeta, loadMousePopulation(cfg.modelsDir), { blockActions: opts.block, frr: opts.frr });
          mouse = { bytes: m.bytes, samples: nActions, window: opts.block, frr: opts.frr, threshold: m.threshold, genuineSd: m.genuineSd, devices: got.pointerDevices };
        } catch (err) {
          skipped['mouse'] = (err as Error).message;
        }
      }
      for (const [mod, why] of Object.entries(skipped)) process.stderr.write(`sentinel enroll: ${mod} not enrolled: ${why}\n`);
      if (!keystroke && !mouse) throw new SentinelError('SENTINEL_E_BIO_ENROLL', `nothing enrolled: ${Object.values(skipped).join('; ')}`);
      const profilePath = opts.profile ?? b.profilePath;
      saveProfile(profilePath, {
        user: opts.user,
        createdMs: Date.now(),
        keySha256: keyFingerprint(b.keyPath),
        ...(keystroke ? { keystroke } : {}),
        ...(mouse ? { mouse } : {}),
      });
      const ks = keystroke ? new KeystrokeStream(keystroke.bytes).info : undefined;
      process.stdout.write(
        JSON.stringify({
          user: opts.user,
          profile: profilePath,
          keystrokes: nKeys,
          actions: nActions,
          keystroke: ks ? { window: ks.window, enrollmentWindows: ks.enrollmentWindows, threshold: ks.threshold, genuineSd: ks.genuineSd } : null,
          mouse: mouse ? { block: mouse.window, threshold: mouse.threshold, genuineSd: mouse.genuineSd, devices: mouse.devices } : null,
          skipped,
        }) + '\n',
      );
    });
}
