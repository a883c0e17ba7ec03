/**
 * Plain-TypeScript mirror of the native keystroke window scoring (native/biometrics/keystroke.
 * {h,cpp}): parsing of an "SKP1" profile (KeystrokeProfile::deserialize), a window's TimingStats
 * (TimingStats::from_records), the Gunetti–Picardi R and A measures (gp_distance), the scaled
 * Manhattan distance (scaled_manhattan), z-normalisation (KeystrokeProfile::z) and the fused score
 * with the v1 weights (KeystrokeProfile::fused_score with fused_v1()), plus the addon's
 * KeystrokeScorer window ring (native/addon/biometrics_binding.cc).
 *
 * It exists for two things only: the issue-5 benchmark (bench/cases/bio.ts, native against plain
 * TypeScript per window) and the mirror test (test/native/keystroke-score-mirror.test.ts), where
 * each side checks the other. The daemon never uses it.
 *
 * Numerics: wherever the C++ stores or computes in `float`, this code rounds with Math.fround.
 * Rounding a double result of +, −, ×, ÷ or sqrt of two float operands to float gives the same
 * value as the float operation itself (a double has more than 2·24+2 bits), so those steps are
 * exact mirrors; the accumulators that are `double` in C++ are plain numbers here.
 */
import { KEY_RECORD_STRIDE } from '../src/binding.js';

// Bucket ranges and format constants, from native/biometrics/keystroke.{h,cpp}.
const MONO_BUCKETS = 1024; // kMonoBuckets
const DIGRAPH_BUCKETS = 65536; // kDigraphBuckets
const PROFILE_MAGIC = 0x31504b53; // kProfileMagic, "SKP1" little-endian
const PROFILE_VERSION = 1; // kProfileVersion
const MAX_LOO_WINDOWS = 1 << 20; // kMaxLooWindows
const GLOBAL_FEATURES = 8; // kGlobalFeatures
const COMPONENTS = 5; // kComponents: R_pp, A_pp, A_hold, A_rp, SM

/** kFusedV1 (native/biometrics/keystroke.h): weights of R_pp, A_pp, A_hold, A_rp, SM. */
export const FUSED_V1: readonly number[] = [0.386, 0.466, 0.875, 0.639, 0.182];
/** gp_distance defaults (keystroke.h): ratio threshold t and minimum shared buckets. */
const GP_T = 1.25;
const GP_MIN_SHARED = 3;

export interface TsBucketStat {
  bucket: number;
  n: number;
  /** float32 values, as BucketStat stores them. */
  mean: number;
  m2: number;
}

export interface TsTimingStats {
  hold: TsBucketStat[];
  pp: TsBucketStat[];
  rp: TsBucketStat[];
  /** float32: mean/sd hold, mean/sd PP, mean/sd RP, backspace rate, median PP. */
  global: number[];
  nKeys: number;
}

export interface TsKeystrokeProfile {
  window: number;
  threshold: number;
  mu: number[];
  sd: number[];
  ref: TsTimingStats;
  /** Leave-one-window-out components (COMPONENTS per window); parsed for validation only. */
  looWindows: number;
}

/** Thrown for a profile the native deserialize() would refuse. */
export class TsProfileError extends Error {}

class Reader {
  private at = 0;
  private readonly view: DataView;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  left(): number {
    return this.bytes.byteLength - this.at;
  }
  private need(n: number, what: string): void {
    if (this.left() < n) throw new TsProfileError(`keystroke profile truncated at byte ${this.at} (${what})`);
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }
  f64(what: string): number {
    this.need(8, what);
    const v = this.view.getFloat64(this.at, true);
    this.at += 8;
    if (!Number.isFinite(v)) throw new TsProfileError(`keystroke profile: non-finite ${what}`);
    return v;
  }
  f32(what: string): number {
    this.need(4, what);
    const v = this.view.getFloat32(this.at, true);
    this.at += 4;
    if (!Number.isFinite(v)) throw new TsProfileError(`keystroke profile: non-finite ${what}`);
    return v;
  }
}

