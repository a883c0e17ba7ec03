/**
 * The enrolled user's biometric profile on disk: one JSON file, mode 0600, written atomically
 * (temporary file, fsync, rename).
 *
 * It holds per-bucket timing statistics (keyed-hash buckets, never key codes), the mouse model
 * with its quantised enrollment (per action: type and the population quantile bin of each
 * feature; no feature value, time or position), the per-user calibration, the number of mouse
 * sittings, and the identities (bus, vendor and product ids and name, or a recording's file
 * name) of the pointing devices the mouse model was enrolled on; nothing from which a typed text
 * could be read back (docs/privacy.md). Buckets are only meaningful with the host key they were
 * made with, so the file records the key's sha256 and loading refuses a profile made under
 * another key.
 *
 * Synchronous (small files, read once at start-up or written by `sentinel enroll`, which with
 * `--add` rewrites it with one more mouse sitting). Throws
 * SentinelError SENTINEL_E_BIO_PROFILE for a missing, unreadable, malformed, tampered or
 * unknown-version file, or one made under another key.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, mkdirSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { SentinelError } from '../errors.js';
import { EMBED_DIM } from './keystroke-embedder-protocol.js';

export const PROFILE_FORMAT = 'sentinel-bio-profile';
export const PROFILE_VERSION = 1;

export interface ModalityProfile {
  /** Serialized native profile. */
  bytes: Uint8Array;
  /** What it was enrolled from (keystrokes or actions) and calibrated to. */
  samples: number;
  /** Keystrokes per scoring window, or actions per scoring block. */
  window: number;
  frr: number;
  /** Calibrated threshold and genuine spread, for modalities whose native profile lacks them (mouse). */
  threshold?: number;
  genuineSd?: number;
  /**
   * Mouse: identities of the pointing devices the enrolled actions came from (the collector's
   * "bus:vvvv:pppp name" or "file:<basename>"). Absent in profiles written before devices were
   * recorded: then every device is scored.
   */
  devices?: string[];
  /**
   * Mouse: sittings the model was enrolled from (`sentinel enroll --add` adds one). A positive
   * integer; absent means one (and in profiles written before sittings could be added).
   */
  sittings?: number;
  /**
   * Keystroke: the enrollment's reference under the learned embedding (unit length, EMBED_DIM
   * numbers) and the sha256 of the ONNX model that computed it. Absent: the profile was enrolled
   * without the embedder, and keystrokes are scored by the classical fused score alone.
   */
  embedding?: KeystrokeEmbeddingRef;
  /**
   * Keystroke: sha256 of the classical weights file (models/keystroke-classical) the threshold
   * was calibrated under. Absent in profiles written before the weights were a model: those
   * were calibrated under the compiled fused-v1.
   */
  classicalSha256?: string;
}

export interface KeystrokeEmbeddingRef {
  modelSha256: string;
  reference: number[];
}

export interface BioProfile {
  user: string;
  createdMs: number;
  keySha256: string;
  keystroke?: ModalityProfile;
  mouse?: ModalityProfile;
  /** App-transition model, learned by the daemon from use (counts over keyed-hash app ids). */
  app?: ModalityProfile;
}

/** One modality as the file holds it (what tests and tools read back). */
export interface ModalityJson {
  samples: number;
  window: number;
  frr: number;
  threshold?: number;
  genuineSd?: number;
  devices?: string[];
  sittings?: number;
  embedding?: KeystrokeEmbeddingRef;
  classicalSha256?: string;
  sha256: string;
  data: string;
}

/** The profile file's JSON. */
export interface ProfileJson {
  format: typeof PROFILE_FORMAT;
  version: number;
  user: string;
  createdMs: number;
  keySha256: string;
  keystroke?: ModalityJson;
  mouse?: ModalityJson;
  app?: ModalityJson;
}

/** Whether two serialized models (or their absence) are the same bytes. */
export function sameModelBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && timingSafeEqual(a, b);
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** sha256 of the host key file (the key itself never leaves the host). */
export function keyFingerprint(keyPath: string): string {
  try {
    return sha256(readFileSync(keyPath));
  } catch (err) {
    throw new SentinelError('SENTINEL_E_BIO_KEY', `cannot read key file ${keyPath}: ${(err as Error).message}`, { cause: err });
  }
}

function bad(file: string, why: string): never {
  throw new SentinelError('SENTINEL_E_BIO_PROFILE', `profile ${file}: ${why}`);
}

