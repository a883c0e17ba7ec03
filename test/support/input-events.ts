/**
 * Fixture builders for evdev input: `struct input_event` records (64-bit Linux layout, 24 bytes:
 * tv_sec i64, tv_usec i64, type u16, code u16, value i32) and synthetic typists and mouse users
 * whose rhythm is a deterministic function of a seed. Used by tests and benchmarks; nothing
 * here reads a real device.
 */
import { xorshift32 } from './prng.js';

export const INPUT_EVENT_SIZE = 24;
export const EV_SYN = 0;
export const EV_KEY = 1;
export const EV_REL = 2;
export const EV_ABS = 3;
export const EV_MSC = 4;
export const SYN_REPORT = 0;
export const SYN_DROPPED = 3;
export const REL_X = 0;
export const REL_Y = 1;
export const REL_WHEEL = 8;
export const ABS_X = 0;
export const ABS_Y = 1;
export const BTN_LEFT = 0x110;
export const BTN_TOOL_FINGER = 0x145;
export const BTN_TOUCH = 0x14a;
export const BTN_TOOL_DOUBLETAP = 0x14d;
export const KEY_BACKSPACE = 14;

export interface RawInput {
  tUs: number;
  type: number;
  code: number;
  value: number;
}

export function encodeInputEvents(events: readonly RawInput[]): Buffer {
  const b = Buffer.alloc(events.length * INPUT_EVENT_SIZE);
  events.forEach((e, i) => {
    const o = i * INPUT_EVENT_SIZE;
    b.writeBigInt64LE(BigInt(Math.floor(e.tUs / 1e6)), o);
    b.writeBigInt64LE(BigInt(Math.round(e.tUs % 1e6)), o + 8);
    b.writeUInt16LE(e.type, o + 16);
    b.writeUInt16LE(e.code, o + 18);
    b.writeInt32LE(e.value, o + 20);
  });
  return b;
}

export interface Keystroke {
  code: number;
  pressUs: number;
  releaseUs: number;
}

/** Press/release events of the keystrokes, each followed by a SYN_REPORT, in time order. */
export function keyEvents(keys: readonly Keystroke[], withRepeats = false): RawInput[] {
  const ev: { t: number; seq: number; r: RawInput[] }[] = [];
  let seq = 0;
  for (const k of keys) {
    const frame = (t: number, value: number): RawInput[] => [
      { tUs: t, type: EV_MSC, code: 4, value: k.code },
      { tUs: t, type: EV_KEY, code: k.code, value },
      { tUs: t, type: EV_SYN, code: SYN_REPORT, value: 0 },
    ];
    ev.push({ t: k.pressUs, seq: seq++, r: frame(k.pressUs, 1) });
    if (withRepeats && k.releaseUs - k.pressUs > 600_000) ev.push({ t: k.pressUs + 500_000, seq: seq++, r: frame(k.pressUs + 500_000, 2) });
    ev.push({ t: k.releaseUs, seq: seq++, r: frame(k.releaseUs, 0) });
  }
  ev.sort((a, b) => a.t - b.t || a.seq - b.seq);
  return ev.flatMap((e) => e.r);
}

/** evdev codes of the letters a–z and space (US layout), for turning fixture text into keys. */
const LETTER_CODES: Record<string, number> = {
  q: 16, w: 17, e: 18, r: 19, t: 20, y: 21, u: 22, i: 23, o: 24, p: 25,
  a: 30, s: 31, d: 32, f: 33, g: 34, h: 35, j: 36, k: 37, l: 38,
  z: 44, x: 45, c: 46, v: 47, b: 48, n: 49, m: 50, ' ': 57,
};

export function textCodes(text: string): number[] {
  return [...text.toLowerCase()].map((c) => LETTER_CODES[c]).filter((c): c is number => c !== undefined);
}

export const FIXTURE_TEXT =
  'the quick brown fox jumps over the lazy dog while seven wizards quietly hex the jovial ' +
  'sphinx of black quartz and a mad boxer shot a quick gloved jab to the jaw of his dizzy opponent ';

/**
 * A synthetic typist: per-key hold times and per-digraph press-press latencies are fixed by the
 * seed (the typist's "rhythm"); each keystroke adds small noise. Two seeds give two typists.
 */
