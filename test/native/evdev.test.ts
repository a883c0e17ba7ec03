// The evdev decoder and collector (native/evdev/) through the addon: hand-computed keystroke
// timings, auto-repeat, garbage, short reads, truncated records, SYN_DROPPED, mouse actions,
// and the threaded collector on recordings, FIFOs, hot-plug, removal and refused devices.
import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readlinkSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { chmodSync, chownSync, closeSync, constants, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { addon, KEY_RECORD_STRIDE, KeyFlag, KeyRec, ACTION_META_STRIDE, ActionMeta, type RawInputBatch } from '../../src/binding.js';
import { InputSource, checkAbsScale, type InputBatch } from '../../src/biometrics/input-source.js';
import { catchError } from '../support/catch-error.js';
import { cleanupStack } from '../support/cleanups.js';
import {
  BTN_TOOL_DOUBLETAP,
  BTN_TOUCH,
  EV_ABS,
  EV_KEY,
  EV_SYN,
  SYN_DROPPED,
  SYN_REPORT,
  ABS_X,
  ABS_Y,
  absoluteMoves,
  click,
  encodeInputEvents,
  keyEvents,
  mouseMove,
  mouseSession,
  touchLift,
  touchStroke,
  type RawInput,
} from '../support/input-events.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cleanups = cleanupStack();

function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'sentinel-evdev-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function keyRow(keys: Float64Array, i: number): number[] {
  return Array.from(keys.subarray(i * KEY_RECORD_STRIDE, (i + 1) * KEY_RECORD_STRIDE));
}

// Three keystrokes; the third (backspace) is pressed before the second is released (rollover).
const KEYS = [
  { code: 30, pressUs: 1_000_000, releaseUs: 1_080_000 },
  { code: 31, pressUs: 1_200_000, releaseUs: 1_290_000 },
  { code: 14, pressUs: 1_250_000, releaseUs: 1_300_000 },
];

