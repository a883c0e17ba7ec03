/**
 * Daemon configuration: embedded defaults, an optional JSON file, then command-line overrides.
 * Unknown keys and wrong types are errors (SENTINEL_E_CONFIG naming the key), never ignored:
 * a typo in a security setting must not silently fall back to a default.
 *
 * Defaults for a checkout: everything under `<project>/data` (database, socket, token).
 * Installed (no binding.gyp beside the code): /var/lib/sentinel and /run/sentinel.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SentinelError } from '../src/errors.js';
import { DEFAULT_ENGINE_OPTIONS, type EngineOptions } from '../src/engine.js';
import type { TrustPolicy } from '../src/state/trust-machine.js';
import { DEFAULT_COHORT_ACTIONS, MIN_COHORT_ACTIONS } from '../src/biometrics/mouse-cohort.js';
import { MAX_ENROLLED_MOUSE_ACTIONS } from '../src/biometrics/mouse-model.js';
import { checkUserName } from '../src/biometrics/profile-dir.js';
import type { BiometricsConfig } from './biometrics.js';
import { DEFAULT_MODALITY_WEIGHTS, MODALITIES } from '../src/biometrics/session-monitor.js';

export interface SentinelConfig {
  dataDir: string;
  socket: { path: string; mode: number; allowUids: number[]; allowGids: number[] };
  http: { host: string; port: number; tokenFile: string };
  database: { path: string };
  modelsDir: string;
  engine: EngineOptions;
  policy: Partial<TrustPolicy>;
  tick: { intervalMs: number; decayIntervalMs: number; maxRows: number; maxDueBeforePause: number };
  decoys: string[];
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent' };
  /** `modelsDir` is not a key of its own here: the daemon passes the top-level one. */
  biometrics: Omit<BiometricsConfig, 'modelsDir'>;
}

/** Values of `biometrics.mouseDevices`: score the enrolled pointing devices only, or any. */
export const MOUSE_DEVICES_POLICIES = ['enrolled', 'any'] as const;
export type MouseDevicesPolicy = (typeof MOUSE_DEVICES_POLICIES)[number];

/** The checkout root (holds binding.gyp), or undefined when installed elsewhere. */
export function projectRoot(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'binding.gyp')) && existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

export function defaultConfig(dataDir?: string): SentinelConfig {
  const root = projectRoot();
  const data = dataDir ?? (root ? path.join(root, 'data') : '/var/lib/sentinel');
  const modelsDir = root ? path.join(root, 'models') : '/usr/lib/sentinel/models';
  return {
    dataDir: data,
    socket: { path: root || dataDir ? path.join(data, 'sentinel.sock') : '/run/sentinel/sentinel.sock', mode: 0o660, allowUids: [], allowGids: [] },
    http: { host: '127.0.0.1', port: 7878, tokenFile: path.join(data, 'http.token') },
    database: { path: path.join(data, 'sentinel.db') },
    modelsDir,
    // The daemon bounds each ingest call so one client's big batch cannot hold up another's
    // verdict query for long (about 0.1 ms of native work at this budget).
    engine: { ...DEFAULT_ENGINE_OPTIONS, ingestBudgetEvents: 256 },
    policy: {},
    tick: { intervalMs: 20, decayIntervalMs: 1000, maxRows: 4096, maxDueBeforePause: 50_000 },
    decoys: [],
    log: { level: 'info' },
    // Continuous authentication: on once a profile is enrolled and input devices exist.
    biometrics: {
      enabled: true,
      inputDir: '/dev/input',
      devices: [],
      keyPath: path.join(data, 'bio.key'),
      profileDir: path.join(data, 'profiles'),
      // Whose profile is scored: this user's ("" : the active session's on the seat, or the only profile).
      user: '',
      seatFile: '/run/systemd/seats/seat0',
      lockCommand: ['loginctl', 'lock-session'],
      restrictCommand: [],
      restrictProcesses: true,
      sessionUid: -1,
      stride: 0,
      keystrokeEmbedding: true,
      mouseDevices: 'enrolled',
      mouseLearnActions: 500,
      mouseMinSittings: 2,
      // With two or more users enrolled, also score the mouse against the other enrolled users.
      mouseCohort: true,
      // Boosting rounds of that model: its CPU per fit (seconds at 200 for five users).
      mouseCohortRounds: 200,
      // Most recent enrolled actions of each user that model is fitted on: every one a profile
      // keeps (the measured setting; about a minute of one core per fit for five users).
      mouseCohortActions: DEFAULT_COHORT_ACTIONS,
      // Other people's mouse profiles that model is fitted with on a single-user host, when the file exists
      // (`npm start` builds it where ../shared/data is; scripts/bio/mouse_background.sh); "none": never.
      mouseBackground: path.join(data, 'mouse-background.bin'),
      // Per modality; a number in the file sets every modality. The mouse averages longer and
      // from a prior (docs/biometrics.md, "Mouse: what the session subject does with these scores").
      emaAlpha: { keystroke: 0.5, mouse: 0.1, mouseCohort: 0.1, app: 0.5 },
      emaStart: { keystroke: 0, mouse: 0.2, mouseCohort: 0.2, app: 0 },
      // Fusion weight of each modality's smoothed log-odds (docs/biometrics.md, "Mouse: the
      // fusion weight of the several-users model"); 0 keeps a modality out of the fused score.
      weights: { ...DEFAULT_MODALITY_WEIGHTS },
      silentAfterMs: 120_000,
      policy: {},
      app: { enabled: true, display: '', learnAfter: 200, window: 20, stride: 5, scale: 1 },
    },
  };
}

