/**
 * The per-user app-transition model (native/x11/app_model.cc) through the addon and
 * src/biometrics/app-source.ts AppModel: a user with a fixed routine scores higher than the
 * same visits in shuffled order, the hour of day matters, the calibrated threshold accepts
 * held-out genuine windows and rejects shuffled ones, and a truncated, wrong-version or
 * otherwise corrupted buffer is rejected. Fixtures come from a seeded generator (no I/O).
 */
import { describe, expect, it } from 'vitest';
import { addon } from '../../src/binding.js';
import { AppModel, type AppChangeBatch } from '../../src/biometrics/app-source.js';
import { SentinelError } from '../../src/errors.js';

const A = addon();

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Six apps (ids as the watcher would give them: arbitrary 64-bit keyed hashes).
const APPS = [0x9e3779b97f4a7c15n, 0x243f6a8885a308d3n, 0x13198a2e03707344n, 0xa4093822299f31d0n, 0x082efa98ec4e6c89n, 0x452821e638d01377n];
// The user's routine: from each app, mostly one or two next apps; the morning (before 12) and the
// afternoon differ for app 0. Typical dwell (median seconds) per app.
const NEXT_AM: number[][] = [[1, 1, 1, 2], [0, 0, 3], [3, 3, 0], [4, 0, 0], [5, 2], [0, 0, 1]];
const NEXT_PM: number[][] = [[4, 4, 4, 5], [0, 0, 3], [3, 3, 0], [4, 0, 0], [5, 2], [0, 0, 1]];
const DWELL_S = [40, 300, 90, 600, 20, 150];

interface Visit {
  t: number;
  app: number;
  hour: number;
}

/** `days` working days 9:00–17:00 of the routine, 5% random switches, log-normal dwell. */
function routine(seed: number, days: number): Visit[] {
  const rnd = mulberry32(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  const out: Visit[] = [];
  for (let d = 0; d < days; d++) {
    let t = (d * 24 + 9) * 3600;
    let app = 0;
    while (t < (d * 24 + 17) * 3600) {
      const hour = Math.floor(t / 3600) % 24;
      out.push({ t: t * 1e6, app, hour });
      t += DWELL_S[app]! * Math.exp(0.4 * gauss());
      const table = hour < 12 ? NEXT_AM : NEXT_PM;
      let next = rnd() < 0.05 ? Math.floor(rnd() * APPS.length) : table[app]![Math.floor(rnd() * table[app]!.length)]!;
      if (next === app) next = (app + 1) % APPS.length;
      app = next;
    }
  }
  return out;
}

/** The same visits (apps, dwell times, hours) with the order of apps shuffled. */
function shuffled(v: Visit[], seed: number): Visit[] {
  const rnd = mulberry32(seed);
  const apps = v.map((x) => x.app);
  for (let i = apps.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [apps[i], apps[j]] = [apps[j]!, apps[i]!];
  }
  return v.map((x, i) => ({ ...x, app: apps[i]! }));
}

function batch(v: Visit[]): AppChangeBatch {
  return {
    t: Float64Array.from(v, (x) => x.t),
    ids: BigUint64Array.from(v, (x) => APPS[x.app]!),
    hours: Uint8Array.from(v, (x) => x.hour),
  };
}

/** Windows of `n` consecutive visits. */
function windows(v: Visit[], n: number): Visit[][] {
  const out: Visit[][] = [];
  for (let i = 0; i + n <= v.length; i += n) out.push(v.slice(i, i + n));
  return out;
}

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof SentinelError ? e.code : `not a SentinelError: ${String(e)}`;
  }
  return undefined;
}

