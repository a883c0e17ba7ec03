/**
 * Learned keystroke embedding (docs/biometrics.md, "Learned keystroke embedding"): an ONNX model
 * trained across many typists maps a chunk of EMBED_CHUNK keystroke timings to a unit vector;
 * a user's reference is the mean over their enrollment chunks, a window's vector the mean over
 * its chunks, and their dot product is the window's similarity. The model sees only the timings
 * and flags of the native key records (no key identity, no bucket).
 *
 * Contract
 * - `KeystrokeEmbedder.open(modelsDir)` is asynchronous: it hash-checks `models/keystroke-embed`
 *   (manifest kind "onnx") synchronously, then starts a worker thread that creates the ONNX
 *   Runtime session. Rejects SENTINEL_E_CONFIG (manifest, file, hash) or SENTINEL_E_MODEL_RUNTIME
 *   (the runtime refused the model or it has the wrong inputs/outputs).
 * - `embedChunks`, `reference` and `windowVectors` are asynchronous: inference runs on the
 *   worker, never on the calling thread. They reject SENTINEL_E_MODEL_RUNTIME when the worker
 *   fails or was closed; requests are answered in order.
 * - Inputs are read during the call only (copied into a buffer that is transferred to the
 *   worker); returned arrays are new and owned by the caller.
 * - `close()` terminates the worker; pending requests reject.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { KEY_RECORD_STRIDE, KeyFlag, KeyRec } from '../binding.js';
import { SentinelError } from '../errors.js';
import { loadModelOfKind, type ModelManifest } from '../models/manifest.js';
import { EMBED_CHUNK, EMBED_DIM, EMBED_INPUTS, EMBED_STRIDE, type EmbedderReply } from './keystroke-embedder-protocol.js';

export { EMBED_CHUNK, EMBED_DIM, EMBED_INPUTS, EMBED_STRIDE } from './keystroke-embedder-protocol.js';
export const EMBEDDER_KIND = 'onnx';
export const EMBEDDER_DIR = 'keystroke-embed';

/** Model inputs of `count` key records starting at record `from` (KEY_RECORD_STRIDE numbers each). */
export function embeddingInputs(keys: Float64Array, from = 0, count = keys.length / KEY_RECORD_STRIDE - from): Float32Array {
  const out = new Float32Array(count * EMBED_INPUTS);
  for (let i = 0; i < count; i++) {
    const r = (from + i) * KEY_RECORD_STRIDE;
    const flags = keys[r + KeyRec.Flags] ?? 0;
    const o = i * EMBED_INPUTS;
    const hold = (flags & KeyFlag.Hold) !== 0;
    const digraph = (flags & KeyFlag.Digraph) !== 0;
    out[o] = hold ? (keys[r + KeyRec.HoldMs] ?? 0) : 0;
    out[o + 1] = digraph ? (keys[r + KeyRec.PpMs] ?? 0) : 0;
    out[o + 2] = digraph ? (keys[r + KeyRec.RpMs] ?? 0) : 0;
    out[o + 3] = hold ? 1 : 0;
    out[o + 4] = digraph ? 1 : 0;
    out[o + 5] = (flags & KeyFlag.Backspace) !== 0 ? 1 : 0;
  }
  return out;
}

/** Start records of the chunks of a run of n keystrokes (stride EMBED_STRIDE; none when n < EMBED_CHUNK). */
export function chunkStarts(n: number): number[] {
  const s: number[] = [];
  for (let i = 0; i + EMBED_CHUNK <= n; i += EMBED_STRIDE) s.push(i);
  return s;
}

/** Where the compiled worker is: beside this module in dist/, or dist/ when this runs from source (tests). */
function workerPath(): string {
  const here = fileURLToPath(import.meta.url);
  const beside = path.join(path.dirname(here), 'keystroke-embedder-worker.js');
  if (existsSync(beside)) return beside;
  const root = path.resolve(path.dirname(here), '..', '..');
  const built = path.join(root, 'dist', 'src', 'biometrics', 'keystroke-embedder-worker.js');
  if (existsSync(built)) return built;
  throw new SentinelError('SENTINEL_E_MODEL_RUNTIME', `keystroke embedder worker not found at ${beside} or ${built} (run npm run build:ts)`);
}

interface Pending {
  resolve: (v: Float32Array) => void;
  reject: (e: Error) => void;
}

export class KeystrokeEmbedder {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private failure: SentinelError | null = null;