/** Array-valued settings whose elements are strings (the others hold numbers). */
const STRING_ARRAYS = new Set(['decoys', 'devices', 'lockCommand', 'restrictCommand']);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function fail(key: string, why: string): never {
  throw new SentinelError('SENTINEL_E_CONFIG', `config ${key}: ${why}`);
}

/** `biometrics.<key>` given as one number means that number for every modality. */
function expandPerModality(file: Record<string, Json>, key: 'emaAlpha' | 'emaStart'): void {
  const b = file['biometrics'];
  if (b === null || typeof b !== 'object' || Array.isArray(b)) return;
  const v = b[key];
  if (typeof v === 'number') b[key] = Object.fromEntries(MODALITIES.map((m) => [m, v]));
}

/** Merges `patch` into `base` key by key, checking each leaf against the base's type. */
function merge(base: Record<string, unknown>, patch: Json, at: string, open: ReadonlySet<string>): void {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) fail(at || '(root)', 'must be an object');
  for (const [k, v] of Object.entries(patch)) {
    const key = at ? `${at}.${k}` : k;
    if (!(k in base) && !open.has(at)) fail(key, 'unknown key');
    const cur = base[k];
    if (open.has(at)) {
      base[k] = v;
    } else if (Array.isArray(cur)) {
      if (!Array.isArray(v)) fail(key, 'must be an array');
      const want = STRING_ARRAYS.has(k) ? 'string' : 'number';
      v.forEach((x, i) => {
        if (typeof x !== want) fail(`${key}[${i}]`, `must be a ${want}`);
      });
      base[k] = v;
    } else if (cur !== null && typeof cur === 'object') {
      merge(cur as Record<string, unknown>, v, key, open);
    } else if (typeof cur !== typeof v) {
      fail(key, `must be a ${typeof cur}, got ${JSON.stringify(v)}`);
    } else {
      base[k] = v;
    }
  }
}

export interface ConfigOverrides {
  dataDir?: string;
  socketPath?: string;
  httpPort?: number;
  logLevel?: SentinelConfig['log']['level'];
}

/** Loads the configuration; relative paths in the file are resolved against the file's folder. */
export function loadConfig(file: string | undefined, overrides: ConfigOverrides = {}): SentinelConfig {
  let fileJson: Json = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new SentinelError('SENTINEL_E_CONFIG', `cannot read config file ${file}: ${(err as Error).message}`);
    }
    try {
      fileJson = JSON.parse(text) as Json;
    } catch (err) {
      throw new SentinelError('SENTINEL_E_CONFIG', `config file ${file} is not valid JSON: ${(err as Error).message}`);
    }
  }
  const fileObj = (fileJson ?? {}) as Record<string, Json>;
  const dataDirFromFile = typeof fileObj['dataDir'] === 'string' ? path.resolve(path.dirname(file ?? '.'), fileObj['dataDir']) : undefined;
  const cfg = defaultConfig(overrides.dataDir ? path.resolve(overrides.dataDir) : dataDirFromFile);
  const { dataDir: _ignored, ...rest } = fileObj;
  const bio = rest['biometrics'];
  if (bio !== null && typeof bio === 'object' && !Array.isArray(bio) && 'profilePath' in bio) {
    fail('biometrics.profilePath', 'was replaced by biometrics.profileDir, a folder of one <user>.json per enrolled user (a single user.json there still loads for the user it names): set profileDir to the old file\'s folder');
  }
  expandPerModality(rest, 'emaAlpha');
  expandPerModality(rest, 'emaStart');
  // `policy` is checked by TrustMachine itself; it starts empty so its keys are open here.
  merge(cfg as unknown as Record<string, unknown>, rest, '', new Set(['policy', 'biometrics.policy']));
  if (file) {
    const base = path.dirname(path.resolve(file));
    cfg.socket.path = path.resolve(base, cfg.socket.path);
    cfg.database.path = path.resolve(base, cfg.database.path);
    cfg.http.tokenFile = path.resolve(base, cfg.http.tokenFile);
    cfg.modelsDir = path.resolve(base, cfg.modelsDir);
    const b = cfg.biometrics;
    b.keyPath = path.resolve(base, b.keyPath);
    b.profileDir = path.resolve(base, b.profileDir);
    if (b.seatFile) b.seatFile = path.resolve(base, b.seatFile);
    if (b.inputDir) b.inputDir = path.resolve(base, b.inputDir);
    if (b.mouseBackground && b.mouseBackground !== 'none') b.mouseBackground = path.resolve(base, b.mouseBackground);
    b.devices = b.devices.map((d) => path.resolve(base, d));
  }
  if (overrides.socketPath) cfg.socket.path = path.resolve(overrides.socketPath);
  if (overrides.httpPort !== undefined) cfg.http.port = overrides.httpPort;
  if (overrides.logLevel) cfg.log.level = overrides.logLevel;
  validate(cfg);
  return cfg;
}

