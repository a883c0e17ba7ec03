// The classical keystroke weights as a shipped model (models/keystroke-classical), with the real
// daemon and CLI: `sentinel enroll` records the weights file's sha256 in the profile, and the
// daemon scores the profile under those weights. Under shipped weights that are not the
// profile's (another release's), the daemon recalibrates the profile in memory and says so (a
// threshold calibrated under other weights would misread every window), scoring classically
// because models/keystroke-fusion was fit on the old score; enrolling again records the new
// weights. A profile from before the weights were a model (no sha256) is scored under fused-v1;
// a weights file that does not match its manifest turns keystrokes off with SENTINEL_E_CONFIG,
// the reason in /v1/status and `sentinel status`.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli, startBiometricsDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { plugFifoDevice } from '../support/fifo-device.js';
import { encodeInputEvents, keyEvents, typedKeystrokes } from '../support/input-events.js';
import { cleanupStack } from '../support/cleanups.js';
import { bioWorkspace } from '../support/bio-workspace.js';
import type { ProfileJson } from '../../src/biometrics/profile-file.js';
import type { KeystrokeScoringStatus } from '../../daemon/biometrics.js';

interface Status {
  biometrics: { on: boolean; windowsScored: number; state: string; keystrokeScoring: KeystrokeScoringStatus };
}

interface EnrollSummary {
  keystroke: { classical: string | null } | null;
}

const cleanups = cleanupStack();

/** A workspace with its own copy of the shipped models (whose weights a test may change). */
function setUp(): { data: string; input: string; cfgFile: string; classicalDir: string; profile: string; enroll: () => Promise<EnrollSummary> } {
  const models = mkdtempSync(path.join(os.tmpdir(), 'sentinel-ksclassical-models-'));
  cleanups.push(() => rmSync(models, { recursive: true, force: true }));
  cpSync(path.join(ROOT, 'models'), models, { recursive: true });
  const t = bioWorkspace('sentinel-ksclassical-e2e-', { lockCommand: ['/bin/true'] }, { modelsDir: models });
  cleanups.push(() => t.done());
  const kbd = t.rec('enroll-kbd', encodeInputEvents(keyEvents(typedKeystrokes(1, 600, 1_000_000, 11))));
  const enroll = async (): Promise<EnrollSummary> => {
    const r = await t.enroll(['--user', 'alice', '--actions', '0', '--device', kbd]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as EnrollSummary;
  };
  return { data: t.data, input: t.input, cfgFile: t.cfgFile, classicalDir: path.join(models, 'keystroke-classical'), profile: t.profile('alice'), enroll };
}

const daemonOn = (data: string, cfgFile: string): Promise<DaemonProcess> => startBiometricsDaemon(data, cfgFile, cleanups);

/** The daemon's Prometheus text. */
async function metrics(d: DaemonProcess): Promise<string> {
  return fetch(`http://127.0.0.1:${d.httpPort}/metrics`, { headers: { authorization: `Bearer ${d.token}` } }).then((r) => r.text());
}

/** Alice types 300 keystrokes on a new keyboard; resolves with the status after the batch. */
async function typeAndStatus(d: DaemonProcess, input: string, device: string): Promise<Status['biometrics']> {
  await plugFifoDevice(d, input, device, encodeInputEvents(keyEvents(typedKeystrokes(1, 300, 900_000_000, 5, 41))));
  return (await d.http<Status>('GET', '/v1/status')).body.biometrics;
}

/** Writes other weights (version `version`) into the models copy, manifest sha256 updated. */
function installWeights(dir: string, version: string, weights: number[]): string {
  const file = JSON.stringify({ version, components: ['rpp', 'app', 'ahold', 'arp', 'sm'], weights, globalThreshold: -3, window: 100 });
  writeFileSync(path.join(dir, 'weights.json'), file);
  const sha = createHash('sha256').update(file).digest('hex');
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ ...manifest, version, sha256: sha }));
  return sha;
}

