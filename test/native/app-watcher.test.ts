/**
 * The X11 active-application watcher (native/x11/app_watcher.cc, src/biometrics/app-source.ts)
 * against a real X server: Xvfb, the openbox window manager (EWMH, publishes
 * _NET_ACTIVE_WINDOW), real xterm windows with distinct WM_CLASS classes, focus switched with
 * `xdotool windowactivate --sync`. Also: no display and no EWMH window manager turn the
 * modality off with a reason; the X server killed mid-run ends the source, counted, no crash.
 *
 * Synchronisation is on events only: Xvfb reports its display on -displayfd when it accepts
 * connections, openbox runs its --startup command once _NET_SUPPORTED is published, `xdotool
 * search --sync` returns once a window exists, and the watcher's own batches are awaited.
 * Needs Xvfb, openbox, xterm and xdotool (scripts/setup.sh installs them); skipped without them.
 */
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addon } from '../../src/binding.js';
import { AppSource, NO_APP, type AppChangeBatch } from '../../src/biometrics/app-source.js';
import { SentinelError } from '../../src/errors.js';
import { haveX11Tools, X11Fixture } from '../support/x11.js';

const A = addon();
const x11 = new X11Fixture();
const cleanups: (() => void)[] = [];
afterEach(async () => {
  await x11.killAll();
  while (cleanups.length) {
    try {
      cleanups.pop()!();
    } catch {
      // keep cleaning
    }
  }
});

/** Consumes a started source into `events`; `until(pred)` resolves when the events satisfy pred. */
function collector(src: AppSource): {
  events: { t: number; id: bigint; hour: number }[];
  batches: AppChangeBatch[];
  until: (pred: () => boolean) => Promise<void>;
  done: Promise<void>;
} {
  const events: { t: number; id: bigint; hour: number }[] = [];
  const batches: AppChangeBatch[] = [];
  const waiters: { pred: () => boolean; resolve: () => void }[] = [];
  const check = (): void => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.pred()) waiters.splice(i, 1)[0]!.resolve();
    }
  };
  const done = (async () => {
    for await (const b of src) {
      batches.push(b);
      for (let i = 0; i < b.t.length; i++) events.push({ t: b.t[i]!, id: b.ids[i]!, hour: b.hours[i]! });
      check();
    }
  })();
  return {
    events,
    batches,
    done,
    until: (pred) =>
      new Promise<void>((resolve, reject) => {
        if (pred()) return resolve();
        waiters.push({ pred, resolve });
        // A source that ends before the condition holds fails the wait instead of hanging.
        void done.then(() => (pred() ? resolve() : reject(new Error(`source ended first; events: ${events.map((e) => String(e.id)).join(',')}`))));
      }),
  };
}

function tmpKey(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-app-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'host.key');
}

describe('AppWatcher argument checks', () => {
  it('rejects bad options without touching a display', () => {
    const keyPath = tmpKey();
    expect(() => new AppSource({ keyPath: '' })).toThrow(/keyPath/);
    expect(() => new AppSource({ keyPath, maxQueue: 0 })).toThrow(/maxQueue/);
    expect(() => new AppSource({ keyPath, noneSettleMs: -1 })).toThrow(/noneSettleMs/);
    expect(() => new AppSource({ keyPath, display: '' })).toThrow(/display/);
    expect(() => new A.AppWatcher({ keyPath, display: 7 } as unknown as { keyPath: string })).toThrow(TypeError);
  });

  it('hashes a class to a stable, key-dependent 64-bit id and the empty class to 0', () => {
    const k1 = tmpKey();
    const k2 = tmpKey();
    const a = A.appIdForClass(k1, 'Firefox');
    expect(typeof a).toBe('bigint');
    expect(A.appIdForClass(k1, 'Firefox')).toBe(a);
    expect(A.appIdForClass(k1, 'firefox')).not.toBe(a);
    expect(A.appIdForClass(k2, 'Firefox')).not.toBe(a);
    expect(A.appIdForClass(k1, '')).toBe(NO_APP);
  });
});