function validate(c: SentinelConfig): void {
  if (!Number.isInteger(c.http.port) || c.http.port < 0 || c.http.port > 65535) fail('http.port', 'must be an integer 0..65535');
  if (Buffer.byteLength(c.socket.path) > 107) fail('socket.path', `is longer than the 107 bytes a Unix socket path may have: ${c.socket.path}`);
  if (c.tick.intervalMs <= 0 || c.tick.decayIntervalMs <= 0) fail('tick', 'intervals must be > 0');
  if (!Number.isInteger(c.tick.maxRows) || c.tick.maxRows <= 0) fail('tick.maxRows', 'must be a positive integer');
  const b = c.biometrics;
  if (b.user) {
    try {
      checkUserName(b.user);
    } catch (err) {
      fail('biometrics.user', (err as Error).message);
    }
  }
  if (!Number.isInteger(b.stride) || b.stride < 0) fail('biometrics.stride', 'must be an integer >= 0');
  for (const m of MODALITIES) {
    if (!(b.emaAlpha[m] > 0 && b.emaAlpha[m] <= 1)) fail(`biometrics.emaAlpha.${m}`, `must be in (0, 1], got ${b.emaAlpha[m]}`);
    if (!(b.emaStart[m] >= 0 && b.emaStart[m] < 1)) fail(`biometrics.emaStart.${m}`, `must be in [0, 1) (0: start from the first score), got ${b.emaStart[m]}`);
    if (!(b.weights[m] >= 0 && b.weights[m] <= 100)) fail(`biometrics.weights.${m}`, `must be a fusion weight from 0 (left out of the fused score) to 100, got ${b.weights[m]}`);
  }
  if (!MODALITIES.some((m) => b.weights[m] > 0)) fail('biometrics.weights', 'at least one modality needs a weight > 0, or nothing could move the session subject');
  if (!Number.isInteger(b.mouseMinSittings) || b.mouseMinSittings < 1 || b.mouseMinSittings > 1000) {
    fail('biometrics.mouseMinSittings', `must be an integer from 1 (the mouse takes part from its first sitting) to 1000, got ${JSON.stringify(b.mouseMinSittings)}`);
  }
  if (!Number.isInteger(b.mouseCohortRounds) || b.mouseCohortRounds < 1 || b.mouseCohortRounds > 2000) {
    fail('biometrics.mouseCohortRounds', `must be an integer of boosting rounds from 1 to 2000, got ${JSON.stringify(b.mouseCohortRounds)}`);
  }
  if (!Number.isInteger(b.mouseCohortActions) || b.mouseCohortActions < MIN_COHORT_ACTIONS || b.mouseCohortActions > MAX_ENROLLED_MOUSE_ACTIONS) {
    fail('biometrics.mouseCohortActions', `must be an integer of enrolled mouse actions per user from ${MIN_COHORT_ACTIONS} to ${MAX_ENROLLED_MOUSE_ACTIONS} (what a profile keeps), got ${JSON.stringify(b.mouseCohortActions)}`);
  }
  if (!(b.silentAfterMs > 0)) fail('biometrics.silentAfterMs', 'must be > 0');
  if (!(MOUSE_DEVICES_POLICIES as readonly string[]).includes(b.mouseDevices)) {
    fail('biometrics.mouseDevices', `must be ${MOUSE_DEVICES_POLICIES.map((p) => `"${p}"`).join(' or ')}, got ${JSON.stringify(b.mouseDevices)}`);
  }
  if (!Number.isInteger(b.mouseLearnActions) || b.mouseLearnActions < 0 || b.mouseLearnActions > MAX_ENROLLED_MOUSE_ACTIONS) {
    fail('biometrics.mouseLearnActions', `must be 0 (the daemon does not learn the mouse by use) or an integer of mouse actions per learned sitting up to ${MAX_ENROLLED_MOUSE_ACTIONS} (at least four of the profile's blocks), got ${JSON.stringify(b.mouseLearnActions)}`);
  }
  const a = b.app;
  for (const k of ['learnAfter', 'window', 'stride'] as const) {
    if (!Number.isInteger(a[k]) || a[k] < 1) fail(`biometrics.app.${k}`, 'must be an integer >= 1');
  }
  if (a.learnAfter < a.window + 1) fail('biometrics.app.learnAfter', 'must be above biometrics.app.window');
  if (!(a.scale > 0)) fail('biometrics.app.scale', 'must be > 0');
  if (!Number.isInteger(b.sessionUid) || b.sessionUid < -1 || b.sessionUid > 0xffffffff) fail('biometrics.sessionUid', 'must be -1 (look up the profile user) or a uid');
  if (b.lockCommand.length === 0) fail('biometrics.lockCommand', 'must name a command (argv array)');
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(c.log.level)) fail('log.level', `unknown level ${c.log.level}`);
}