  private constructor(
    private readonly worker: Worker,
    readonly manifest: ModelManifest,
  ) {
    worker.on('message', (m: EmbedderReply) => {
      if (m.kind !== 'done' && m.kind !== 'error') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.kind === 'done') p.resolve(m.embedding);
      else p.reject(new SentinelError('SENTINEL_E_MODEL_RUNTIME', `keystroke embedder: ${m.message}`));
    });
    const fail = (why: string): void => {
      this.failure ??= new SentinelError('SENTINEL_E_MODEL_RUNTIME', `keystroke embedder worker ${why}`);
      for (const p of this.pending.values()) p.reject(this.failure);
      this.pending.clear();
    };
    worker.on('error', (err) => fail(`failed: ${err.message}`));
    worker.on('exit', (code) => fail(`exited (code ${code})`));
  }

  /** sha256 of the ONNX model (what a profile's reference vector was computed with). */
  get sha256(): string {
    return this.manifest.sha256;
  }

  static async open(modelsDir: string): Promise<KeystrokeEmbedder> {
    const m = loadModelOfKind(path.join(modelsDir, EMBEDDER_DIR), EMBEDDER_KIND);
    const worker = new Worker(workerPath(), { workerData: { model: new Uint8Array(m.bytes) } });
    const ready = await new Promise<EmbedderReply>((resolve) => {
      const onExit = (code: number): void => resolve({ kind: 'failed', message: `worker exited (code ${code}) before the session was created` });
      worker.once('error', (err) => resolve({ kind: 'failed', message: err.message }));
      worker.once('exit', onExit);
      worker.once('message', (r: EmbedderReply) => {
        worker.off('exit', onExit);
        resolve(r);
      });
    });
    if (ready.kind !== 'ready') {
      await worker.terminate();
      throw new SentinelError('SENTINEL_E_MODEL_RUNTIME', `ONNX Runtime cannot run ${m.path}: ${ready.kind === 'failed' ? ready.message : 'unexpected reply'}`);
    }
    return new KeystrokeEmbedder(worker, m.manifest);
  }

  /** Embeds n chunks (n × EMBED_CHUNK × EMBED_INPUTS inputs) into n × EMBED_DIM. */
  embedChunks(records: Float32Array, n: number): Promise<Float32Array> {
    if (records.length !== n * EMBED_CHUNK * EMBED_INPUTS) {
      return Promise.reject(new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `embedChunks: ${records.length} inputs for ${n} chunks`));
    }
    if (n === 0) return Promise.resolve(new Float32Array(0));
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const copy = new Float32Array(records);
    return new Promise<Float32Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, records: copy, n }, [copy.buffer]);
    });
  }

  /**
   * Unit-length reference of an enrollment's key records (the mean of its chunk embeddings,
   * normalised). Rejects SENTINEL_E_BIO_ENROLL with fewer than EMBED_CHUNK records.
   */
  async reference(keys: Float64Array): Promise<Float32Array> {
    const n = keys.length / KEY_RECORD_STRIDE;
    const starts = chunkStarts(n);
    if (!starts.length) throw new SentinelError('SENTINEL_E_BIO_ENROLL', `the keystroke embedding needs at least ${EMBED_CHUNK} keystrokes, got ${n}`);
    const all = embeddingInputs(keys);
    const chunks = new Float32Array(starts.length * EMBED_CHUNK * EMBED_INPUTS);
    starts.forEach((s, i) => chunks.set(all.subarray(s * EMBED_INPUTS, (s + EMBED_CHUNK) * EMBED_INPUTS), i * EMBED_CHUNK * EMBED_INPUTS));
    const e = await this.embedChunks(chunks, starts.length);
    const ref = meanRows(e, 0, starts.length);
    const norm = Math.hypot(...ref);
    if (!(norm > 0)) throw new SentinelError('SENTINEL_E_MODEL_RUNTIME', 'keystroke embedder returned a zero reference');
    for (let i = 0; i < ref.length; i++) ref[i] = (ref[i] ?? 0) / norm;
    return ref;
  }

  /**
   * One vector per window: `inputs` holds `windows` runs of `window` keystrokes' model inputs
   * back to back; each run is cut into chunks and its vector is the mean of their embeddings
   * (not renormalised: what the fusion weights were fit on). Returns windows × EMBED_DIM.
   */
  async windowVectors(inputs: Float32Array, windows: number, window: number): Promise<Float32Array> {
    const starts = chunkStarts(window);
    if (!starts.length) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `a ${window}-keystroke window is shorter than one ${EMBED_CHUNK}-keystroke chunk`);
    const per = starts.length;
    const chunks = new Float32Array(windows * per * EMBED_CHUNK * EMBED_INPUTS);
    for (let w = 0; w < windows; w++) {
      const base = w * window * EMBED_INPUTS;
      starts.forEach((s, i) => chunks.set(inputs.subarray(base + s * EMBED_INPUTS, base + (s + EMBED_CHUNK) * EMBED_INPUTS), (w * per + i) * EMBED_CHUNK * EMBED_INPUTS));
    }
    const e = await this.embedChunks(chunks, windows * per);
    const out = new Float32Array(windows * EMBED_DIM);
    for (let w = 0; w < windows; w++) out.set(meanRows(e, w * per, per), w * EMBED_DIM);
    return out;
  }

  async close(): Promise<void> {
    this.failure ??= new SentinelError('SENTINEL_E_MODEL_RUNTIME', 'keystroke embedder closed');
    await this.worker.terminate();
  }
}

function meanRows(e: Float32Array, from: number, n: number): Float32Array {
  const m = new Float32Array(EMBED_DIM);
  for (let r = from; r < from + n; r++) for (let d = 0; d < EMBED_DIM; d++) m[d] = (m[d] ?? 0) + (e[r * EMBED_DIM + d] ?? 0) / n;
  return m;
}

/** Dot product of a window vector (row `row` of `vectors`) and a reference. */
export function similarity(vectors: Float32Array, row: number, reference: Float32Array): number {
  let s = 0;
  for (let d = 0; d < EMBED_DIM; d++) s += (vectors[row * EMBED_DIM + d] ?? 0) * (reference[d] ?? 0);
  return s;
}