describe.skipIf(!haveX11Tools)('AppWatcher under Xvfb', () => {
  it('is off with a reason when no display is reachable or none is set', async () => {
    const keyPath = tmpKey();
    let n = 90;
    while (existsSync(`/tmp/.X11-unix/X${n}`)) n++;
    const off = AppSource.available({ keyPath, display: `:${n}` });
    expect(off.ok).toBe(false);
    if (!off.ok) expect(off.reason).toMatch(new RegExp(`^app modality off: cannot connect to X display :${n}`));
    let thrown: unknown;
    try {
      new AppSource({ keyPath, display: `:${n}` });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(SentinelError);
    expect((thrown as SentinelError).code).toBe('SENTINEL_E_APP_UNAVAILABLE');

    const saved = process.env['DISPLAY'];
    try {
      delete process.env['DISPLAY'];
      const none = AppSource.available({ keyPath });
      expect(none).toEqual({ ok: false, reason: expect.stringMatching(/^app modality off: no X display \(\$DISPLAY is not set/) as unknown as string });
    } finally {
      if (saved !== undefined) process.env['DISPLAY'] = saved;
    }
  });

  it('reports the active application as hashed ids while focus moves between real windows', async () => {
    x11.progress.length = 0;
    let seen: { id: bigint }[] = [];
    onTestFailed(() => console.error('progress:', x11.progress.slice(-8), 'events:', seen.map((e) => String(e.id))));
    const home = mkdtempSync(path.join(os.tmpdir(), 'sentinel-app-home-'));
    cleanups.push(() => rmSync(home, { recursive: true, force: true }));
    const keyPath = tmpKey();
    const { display } = await x11.startXvfb();

    // Without a window manager nobody publishes _NET_ACTIVE_WINDOW: off, and it says why.
    const noWm = AppSource.available({ keyPath, display });
    expect(noWm.ok).toBe(false);
    if (!noWm.ok) expect(noWm.reason).toMatch(/does not publish _NET_ACTIVE_WINDOW/);

    await x11.startWm(display, home);
    expect(AppSource.available({ keyPath, display })).toEqual({ ok: true });

    const alpha = await x11.openWindow(display, 'SentinelAlpha', 'sentinel-alpha-1');
    const beta = await x11.openWindow(display, 'SentinelBeta', 'sentinel-beta');
    const gamma = await x11.openWindow(display, 'SentinelGamma', 'sentinel-gamma');
    const alpha2 = await x11.openWindow(display, 'SentinelAlpha', 'sentinel-alpha-2');
    const id = {
      alpha: A.appIdForClass(keyPath, 'SentinelAlpha'),
      beta: A.appIdForClass(keyPath, 'SentinelBeta'),
      gamma: A.appIdForClass(keyPath, 'SentinelGamma'),
    };
    expect(new Set(Object.values(id)).size).toBe(3);

    // Start on a known window so the first event is known.
    await x11.xdotool(display, ['windowactivate', '--sync', gamma]);
    const src = new AppSource({ keyPath, display });
    cleanups.push(() => src.stop());
    src.start();
    const c = collector(src);
    seen = c.events;
    const last = (): bigint | undefined => c.events.at(-1)?.id;
    await c.until(() => last() === id.gamma);

    const steps: [string, bigint][] = [
      [beta, id.beta],
      [alpha, id.alpha],
      [gamma, id.gamma],
      [beta, id.beta],
      [alpha, id.alpha],
    ];
    for (const [win, want] of steps) {
      await x11.xdotool(display, ['windowactivate', '--sync', win]);
      await c.until(() => last() === want);
    }
    // alpha -> alpha2: the window changes, the app does not: no event, a counted duplicate.
    const dupBefore = src.stats().duplicates;
    const notifiesBefore = src.stats().propertyNotifies;
    await x11.xdotool(display, ['windowactivate', '--sync', alpha2]);
    await x11.xdotool(display, ['windowactivate', '--sync', gamma]);
    await c.until(() => last() === id.gamma);
    const s = src.stats();
    expect(s.propertyNotifies).toBeGreaterThan(notifiesBefore + 1);
    expect(s.duplicates).toBeGreaterThan(dupBefore);

    // The exact sequence of apps: each activation once, the alpha2 switch invisible, no "no app"
    // flicker from the WM's momentary None between two windows (held back by noneSettleMs).
    const seq = c.events.map((e) => e.id);
    expect(seq).toEqual([id.gamma, id.beta, id.alpha, id.gamma, id.beta, id.alpha, id.gamma]);
    for (let i = 1; i < c.events.length; i++) expect(c.events[i]!.t).toBeGreaterThan(c.events[i - 1]!.t);
    expect(c.events.every((e) => Number.isInteger(e.hour) && e.hour >= 0 && e.hour < 24)).toBe(true);
    // Only numbers cross the boundary: no class name in any batch.
    for (const b of c.batches) {
      expect(Object.keys(b).sort()).toEqual(['hours', 'ids', 't']);
      expect(b.ids).toBeInstanceOf(BigUint64Array);
      expect(JSON.stringify({ t: Array.from(b.t), h: Array.from(b.hours), ids: Array.from(b.ids, String) })).not.toMatch(/Sentinel/i);
    }
    expect(s).toMatchObject({ emitted: 7, dropped: 0, connectionLost: 0, running: true, ended: false });

    src.stop();
    await c.done; // the iteration ends after stop()
    expect(src.ended()).toEqual({ ended: true, reason: '' });
    expect(src.stats().connectionLost).toBe(0);
  });

  it('ends, counted and without a crash, when the X server is killed mid-run', async () => {
    x11.progress.length = 0;
    onTestFailed(() => console.error('progress:', x11.progress.slice(-8)));
    const home = mkdtempSync(path.join(os.tmpdir(), 'sentinel-app-home-'));
    cleanups.push(() => rmSync(home, { recursive: true, force: true }));
    const keyPath = tmpKey();
    const { display, proc: xvfb } = await x11.startXvfb();
    await x11.startWm(display, home);
    const w = await x11.openWindow(display, 'SentinelDelta', 'sentinel-delta');
    await x11.xdotool(display, ['windowactivate', '--sync', w]);
    const src = new AppSource({ keyPath, display });
    cleanups.push(() => src.stop());
    src.start();
    const c = collector(src);
    x11.progress.push('await the first event');
    await c.until(() => c.events.at(-1)?.id === A.appIdForClass(keyPath, 'SentinelDelta'));

    x11.progress.push('kill Xvfb');
    const gone = once(xvfb, 'exit');
    xvfb.kill('SIGKILL');
    await gone;
    x11.progress.push('await the end of the iteration');
    await c.done; // the watcher thread saw the connection fail and ended the iteration
    const end = src.ended();
    expect(end.ended).toBe(true);
    expect(end.reason).toMatch(/^X connection lost/);
    expect(src.stats()).toMatchObject({ connectionLost: 1, running: false, ended: true });
    src.stop(); // idempotent after the end
    expect(src.stats().connectionLost).toBe(1);
  });
});
