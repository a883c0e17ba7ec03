// The daemon's biometrics service, in process, when the keystroke embedder fails at run time:
// the batch it fails on is counted as lost, keystrokes fall back to the classical score, and the
// session keeps scoring every later batch. The service is the daemon's own (real collector on
// FIFOs, real ONNX Runtime worker, real SQLite audit); the test only keeps a handle on the
// embedder so that it can close it under the service.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AuditStore } from '../../src/audit/store.js';
import { openKeystrokeEmbedding, type KeystrokeEmbeddingModels } from '../../src/biometrics/keystroke-embedded-stream.js';
import { enrollKeystrokeProfile } from '../../src/biometrics/keystroke-model.js';
import { keyFingerprint, saveProfile } from '../../src/biometrics/profile-file.js';
import { BiometricsService } from '../../daemon/biometrics.js';
import { defaultConfig } from '../../daemon/config.js';
import { createLogger } from '../../daemon/log.js';
import { ROOT, type LogLine } from '../support/daemon-process.js';
import { decodeEvents } from '../support/decode-events.js';
import { plugFifoDevice } from '../support/fifo-device.js';
import { cleanupStack } from '../support/cleanups.js';
import { encodeInputEvents, keyEvents, typedKeystrokes } from '../support/input-events.js';
import { NO_SEAT } from '../support/biometrics-config.js';

const cleanups = cleanupStack();

/** Log lines of an in-process logger, with the same wait the daemon-process helper offers. */
function capturedLog(): { stream: Writable; logs: LogLine[]; waitLog: (pred: (l: LogLine) => boolean) => Promise<LogLine> } {
  const logs: LogLine[] = [];
  const waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done): void {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        const l = JSON.parse(line) as LogLine;
        logs.push(l);
        for (const w of [...waiters]) {
          if (w.pred(l)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(l);
          }
        }
      }
      done();
    },
  });
  const waitLog = (pred: (l: LogLine) => boolean): Promise<LogLine> => {
    const past = logs.find(pred);
    return past ? Promise.resolve(past) : new Promise((resolve) => waiters.push({ pred, resolve }));
  };
  return { stream, logs, waitLog };
}

describe('keystroke embedder failing under the daemon', () => {
  it('counts the lost batch and goes on with the classical score', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-embfail-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const input = path.join(dir, 'input');
    mkdirSync(input);
    const base = defaultConfig(path.join(dir, 'data'));
    const cfg = { ...base.biometrics, ...NO_SEAT, inputDir: input, lockCommand: ['/bin/true'], restrictCommand: [], modelsDir: path.join(ROOT, 'models') };
    mkdirSync(path.dirname(cfg.keyPath), { recursive: true });

    // Enrollment as `sentinel enroll` writes it: classical profile plus the embedding reference.
    const models: KeystrokeEmbeddingModels = await openKeystrokeEmbedding(cfg.modelsDir);
    cleanups.push(() => models.embedder.close());
    const events = keyEvents(typedKeystrokes(1, 600, 1_000_000, 11));
    const keys = decodeEvents(events, cfg.keyPath).keys;
    const bytes = await enrollKeystrokeProfile(keys);
    const reference = Array.from(await models.embedder.reference(keys));
    saveProfile(path.join(cfg.profileDir, 'alice.json'), {
      user: 'alice',
      createdMs: 1,
      keySha256: keyFingerprint(cfg.keyPath),
      keystroke: { bytes, samples: 600, window: 100, frr: 0.05, embedding: { modelSha256: models.embedder.sha256, reference } },
    });

    const log = capturedLog();
    const audit = new AuditStore(path.join(dir, 'audit.db'));
    cleanups.push(() => audit.close());
    const svc = new BiometricsService(cfg, audit, createLogger('info', log.stream), () => {}, () => Promise.resolve(models));
    await svc.openModels();
    svc.start();
    cleanups.push(() => svc.stop());
    await log.waitLog((l) => l['event.action'] === 'biometrics_on');
    const typing = (noise: number): Buffer => encodeInputEvents(keyEvents(typedKeystrokes(1, 300, 900_000_000, noise, 41)));

    await plugFifoDevice(log, input, 'event0', typing(5));
    let st = svc.status();
    expect(st.keystrokeScoring).toMatchObject({ method: 'fused+embedding', embeddingFailures: 0 });
    const before = st.windowsScored;
    expect(before).toBeGreaterThanOrEqual(8);

    // The embedder goes away under the service: the next batch with windows is lost, counted.
    await models.embedder.close();
    await plugFifoDevice(log, input, 'event1', typing(6));
    const failed = log.logs.filter((l) => l['event.action'] === 'keystroke_embedding_failed');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed[0]?.['error.code']).toBe('SENTINEL_E_MODEL_RUNTIME');
    st = svc.status();
    expect(st.keystrokeScoring.method).toBe('fused');
    expect(st.keystrokeScoring.reason).toMatch(/^keystroke embedding off: SENTINEL_E_MODEL_RUNTIME/);
    expect(st.keystrokeScoring.embeddingFailures).toBe(failed.length);

    // Later typing is scored classically: every window of it.
    const mid = st.windowsScored;
    await plugFifoDevice(log, input, 'event2', typing(5));
    st = svc.status();
    expect(st.windowsScored - mid).toBeGreaterThanOrEqual(8);
    expect(st.keystrokeScoring.embeddingFailures).toBe(failed.length);
    expect(st.state).toBe('Normal');
  });
});
