// The user-session subject: modality EMA in log-odds, silent modalities leaving the fusion, the
// trust machine's confirmations, and the profile file's refusals (truncated, tampered, wrong
// version, other host key).
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SessionMonitor } from '../../src/biometrics/session-monitor.js';
import { impostorProbability } from '../../src/biometrics/keystroke-model.js';
import { loadProfile, saveProfile, type BioProfile } from '../../src/biometrics/profile-file.js';
import { catchError } from '../support/catch-error.js';
import { cleanupStack } from '../support/cleanups.js';

const cleanups = cleanupStack();

describe('SessionMonitor', () => {
  it('smooths each modality in log-odds and fuses the live ones', () => {
    const m = new SessionMonitor({ subjectId: 7, emaAlpha: 0.5 });
    m.observe('keystroke', 0.9, 0);
    expect(m.score).toBeCloseTo(0.9, 6);
    m.observe('keystroke', 0.1, 1);
    // EMA of logit(0.9) and logit(0.1) with alpha 0.5 is 0.5 logit(0.1) + 0.5 logit(0.9) = 0.
    expect(m.score).toBeCloseTo(0.5, 6);
    m.observe('mouse', 0.1, 2); // mouse logit(0.1); fused = mean(0, logit 0.1)
    expect(m.score).toBeCloseTo(1 / (1 + Math.exp(-Math.log(0.1 / 0.9) / 2)), 6);
  });

  it('weights each modality in the fused log-odds; weight 0 leaves one out', () => {
    const m = new SessionMonitor({ subjectId: 7, emaAlpha: 1, weights: { mouseCohort: 3 } });
    m.observeAll([['mouse', 0.9], ['mouseCohort', 0.2]], 0);
    const l = (p: number) => Math.log(p / (1 - p));
    expect(m.score).toBeCloseTo(1 / (1 + Math.exp(-(l(0.9) + 3 * l(0.2)) / 4)), 6);
    const off = new SessionMonitor({ subjectId: 7, emaAlpha: 1, weights: { mouseCohort: 0 } });
    off.observeAll([['mouse', 0.9], ['mouseCohort', 0.2]], 0);
    expect(off.score).toBeCloseTo(0.9, 6);
    expect(catchError(() => new SessionMonitor({ subjectId: 1, weights: { mouse: -1 } })).code).toBe('SENTINEL_E_CONFIG');
    const none = { keystroke: 0, mouse: 0, mouseCohort: 0, app: 0 };
    const err = catchError(() => new SessionMonitor({ subjectId: 1, weights: none }));
    expect(err.code).toBe('SENTINEL_E_CONFIG');
    expect(err.message).toMatch(/at least one modality weight/);
    // One weight above 0 is enough.
    expect(() => new SessionMonitor({ subjectId: 1, weights: { ...none, app: 0.1 } })).not.toThrow();
  });

  it('drops a silent modality from the fusion', () => {
    const m = new SessionMonitor({ subjectId: 1, silentAfterMs: 1000, emaAlpha: 1 });
    m.observe('mouse', 0.99, 0);
    m.observe('keystroke', 0.01, 500);
    expect(m.score).toBeCloseTo(0.5, 6); // both live: logits cancel
    m.observe('keystroke', 0.01, 1500); // mouse silent for 1500 ms > 1000
    expect(m.score).toBeCloseTo(0.01, 6);
    const st = m.status(1500);
    expect(st.find((s) => s.modality === 'mouse')?.live).toBe(false);
    expect(st.find((s) => s.modality === 'keystroke')?.live).toBe(true);
  });

  it('escalates only after the policy confirmations and resets on operator request', () => {
    const m = new SessionMonitor({ subjectId: 3, emaAlpha: 1, policy: { confirmations: [1, 2, 3] } });
    // 0.8 is above enter[1] (0.75) but below enter[2] (0.92): Monitoring, then Restricted.
    const seen = [0.8, 0.8, 0.8].map((p, i) => m.observe('keystroke', p, i)?.to ?? null);
    expect(seen).toEqual([1, 2, null]);
    expect(m.state).toBe(2);
    expect(m.reset(10, 'op')?.to).toBe(0); // from Restricted
    expect(m.score).toBe(0);
    expect(m.status(10).every((s) => s.smoothed === null)).toBe(true);
  });

  it('starts a modality from emaStart and smooths each modality with its own alpha', () => {
    const m = new SessionMonitor({ subjectId: 2, emaAlpha: { mouse: 0.5 }, emaStart: { mouse: 0.2 } });
    // 0.5 logit(0.9) + 0.5 logit(0.2) = 0.5 ln 9 + 0.5 ln 0.25 = ln 1.5: p = 1.5 / 2.5.
    m.observe('mouse', 0.9, 0);
    expect(m.score).toBeCloseTo(0.6, 9);
    m.reset(1, 'op');
    m.observe('mouse', 0.9, 2); // after a reset it starts from emaStart again
    expect(m.score).toBeCloseTo(0.6, 9);
    // keystroke: no start (its first score), and the default alpha 0.5 on the next one
    const k = new SessionMonitor({ subjectId: 2, emaAlpha: { mouse: 0.1 }, emaStart: { mouse: 0.2 } });
    k.observe('keystroke', 0.9, 0);
    expect(k.score).toBeCloseTo(0.9, 9);
    k.observe('keystroke', 0.1, 1);
    expect(k.score).toBeCloseTo(0.5, 9);
    // mouse alone with alpha 0.1 from 0.2: 0.1 logit(0.9) + 0.9 logit(0.2)
    const mo = new SessionMonitor({ subjectId: 2, emaAlpha: { mouse: 0.1 }, emaStart: 0.2 });
    mo.observe('mouse', 0.9, 0);
    expect(mo.score).toBeCloseTo(1 / (1 + Math.exp(-(0.1 * Math.log(9) + 0.9 * Math.log(0.25)))), 9);
  });

  it('counts two models of the same actions as one observation toward the confirmations', () => {
    const policy = { confirmations: [1, 2, 3] as [number, number, number] };
    // One by one, mouse then mouseCohort: each is an observation, so one block of 0.8 (over
    // enter[1] 0.75) already reaches Restricted (2 confirmations).
    const apart = new SessionMonitor({ subjectId: 4, emaAlpha: 1, policy });
    apart.observe('mouse', 0.8, 0);
    apart.observe('mouseCohort', 0.8, 0);
    expect(apart.state).toBe(2);
    // Together: one observation per block: Monitoring, then Restricted at the second block.
    const together = new SessionMonitor({ subjectId: 4, emaAlpha: 1, policy });
    const seen = [0, 1].map((i) => together.observeAll([['mouse', 0.8], ['mouseCohort', 0.8]], i)?.to ?? null);
    expect(seen).toEqual([1, 2]);
    // Both averages took their score: with equal weights the fused score is their mean log-odds.
    const mixed = new SessionMonitor({ subjectId: 4, emaAlpha: 1, weights: { mouseCohort: 1 } });
    mixed.observeAll([['mouse', 0.9], ['mouseCohort', 0.1]], 0);
    expect(mixed.score).toBeCloseTo(0.5, 9);
    expect(mixed.status(0).filter((s) => s.scores === 1).map((s) => s.modality)).toEqual(['mouse', 'mouseCohort']);
    // A bad score anywhere in the list changes nothing.
    const before = mixed.status(0);
    expect(catchError(() => mixed.observeAll([['mouse', 0.2], ['mouseCohort', 2]], 1)).code).toBe('SENTINEL_E_INVALID_ARGUMENT');
    expect(catchError(() => mixed.observeAll([['mouse', 0.2], ['mouse', 0.3]], 1)).code).toBe('SENTINEL_E_INVALID_ARGUMENT');
    expect(mixed.status(0)).toEqual(before);
    expect(mixed.observeAll([], 2)).toBeNull();
  });

  it('refuses scores outside [0, 1] and bad options', () => {
    const m = new SessionMonitor({ subjectId: 1 });
    expect(catchError(() => m.observe('keystroke', 1.5, 0)).code).toBe('SENTINEL_E_INVALID_ARGUMENT');
    expect(catchError(() => m.observe('keystroke', Number.NaN, 0)).code).toBe('SENTINEL_E_INVALID_ARGUMENT');
    expect(catchError(() => new SessionMonitor({ subjectId: 1, emaAlpha: 0 })).code).toBe('SENTINEL_E_CONFIG');
    expect(catchError(() => new SessionMonitor({ subjectId: 1, emaAlpha: { mouse: 1.5 } })).code).toBe('SENTINEL_E_CONFIG');
    expect(catchError(() => new SessionMonitor({ subjectId: 1, emaStart: 1 })).code).toBe('SENTINEL_E_CONFIG');
    expect(catchError(() => new SessionMonitor({ subjectId: 1, emaStart: { app: 0 } })).code).toBe('SENTINEL_E_CONFIG');
  });
});