describe('decodeInputEvents (synchronous decoder)', () => {
  it('gives the hand-computed hold, press-press and release-press times in press order', () => {
    const keyPath = path.join(tempDir(), 'bio.key');
    const out = addon().decodeInputEvents(encodeInputEvents(keyEvents(KEYS)), { keyPath });
    expect(out.keys.length).toBe(3 * KEY_RECORD_STRIDE);
    const [a, b, c] = [keyRow(out.keys, 0), keyRow(out.keys, 1), keyRow(out.keys, 2)];
    expect(a[KeyRec.PressMs]).toBe(1000);
    expect(a[KeyRec.Flags]).toBe(KeyFlag.Hold); // first key: no digraph yet
    expect(a[KeyRec.HoldMs]).toBeCloseTo(80, 3);
    expect(b[KeyRec.Flags]).toBe(KeyFlag.Hold | KeyFlag.Digraph);
    expect(b[KeyRec.HoldMs]).toBeCloseTo(90, 3);
    expect(b[KeyRec.PpMs]).toBeCloseTo(200, 3);
    expect(b[KeyRec.RpMs]).toBeCloseTo(120, 3);
    expect(c[KeyRec.Flags]).toBe(KeyFlag.Backspace | KeyFlag.Hold | KeyFlag.Digraph);
    expect(c[KeyRec.HoldMs]).toBeCloseTo(50, 3);
    expect(c[KeyRec.PpMs]).toBeCloseTo(50, 3);
    expect(c[KeyRec.RpMs]).toBeCloseTo(-40, 3); // rollover: pressed before the previous release
    // Buckets: distinct keys get (here) distinct mono buckets in range; no code is in the record.
    const monos = [a, b, c].map((r) => r[KeyRec.MonoBucket] as number);
    for (const m of monos) expect(m).toBeGreaterThanOrEqual(0);
    for (const m of monos) expect(m).toBeLessThan(addon().biometricsConstants().monoBuckets);
    expect(new Set(monos).size).toBe(3);
    expect(out.stats.keystrokes).toBe(3);
    expect(out.stats.malformed).toBe(0);
  });

  it('the same key file gives the same buckets; another key gives others', () => {
    const d = tempDir();
    const bytes = encodeInputEvents(keyEvents(KEYS));
    const a = addon().decodeInputEvents(bytes, { keyPath: path.join(d, 'one.key') });
    const a2 = addon().decodeInputEvents(bytes, { keyPath: path.join(d, 'one.key') });
    const b = addon().decodeInputEvents(bytes, { keyPath: path.join(d, 'two.key') });
    expect(Array.from(a2.keys)).toEqual(Array.from(a.keys));
    const monos = (x: RawInputBatch): number[] => [0, 1, 2].map((i) => keyRow(x.keys, i)[KeyRec.MonoBucket] as number);
    expect(monos(b)).not.toEqual(monos(a));
  });

  it('drops auto-repeat, refuses garbage records and keeps going', () => {
    const keyPath = path.join(tempDir(), 'bio.key');
    const long = [{ code: 30, pressUs: 1_000_000, releaseUs: 1_700_000 }, { code: 31, pressUs: 1_900_000, releaseUs: 1_980_000 }];
    const good = keyEvents(long, true);
    const garbage: RawInput[] = [
      { tUs: 1_850_000, type: 0x7fff, code: 1, value: 1 }, // type above EV_MAX
      { tUs: 1_850_000, type: EV_KEY, code: 32, value: 7 }, // EV_KEY value not 0/1/2
    ];
    const bytes = Buffer.concat([encodeInputEvents(good.slice(0, 6)), encodeInputEvents(garbage), encodeInputEvents(good.slice(6))]);
    // A record with tv_usec out of range, patched in by hand.
    const badUsec = encodeInputEvents([{ tUs: 1_860_000, type: EV_KEY, code: 33, value: 1 }]);
    badUsec.writeBigInt64LE(2_000_000n, 8);
    const out = addon().decodeInputEvents(Buffer.concat([bytes, badUsec]), { keyPath });
    expect(out.stats.repeats).toBe(1);
    expect(out.stats.malformed).toBe(3);
    expect(out.keys.length / KEY_RECORD_STRIDE).toBe(2);
    expect(keyRow(out.keys, 0)[KeyRec.HoldMs]).toBeCloseTo(700, 3); // the repeat did not end the hold
  });

  it('short reads give the same records; a truncated tail is held back and reported', () => {
    const keyPath = path.join(tempDir(), 'bio.key');
    const bytes = encodeInputEvents(keyEvents(KEYS));
    const whole = addon().decodeInputEvents(bytes, { keyPath });
    for (const chunkBytes of [1, 7, 23, 25]) {
      const pieces = addon().decodeInputEvents(bytes, { keyPath, chunkBytes });
      expect(Array.from(pieces.keys)).toEqual(Array.from(whole.keys));
    }
    const cut = addon().decodeInputEvents(Buffer.concat([bytes, bytes.subarray(0, 10)]), { keyPath });
    expect(cut.partialBytes).toBe(10);
    expect(cut.stats.records).toBe(bytes.length / 24);
  });

  it('SYN_DROPPED breaks the digraph chain', () => {
    const keyPath = path.join(tempDir(), 'bio.key');
    const first = keyEvents(KEYS.slice(0, 1));
    const second = keyEvents([{ code: 31, pressUs: 1_200_000, releaseUs: 1_290_000 }]);
    const dropped: RawInput[] = [
      { tUs: 1_100_000, type: EV_SYN, code: SYN_DROPPED, value: 0 },
      { tUs: 1_100_000, type: EV_SYN, code: SYN_REPORT, value: 0 },
    ];
    const out = addon().decodeInputEvents(encodeInputEvents([...first, ...dropped, ...second]), { keyPath });
    expect(out.stats.synDropped).toBe(1);
    expect(out.keys.length / KEY_RECORD_STRIDE).toBe(2);
    expect((keyRow(out.keys, 1)[KeyRec.Flags] as number) & KeyFlag.Digraph).toBe(0);
  });

  it('turns relative motion and clicks into mouse actions with the expected geometry', () => {
    const keyPath = path.join(tempDir(), 'bio.key');
    const names = addon().biometricsConstants().actionFeatureNames;
    const events = [
      ...mouseMove(1_000_000, 300, 0, 600_000, 8_000), // straight, then a 2 s pause
      ...mouseMove(3_600_000, 0, 200, 400_000, 8_000),
      ...click(4_150_000, 90_000), // point-click after the second movement
    ];
    const out = addon().decodeInputEvents(encodeInputEvents(events), { keyPath });
    const nf = names.length;
    const n = out.actions.length / nf;
    expect(out.actionMeta.length).toBe(n * ACTION_META_STRIDE);
    expect(n).toBe(2);
    const f = (i: number, name: string): number => out.actions[i * nf + names.indexOf(name)] as number;
    expect(out.actionMeta[0]).toBe(0); // MM
    // The first motion frame is already 4 px in (300 px in 75 frames): 296 px from first to last point.
    expect(f(0, 'path_px')).toBeCloseTo(296, 0);
    expect(f(0, 'straightness')).toBeCloseTo(1, 2);
    expect(out.actionMeta[ACTION_META_STRIDE]).toBe(1); // PC
    expect(f(1, 'chord_px')).toBeCloseTo(196, 0); // 200 px in 50 frames, first frame 4 px in
    expect(f(1, 'hold_s')).toBeCloseTo(0.09, 3);
    // The synchronous decoder has no collector device: device number 0.
    expect(out.actionMeta[ActionMeta.Device]).toBe(0);
    expect(out.actionMeta[ACTION_META_STRIDE + ActionMeta.Device]).toBe(0);
    expect(addon().biometricsConstants().actionMetaStride).toBe(ACTION_META_STRIDE);
  });
});

