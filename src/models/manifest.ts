/**
 * Model manifests: `<dir>/manifest.json` describes one shipped model or rule file, and
 * `loadModel(dir)` returns its bytes only when their sha256 matches the manifest.
 *
 * Manifest fields
 *   name                  non-empty string
 *   version               non-empty string (e.g. "heuristic-v1"); audit records carry it
 *   kind                  non-empty string (e.g. "heuristic-weights", "fusion", "iforest", "onnx")
 *   file                  file name relative to <dir>; no "/" or "\\", not "." or ".."
 *   sha256                64 lowercase hex digits of `file`'s bytes
 *   featureSchemaVersion  integer >= 0: the native feature schema the model was built for
 *   metrics?              object of name → finite number
 *   training?             object describing the training data (free-form JSON)
 * Unknown fields are ignored.
 *
 * Contract: synchronous (start-up and reload paths only). Throws `SentinelError('SENTINEL_E_CONFIG')`
 * naming the manifest path and field for a missing, unreadable or invalid manifest or model file,
 * and for a hash mismatch (naming the file and both hashes). The returned bytes are a fresh
 * Buffer owned by the caller.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SentinelError } from '../errors.js';
import { sha256Hex } from './hash.js';

export interface ModelManifest {
  name: string;
  version: string;
  kind: string;
  file: string;
  sha256: string;
  featureSchemaVersion: number;
  metrics?: Record<string, number>;
  training?: Record<string, unknown>;
}

export interface LoadedModel {
  manifest: ModelManifest;
  bytes: Buffer;
  /** Absolute path of the model file. */
  path: string;
}

export const MANIFEST_FILE = 'manifest.json';
const SHA256_HEX = /^[0-9a-f]{64}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates parsed manifest JSON; `where` names it in errors. */
export function parseManifest(raw: unknown, where: string): ModelManifest {
  const fail = (m: string): never => {
    throw new SentinelError('SENTINEL_E_CONFIG', `${where}: ${m}`);
  };
  if (!isObject(raw)) fail('manifest must be a JSON object');
  const o = raw as Record<string, unknown>;
  const str = (k: string): string => {
    const v = o[k];
    if (typeof v !== 'string' || v.length === 0) fail(`field "${k}" must be a non-empty string`);
    return v as string;
  };
  const m: ModelManifest = {
    name: str('name'),
    version: str('version'),
    kind: str('kind'),
    file: str('file'),
    sha256: str('sha256'),
    featureSchemaVersion: 0,
  };
  if (/[/\\]/.test(m.file) || m.file === '.' || m.file === '..') fail(`field "file" must be a plain file name inside the model directory, got ${JSON.stringify(m.file)}`);
  if (!SHA256_HEX.test(m.sha256)) fail(`field "sha256" must be 64 lowercase hex digits, got ${JSON.stringify(m.sha256)}`);
  const fsv = o['featureSchemaVersion'];
  if (typeof fsv !== 'number' || !Number.isSafeInteger(fsv) || fsv < 0) fail(`field "featureSchemaVersion" must be an integer >= 0, got ${JSON.stringify(fsv)}`);
  m.featureSchemaVersion = fsv as number;
  if (o['metrics'] !== undefined) {
    const metrics = o['metrics'];
    if (!isObject(metrics)) fail('field "metrics" must be an object of name → number');
    for (const [k, v] of Object.entries(metrics as Record<string, unknown>)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(`metrics.${k} must be a finite number`);
    }
    m.metrics = { ...(metrics as Record<string, number>) };
  }
  if (o['training'] !== undefined) {
    if (!isObject(o['training'])) fail('field "training" must be an object');
    m.training = o['training'] as Record<string, unknown>;
  }
  return m;
}

/** Reads and validates `<dir>/manifest.json` without touching the model file. */
export function readManifest(dir: string): ModelManifest {
  const where = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = readFileSync(where, 'utf8');
  } catch (err) {
    throw new SentinelError('SENTINEL_E_CONFIG', `cannot read model manifest ${where}: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SentinelError('SENTINEL_E_CONFIG', `${where}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseManifest(raw, where);
}

/** Reads the manifest and the model file, and verifies the file's sha256. */
export function loadModel(dir: string): LoadedModel {
  const manifest = readManifest(dir);
  const file = path.resolve(dir, manifest.file);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new SentinelError('SENTINEL_E_CONFIG', `cannot read model file ${file} named by ${path.join(dir, MANIFEST_FILE)}: ${(err as Error).message}`, { cause: err });
  }
  const actual = sha256Hex(bytes);
  if (actual !== manifest.sha256) {
    throw new SentinelError('SENTINEL_E_CONFIG', `model file ${file} has sha256 ${actual}, but its manifest says ${manifest.sha256}; refusing to load it`, {
      details: { file, expected: manifest.sha256, actual },
    });
  }
  return { manifest, bytes, path: file };
}

/** `loadModel` plus a check of the manifest's kind. */
export function loadModelOfKind(dir: string, kind: string): LoadedModel {
  const m = loadModel(dir);
  if (m.manifest.kind !== kind) {
    throw new SentinelError('SENTINEL_E_CONFIG', `${path.join(dir, MANIFEST_FILE)}: kind is "${m.manifest.kind}", expected "${kind}"`);
  }
  return m;
}

/** Parses a loaded model's bytes as a JSON object; errors name the model file. */
export function modelJson(m: LoadedModel): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(m.bytes.toString('utf8'));
  } catch (err) {
    throw new SentinelError('SENTINEL_E_CONFIG', `${m.path}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isObject(raw)) throw new SentinelError('SENTINEL_E_CONFIG', `${m.path}: must be a JSON object`);
  return raw;
}

/**
 * A JSON model of `kind` in `dir` (`loadModelOfKind` + `modelJson`): the loaded model, its
 * object, and `fail(msg)`, which throws SENTINEL_E_CONFIG naming the model file. A "version" in
 * the object, when present, must equal the manifest's.
 */
export function loadJsonModel(dir: string, kind: string): { m: LoadedModel; o: Record<string, unknown>; fail: (msg: string) => never } {
  const m = loadModelOfKind(dir, kind);
  const o = modelJson(m);
  const fail = (msg: string): never => {
    throw new SentinelError('SENTINEL_E_CONFIG', `${m.path}: ${msg}`);
  };
  if (o['version'] !== undefined && o['version'] !== m.manifest.version) fail(`version ${JSON.stringify(o['version'])} differs from the manifest's ${JSON.stringify(m.manifest.version)}`);
  return { m, o, fail };
}
