/**
 * Per-row scores of a trace: the same engine, models and tick as `replayTrace` (event time,
 * same batching), with the fusion wrapped to record every scored row (subject, fused score,
 * event time). `sentinel eval` uses it for ROC AUC and precision/recall over subject windows.
 */
import { Engine } from '../engine.js';
import { Scorer } from '../scoring/scorer.js';
import { TrustMachine } from '../state/trust-machine.js';
import { readTrace } from '../trace/reader.js';
import { encodeEventBatches, encodeHello } from '../protocol/encode.js';
import { Role } from '../protocol/constants.js';
import { loadDetectionModels } from '../scoring/load-models.js';
import { META_STRIDE } from '../binding.js';
import type { RawSubjectInfo } from '../binding.js';
import type { Fusion } from '../fusion/fusion.js';
import type { ScoringBatch } from '../detectors/detector.js';

export interface ScoredRow {
  subjectId: number;
  score: number;
  tsMs: number;
  eventIndex: number;
}

export async function scoreRows(tracePath: string, modelsDir: string, batchEvents = 16): Promise<{ rows: ScoredRow[]; subjects: RawSubjectInfo[] }> {
  const engine = new Engine({});
  const models = loadDetectionModels(modelsDir, engine);
  const rows: ScoredRow[] = [];
  const base = models.fusion;
  const fusion = Object.create(base) as Fusion;
  fusion.score = async (batch: ScoringBatch) => {
    const r = await base.score(batch);
    for (let i = 0; i < batch.n; i++) {
      rows.push({ subjectId: batch.ids[i] as number, score: r.fused[i] as number, tsMs: batch.meta[i * META_STRIDE + 1] as number, eventIndex: batch.meta[i * META_STRIDE + 2] as number });
    }
    return r;
  };
  const scorer = new Scorer({ engine, fusion, machine: new TrustMachine({}), clock: 'eventTime' });
  const conn = engine.openConnection(0);
  engine.ingest(conn, encodeHello(0, Role.Events, process.pid, 'eval'));
  let seq = 1;
  try {
    for await (const batch of readTrace(tracePath, { batchSize: batchEvents })) {
      if (batch.events.length === 0) continue;
      const { bytes, frames } = encodeEventBatches(batch.events, seq);
      seq += frames;
      engine.ingest(conn, bytes);
      await scorer.tick();
    }
    for (let i = 0; i < 1000; i++) if ((await scorer.tick()).rows === 0) break;
    const ids = [...new Set(rows.map((r) => r.subjectId))].sort((a, b) => a - b);
    return { rows, subjects: engine.liveSubjects(ids) };
  } finally {
    engine.closeConnection(conn);
  }
}