export function saveProfile(file: string, p: BioProfile): void {
  const mod = (m: ModalityProfile): ModalityJson => ({
    samples: m.samples,
    window: m.window,
    frr: m.frr,
    ...(m.threshold === undefined ? {} : { threshold: m.threshold }),
    ...(m.genuineSd === undefined ? {} : { genuineSd: m.genuineSd }),
    ...(m.devices === undefined ? {} : { devices: [...m.devices] }),
    ...(m.sittings === undefined ? {} : { sittings: m.sittings }),
    ...(m.embedding === undefined ? {} : { embedding: { modelSha256: m.embedding.modelSha256, reference: [...m.embedding.reference] } }),
    ...(m.classicalSha256 === undefined ? {} : { classicalSha256: m.classicalSha256 }),
    sha256: sha256(m.bytes),
    data: Buffer.from(m.bytes).toString('base64'),
  });
  const json: ProfileJson = {
    format: PROFILE_FORMAT,
    version: PROFILE_VERSION,
    user: p.user,
    createdMs: p.createdMs,
    keySha256: p.keySha256,
    ...(p.keystroke ? { keystroke: mod(p.keystroke) } : {}),
    ...(p.mouse ? { mouse: mod(p.mouse) } : {}),
    ...(p.app ? { app: mod(p.app) } : {}),
  };
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify(json, null, 1) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

function modality(file: string, name: string, v: unknown): ModalityProfile | undefined {
  if (v === undefined) return undefined;
  if (v === null || typeof v !== 'object') bad(file, `${name} must be an object`);
  const m = v as Record<string, unknown>;
  for (const k of ['samples', 'window', 'frr'] as const) {
    if (typeof m[k] !== 'number' || !Number.isFinite(m[k])) bad(file, `${name}.${k} must be a number`);
  }
  if (typeof m['data'] !== 'string' || typeof m['sha256'] !== 'string') bad(file, `${name}.data and ${name}.sha256 must be strings`);
  const bytes = new Uint8Array(Buffer.from(m['data'], 'base64'));
  if (sha256(bytes) !== m['sha256']) bad(file, `${name}.data does not match its sha256 (corrupt or altered)`);
  const out: ModalityProfile = { bytes, samples: m['samples'] as number, window: m['window'] as number, frr: m['frr'] as number };
  for (const k of ['threshold', 'genuineSd'] as const) {
    const v = m[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) bad(file, `${name}.${k} must be a finite number`);
    out[k] = v;
  }
  const devices = m['devices'];
  if (devices !== undefined) {
    // An empty list would silently stop scoring every device: refused like a malformed one.
    if (!Array.isArray(devices) || devices.length === 0 || !devices.every((d): d is string => typeof d === 'string' && d.length > 0)) {
      bad(file, `${name}.devices must be a non-empty array of non-empty strings (device identities), got ${String(JSON.stringify(devices)).slice(0, 200)}`);
    }
    out.devices = devices;
  }
  const sittings = m['sittings'];
  if (sittings !== undefined) {
    if (typeof sittings !== 'number' || !Number.isSafeInteger(sittings) || sittings < 1) {
      bad(file, `${name}.sittings must be a positive integer (sittings enrolled), got ${String(JSON.stringify(sittings)).slice(0, 200)}`);
    }
    out.sittings = sittings;
  }
  const embedding = m['embedding'];
  if (embedding !== undefined) {
    const e = embedding as Record<string, unknown> | null;
    const ref = e?.['reference'];
    if (e === null || typeof e !== 'object' || typeof e['modelSha256'] !== 'string' || !/^[0-9a-f]{64}$/.test(e['modelSha256'])) {
      bad(file, `${name}.embedding must be an object with modelSha256 (64 lowercase hex digits) and reference`);
    }
    if (!Array.isArray(ref) || ref.length !== EMBED_DIM || !ref.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      bad(file, `${name}.embedding.reference must be ${EMBED_DIM} finite numbers`);
    }
    out.embedding = { modelSha256: e['modelSha256'] as string, reference: [...(ref as number[])] };
  }
  const classical = m['classicalSha256'];
  if (classical !== undefined) {
    if (typeof classical !== 'string' || !/^[0-9a-f]{64}$/.test(classical)) bad(file, `${name}.classicalSha256 must be 64 lowercase hex digits, got ${String(JSON.stringify(classical)).slice(0, 200)}`);
    out.classicalSha256 = classical;
  }
  return out;
}

export function loadProfile(file: string, keySha256: string): BioProfile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SentinelError('SENTINEL_E_BIO_PROFILE', `cannot read profile ${file}: ${(err as Error).message}`, { cause: err });
  }
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (err) {
    bad(file, `not valid JSON (truncated?): ${(err as Error).message}`);
  }
  if (j === null || typeof j !== 'object') bad(file, 'must be a JSON object');
  const o = j as Record<string, unknown>;
  if (o['format'] !== PROFILE_FORMAT) bad(file, `format must be "${PROFILE_FORMAT}"`);
  if (o['version'] !== PROFILE_VERSION) bad(file, `version ${String(o['version'])} is not supported (this build reads ${PROFILE_VERSION})`);
  if (typeof o['user'] !== 'string' || typeof o['createdMs'] !== 'number' || typeof o['keySha256'] !== 'string') {
    bad(file, 'user, createdMs and keySha256 are required');
  }
  if (o['keySha256'] !== keySha256) bad(file, 'was enrolled under another host key (re-enroll with `sentinel enroll`)');
  const keystroke = modality(file, 'keystroke', o['keystroke']);
  const mouse = modality(file, 'mouse', o['mouse']);
  const app = modality(file, 'app', o['app']);
  if (mouse && (mouse.threshold === undefined || mouse.genuineSd === undefined)) bad(file, 'mouse needs threshold and genuineSd');
  return {
    user: o['user'],
    createdMs: o['createdMs'],
    keySha256: o['keySha256'],
    ...(keystroke ? { keystroke } : {}),
    ...(mouse ? { mouse } : {}),
    ...(app ? { app } : {}),
  };
}
