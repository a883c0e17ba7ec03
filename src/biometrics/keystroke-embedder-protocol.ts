/**
 * Shapes shared by the keystroke embedder and its worker thread (no imports, so the worker loads
 * nothing it does not need). The model: `scripts/bio/keystroke_learned.py`; docs/biometrics.md,
 * "Learned keystroke embedding".
 */

/** Keystrokes per embedded chunk; a window or an enrollment is cut into chunks at EMBED_STRIDE. */
export const EMBED_CHUNK = 50;
export const EMBED_STRIDE = 25;
/** Numbers per keystroke fed to the model: hold ms, PP ms, RP ms, has hold, has digraph, backspace. */
export const EMBED_INPUTS = 6;
/** Length of one (unit-length) chunk embedding. */
export const EMBED_DIM = 64;

export interface EmbedderRequest {
  id: number;
  /** n × EMBED_CHUNK × EMBED_INPUTS float32; its buffer is transferred to the worker. */
  records: Float32Array;
  n: number;
}

export type EmbedderReply =
  | { kind: 'ready' }
  | { kind: 'failed'; message: string }
  | { id: number; kind: 'done'; embedding: Float32Array }
  | { id: number; kind: 'error'; message: string };