function readStats(r: Reader, buckets: number, what: string): TsBucketStat[] {
  const n = r.u32(`${what} count`);
  if (n > buckets || n * 16 > r.left()) throw new TsProfileError(`keystroke profile: ${what} count ${n} out of range`);
  const out: TsBucketStat[] = [];
  for (let i = 0; i < n; i++) {
    const b: TsBucketStat = { bucket: r.u32(what), n: r.u32(what), mean: r.f32(what), m2: r.f32(what) };
    if (b.bucket >= buckets || b.n === 0 || b.m2 < 0) throw new TsProfileError(`keystroke profile: bad ${what} entry ${i}`);
    const prev = out[i - 1];
    if (prev && b.bucket <= prev.bucket) throw new TsProfileError(`keystroke profile: ${what} buckets not sorted/unique`);
    out.push(b);
  }
  return out;
}

/** KeystrokeProfile::deserialize: the same checks, in the same order; throws TsProfileError. */
export function parseKeystrokeProfile(bytes: Uint8Array): TsKeystrokeProfile {
  const r = new Reader(bytes);
  if (r.u32('magic') !== PROFILE_MAGIC) throw new TsProfileError('keystroke profile: bad magic (want SKP1)');
  const version = r.u32('version');
  if (version !== PROFILE_VERSION) throw new TsProfileError(`keystroke profile: unknown version ${version}`);
  const window = r.u32('window');
  if (window === 0) throw new TsProfileError('keystroke profile: window 0');
  const threshold = r.f64('threshold');
  const mu: number[] = [];
  for (let k = 0; k < COMPONENTS; k++) mu.push(r.f64('mu'));
  const sd: number[] = [];
  for (let k = 0; k < COMPONENTS; k++) {
    const s = r.f64('sd');
    if (!(s > 0)) throw new TsProfileError('keystroke profile: sd must be > 0');
    sd.push(s);
  }
  const nKeys = r.u32('n_keys');
  const global: number[] = [];
  for (let i = 0; i < GLOBAL_FEATURES; i++) global.push(r.f32('global feature'));
  const hold = readStats(r, MONO_BUCKETS, 'hold');
  const pp = readStats(r, DIGRAPH_BUCKETS, 'pp');
  const rp = readStats(r, DIGRAPH_BUCKETS, 'rp');
  const nloo = r.u32('loo count');
  if (nloo > MAX_LOO_WINDOWS || nloo * 8 * COMPONENTS !== r.left()) {
    throw new TsProfileError(`keystroke profile: ${nloo} leave-one-out windows do not fill the ${r.left()} bytes left`);
  }
  for (let i = 0; i < nloo * COMPONENTS; i++) r.f64('loo component');
  return { window, threshold, mu, sd, ref: { hold, pp, rp, global, nKeys }, looWindows: nloo };
}

/** Welford accumulator in double, as `Acc` in keystroke.cpp. */
class Acc {
  n = 0;
  mean = 0;
  m2 = 0;
  add(x: number): void {
    this.n++;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
  }
}

function addTo(m: Map<number, Acc>, bucket: number, x: number): void {
  let a = m.get(bucket);
  if (!a) {
    a = new Acc();
    m.set(bucket, a);
  }
  a.add(x);
}

/** flatten(): float32 mean and M2, sorted by bucket. */
function flatten(m: Map<number, Acc>): TsBucketStat[] {
  const v: TsBucketStat[] = [];
  for (const [bucket, a] of m) v.push({ bucket, n: a.n, mean: Math.fround(a.mean), m2: Math.fround(a.m2) });
  v.sort((a, b) => a.bucket - b.bucket);
  return v;
}

