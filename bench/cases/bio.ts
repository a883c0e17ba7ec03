/**
 * Biometrics benchmarks (issue 5):
 * - keystroke feature update per input event, native (decodeInputEvents: decode, repeat filter,
 *   keystroke assembly, keyed-hash buckets, timings) against the plain-TypeScript mirror
 *   (bench/ts-keystrokes.ts), same buffer, same run;
 * - scoring per 100-keystroke window (KeystrokeScorer with stride 1: every record completes a
 *   window), native against the plain-TypeScript mirror (bench/ts-keystroke-score.ts, checked
 *   score for score by test/native/keystroke-score-mirror.test.ts), same profile, same stream,
 *   same run;
 * - the learned keystroke embedding (EmbeddedKeystrokeStream, ONNX Runtime on its worker thread)
 *   against the classical fused score alone (KeystrokeStream), both at the daemon's stride of 25
 *   keystrokes on the same stream and profile, same run: wall time per window with the whole
 *   stream in one batch, latency of a batch that completes one window, and the time per window
 *   the embedded path spends on the calling (JS) thread;
 * - the several-users mouse model (MouseCohortStream) against the one-class mouse score
 *   (MouseStream) per action, same stream, same run, and the wall time of fitting it on the
 *   libuv pool over two enrolled users;
 * - the collector's CPU use at a realistic 100 mouse events/s: a child process runs an
 *   InputCollector on a FIFO the bench feeds; its CPU time is compared with an idle child
 *   started the same way, over the same wall time.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/run.js --only bio
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { addon } from '../../src/binding.js';
import { enrollKeystrokeProfile, KeystrokeStream, recalibrateKeystrokeProfile } from '../../src/biometrics/keystroke-model.js';
import { EmbeddedKeystrokeStream, openKeystrokeEmbedding } from '../../src/biometrics/keystroke-embedded-stream.js';
import { ACTION_META_STRIDE, KEY_RECORD_STRIDE } from '../../src/binding.js';
import { encodeInputEvents, keyEvents, mouseMove, mouseSession, typedKeystrokes } from '../../test/support/input-events.js';
import { enrollMouseProfile, loadMousePopulation, MouseStream } from '../../src/biometrics/mouse-model.js';
import { encodeMouseBackground, parseMouseBackground } from '../../src/biometrics/mouse-background.js';
import { fitMouseCohort, MouseCohortStream } from '../../src/biometrics/mouse-cohort.js';
import { decodeEvents } from '../../test/support/decode-events.js';
import type { BenchRow } from '../types.js';
import { TsKeystrokeDecoder } from '../ts-keystrokes.js';
import { TsKeystrokeScorer } from '../ts-keystroke-score.js';

const REPS = Number(process.env['SENTINEL_BENCH_REPS'] ?? 7);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function timeNs(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0);
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]); // utime + stime (fields 14, 15)
}

/** CPU seconds a child used over `seconds` of wall time while the bench wrote `rate` mouse frames/s to its FIFO (rate 0: idle). */
async function childCpu(dir: string, keyPath: string, rate: number, seconds: number): Promise<number> {
  const fifo = path.join(dir, `mouse-${rate}-${process.hrtime.bigint()}`);
  execFileSync('mkfifo', [fifo]);
  const mod = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/biometrics/input-source.js');
  const script = `const { InputSource } = await import(${JSON.stringify(mod)});
    const s = new InputSource({ paths: [${JSON.stringify(fifo)}], keyPath: ${JSON.stringify(keyPath)} });
    let n = 0; s.start((b) => { n += b.actions.length; if (b.devices.some((d) => d.kind === 'removed')) { s.stop(); console.log(n); process.exit(0); } });
    console.log('ready');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout, 'data');
  const fd = openSync(fifo, constants.O_WRONLY);
  const c0 = cpuTicks(child.pid as number);
  const t0 = Date.now();
  let tUs = 1_000_000;
  let i = 0;
  await new Promise<void>((resolve) => {
    const step = (): void => {
      const elapsed = (Date.now() - t0) / 1000;
      if (elapsed >= seconds) return resolve();
      const due = Math.floor(elapsed * rate);
      const frames: Buffer[] = [];
      for (; i < due; i++) {
        // Movements of 0.5 s with 1 s pauses between them, at the given event rate.
        const inMove = i % Math.round(rate * 1.5) < rate * 0.5;
        tUs += 1e6 / rate;
        if (inMove) frames.push(encodeInputEvents(mouseMove(tUs, 3, 1, 1, 1)));
      }
      if (frames.length) writeSync(fd, Buffer.concat(frames));
      setTimeout(step, 10);
    };
    step();
  });
  const used = (cpuTicks(child.pid as number) - c0) / 100; // USER_HZ = 100
  closeSync(fd);
  await once(child, 'exit');
  return used;
}

/** The embedded keystroke score against the classical one (see the file comment). */
async function embeddedRows(profile: Uint8Array, enrollKeys: Float64Array, stream: Float64Array): Promise<BenchRow[]> {
  const models = await openKeystrokeEmbedding(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../models'));
  try {
    const params = models.fusion.windows.get(100);
    if (!params) throw new Error('no keystroke fusion parameters for 100-keystroke windows');
    const reference = await models.embedder.reference(enrollKeys);
    const whole: number[] = [];
    const fused: number[] = [];
    const sync: number[] = [];
    const single: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const classical = new KeystrokeStream(profile, 25);
      let n = 0;
      fused.push(timeNs(() => (n = classical.push(stream).length)) / n);
      const embedded = new EmbeddedKeystrokeStream(profile, reference, params, models.embedder, 0.05, 25);
      const t0 = process.hrtime.bigint();
      const pending = embedded.push(stream);
      sync.push(Number(process.hrtime.bigint() - t0) / n);
      const got = (await pending).length;
      whole.push(Number(process.hrtime.bigint() - t0) / got);
      if (got !== n) throw new Error(`embedded stream scored ${got} windows, classical ${n}`);
      // One window per batch, as the daemon sees typing: 100 keystrokes, then 25 at a time.
      const one = new EmbeddedKeystrokeStream(profile, reference, params, models.embedder, 0.05, 25);
      await one.push(stream.subarray(0, 124 * KEY_RECORD_STRIDE));
      const lat: number[] = [];
      for (let at = 124; at + 25 <= 124 + 25 * 20; at += 25) {
        const t1 = process.hrtime.bigint();
        const w = await one.push(stream.subarray(at * KEY_RECORD_STRIDE, (at + 25) * KEY_RECORD_STRIDE));
        if (w.length !== 1) throw new Error(`a 25-keystroke batch completed ${w.length} windows`);
        lat.push(Number(process.hrtime.bigint() - t1));
      }
      single.push(median(lat));
    }
    const fusedUs = median(fused) / 1000;
    const wholeUs = median(whole) / 1000;
    return [
      { name: 'bio.keystroke_window_fused_stride25', unit: 'us/window(100 keys)', value: fusedUs },
      { name: 'bio.keystroke_window_embedded_stride25', unit: 'us/window(100 keys)', value: wholeUs },
      { name: 'bio.keystroke_window_embedded_over_fused', unit: 'ratio', value: wholeUs / fusedUs },
      { name: 'bio.keystroke_window_embedded_js_thread', unit: 'us/window(100 keys)', value: median(sync) / 1000 },
      { name: 'bio.keystroke_window_embedded_one_window_batch', unit: 'us/batch', value: median(single) / 1000 },
    ];
  } finally {
    await models.embedder.close();
  }
}

/** The several-users mouse model against the one-class score, per action, and its fit over two users. */
async function cohortRows(keyPath: string): Promise<BenchRow[]> {
  const models = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'models');
  const pop = loadMousePopulation(models);
  const decode = (seed: number, n: number, t0: number, noise: number) => decodeEvents(mouseSession(seed, n, t0, noise), keyPath);
  const members = [];
  for (const seed of [1, 2]) {
    const d = decode(seed, 1000, 1_000_000, 3 + seed);
    members.push({ user: `user${seed}`, mouse: (await enrollMouseProfile(d.actions, d.actionMeta, pop)).bytes });
  }
  const own = decode(1, 1000, 1_000_000, 4);
  const oneClass = await enrollMouseProfile(own.actions, own.actionMeta, pop);
  const fitMs: number[] = [];
  let fit = await fitMouseCohort(members, pop);
  for (let r = 0; r < 3; r++) {
    const t0 = process.hrtime.bigint();
    fit = await fitMouseCohort(members, pop);
    fitMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  // A single-user host with a background of ten (synthetic) people, through the background
  // file's own encoder and reader: the fit the daemon runs there at start and per learned sitting
  // (the background one class of the model, as the daemon fits it).
  const background = [];
  for (let seed = 3; seed < 13; seed++) {
    const d = decode(seed, 1000, 1_000_000, 3 + seed);
    background.push({ name: `synthetic${seed}`, mouse: (await enrollMouseProfile(d.actions, d.actionMeta, pop)).bytes });
  }
  const bgMembers = parseMouseBackground(encodeMouseBackground(background), pop);
  const tb = process.hrtime.bigint();
  await fitMouseCohort([members[0] as { user: string; mouse: Uint8Array }, ...bgMembers], pop, { background: bgMembers.length });
  const bgFitMs = Number(process.hrtime.bigint() - tb) / 1e6;
  const stream = decode(1, 2000, 9e8, 77);
  const n = stream.actionMeta.length / ACTION_META_STRIDE;
  const cohortUs: number[] = [];
  const ocUs: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const c = new MouseCohortStream(fit, pop, 'user1');
    cohortUs.push(timeNs(() => c.push(stream.actions, stream.actionMeta)) / n / 1000);
    const o = new MouseStream(oneClass.bytes, oneClass.threshold, oneClass.genuineSd);
    ocUs.push(timeNs(() => o.push(stream.actions, stream.actionMeta)) / n / 1000);
  }
  return [
    { name: 'bio.mouse_cohort_fit_2_users_1000_actions', unit: 'ms', value: median(fitMs) },
    { name: 'bio.mouse_cohort_fit_1_user_10_background_1000_actions', unit: 'ms', value: bgFitMs },
    { name: 'bio.mouse_cohort_fit_background_over_2_users', unit: 'ratio', value: bgFitMs / median(fitMs) },
    { name: 'bio.mouse_cohort_score', unit: 'us/action', value: median(cohortUs) },
    { name: 'bio.mouse_oneclass_score', unit: 'us/action', value: median(ocUs) },
    { name: 'bio.mouse_cohort_over_oneclass_score', unit: 'ratio', value: median(cohortUs) / median(ocUs) },
  ];
}

export async function run(): Promise<BenchRow[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-bench-bio-'));
  try {
    const keyPath = path.join(dir, 'bio.key');
    // ~250 KiB of typing: 1,700 keystrokes, 6 records each (MSC, KEY, SYN per press and release).
    const keys = typedKeystrokes(1, 1700, 1_000_000, 3);
    const buf = encodeInputEvents(keyEvents(keys));
    const records = buf.length / 24;
    const nat: number[] = [];
    const ts: number[] = [];
    for (let r = 0; r < REPS; r++) {
      nat.push(timeNs(() => addon().decodeInputEvents(buf, { keyPath })));
      ts.push(timeNs(() => new TsKeystrokeDecoder().feed(buf)));
    }
    const natNs = median(nat) / records;
    const tsNs = median(ts) / records;

    const enrollKeys = addon().decodeInputEvents(encodeInputEvents(keyEvents(typedKeystrokes(1, 600, 1_000_000, 11))), { keyPath }).keys;
    const profile = await enrollKeystrokeProfile(enrollKeys, {});
    const stream = addon().decodeInputEvents(buf, { keyPath }).keys;
    const win: number[] = [];
    const winTs: number[] = [];
    // Native and TS mirror alternate within each repetition (same stream, same profile), so
    // machine noise hits both; the ratio is taken of the medians.
    for (let r = 0; r < REPS; r++) {
      const scorer = new (addon().KeystrokeScorer)(profile, 1);
      let windows = 0;
      const ns = timeNs(() => {
        windows = scorer.push(stream).length;
      });
      win.push(ns / windows);
      const tsScorer = new TsKeystrokeScorer(profile, 1);
      let tsWindows = 0;
      const tsNsAll = timeNs(() => {
        tsWindows = tsScorer.push(stream).length;
      });
      if (tsWindows !== windows) throw new Error(`TS scorer completed ${tsWindows} windows, native ${windows}`);
      winTs.push(tsNsAll / tsWindows);
    }
    const winUs = median(win) / 1000;
    const winTsUs = median(winTs) / 1000;
    // Recalibrating the profile under other classical weights (what the daemon does at start
    // when the shipped weights are not the profile's): against one window's score, same run.
    const other = Float64Array.from([1, 1, 0.5, 0.5, 0.1]);
    const recal: number[] = [];
    for (let r = 0; r < REPS; r++) recal.push(timeNs(() => recalibrateKeystrokeProfile(profile, 0.05, other)));
    const recalUs = median(recal) / 1000;

    const emb = await embeddedRows(profile, enrollKeys, stream);
    const cohort = await cohortRows(keyPath);

    const seconds = Number(process.env['SENTINEL_BENCH_BIO_SECONDS'] ?? 10);
    const idle = await childCpu(dir, keyPath, 0, seconds);
    const busy = await childCpu(dir, keyPath, 100, seconds);
    return [
      { name: 'bio.keystroke_update_native', unit: 'ns/input_event', value: natNs },
      { name: 'bio.keystroke_update_ts', unit: 'ns/input_event', value: tsNs },
      { name: 'bio.keystroke_update_ts_over_native', unit: 'ratio', value: tsNs / natNs },
      { name: 'bio.keystroke_window_score_native', unit: 'us/window(100 keys)', value: winUs },
      { name: 'bio.keystroke_window_score_ts', unit: 'us/window(100 keys)', value: winTsUs },
      { name: 'bio.keystroke_window_score_ts_over_native', unit: 'ratio', value: winTsUs / winUs },
      { name: 'bio.keystroke_recalibrate_profile', unit: 'us/profile(600 keys)', value: recalUs },
      { name: 'bio.keystroke_recalibrate_over_window_score', unit: 'ratio', value: recalUs / winUs },
      ...emb,
      ...cohort,
      { name: 'bio.collector_cpu_idle', unit: '% of a core', value: (100 * idle) / seconds },
      { name: 'bio.collector_cpu_100_mouse_ev_s', unit: '% of a core', value: (100 * busy) / seconds },
      { name: 'bio.collector_cpu_100_mouse_ev_s_over_idle', unit: '% of a core', value: (100 * (busy - idle)) / seconds },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