describe('decodeInputEvents: touchpads and absolute pointers', () => {
  const names = (): string[] => addon().biometricsConstants().actionFeatureNames;
  interface Decoded {
    types: number[];
    f: (i: number, name: string) => number;
    pointerEvents: number;
  }
  const decode = (events: RawInput[], absScale?: number): Decoded => {
    const keyPath = path.join(tempDir(), 'bio.key');
    const out = addon().decodeInputEvents(encodeInputEvents(events), { keyPath, ...(absScale === undefined ? {} : { absScale }) });
    const nf = names().length;
    const n = out.actions.length / nf;
    return {
      types: Array.from({ length: n }, (_, i) => out.actionMeta[i * ACTION_META_STRIDE + ActionMeta.Type] as number),
      f: (i, name) => out.actions[i * nf + names().indexOf(name)] as number,
      pointerEvents: out.stats.pointerEvents,
    };
  };

  // Stroke A lands at (1000, 1000) and moves 50 frames of (30, 40) units (50 units a frame); the
  // finger lifts, hovers far away (ABS without contact), and stroke B lands at (200, 3500), far
  // from where A ended (2500, 3000), moving 40 frames of (30, 40). B starts 0.3 s after A ends,
  // less than the segmenter's 1 s pause: one movement action. The touch-down frames set the
  // reference and move nothing, so A counts from its first frame (49 x 50 = 2450 units) and B
  // continues from where A ended (40 x 50 = 2000): 4450 units, straight, with no jump between.
  const strokes = (): RawInput[] => [
    ...touchStroke({ startUs: 1_000_000, x: 1000, y: 1000, dx: 30, dy: 40, frames: 50, stepUs: 8_000 }),
    ...absoluteMoves(1_500_000, [{ x: 5000, y: 100 }, { x: 4000, y: 200 }], 8_000), // hovering
    ...touchStroke({ startUs: 1_700_000, x: 200, y: 3500, dx: 30, dy: 40, frames: 40, stepUs: 8_000 }),
  ];

  it('accumulates a touchpad contact as relative motion: a re-touch elsewhere never jumps', () => {
    const d = decode(strokes());
    expect(d.types).toEqual([0]); // one MM
    expect(d.f(0, 'path_px')).toBeCloseTo(4450, 1);
    expect(d.f(0, 'chord_px')).toBeCloseTo(4450, 1);
    expect(d.f(0, 'straightness')).toBeCloseTo(1, 5);
    expect(d.pointerEvents).toBe(50 + 40); // motion frames only: no touch-down, lift or hover frame
  });

  it('scales ABS device units by absScale: path lengths by exactly that factor', () => {
    const one = decode(strokes());
    const scaled = decode(strokes(), 2.5);
    expect(scaled.types).toEqual(one.types);
    expect(scaled.f(0, 'path_px') / one.f(0, 'path_px')).toBeCloseTo(2.5, 6);
    expect(scaled.f(0, 'chord_px') / one.f(0, 'chord_px')).toBeCloseTo(2.5, 6);
    expect(scaled.f(0, 'duration_s')).toBe(one.f(0, 'duration_s'));
    // An absolute pointer without touch keys keeps absolute positions, scaled the same way.
    const tablet = absoluteMoves(1_000_000, Array.from({ length: 21 }, (_, i) => ({ x: 100 + 20 * i, y: 500 })), 8_000);
    expect(decode(tablet).f(0, 'path_px')).toBeCloseTo(400, 2);
    expect(decode(tablet, 0.5).f(0, 'path_px')).toBeCloseTo(200, 2);
  });

  it('takes absScale as a positive finite number only', () => {
    expect(checkAbsScale(undefined)).toBe(1);
    expect(checkAbsScale(0.25)).toBe(0.25);
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '2']) {
      expect(catchError(() => checkAbsScale(bad))).toMatchObject({ code: 'SENTINEL_E_INVALID_ARGUMENT' });
    }
    const keyPath = path.join(tempDir(), 'bio.key');
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => addon().decodeInputEvents(encodeInputEvents([]), { keyPath, absScale: bad })).toThrow(RangeError);
    }
  });

  it('turns a clickpad button pressed inside a touch into a point-click', () => {
    const events = [
      ...touchStroke({ startUs: 1_000_000, x: 1000, y: 1000, dx: 30, dy: 0, frames: 20, stepUs: 8_000, lift: false }),
      ...click(1_300_000, 90_000), // the pad pressed down, the finger still on it
      ...touchLift(1_500_000),
    ];
    const d = decode(events);
    expect(d.types).toEqual([1]); // PC
    expect(d.f(0, 'hold_s')).toBeCloseTo(0.09, 3);
    expect(d.f(0, 'path_px')).toBeCloseTo(19 * 30, 1);
  });

  it('moves nothing while two fingers are down (a scroll or gesture) and nothing without contact', () => {
    const twoFingers = touchStroke({ startUs: 1_000_000, x: 1000, y: 1000, dx: 0, dy: 40, frames: 50, stepUs: 8_000, keys: [BTN_TOUCH, BTN_TOOL_DOUBLETAP] });
    expect(decode(twoFingers).pointerEvents).toBe(0);
    // A touch device's ABS frames after the lift (hovering) are no motion either.
    const hover: RawInput[] = [
      ...touchLift(900_000),
      ...Array.from({ length: 30 }, (_, i): RawInput[] => [
        { tUs: 1_000_000 + i * 8_000, type: EV_ABS, code: ABS_X, value: 1000 + 30 * i },
        { tUs: 1_000_000 + i * 8_000, type: EV_ABS, code: ABS_Y, value: 1000 },
        { tUs: 1_000_000 + i * 8_000, type: EV_SYN, code: SYN_REPORT, value: 0 },
      ]).flat(),
    ];
    expect(decode(hover).pointerEvents).toBe(0);
  });
});