function accSd(a: Acc): number {
  return a.n > 1 ? Math.fround(Math.sqrt(a.m2 / (a.n - 1))) : 0;
}

/** BucketStat::sd(): float division and float sqrt. */
function bucketSd(b: TsBucketStat): number {
  return b.n > 1 ? Math.fround(Math.sqrt(Math.fround(b.m2 / Math.fround(b.n - 1)))) : 0;
}

/**
 * TimingStats::from_records over `n` key records of `keys` (KEY_RECORD_STRIDE numbers each)
 * starting at record `first`. Timings are rounded to float first, as recordsFrom() in the binding
 * does when it builds a KeystrokeRecord.
 */
export function timingStatsFromRecords(keys: Float64Array, first: number, n: number): TsTimingStats {
  const hold = new Map<number, Acc>();
  const pp = new Map<number, Acc>();
  const rp = new Map<number, Acc>();
  const gh = new Acc();
  const gpp = new Acc();
  const grp = new Acc();
  const pps: number[] = [];
  let bs = 0;
  for (let i = 0; i < n; i++) {
    const o = (first + i) * KEY_RECORD_STRIDE;
    const flags = keys[o + 1] as number;
    if (flags & 1) bs++;
    if (flags & 2) {
      const h = Math.fround(keys[o + 4] as number);
      addTo(hold, keys[o + 2] as number, h);
      gh.add(h);
    }
    if (flags & 4) {
      const dg = keys[o + 3] as number;
      const p = Math.fround(keys[o + 5] as number);
      const q = Math.fround(keys[o + 6] as number);
      addTo(pp, dg, p);
      addTo(rp, dg, q);
      gpp.add(p);
      grp.add(q);
      pps.push(p);
    }
  }
  const global = [
    Math.fround(gh.mean), accSd(gh), Math.fround(gpp.mean), accSd(gpp), Math.fround(grp.mean), accSd(grp),
    n ? Math.fround(bs / n) : 0, 0,
  ];
  if (pps.length) {
    // std::nth_element at size/2: the element that a full sort puts there.
    pps.sort((a, b) => a - b);
    global[7] = pps[pps.length >> 1] as number;
  }
  return { hold: flatten(hold), pp: flatten(pp), rp: flatten(rp), global, nKeys: n };
}

/** for_shared(): merge walk over two bucket-sorted lists. */
function forShared(a: TsBucketStat[], b: TsBucketStat[], f: (x: TsBucketStat, y: TsBucketStat) => void): void {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as TsBucketStat;
    const y = b[j] as TsBucketStat;
    if (x.bucket < y.bucket) i++;
    else if (y.bucket < x.bucket) j++;
    else {
      f(x, y);
      i++;
      j++;
    }
  }
}

function aMeasure(ref: TsBucketStat[], s: TsBucketStat[]): number {
  let n = 0;
  let similar = 0;
  forShared(ref, s, (x, y) => {
    const a = Math.max(x.mean, 1);
    const b = Math.max(y.mean, 1);
    n++;
    if (Math.max(a, b) / Math.min(a, b) <= GP_T) similar++;
  });
  if (n < GP_MIN_SHARED) return 1;
  return 1 - similar / n;
}

function rMeasure(ref: TsBucketStat[], s: TsBucketStat[]): number {
  const refMean: number[] = [];
  const sMean: number[] = [];
  forShared(ref, s, (x, y) => {
    refMean.push(x.mean);
    sMean.push(y.mean);
  });
  const n = refMean.length;
  if (n < GP_MIN_SHARED || n < 2) return 1;
  const byRef = Array.from({ length: n }, (_, i) => i);
  const byS = Array.from({ length: n }, (_, i) => i);
  // Array.prototype.sort is stable (ES2019), as std::stable_sort: ties keep bucket order.
  byRef.sort((a, b) => (refMean[a] as number) - (refMean[b] as number));
  byS.sort((a, b) => (sMean[a] as number) - (sMean[b] as number));
  const rankS = new Array<number>(n);
  for (let i = 0; i < n; i++) rankS[byS[i] as number] = i;
  let dis = 0;
  for (let i = 0; i < n; i++) dis += Math.abs(i - (rankS[byRef[i] as number] as number));
  const maxdis = n % 2 === 0 ? (n * n) / 2 : (n * n - 1) / 2;
  return dis / maxdis;
}

