/**
 * Worker thread of `KeystrokeEmbedder` (keystroke-embedder.ts): owns one ONNX Runtime session
 * and runs it here, because onnxruntime-node's `run()` executes synchronously on the calling
 * thread (its Promise only defers the call with setImmediate); on the daemon's thread it would
 * stall the socket and HTTP servers for the length of each inference.
 *
 * Protocol (structured clone; the Float32Arrays' buffers are transferred, not copied):
 *   workerData            { model: Uint8Array }   the .onnx bytes, already hash-checked
 *   → parent, once        { kind: 'ready' } | { kind: 'failed', message }
 *   parent → worker       { id, records: Float32Array, n }   n chunks × EMBED_CHUNK × EMBED_INPUTS
 *   → parent, per request { id, kind: 'done', embedding: Float32Array }   n × EMBED_DIM
 *                       | { id, kind: 'error', message }
 * The worker exits when the parent closes its port (`terminate`).
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { EMBED_CHUNK, EMBED_DIM, EMBED_INPUTS, type EmbedderReply, type EmbedderRequest } from './keystroke-embedder-protocol.js';

async function main(port: MessagePort): Promise<void> {
  const model = (workerData as { model: Uint8Array }).model;
  let session: ort.InferenceSession;
  try {
    // One intra-op thread: inputs are a few chunks; the daemon shares its cores with the user.
    session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    const inName = session.inputNames[0];
    const outName = session.outputNames[0];
    if (session.inputNames.length !== 1 || session.outputNames.length !== 1 || inName !== 'records' || outName !== 'embedding') {
      throw new Error(`model must have one input "records" and one output "embedding", has [${session.inputNames.join(', ')}] → [${session.outputNames.join(', ')}]`);
    }
  } catch (err) {
    port.postMessage({ kind: 'failed', message: (err as Error).message } satisfies EmbedderReply);
    return;
  }
  port.on('message', (req: EmbedderRequest) => {
    void (async () => {
      try {
        const input = new ort.Tensor('float32', req.records, [req.n, EMBED_CHUNK, EMBED_INPUTS]);
        const out = await session.run({ records: input });
        const t = out['embedding'];
        if (!t || t.type !== 'float32' || t.dims.length !== 2 || t.dims[0] !== req.n || t.dims[1] !== EMBED_DIM) {
          throw new Error(`model output "embedding" must be float32 [${req.n}, ${EMBED_DIM}], got ${t ? `${t.type} [${t.dims.join(', ')}]` : 'nothing'}`);
        }
        const embedding = new Float32Array(t.data as Float32Array);
        port.postMessage({ id: req.id, kind: 'done', embedding } satisfies EmbedderReply, [embedding.buffer]);
      } catch (err) {
        port.postMessage({ id: req.id, kind: 'error', message: (err as Error).message } satisfies EmbedderReply);
      }
    })();
  });
  port.postMessage({ kind: 'ready' } satisfies EmbedderReply);
}

if (!parentPort) throw new Error('keystroke-embedder-worker must run as a worker thread');
void main(parentPort);
