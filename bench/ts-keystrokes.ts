/**
 * Plain-TypeScript mirror of the native per-event keystroke work (native/evdev/input_decoder.cc
 * + bio::KeystrokeExtractor::push), for the biometrics benchmark only: decode 24-byte
 * input_event records, drop auto-repeat, assemble press/release into keystrokes in press order,
 * and compute hold, press-press and release-press times with a bucket per key and digraph.
 *
 * The bucket hash here is FNV-1a, cheaper than the native keyed SipHash-2-4, so the measured
 * native/TS ratio is a lower bound on the native advantage.
 */
const REC = 24;

export interface TsKeyRecord {
  pressMs: number;
  mono: number;
  digraph: number;
  holdMs: number;
  ppMs: number;
  rpMs: number;
  flags: number;
}

function fnvStep(h: number, x: number): number {
  h = Math.imul(h ^ (x & 0xff), 0x01000193);
  return Math.imul(h ^ ((x >>> 8) & 0xff), 0x01000193);
}

function fnv(a: number, b: number, c: number): number {
  return fnvStep(fnvStep(fnvStep(0x811c9dc5, a), b), c) >>> 0;
}

export class TsKeystrokeDecoder {
  readonly out: TsKeyRecord[] = [];
  private pending: { code: number; press: number; release: number }[] = [];
  private havePrev = false;
  private prevCode = 0;
  private prevPress = 0;
  private prevRelease = 0;

  feed(buf: Buffer): void {
    for (let o = 0; o + REC <= buf.length; o += REC) {
      // 64-bit fields read as two 32-bit halves (BigInt reads would make the mirror unfairly slow).
      const sec = buf.readUInt32LE(o) + buf.readInt32LE(o + 4) * 4294967296;
      const usec = buf.readUInt32LE(o + 8) + buf.readInt32LE(o + 12) * 4294967296;
      const type = buf.readUInt16LE(o + 16);
      const code = buf.readUInt16LE(o + 18);
      const value = buf.readInt32LE(o + 20);
      if (type > 0x1f || usec < 0 || usec >= 1e6) continue;
      if (type !== 1 || value === 2 || code >= 0x100) continue;
      const t = sec * 1e6 + usec;
      if (value === 1) this.pending.push({ code, press: t, release: -1 });
      else {
        for (let i = this.pending.length - 1; i >= 0; i--) {
          const p = this.pending[i] as { code: number; press: number; release: number };
          if (p.code === code && p.release < 0) {
            p.release = t;
            break;
          }
        }
      }
      while (this.pending.length && ((this.pending[0] as { release: number }).release >= 0 || t - (this.pending[0] as { press: number }).press > 1.5e6)) {
        const p = this.pending.shift() as { code: number; press: number; release: number };
        this.emit(p.code, p.press, p.release < 0 ? p.press : p.release);
      }
    }
  }

  private emit(code: number, press: number, release: number): void {
    const r: TsKeyRecord = { pressMs: press / 1000, mono: fnv(0x4d, code, 0) % 1024, digraph: 0, holdMs: 0, ppMs: 0, rpMs: 0, flags: code === 14 ? 1 : 0 };
    if (release > press && release - press <= 1.5e6) {
      r.holdMs = (release - press) / 1000;
      r.flags |= 2;
    }
    if (this.havePrev) {
      const pp = (press - this.prevPress) / 1000;
      if (pp >= 0 && pp <= 1500) {
        r.flags |= 4;
        r.digraph = fnv(0x44, this.prevCode, code) % 65536;
        r.ppMs = pp;
        r.rpMs = this.prevRelease > this.prevPress ? (press - this.prevRelease) / 1000 : pp;
      }
    }
    this.havePrev = true;
    this.prevCode = code;
    this.prevPress = press;
    this.prevRelease = release;
    this.out.push(r);
  }
}