export function synthTypist(seed: number): (codes: readonly number[], startUs: number, noiseSeed: number) => Keystroke[] {
  const hash = (a: number, b: number): number => {
    const r = xorshift32((seed * 2654435761) ^ (a * 40503) ^ (b * 9973) ^ 0x9e3779b9);
    r();
    return r() / 2 ** 32;
  };
  const baseHold = 70_000 + (seed % 7) * 9_000;
  const basePp = 130_000 + (seed % 5) * 25_000;
  return (codes, startUs, noiseSeed) => {
    const rnd = xorshift32(noiseSeed);
    const noise = (): number => (rnd() / 2 ** 32 - 0.5) * 2;
    const out: Keystroke[] = [];
    let t = startUs;
    let prev = -1;
    for (const c of codes) {
      if (prev >= 0) t += basePp * (0.55 + 0.9 * hash(prev, c)) * (1 + 0.08 * noise());
      const hold = baseHold * (0.7 + 0.6 * hash(c, 0)) * (1 + 0.08 * noise());
      out.push({ code: c, pressUs: Math.round(t), releaseUs: Math.round(t + hold) });
      prev = c;
    }
    return out;
  };
}

/** Keystrokes of `n` characters of the fixture text typed by typist `seed`. */
export function typedKeystrokes(seed: number, n: number, startUs: number, noiseSeed: number, offset = 0): Keystroke[] {
  const all = textCodes(FIXTURE_TEXT);
  const codes: number[] = [];
  for (let i = 0; i < n; i++) codes.push(all[(offset + i) % all.length] as number);
  return synthTypist(seed)(codes, startUs, noiseSeed);
}

/** A straight mouse movement from (0,0) by (dx,dy) over `durUs`, one REL frame every `stepUs`. */
export function mouseMove(startUs: number, dx: number, dy: number, durUs: number, stepUs: number): RawInput[] {
  const out: RawInput[] = [];
  const n = Math.max(1, Math.round(durUs / stepUs));
  let sx = 0;
  let sy = 0;
  for (let i = 1; i <= n; i++) {
    const tx = Math.round((dx * i) / n);
    const ty = Math.round((dy * i) / n);
    const t = startUs + i * stepUs;
    if (tx !== sx) out.push({ tUs: t, type: EV_REL, code: REL_X, value: tx - sx });
    if (ty !== sy) out.push({ tUs: t, type: EV_REL, code: REL_Y, value: ty - sy });
    out.push({ tUs: t, type: EV_SYN, code: SYN_REPORT, value: 0 });
    sx = tx;
    sy = ty;
  }
  return out;
}

export function click(tUs: number, holdUs: number): RawInput[] {
  return [
    { tUs, type: EV_KEY, code: BTN_LEFT, value: 1 },
    { tUs, type: EV_SYN, code: SYN_REPORT, value: 0 },
    { tUs: tUs + holdUs, type: EV_KEY, code: BTN_LEFT, value: 0 },
    { tUs: tUs + holdUs, type: EV_SYN, code: SYN_REPORT, value: 0 },
  ];
}

/**
 * A synthetic mouse user: each action is a movement of random direction and length along a
 * curve, with the user's own speed, bend, acceleration shape and click hold (fixed by `seed`),
 * sampled every 8 ms; then either a pause of 1.2 s (a movement action) or a click (point-click).
 */
