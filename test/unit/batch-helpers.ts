import { META_STRIDE } from '../../src/binding.js';
import type { Detector, ScoringBatch } from '../../src/detectors/detector.js';

/** A scoring batch with the given heuristic scores and contribution rows (n = scores.length). */
export function makeBatch(scores: number[], contribNames: string[] = [], contribRows: number[][] = [], spare = 0): ScoringBatch {
  const n = scores.length;
  const cap = n + spare;
  const C = contribNames.length;
  const meta = new Float64Array(cap * META_STRIDE);
  const contrib = new Float32Array(cap * C);
  scores.forEach((s, i) => {
    meta[i * META_STRIDE] = s;
    meta[i * META_STRIDE + 1] = 1000 + i;
    meta[i * META_STRIDE + 2] = i;
    meta[i * META_STRIDE + 3] = 0;
    (contribRows[i] ?? []).forEach((v, j) => (contrib[i * C + j] = v));
  });
  return { n, ids: Uint32Array.from({ length: cap }, (_, i) => i + 1), featureNames: ['f0'], rows: new Float32Array(cap), contribNames, contrib, meta };
}

/** A detector returning fixed scores and a fixed explanation. */
export function fixedDetector(name: string, scores: number[], explain: { name: string; value: number }[] = [], sha = 'b'.repeat(64)): Detector {
  return {
    name,
    version: `${name}-v1`,
    sha256: sha,
    score(batch, out) {
      for (let i = 0; i < batch.n; i++) out[i] = scores[i] ?? 0;
      return Promise.resolve();
    },
    explain(_b, _i, k) {
      return explain.slice(0, k);
    },
  };
}