function collectUntil(src: InputSource, done: (all: InputBatch[]) => boolean): Promise<InputBatch[]> {
  const all: InputBatch[] = [];
  return new Promise((resolve) => {
    src.start((b) => {
      all.push(b);
      if (done(all)) resolve(all);
    });
  });
}

const removedCount = (all: InputBatch[]): number => all.flatMap((b) => b.devices).filter((d) => d.kind === 'removed').length;
const keysOf = (all: InputBatch[]): number[] => all.flatMap((b) => Array.from(b.keys));

describe('InputCollector (reader thread)', () => {
  it('reads a recording to its end, with the same records as the decoder', async () => {
    const d = tempDir();
    const keyPath = path.join(d, 'bio.key');
    const bytes = encodeInputEvents(keyEvents(KEYS));
    const rec = path.join(d, 'recording.bin');
    writeFileSync(rec, bytes);
    const src = new InputSource({ paths: [rec], keyPath });
    cleanups.push(() => void src.stop());
    const all = await collectUntil(src, (a) => removedCount(a) === 1);
    expect(keysOf(all)).toEqual(Array.from(addon().decodeInputEvents(bytes, { keyPath }).keys));
    const st = src.stats();
    expect(st.devicesRemoved).toBe(1);
    expect(st.truncatedRecords).toBe(0);
  });

  it('reassembles records split across FIFO writes and reports the writer going away', async () => {
    const d = tempDir();
    const keyPath = path.join(d, 'bio.key');
    const fifo = path.join(d, 'kbd');
    execFileSync('mkfifo', [fifo]);
    const src = new InputSource({ paths: [fifo], keyPath });
    cleanups.push(() => void src.stop());
    const bytes = encodeInputEvents(keyEvents(KEYS));
    const got = collectUntil(src, (a) => removedCount(a) === 1);
    const fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      for (let at = 0; at < bytes.length; at += 5) writeSync(fd, bytes.subarray(at, Math.min(bytes.length, at + 5)));
      writeSync(fd, bytes.subarray(0, 11)); // a truncated last record
    } finally {
      closeSync(fd);
    }
    const all = await got;
    expect(keysOf(all)).toEqual(Array.from(addon().decodeInputEvents(bytes, { keyPath }).keys));
    const removed = all.flatMap((b) => b.devices).find((e) => e.kind === 'removed');
    expect(removed?.truncatedBytes).toBe(11);
    expect(src.stats().truncatedRecords).toBe(1);
  });

  it('opens devices that appear in the watched directory (hot-plug) and sees them leave', async () => {
    const d = tempDir();
    const dir = path.join(d, 'input');
    execFileSync('mkdir', [dir]);
    const keyPath = path.join(d, 'bio.key');
    const src = new InputSource({ dir, keyPath });
    cleanups.push(() => void src.stop());
    const all: InputBatch[] = [];
    let onBatch: (() => void) | undefined;
    src.start((b) => {
      all.push(b);
      onBatch?.();
    });
    const until = (pred: () => boolean): Promise<void> =>
      new Promise((resolve) => {
        if (pred()) return resolve();
        onBatch = () => {
          if (pred()) resolve();
        };
      });
    const node = path.join(dir, 'event7');
    const added = until(() => all.some((b) => b.devices.some((e) => e.kind === 'added' && e.path === node)));
    execFileSync('mkfifo', [node]);
    await added;
    const bytes = encodeInputEvents(keyEvents(KEYS));
    const gone = until(() => removedCount(all) === 1);
    const fd = openSync(node, constants.O_WRONLY | constants.O_NONBLOCK);
    writeSync(fd, bytes);
    closeSync(fd);
    await gone;
    expect(keysOf(all).length).toBe(3 * KEY_RECORD_STRIDE);
    // A non-device name in the directory is not opened.
    expect(all.flatMap((b) => b.devices).every((e) => path.basename(e.path).startsWith('event'))).toBe(true);
  });

  it('attributes each mouse action to its own device, segmented apart, and names devices by identity', async () => {
    const d = tempDir();
    const keyPath = path.join(d, 'bio.key');
    const [fifoA, fifoB] = [path.join(d, 'mouse-a'), path.join(d, 'mouse-b')];
    execFileSync('mkfifo', [fifoA]);
    execFileSync('mkfifo', [fifoB]);
    // Two people's mice over the same stretch of time: one shared segmenter would glue or cut
    // their movements; one per device gives exactly what each stream decodes to on its own.
    const bytesA = encodeInputEvents(mouseSession(1, 6, 1_000_000, 3));
    const bytesB = encodeInputEvents(mouseSession(2, 6, 1_000_000, 4));
    expect(Math.max(bytesA.length, bytesB.length)).toBeLessThan(60_000); // fits a pipe: the non-blocking writes below cannot stall
    const src = new InputSource({ paths: [fifoA, fifoB], keyPath });
    cleanups.push(() => void src.stop());
    const seen = new Map<number, string>();
    const unidentified: number[] = []; // devices named by an action before their batch identified them
    const all: InputBatch[] = [];
    const got = new Promise<void>((resolve) => {
      src.start((b, ids) => {
        all.push(b);
        for (const [n, id] of ids) seen.set(n, id);
        for (let i = 0; i < b.actionMeta.length / ACTION_META_STRIDE; i++) {
          const dev = b.actionMeta[i * ACTION_META_STRIDE + ActionMeta.Device] as number;
          if (!ids.has(dev)) unidentified.push(dev);
        }
        if (removedCount(all) === 2) resolve();
      });
    });
    const fdA = openSync(fifoA, constants.O_WRONLY | constants.O_NONBLOCK);
    const fdB = openSync(fifoB, constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      for (let at = 0; at < Math.max(bytesA.length, bytesB.length); at += 2400) {
        if (at < bytesA.length) writeSync(fdA, bytesA.subarray(at, Math.min(bytesA.length, at + 2400)));
        if (at < bytesB.length) writeSync(fdB, bytesB.subarray(at, Math.min(bytesB.length, at + 2400)));
      }
    } finally {
      closeSync(fdA);
      closeSync(fdB);
    }
    await got;
    expect(unidentified).toEqual([]);
    const events = all.flatMap((b) => b.devices);
    const added = events.filter((e) => e.kind === 'added');
    expect(added.map((e) => [e.path, e.identity])).toEqual([
      [fifoA, 'file:mouse-a'],
      [fifoB, 'file:mouse-b'],
    ]);
    const [numA, numB] = added.map((e) => e.device);
    expect(numA).toBeGreaterThan(0);
    expect(numB).not.toBe(numA);
    for (const e of events.filter((x) => x.kind === 'removed')) expect(e.identity).toBe(e.device === numA ? 'file:mouse-a' : 'file:mouse-b');
    expect(seen.get(numA as number)).toBe('file:mouse-a');
    const nf = addon().biometricsConstants().actionFeatures;
    const rowsOf = (device: number): { meta: number[][]; feats: number[][] } => {
      const meta: number[][] = [];
      const feats: number[][] = [];
      for (const b of all) {
        for (let i = 0; i < b.actionMeta.length / ACTION_META_STRIDE; i++) {
          const m = Array.from(b.actionMeta.subarray(i * ACTION_META_STRIDE, (i + 1) * ACTION_META_STRIDE));
          if (m[ActionMeta.Device] !== device) continue;
          meta.push(m.slice(0, ActionMeta.Device));
          feats.push(Array.from(b.actions.subarray(i * nf, (i + 1) * nf)));
        }
      }
      return { meta, feats };
    };
    const alone = (bytes: Buffer): { meta: number[][]; feats: number[][] } => {
      const out = addon().decodeInputEvents(bytes, { keyPath });
      const n = out.actionMeta.length / ACTION_META_STRIDE;
      return {
        meta: Array.from({ length: n }, (_, i) => Array.from(out.actionMeta.subarray(i * ACTION_META_STRIDE, i * ACTION_META_STRIDE + ActionMeta.Device))),
        feats: Array.from({ length: n }, (_, i) => Array.from(out.actions.subarray(i * nf, (i + 1) * nf))),
      };
    };
    const [a, b] = [rowsOf(numA as number), rowsOf(numB as number)];
    expect(a.meta.length).toBeGreaterThanOrEqual(4);
    expect(b.meta.length).toBeGreaterThanOrEqual(4);
    expect(a).toEqual(alone(bytesA));
    expect(b).toEqual(alone(bytesB));
    const total = all.reduce((n, x) => n + x.actionMeta.length / ACTION_META_STRIDE, 0);
    expect(total).toBe(a.meta.length + b.meta.length); // no action without one of the two devices
    // After the batch that removed them, the devices leave the identity table.
    expect(src.identities.size).toBe(0);
  });

  it('names a character device that is not evdev by its path', async () => {
    const keyPath = path.join(tempDir(), 'bio.key');
    const src = new InputSource({ paths: ['/dev/null'], keyPath }); // a character device; EVIOCGID fails; reads EOF at once
    cleanups.push(() => void src.stop());
    const all = await collectUntil(src, (a) => removedCount(a) === 1);
    const added = all.flatMap((b) => b.devices).find((e) => e.kind === 'added');
    expect(added).toMatchObject({ path: '/dev/null', identity: 'file:null' });
  });

  it('refuses a missing device, a missing directory and an unsafe key with clear codes', () => {
    const d = tempDir();
    const keyPath = path.join(d, 'bio.key');
    const missing = catchError(() => new InputSource({ paths: [path.join(d, 'nope')], keyPath }));
    expect(missing).toMatchObject({ code: 'SENTINEL_E_INPUT_DEVICE' });
    expect(String((missing as Error).message)).toContain('nope');
    const noDir = catchError(() => new InputSource({ dir: path.join(d, 'no-input'), keyPath }));
    expect(noDir).toMatchObject({ code: 'SENTINEL_E_INPUT_DEVICE' });
    expect(String((noDir as Error).message)).toContain('input modality off');
    const loose = path.join(d, 'loose.key');
    writeFileSync(loose, Buffer.alloc(16, 1));
    chmodSync(loose, 0o644);
    const rec = path.join(d, 'rec.bin');
    writeFileSync(rec, Buffer.alloc(0));
    expect(catchError(() => new InputSource({ paths: [rec], keyPath: loose }))).toMatchObject({ code: 'SENTINEL_E_BIO_KEY' });
  });

  it('stops its reader thread and closes its devices when a worker environment goes away', async () => {
    const d = tempDir();
    const fifo = path.join(d, 'kbd');
    execFileSync('mkfifo', [fifo]);
    const openOnFifo = (): number => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === fifo;
      } catch {
        return false;
      }
    }).length;
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const a = require(workerData.addon);
       const c = new a.InputCollector({ paths: [workerData.fifo], keyPath: workerData.key });
       c.start(() => c.drain());
       parentPort.postMessage('started');`,
      { eval: true, workerData: { addon: path.join(root, 'build/Release/sentinel.node'), fifo, key: path.join(d, 'bio.key') } },
    );
    await once(worker, 'message');
    expect(openOnFifo()).toBe(1);
    await worker.terminate(); // no stop(): the environment cleanup hook joins the thread
    expect(openOnFifo()).toBe(0);
  });

  it('says a device may not be read when the process lacks permission', () => {
    const d = tempDir();
    chmodSync(d, 0o755);
    const dev = path.join(d, 'event0');
    writeFileSync(dev, Buffer.alloc(0), { mode: 0o600 }); // root-owned, like /dev/input/event*
    const own = path.join(d, 'nobody');
    execFileSync('mkdir', [own]);
    chownSync(own, 65534, 65534);
    const script = `
      process.setgid(65534); process.setuid(65534);
      const { InputSource } = await import(${JSON.stringify(path.join(root, 'dist/src/biometrics/input-source.js'))});
      try { new InputSource({ paths: [${JSON.stringify(dev)}], keyPath: ${JSON.stringify(path.join(own, 'k'))} }); console.log('OPENED'); }
      catch (e) { console.log(e.code + ' ' + e.message); }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('SENTINEL_E_INPUT_PERMISSION');
    expect(r.stdout).toContain('may not read input devices');
  });
});