export function mouseSession(seed: number, actions: number, startUs: number, noiseSeed: number): RawInput[] {
  const style = xorshift32(seed * 7919 + 17);
  const u = (): number => style() / 2 ** 32;
  const speed = 400 + 1600 * u(); // px/s
  const bend = (u() - 0.5) * 0.8; // sideways deviation relative to the chord
  const skew = 0.25 + 0.5 * u(); // where the speed peaks (fraction of the duration)
  const holdUs = 60_000 + 120_000 * u();
  const clickShare = 0.3 + 0.4 * u();
  const rnd = xorshift32(noiseSeed);
  const r = (): number => rnd() / 2 ** 32;
  const out: RawInput[] = [];
  let t = startUs;
  for (let a = 0; a < actions; a++) {
    const len = 80 + 500 * r();
    const ang = 2 * Math.PI * r();
    const dur = (len / speed) * (0.85 + 0.3 * r()) * 1e6;
    const steps = Math.max(3, Math.round(dur / 8000));
    const ex = len * Math.cos(ang);
    const ey = len * Math.sin(ang);
    let px = 0;
    let py = 0;
    for (let i = 1; i <= steps; i++) {
      const s = i / steps;
      // Progress along the chord: accelerate until `skew`, then decelerate (speed peaks there).
      const p = s < skew ? skew * (s / skew) ** 2 : 1 - (1 - skew) * ((1 - s) / (1 - skew)) ** 2;
      const side = bend * len * Math.sin(Math.PI * s);
      const nx = Math.round(ex * p - (ey / len) * side);
      const ny = Math.round(ey * p + (ex / len) * side);
      t += 8000;
      if (nx !== px) out.push({ tUs: t, type: EV_REL, code: REL_X, value: nx - px });
      if (ny !== py) out.push({ tUs: t, type: EV_REL, code: REL_Y, value: ny - py });
      out.push({ tUs: t, type: EV_SYN, code: SYN_REPORT, value: 0 });
      px = nx;
      py = ny;
    }
    if (r() < clickShare) {
      t += 150_000 + 100_000 * r();
      out.push(...click(t, holdUs * (0.8 + 0.4 * r())));
      t += holdUs + 1_300_000;
    } else {
      t += 1_300_000; // a pause ends the movement action
    }
  }
  return out;
}

export interface TouchStroke {
  startUs: number;
  /** Where the finger touches down, device units. */
  x: number;
  y: number;
  /** Device units per frame. */
  dx: number;
  dy: number;
  frames: number;
  stepUs: number;
  /** The touch key(s) of the contact (default BTN_TOUCH and BTN_TOOL_FINGER, as a touchpad). */
  keys?: readonly number[];
  /** Lift the finger one step after the last frame (default true). */
  lift?: boolean;
}

/**
 * One touchpad contact as the kernel reports it: a touch-down frame (the touch keys at 1 with
 * ABS_X/ABS_Y where the finger lands) at `startUs`, then `frames` frames moving by (dx, dy) one
 * every `stepUs` (like the kernel, an axis is written only when its value changes), then the
 * lift frame (the keys at 0). No REL events: positions are where the finger is on the pad.
 */
export function touchStroke(s: TouchStroke): RawInput[] {
  const keys = s.keys ?? [BTN_TOUCH, BTN_TOOL_FINGER];
  const syn = (tUs: number): RawInput => ({ tUs, type: EV_SYN, code: SYN_REPORT, value: 0 });
  const out: RawInput[] = [
    ...keys.map((code) => ({ tUs: s.startUs, type: EV_KEY, code, value: 1 })),
    { tUs: s.startUs, type: EV_ABS, code: ABS_X, value: s.x },
    { tUs: s.startUs, type: EV_ABS, code: ABS_Y, value: s.y },
    syn(s.startUs),
  ];
  for (let i = 1; i <= s.frames; i++) {
    const t = s.startUs + i * s.stepUs;
    if (s.dx !== 0) out.push({ tUs: t, type: EV_ABS, code: ABS_X, value: s.x + i * s.dx });
    if (s.dy !== 0) out.push({ tUs: t, type: EV_ABS, code: ABS_Y, value: s.y + i * s.dy });
    out.push(syn(t));
  }
  if (s.lift ?? true) out.push(...touchLift(s.startUs + (s.frames + 1) * s.stepUs, keys));
  return out;
}

/** The lift frame of a contact: its touch keys at 0. */
export function touchLift(tUs: number, keys: readonly number[] = [BTN_TOUCH, BTN_TOOL_FINGER]): RawInput[] {
  return [...keys.map((code) => ({ tUs, type: EV_KEY, code, value: 0 })), { tUs, type: EV_SYN, code: SYN_REPORT, value: 0 }];
}

/** Frames of an absolute pointer without touch keys (a virtual machine's tablet) at each point. */
export function absoluteMoves(startUs: number, points: readonly { x: number; y: number }[], stepUs: number): RawInput[] {
  return points.flatMap((p, i) => {
    const tUs = startUs + i * stepUs;
    return [
      { tUs, type: EV_ABS, code: ABS_X, value: p.x },
      { tUs, type: EV_ABS, code: ABS_Y, value: p.y },
      { tUs, type: EV_SYN, code: SYN_REPORT, value: 0 },
    ];
  });
}