describe('classical keystroke weights as a model (daemon + sentinel enroll)', () => {
  it('records the weights in the profile, recalibrates it under other weights, and records those once re-enrolled', async () => {
    const { data, input, cfgFile, classicalDir, profile, enroll } = setUp();
    expect((await enroll()).keystroke?.classical).toBe('keystroke-fused-v1');
    const shipped = (JSON.parse(readFileSync(path.join(classicalDir, 'manifest.json'), 'utf8')) as { sha256: string }).sha256;
    expect((JSON.parse(readFileSync(profile, 'utf8')) as ProfileJson).keystroke?.classicalSha256).toBe(shipped);
    let d = await daemonOn(data, cfgFile);
    let st = await typeAndStatus(d, input, 'event0');
    expect(st.keystrokeScoring).toMatchObject({ method: 'fused+embedding', classical: 'keystroke-fused-v1', recalibrated: false, off: null });
    expect(st.windowsScored).toBeGreaterThanOrEqual(8);
    expect(await d.stop()).toBe(0);

    // Another release's weights: the profile's threshold does not belong to them, so the
    // daemon recalibrates it, and scores classically (the embedding's fusion was fit on fused-v1).
    const other = installWeights(classicalDir, 'keystroke-fused-test', [1, 1, 0.5, 0.5, 0.1]);
    const fusionWhy = 'models/keystroke-fusion was fit on the classical score keystroke-fused-v1, but keystroke-fused-test is loaded';
    d = await daemonOn(data, cfgFile);
    expect(d.logs.find((l) => l['event.action'] === 'keystroke_recalibrated')).toMatchObject({ classical: 'keystroke-fused-test', classicalSha256: other, profileClassicalSha256: shipped });
    st = await typeAndStatus(d, input, 'event1');
    expect(st.keystrokeScoring).toMatchObject({ method: 'fused', classical: 'keystroke-fused-test', recalibrated: true, off: null, reason: fusionWhy });
    expect(st.windowsScored).toBeGreaterThanOrEqual(8);
    expect(st.state).toBe('Normal');
    expect((await runCli(['status', '--data-dir', data])).stdout).toMatch(/^keystrokes {2}fused \(models\/keystroke-fusion was fit .*\); profile recalibrated under keystroke-fused-test$/m);
    const m = await metrics(d);
    expect(m).toMatch(/^sentinel_session_keystroke_recalibrated 1$/m);
    expect(m).toMatch(/^sentinel_session_keystroke_off 0$/m);
    expect(await d.stop()).toBe(0);
    // The profile on disk is untouched.
    expect((JSON.parse(readFileSync(profile, 'utf8')) as ProfileJson).keystroke?.classicalSha256).toBe(shipped);

    // Enrolled again under them: recorded, nothing to recalibrate.
    expect((await enroll()).keystroke?.classical).toBe('keystroke-fused-test');
    expect((JSON.parse(readFileSync(profile, 'utf8')) as ProfileJson).keystroke?.classicalSha256).toBe(other);
    d = await daemonOn(data, cfgFile);
    st = await typeAndStatus(d, input, 'event2');
    expect(st.keystrokeScoring).toMatchObject({ method: 'fused', classical: 'keystroke-fused-test', recalibrated: false, off: null, reason: fusionWhy });
    expect(st.windowsScored).toBeGreaterThanOrEqual(8);
    expect(d.logs.some((l) => l['event.action'] === 'keystroke_recalibrated')).toBe(false);
  });

  it('scores a profile that records no weights under fused-v1, and turns keystrokes off for a weights file that fails its manifest', async () => {
    const { data, input, cfgFile, classicalDir, profile, enroll } = setUp();
    await enroll();
    // As written before the weights were a model.
    const p = JSON.parse(readFileSync(profile, 'utf8')) as ProfileJson;
    delete p.keystroke?.classicalSha256;
    writeFileSync(profile, JSON.stringify(p));
    let d = await daemonOn(data, cfgFile);
    let st = await typeAndStatus(d, input, 'event0');
    expect(st.keystrokeScoring).toMatchObject({ method: 'fused+embedding', classical: 'keystroke-fused-v1', recalibrated: false, off: null });
    expect(st.windowsScored).toBeGreaterThanOrEqual(8);
    expect(await metrics(d)).toMatch(/^sentinel_session_keystroke_off 0$/m);
    expect(await d.stop()).toBe(0);

    // The weights altered behind the manifest's back.
    const w = path.join(classicalDir, 'weights.json');
    writeFileSync(w, readFileSync(w, 'utf8').replace('0.386', '0.387'));
    d = await daemonOn(data, cfgFile);
    expect(d.logs.find((l) => l['event.action'] === 'keystroke_modality_off')?.['error.code']).toBe('SENTINEL_E_CONFIG');
    st = await typeAndStatus(d, input, 'event1');
    expect(st.windowsScored).toBe(0);
    expect(st.keystrokeScoring).toMatchObject({ method: null, classical: null });
    expect(st.keystrokeScoring.off).toMatch(/^keystrokes not scored: SENTINEL_E_CONFIG: model file .*weights\.json has sha256 [0-9a-f]{64}, but its manifest says/);
    const text = await runCli(['status', '--data-dir', data]);
    expect(text.stdout).toMatch(/^keystrokes {2}off \(keystrokes not scored: SENTINEL_E_CONFIG: model file /m);
    const m = await metrics(d);
    expect(m).toMatch(/^sentinel_session_keystroke_off 1$/m);
    expect(m).toMatch(/^sentinel_session_keystroke_recalibrated 0$/m);
  });
});
