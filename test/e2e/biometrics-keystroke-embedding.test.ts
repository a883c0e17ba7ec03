// The learned keystroke embedding's fallbacks, with the real daemon and CLI: without the shipped
// embedder `sentinel enroll` still enrolls (and says why the embedding is missing), and the
// daemon scores keystrokes by the classical score and says why; once the embedder is installed
// and the user re-enrolled, a restarted daemon combines both. A profile enrolled with the
// embedding turned off is scored classically, with the reason shown.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli, startBiometricsDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { plugFifoDevice } from '../support/fifo-device.js';
import { encodeInputEvents, keyEvents, typedKeystrokes } from '../support/input-events.js';
import { cleanupStack } from '../support/cleanups.js';
import { NO_SEAT } from '../support/biometrics-config.js';

interface Status {
  biometrics: { on: boolean; windowsScored: number; state: string; keystrokeScoring: { method: string | null; reason: string | null; model: string | null; embeddingFailures: number } };
}
interface EnrollSummary {
  keystroke: { embedding: boolean; embeddingOff: string | null } | null;
}

const cleanups = cleanupStack();

function setUp(config: (dir: string) => Record<string, unknown>): { dir: string; data: string; input: string; cfgFile: string; kbd: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-ksembed-e2e-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const input = path.join(dir, 'input');
  mkdirSync(input);
  const cfgFile = path.join(dir, 'sentinel.json');
  writeFileSync(cfgFile, JSON.stringify(config(dir)));
  const kbd = path.join(dir, 'enroll-kbd.bin');
  writeFileSync(kbd, encodeInputEvents(keyEvents(typedKeystrokes(1, 600, 1_000_000, 11))));
  return { dir, data: path.join(dir, 'data'), input, cfgFile, kbd };
}

async function enroll(cfgFile: string, data: string, kbd: string): Promise<{ summary: EnrollSummary; stderr: string }> {
  const r = await runCli(['enroll', '--config', cfgFile, '--data-dir', data, '--user', 'alice', '--actions', '0', '--device', kbd]);
  expect(r.code, r.stderr).toBe(0);
  return { summary: JSON.parse(r.stdout) as EnrollSummary, stderr: r.stderr };
}

const daemonOn = (data: string, cfgFile: string): Promise<DaemonProcess> => startBiometricsDaemon(data, cfgFile, cleanups);

describe('keystroke embedding fallbacks (daemon + sentinel enroll)', () => {
  it('enrolls and scores classically without the shipped embedder, and combines both once it is installed', async () => {
    const { dir, data, input, cfgFile, kbd } = setUp((d) => {
      const models = path.join(d, 'models');
      cpSync(path.join(ROOT, 'models'), models, { recursive: true });
      rmSync(path.join(models, 'keystroke-embed'), { recursive: true });
      return { modelsDir: models, biometrics: { inputDir: path.join(d, 'input'), lockCommand: ['/bin/true'], ...NO_SEAT } };
    });
    const first = await enroll(cfgFile, data, kbd);
    expect(first.summary.keystroke?.embedding).toBe(false);
    expect(first.summary.keystroke?.embeddingOff).toMatch(/SENTINEL_E_CONFIG: cannot read model manifest .*keystroke-embed/);
    expect(first.stderr).toMatch(/keystrokes enrolled without the learned embedding/);

    let d = await daemonOn(data, cfgFile);
    const off = d.logs.find((l) => l['event.action'] === 'keystroke_embedding_off');
    expect(off?.['error.code']).toBe('SENTINEL_E_CONFIG');
    await plugFifoDevice(d, input, 'event0', encodeInputEvents(keyEvents(typedKeystrokes(1, 300, 900_000_000, 5, 41))));
    let st = (await d.http<Status>('GET', '/v1/status')).body.biometrics;
    expect(st.keystrokeScoring.method).toBe('fused');
    expect(st.keystrokeScoring.reason).toMatch(/^keystroke embedding off: SENTINEL_E_CONFIG/);
    expect(st.windowsScored).toBeGreaterThanOrEqual(8);
    const text = await runCli(['status', '--data-dir', data]);
    expect(text.stdout).toMatch(/^keystrokes {2}fused \(keystroke embedding off: SENTINEL_E_CONFIG/m);
    expect(await d.stop()).toBe(0);

    // The embedder installed, the user enrolled again: a restarted daemon uses it.
    cpSync(path.join(ROOT, 'models', 'keystroke-embed'), path.join(dir, 'models', 'keystroke-embed'), { recursive: true });
    expect((await enroll(cfgFile, data, kbd)).summary.keystroke).toMatchObject({ embedding: true, embeddingOff: null });
    d = await daemonOn(data, cfgFile);
    await plugFifoDevice(d, input, 'event1', encodeInputEvents(keyEvents(typedKeystrokes(1, 300, 900_000_000, 5, 41))));
    st = (await d.http<Status>('GET', '/v1/status')).body.biometrics;
    expect(st.keystrokeScoring).toMatchObject({ method: 'fused+embedding', reason: null, embeddingFailures: 0 });
    expect(st.windowsScored).toBeGreaterThanOrEqual(8);
    expect(st.state).toBe('Normal');
  });

  it('scores a profile enrolled with the embedding off classically, and says how to get it', async () => {
    const { data, input, cfgFile, kbd } = setUp((d) => ({ biometrics: { inputDir: path.join(d, 'input'), lockCommand: ['/bin/true'], keystrokeEmbedding: false, ...NO_SEAT } }));
    const e = await enroll(cfgFile, data, kbd);
    expect(e.summary.keystroke).toMatchObject({ embedding: false, embeddingOff: 'biometrics.keystrokeEmbedding is false' });
    // The daemon with the embedding on (the default) finds no reference in this profile.
    const onCfg = path.join(path.dirname(cfgFile), 'on.json');
    writeFileSync(onCfg, JSON.stringify({ biometrics: { inputDir: input, lockCommand: ['/bin/true'], ...NO_SEAT } }));
    const d = await daemonOn(data, onCfg);
    await plugFifoDevice(d, input, 'event0', encodeInputEvents(keyEvents(typedKeystrokes(1, 300, 900_000_000, 5, 41))));
    const st = (await d.http<Status>('GET', '/v1/status')).body.biometrics;
    expect(st.keystrokeScoring.method).toBe('fused');
    expect(st.keystrokeScoring.reason).toMatch(/no embedding reference .*run sentinel enroll again/);
    expect(st.windowsScored).toBeGreaterThanOrEqual(8);
  });
});