describe('impostorProbability', () => {
  it('is 0.5 at the threshold and rises below it by genuine sd', () => {
    expect(impostorProbability(-1, -1, 0.5)).toBeCloseTo(0.5, 9);
    expect(impostorProbability(-1.5, -1, 0.5)).toBeCloseTo(1 / (1 + Math.exp(-2)), 9);
    expect(impostorProbability(0, -1, 0.5)).toBeLessThan(0.05);
  });
});

describe('profile file', () => {
  const profile = (): BioProfile => ({
    user: 'alice',
    createdMs: 1,
    keySha256: 'a'.repeat(64),
    keystroke: { bytes: new Uint8Array([1, 2, 3, 4]), samples: 600, window: 100, frr: 0.05 },
  });
  const file = (): string => {
    const d = mkdtempSync(path.join(tmpdir(), 'sentinel-profile-'));
    cleanups.push(() => rmSync(d, { recursive: true, force: true }));
    return path.join(d, 'p', 'user.json');
  };

  it('round-trips with mode 0600', () => {
    const f = file();
    saveProfile(f, profile());
    expect(statSync(f).mode & 0o777).toBe(0o600);
    const p = loadProfile(f, 'a'.repeat(64));
    expect(Array.from(p.keystroke?.bytes ?? [])).toEqual([1, 2, 3, 4]);
    expect(p.user).toBe('alice');
  });

  it('refuses truncated, tampered, unknown-version and other-key profiles', () => {
    const f = file();
    saveProfile(f, profile());
    const text = readFileSync(f, 'utf8');
    const key = 'a'.repeat(64);
    writeFileSync(f, text.slice(0, text.length / 2));
    expect(catchError(() => loadProfile(f, key)).message).toMatch(/not valid JSON/);
    const j = JSON.parse(text) as { version: number; keystroke: { data: string } };
    writeFileSync(f, JSON.stringify({ ...j, version: 99 }));
    expect(catchError(() => loadProfile(f, key)).message).toMatch(/version 99 is not supported/);
    writeFileSync(f, JSON.stringify({ ...j, keystroke: { ...j.keystroke, data: Buffer.from([9, 9]).toString('base64') } }));
    expect(catchError(() => loadProfile(f, key)).message).toMatch(/does not match its sha256/);
    writeFileSync(f, text);
    const other = catchError(() => loadProfile(f, 'b'.repeat(64)));
    expect(other.code).toBe('SENTINEL_E_BIO_PROFILE');
    expect(other.message).toMatch(/another host key/);
  });

  it("keeps the mouse modality's enrolled pointer devices, and refuses a malformed list", () => {
    const f = file();
    const key = 'a'.repeat(64);
    const mouse = { bytes: new Uint8Array([5, 6]), samples: 200, window: 20, frr: 0.05, threshold: -1, genuineSd: 0.5 };
    saveProfile(f, { ...profile(), mouse: { ...mouse, devices: ['0003:046d:c077 Logitech USB Optical Mouse', 'file:event-mouse'] } });
    expect(loadProfile(f, key).mouse?.devices).toEqual(['0003:046d:c077 Logitech USB Optical Mouse', 'file:event-mouse']);
    // Written before devices were recorded: no list, and every device is scored.
    saveProfile(f, { ...profile(), mouse });
    const text = readFileSync(f, 'utf8');
    expect(text).not.toContain('devices');
    expect(loadProfile(f, key).mouse?.devices).toBeUndefined();
    const j = JSON.parse(text) as { mouse: Record<string, unknown> };
    for (const devices of ['file:event-mouse', [], [''], ['file:a', 3], [null], { 0: 'file:a' }]) {
      writeFileSync(f, JSON.stringify({ ...j, mouse: { ...j.mouse, devices } }));
      const err = catchError(() => loadProfile(f, key));
      expect(err.code, JSON.stringify(devices)).toBe('SENTINEL_E_BIO_PROFILE');
      expect(err.message).toMatch(/mouse\.devices must be a non-empty array of non-empty strings/);
    }
  });

  it('keeps the classical weights a keystroke profile was calibrated under, and refuses a malformed sha256', () => {
    const f = file();
    const key = 'a'.repeat(64);
    const base = profile();
    saveProfile(f, { ...base, keystroke: { ...base.keystroke!, classicalSha256: 'd'.repeat(64) } });
    expect(loadProfile(f, key).keystroke?.classicalSha256).toBe('d'.repeat(64));
    const j = JSON.parse(readFileSync(f, 'utf8')) as { keystroke: Record<string, unknown> };
    for (const classicalSha256 of ['D'.repeat(64), 'd'.repeat(63), 7, null]) {
      writeFileSync(f, JSON.stringify({ ...j, keystroke: { ...j.keystroke, classicalSha256 } }));
      const err = catchError(() => loadProfile(f, key));
      expect(err.code, JSON.stringify(classicalSha256)).toBe('SENTINEL_E_BIO_PROFILE');
      expect(err.message).toMatch(/keystroke\.classicalSha256 must be 64 lowercase hex digits/);
    }
    // Written before the weights were a model: none recorded.
    saveProfile(f, base);
    expect(readFileSync(f, 'utf8')).not.toContain('classicalSha256');
    expect(loadProfile(f, key).keystroke?.classicalSha256).toBeUndefined();
  });

  it("keeps the keystroke embedding reference, and refuses a malformed one", () => {
    const f = file();
    const key = 'a'.repeat(64);
    const reference = Array.from({ length: 64 }, (_, i) => Math.sin(i) / 8);
    const base = profile();
    saveProfile(f, { ...base, keystroke: { ...base.keystroke!, embedding: { modelSha256: 'c'.repeat(64), reference } } });
    expect(loadProfile(f, key).keystroke?.embedding).toEqual({ modelSha256: 'c'.repeat(64), reference });
    const j = JSON.parse(readFileSync(f, 'utf8')) as { keystroke: Record<string, unknown> };
    const bad = [
      { modelSha256: 'C'.repeat(64), reference },
      { modelSha256: 'c'.repeat(64), reference: reference.slice(1) },
      { modelSha256: 'c'.repeat(64), reference: [...reference.slice(1), 'x'] },
      { reference },
      null,
      [1, 2],
    ];
    for (const embedding of bad) {
      writeFileSync(f, JSON.stringify({ ...j, keystroke: { ...j.keystroke, embedding } }));
      const err = catchError(() => loadProfile(f, key));
      expect(err.code, JSON.stringify(embedding)).toBe('SENTINEL_E_BIO_PROFILE');
      expect(err.message).toMatch(/keystroke\.embedding/);
    }
    // A profile from before the embedding: none, and it loads.
    saveProfile(f, base);
    expect(loadProfile(f, key).keystroke?.embedding).toBeUndefined();
  });
});