describe('app-transition model', () => {
  const enrollVisits = routine(1, 10);
  const model = AppModel.enroll(batch(enrollVisits), { windowTransitions: 20, frr: 0.05 });
  const heldOut = routine(2, 3);

  it('enrolls counts and a calibrated threshold', () => {
    expect(model.info.version).toBe(1);
    expect(model.info.vocabulary).toBe(APPS.length + 1);
    expect(model.info.transitions).toBeGreaterThan(500);
    expect(model.info.calibrationWindows).toBe(Math.floor(model.info.transitions / 20));
    expect(Number.isFinite(model.info.threshold)).toBe(true);
  });

  it('scores the user’s routine higher than the same visits shuffled', () => {
    const genuine = windows(heldOut, 21).map((w) => model.score(batch(w)).score);
    const shuffledScores = windows(shuffled(heldOut, 3), 21).map((w) => model.score(batch(w)).score);
    expect(genuine.every(Number.isFinite)).toBe(true);
    expect(mean(genuine)).toBeGreaterThan(mean(shuffledScores) + 1);
    const thr = model.info.threshold;
    const accept = (xs: number[]): number => xs.filter((x) => x >= thr).length / xs.length;
    // Threshold set for 5% false rejects on leave-one-window-out enrollment windows.
    expect(accept(genuine)).toBeGreaterThanOrEqual(0.85);
    expect(accept(shuffledScores)).toBeLessThanOrEqual(0.1);
  });

  it('uses the hour of day', () => {
    // App 0 is followed by app 1 in the morning and app 4 in the afternoon.
    const at = (hour: number, a: number, b: number): AppChangeBatch =>
      batch([
        { t: 0, app: a, hour },
        { t: DWELL_S[a]! * 1e6, app: b, hour },
      ]);
    expect(model.score(at(10, 0, 1)).score).toBeGreaterThan(model.score(at(15, 0, 1)).score);
    expect(model.score(at(15, 0, 4)).score).toBeGreaterThan(model.score(at(10, 0, 4)).score);
  });

  it('has no score without a transition and ignores gaps longer than maxGapS', () => {
    const one = model.score(batch([{ t: 0, app: 0, hour: 9 }]));
    expect(one.transitions).toBe(0);
    expect(Number.isNaN(one.score)).toBe(true);
    const gap = model.score(batch([{ t: 0, app: 0, hour: 9 }, { t: 3 * 3600e6, app: 1, hour: 12 }]));
    expect(gap.transitions).toBe(0);
  });

  it('round-trips through its bytes', () => {
    const again = AppModel.fromBytes(new Uint8Array(model.bytes));
    expect(again.info).toEqual(model.info);
    const w = batch(heldOut.slice(0, 40));
    expect(again.score(w)).toEqual(model.score(w));
  });

  it('rejects truncated, wrong-version and corrupted buffers', () => {
    const b = model.bytes;
    for (const n of [0, 3, 4, 8, 40, Math.floor(b.length / 2), b.length - 1]) {
      expect(codeOf(() => AppModel.fromBytes(b.slice(0, n)))).toBe('SENTINEL_E_BIO_PROFILE');
    }
    const version = new Uint8Array(b);
    version[4] = 2;
    expect(codeOf(() => AppModel.fromBytes(version))).toBe('SENTINEL_E_BIO_PROFILE');
    expect(() => A.appModelInfo(version)).toThrow(/unsupported version/);
    const magic = new Uint8Array(b);
    magic[0] = 0x58;
    expect(() => A.appModelInfo(magic)).toThrow(/bad magic/);
    const trailing = new Uint8Array(b.length + 1);
    trailing.set(b);
    expect(() => A.appModelInfo(trailing)).toThrow(/trailing/);
    // The first pair count (offset of the first pair table entry's count) set to 0.
    const header = 4 + 4 + 4 + 8 * 3 + 4 + 8 + 8 * 3 + 4;
    const zero = new Uint8Array(b);
    zero.fill(0, header + 16, header + 20);
    expect(() => A.appModelInfo(zero)).toThrow(/bad pair entry/);
    expect(() => A.appModelScore(version, new Float64Array(0), new BigUint64Array(0), new Uint8Array(0))).toThrow(/unsupported version/);
  });

  it('refuses an enrollment without transitions or with bad hours or times', () => {
    expect(codeOf(() => AppModel.enroll(batch([{ t: 0, app: 0, hour: 9 }])))).toBe('SENTINEL_E_BIO_ENROLL');
    expect(codeOf(() => AppModel.enroll(batch([{ t: 0, app: 0, hour: 9 }, { t: 1e6, app: 1, hour: 24 }])))).toBe('SENTINEL_E_BIO_ENROLL');
    expect(codeOf(() => AppModel.enroll(batch([{ t: 5e6, app: 0, hour: 9 }, { t: 1e6, app: 1, hour: 9 }])))).toBe('SENTINEL_E_BIO_ENROLL');
    expect(() => A.appModelEnroll(new Float64Array(2), new BigUint64Array(1), new Uint8Array(2))).toThrow(RangeError);
    expect(() => A.appModelEnroll(new Float64Array(2), new Float64Array(2) as unknown as BigUint64Array, new Uint8Array(2))).toThrow(TypeError);
  });
});