function scaledManhattan(ref: TsTimingStats, s: TsTimingStats): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < GLOBAL_FEATURES; i++) {
    const rg = ref.global[i] as number;
    const scale = Math.max(0.1 * Math.abs(rg), i === 6 ? 0.02 : 5.0);
    // float − float in C++: rounded to float before the double division.
    sum += Math.abs(Math.fround((s.global[i] as number) - rg)) / scale;
    n++;
  }
  const perBucket = (a: TsBucketStat[], b: TsBucketStat[]): void => {
    forShared(a, b, (x, y) => {
      if (x.n < 2) return;
      const scale = Math.max(bucketSd(x), 10.0);
      sum += Math.abs(y.mean - x.mean) / scale;
      n++;
    });
  };
  perBucket(ref.hold, s.hold);
  perBucket(ref.pp, s.pp);
  return n ? sum / n : 1e9;
}

/** KeystrokeProfile::raw: [R_pp, A_pp, A_hold, A_rp, SM], lower = closer. */
export function rawComponents(ref: TsTimingStats, s: TsTimingStats): number[] {
  return [rMeasure(ref.pp, s.pp), aMeasure(ref.pp, s.pp), aMeasure(ref.hold, s.hold), aMeasure(ref.rp, s.rp), scaledManhattan(ref, s)];
}

/** KeystrokeProfile::fused_score with fused_v1(): −Σ w_k (raw_k − mu_k) / sd_k. */
export function fusedScore(p: TsKeystrokeProfile, s: TsTimingStats): number {
  const c = rawComponents(p.ref, s);
  let v = 0;
  for (let k = 0; k < COMPONENTS; k++) v += (FUSED_V1[k] as number) * (((c[k] as number) - (p.mu[k] as number)) / (p.sd[k] as number));
  return -v;
}

/**
 * The addon's KeystrokeScorer: keeps the last `window` records and scores a window every `stride`
 * records, rebuilding the window's TimingStats from scratch each time as the native code does.
 */
export class TsKeystrokeScorer {
  readonly profile: TsKeystrokeProfile;
  private readonly stride: number;
  private ring = new Float64Array(0);
  private sinceScore = 0;

  constructor(profile: Uint8Array, stride: number) {
    this.profile = parseKeystrokeProfile(profile);
    if (!(stride >= 1 && stride <= this.profile.window) || !Number.isInteger(stride)) {
      throw new RangeError('stride must be an integer in 1..window');
    }
    this.stride = stride;
  }

  push(keys: Float64Array): Float64Array {
    if (keys.length % KEY_RECORD_STRIDE) throw new RangeError('keys: length must be a multiple of 7');
    const W = this.profile.window;
    // The buffered tail followed by the batch: window i ends at record i of `all`.
    const all = new Float64Array(this.ring.length + keys.length);
    all.set(this.ring);
    all.set(keys, this.ring.length);
    const buffered = this.ring.length / KEY_RECORD_STRIDE;
    const total = all.length / KEY_RECORD_STRIDE;
    const scores: number[] = [];
    for (let end = buffered; end < total; end++) {
      if (end + 1 >= W && ++this.sinceScore >= this.stride) {
        this.sinceScore = 0;
        scores.push(fusedScore(this.profile, timingStatsFromRecords(all, end + 1 - W, W)));
      }
    }
    const keep = Math.min(total, W);
    this.ring = all.slice((total - keep) * KEY_RECORD_STRIDE);
    return Float64Array.from(scores);
  }
}
