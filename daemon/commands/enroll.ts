/**
 * `sentinel enroll`: records the user's typing from the input devices (or recordings of
 * `struct input_event`), builds the keystroke profile on the libuv pool, calibrates it to a
 * false-reject rate, and writes the profile file (0600) the daemon loads at start. Prints a
 * JSON summary. Nothing typed is kept: the collector hands over keyed-hash buckets and timings
 * only, and the profile holds their per-bucket statistics (docs/privacy.md).
 *
 * Input ends when `--keys` keystrokes were collected, or when every device given with
 * `--device` has ended (a recording's end, a FIFO's writer closing). Too few keystrokes fail
 * with SENTINEL_E_BIO_ENROLL and write nothing.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { InputSource, type InputBatch } from '../../src/biometrics/input-source.js';
import { concatKeyRecords, enrollKeystrokeProfile, keyRecordCount, KeystrokeStream, DEFAULT_ENROLL_FRR, DEFAULT_KEYSTROKE_WINDOW } from '../../src/biometrics/keystroke-model.js';
import { keyFingerprint, saveProfile } from '../../src/biometrics/profile-file.js';
import { KEY_RECORD_STRIDE } from '../../src/binding.js';
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
  frr: number;
  profile?: string;
}

function collect(source: InputSource, want: number, deviceCount: number, watchingDir: boolean): Promise<Float64Array> {
  const parts: Float64Array[] = [];
  let have = 0;
  let ended = 0;
  return new Promise((resolve) => {
    const finish = (): void => resolve(concatKeyRecords(parts).subarray(0, want * KEY_RECORD_STRIDE));
    source.start((b: InputBatch) => {
      if (b.keys.length) {
        parts.push(b.keys);
        have += keyRecordCount(b.keys);
      }
      for (const d of b.devices) {
        if (d.kind === 'removed') ended++;
        if (d.kind === 'error') process.stderr.write(`sentinel enroll: ${d.message}\n`);
      }
      if (have >= want || (!watchingDir && ended >= deviceCount)) finish();
    });
  });
}

export function registerEnroll(program: Command): void {
  program
    .command('enroll')
    .description('enroll the user at the keyboard: record typing rhythm and write the biometric profile')
    .option('-c, --config <file>', 'JSON configuration file (key and profile paths, input directory)')
    .option('--data-dir <dir>', 'data directory')
    .option('--user <name>', 'name of the enrolled user', process.env['USER'] ?? 'user')
    .option('--device <path...>', 'input devices or recordings to read (default: the configured input directory)')
    .option('--input-dir <dir>', 'directory of evdev devices (default from the configuration)')
    .option('--keys <n>', 'keystrokes to record', intOption, 600)
    .option('--window <n>', 'scoring window in keystrokes', intOption, DEFAULT_KEYSTROKE_WINDOW)
    .option('--frr <rate>', 'false-reject rate to calibrate the threshold to', (v) => Number(v), DEFAULT_ENROLL_FRR)
    .option('--profile <file>', 'profile file to write (default from the configuration)')
    .action(async (opts: EnrollOptions) => {
      const cfg = loadConfig(opts.config, opts.dataDir ? { dataDir: opts.dataDir } : {});
      const b = cfg.biometrics;
      const devices = opts.device ?? [];
      const dir = opts.inputDir ?? (devices.length ? undefined : b.inputDir);
      if (opts.keys < 2 * opts.window) {
        throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `--keys must be at least twice --window (${2 * opts.window})`);
      }
      mkdirSync(path.dirname(b.keyPath), { recursive: true, mode: 0o700 });
      const source = new InputSource({ paths: devices, ...(dir ? { dir } : {}), keyPath: b.keyPath });
      if (process.stderr.isTTY) process.stderr.write(`sentinel enroll: type naturally; recording ${opts.keys} keystrokes...\n`);
      let keys: Float64Array;
      try {
        keys = await collect(source, opts.keys, devices.length, dir !== undefined);
      } finally {
        source.stop();
      }
      const n = keyRecordCount(keys);
      const bytes = await enrollKeystrokeProfile(keys, { window: opts.window, frr: opts.frr });
      const info = new KeystrokeStream(bytes).info;
      const profilePath = opts.profile ?? b.profilePath;
      saveProfile(profilePath, {
        user: opts.user,
        createdMs: Date.now(),
        keySha256: keyFingerprint(b.keyPath),
        keystroke: { bytes, samples: n, window: opts.window, frr: opts.frr },
      });
      process.stdout.write(
        JSON.stringify({ user: opts.user, profile: profilePath, keystrokes: n, window: info.window, enrollmentWindows: info.enrollmentWindows, threshold: info.threshold, genuineSd: info.genuineSd }) + '\n',
      );
    });
}
