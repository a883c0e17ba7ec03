/**
 * Plain-TypeScript mirror of the native feature extraction (native/core/features.h,
 * heuristic.h, engine.cc), used as the baseline of bench/cases/native.ts and as a cross-check
 * of the native rows in test/native/mirror.test.ts.
 *
 * Scope: everything the native engine computes from records WITHOUT content bytes (sample,
 * header_before, header_after are skipped: no sample entropy, chi-square, base64/hex or magic
 * classes). Within that scope it is faithful: the same EVENT_BATCH decoding and record checks
 * (DataView over the same binary frames), the same subject keys, windows, bucket arithmetic on
 * event time, bounded 4-way LRU tables with the same murmur3 hashing, the same engine-wide
 * extension table, the same LRU subject eviction, due marking and heuristic. Row values are
 * float32 like the native ones, so rows compare exactly; scores are computed in double here and
 * in float natively (they agree to ~1e-6).
 *
 * Time: event time is kept as ns relative to a base second (the first event's second, floored
 * to a multiple of 10), split exactly from the u64 without BigInt; exact within +-104 days of
 * the first event.
 */
import { META_STRIDE } from '../src/binding.js';

const HEADER = 12;
const RECORD_FIXED = 84;
const MAX_PAYLOAD = 1 << 20;
const MAGIC = 0x4e53;
const T_EVENT_BATCH = 0x10;

// ---- feature schema (features.h) ----
export const WINDOW_FEATURES = [
  'ops', 'reads', 'writes', 'write_bytes', 'mean_entropy', 'high_entropy_writes', 'uniform_writes',
  'entropy_rise', 'encoded_writes', 'type_changes', 'ext_changes', 'rare_ext', 'renames', 'unlinks',
  'truncates', 'creates', 'distinct_files', 'distinct_dirs', 'read_then_overwrite',
  'create_then_delete', 'note_spread', 'decoy_touches', 'high_entropy_overwrite', 'rare_ext_renames',
] as const;
export const LIFE_FEATURES = ['life.events', 'life.age_s', 'life.high_entropy_writes', 'life.read_then_overwrite', 'life.ext_changes', 'life.decoy_touches', 'life.files_written'] as const;
const WINDOWS = [
  { prefix: 'w1s', bucketNs: 100_000_000, buckets: 10, perSec: 10 },
  { prefix: 'w10s', bucketNs: 1_000_000_000, buckets: 10, perSec: 1 },
  { prefix: 'w60s', bucketNs: 10_000_000_000, buckets: 6, perSec: 0.1 },
] as const;
const BUCKET_OFFSET = [0, 10, 20];
const TOTAL_BUCKETS = 26;
export const FEATURE_NAMES: string[] = [...WINDOWS.flatMap((w) => WINDOW_FEATURES.map((f) => `${w.prefix}.${f}`)), ...LIFE_FEATURES];
const NWF = WINDOW_FEATURES.length;
export const FEATURE_COUNT = FEATURE_NAMES.length;

// Counter indices (features.h Counter).
const C_OPS = 0, C_READS = 1, C_WRITES = 2, C_ENT_SUM = 3, C_ENT_N = 4, C_HIGH = 5, C_RISE = 7;
const C_EXT_CHANGE = 10, C_RARE = 11, C_RENAMES = 12, C_UNLINKS = 13, C_TRUNC = 14, C_CREATES = 15;
const C_DFILES = 16, C_DDIRS = 17, C_RTO = 18, C_CTD = 19, C_NOTE = 20, C_DECOY = 21, C_RTO_HIGH = 22, C_RARE_REN = 23, NC = 24;
// Counters the heuristic reads (a change marks the score for recomputation).
const SCORE_COUNTERS = (1 << C_HIGH) | (1 << 8) | (1 << C_RISE) | (1 << C_EXT_CHANGE) | (1 << C_RARE) | (1 << 9) | (1 << C_CTD) | (1 << 6) | (1 << C_NOTE) | (1 << C_DECOY) | (1 << C_RTO) | (1 << C_UNLINKS) | (1 << C_RTO_HIGH) | (1 << C_RARE_REN);
// Life indices.
const L_EVENTS = 0, L_HIGH = 2, L_RTO = 3, L_EXT = 4, L_DECOY = 5;

export const CONTRIBUTION_NAMES = [
  'overwrite_entropy', 'entropy_rise', 'rare_ext_change', 'rare_ext_write', 'type_change', 'copy_delete',
  'copy_delete_rare', 'uniform_overwrite', 'note_spread', 'decoy', 'slow_overwrite', 'high_entropy_volume',
  'encoded_volume', 'ext_churn', 'mass_unlink',
] as const;
export const DEFAULT_WEIGHTS = [2.0, 1.0, 1.0, 0.8, 1.0, 0.7, 1.0, 0.8, 0.8, 4.0, 1.0, 0.15, 0.4, 0.1, 0.2];

const F32_HIGH = Math.fround(7.2);
const TREE_INHERIT_SCORE = Math.fround(0.25); // engine.h kTreeInheritScore
const RARE_MAX_SEEN = 32;

const COMMON_EXTS = new Set(
  ('txt md rst pdf doc docx docm xls xlsx xlsm ppt pptx odt ods odp rtf csv tsv json xml yaml yml toml ini cfg conf ' +
    'log html htm css svg tex epub db sqlite sqlite3 sql mdb accdb eml msg pst ics vcf key pem crt cer pub asc gpg ' +
    'sig lock pid sock jpg jpeg png gif bmp tif tiff webp ico heic raw psd mp3 wav flac ogg m4a aac mp4 mkv avi mov ' +
    'webm wmv ttf otf woff woff2 c h cc cpp cxx hpp hh o obj a so lo la d dep gch pch py pyc pyo pyi js mjs cjs ts ' +
    'tsx jsx map java class jar go rs rb php pl pm sh bash zsh lua swift kt scala cs vb r m mm s asm wasm node dll ' +
    'exe bin elf out mk cmake gyp gypi ninja make am in ac m4 pc rlib rmeta whl egg gem deb rpm apk pkg idx pack ' +
    'rev keep sample patch diff orig rej info cache stamp tlog zip tar gz tgz bz2 xz zst lz4 lzma 7z rar cab iso img ' +
    'qcow2 vmdk dmg tmp temp part partial crdownload swp swo bak old new dpkg-new dpkg-old dpkg-tmp dpkg-dist ' +
    'ucf-dist rpmnew rpmsave journal wal shm').split(' '),
);
const NOTE_EXTS = new Set(['txt', 'html', 'htm', 'hta', 'rtf', 'url', 'bmp']);

// ---- hashing (sample.h) ----
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function murmur(b: Uint8Array, at: number, n: number, seed: number): number {
  let h = seed;
  const nb = n >>> 2;
  let p = at;
  for (let i = 0; i < nb; i++, p += 4) {
    let k = (b[p] as number) | ((b[p + 1] as number) << 8) | ((b[p + 2] as number) << 16) | ((b[p + 3] as number) << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const r = n & 3;
  if (r === 3) k ^= (b[p + 2] as number) << 16;
  if (r >= 2) k ^= (b[p + 1] as number) << 8;
  if (r >= 1) {
    k ^= b[p] as number;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n;
  return fmix32(h >>> 0);
}

const SEED_DIR = 0x5e17, SEED_BASE = 0xba5e, SEED_EXT = 0xe47;
const nz = (h: number): number => (h === 0 ? 1 : h);

interface Parts { dir: number; base: number; key: number; slash: number }
function split(b: Uint8Array, at: number, n: number, out: Parts): void {
  let s = -1;
  for (let i = n; i > 0; i--) {
    if (b[at + i - 1] === 0x2f) {
      s = i - 1;
      break;
    }
  }
  out.slash = s;
  const dn = s < 0 ? 0 : s;
  out.dir = nz(murmur(b, at, dn, SEED_DIR));
  out.base = nz(murmur(b, at + s + 1, n - s - 1, SEED_BASE));
  out.key = nz(fmix32((Math.imul(out.dir, 0x9e3779b1) + out.base) >>> 0));
}

const extScratch = new Uint8Array(32);
/** Lower-cased extension as a string ('' when none) and its hash in extHash. */
let extHash = 0;
/** sample.cc isCommonExt: the built-in list, or only digits (rotation/version suffixes). */
const isCommonExt = (e: string): boolean => /^[0-9]+$/.test(e) || COMMON_EXTS.has(e);

function extOf(b: Uint8Array, at: number, n: number, slash: number): string {
  extHash = 0;
  const bo = slash + 1;
  let dot = n;
  for (let i = n; i > bo; i--) {
    if (b[at + i - 1] === 0x2e) {
      dot = i - 1;
      break;
    }
  }
  if (dot === n || dot === bo) return '';
  const len = n - dot - 1;
  if (len === 0 || len > 32) return '';
  let s = '';
  for (let i = 0; i < len; i++) {
    let c = b[at + dot + 1 + i] as number;
    if (c >= 65 && c <= 90) c += 32;
    const ok = (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95 || c === 45;
    if (!ok) return '';
    extScratch[i] = c;
    s += String.fromCharCode(c);
  }
  extHash = nz(murmur(extScratch, 0, len, SEED_EXT));
  return s;
}

// ---- subjects ----
const WAYS = 4, PATH_SETS = 16, DIR_SETS = 8, NOTE_SETS = 4;
const PF_READ = 1, PF_WROTE = 2, PF_RTO = 4, PF_RTO_HIGH = 8;
const NIL = -1;

class Subject {
  id = 0;
  kind = 0;
  state = 0;
  due = false;
  dirty = false;
  scoreDirty = false;
  live = true;
  pid = 0;
  startHi = 0;
  startLo = 0;
  treeKey: number | string = 0;
  treeId = 0;
  events = 0;
  lastIndex = 0;
  lruTouchedAt = 0;
  firstNs = 0;
  lastNs = 0;
  lastScoredNs = 0;
  score = 0;
  filesWritten = 0;
  prev: Subject | null = null;
  next: Subject | null = null;
  life = new Float64Array(7);
  headEpoch = new Float64Array(3);
  head = new Int32Array(3);
  tot = new Float64Array(3 * NC);
  totBytes = new Float64Array(3);
  buckets = new Uint32Array(TOTAL_BUCKETS * NC);
  bucketBytes = new Float64Array(TOTAL_BUCKETS);
  pathKey = new Uint32Array(PATH_SETS * WAYS);
  pathFlags = new Uint8Array(PATH_SETS * WAYS);
  pathReadQ = new Uint8Array(PATH_SETS * WAYS);
  pathLast = new Float64Array(PATH_SETS * WAYS);
  dirKey = new Uint32Array(DIR_SETS * WAYS);
  dirLast = new Float64Array(DIR_SETS * WAYS);
  noteKey = new Uint32Array(NOTE_SETS * WAYS);
  noteDirs = new Uint32Array(NOTE_SETS * WAYS * 3);
  noteN = new Uint8Array(NOTE_SETS * WAYS);
  noteLast = new Float64Array(NOTE_SETS * WAYS);
  sinceScored = 0;
}

/** Set-associative lookup-or-insert; returns the way index, fresh flag in `lookupFresh`. */
let lookupFresh = false;
function lookupInsert(keys: Uint32Array, last: Float64Array, sets: number, key: number): number {
  const base = (key & (sets - 1)) * WAYS;
  for (let i = 0; i < WAYS; i++) {
    if (keys[base + i] === key) {
      lookupFresh = false;
      return base + i;
    }
  }
  let v = base;
  for (let i = 0; i < WAYS; i++) {
    if (keys[base + i] === 0) {
      v = base + i;
      break;
    }
    if ((last[base + i] as number) < (last[v] as number)) v = base + i;
  }
  keys[v] = key;
  last[v] = 0;
  lookupFresh = true;
  return v;
}

export interface TsEngineOptions {
  dueEveryEvents: number;
  dueEveryMs: number;
  triggerScore: number;
  maxSubjects: number;
  idleEvictMs: number;
}

export class TsFeatureEngine {
  private readonly opts: TsEngineOptions;
  private readonly weights = DEFAULT_WEIGHTS.slice();
  private readonly procs = new Map<number, Subject[]>();
  private readonly trees = new Map<number | string, Subject>();
  private readonly byId = new Map<number, Subject>();
  private lruHead: Subject | null = null;
  private lruTail: Subject | null = null;
  private live = 0;
  private nextId = 1;
  private globalIndex = 0;
  private readonly lruLag: number;
  private baseSec = NaN;
  private readonly extKeys = new Uint32Array(4096);
  private readonly extCounts = new Uint32Array(4096);
  private dueIds: number[] = [];
  private dueLive = 0;
  private dirty: Subject[] = [];
  private readonly p1: Parts = { dir: 0, base: 0, key: 0, slash: -1 };
  private readonly p2: Parts = { dir: 0, base: 0, key: 0, slash: -1 };
  private readonly row = new Float32Array(FEATURE_COUNT);
  private tail: Uint8Array = new Uint8Array(0);
  accepted = 0;
  rejected = 0;
  droppedNoSubject = 0;
  evicted = 0;

  constructor(opts: TsEngineOptions) {
    this.opts = { ...opts, maxSubjects: Math.max(2, opts.maxSubjects), dueEveryEvents: Math.max(1, opts.dueEveryEvents) };
    this.lruLag = Math.floor(this.opts.maxSubjects / 32);
  }

  get subjectsLive(): number {
    return this.live;
  }
  get dueCount(): number {
    return this.dueLive;
  }

  /** Decodes complete frames of a chunk (EVENT_BATCH only; other frame types are skipped). */
  ingest(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.tail.length) {
      const b = new Uint8Array(this.tail.length + chunk.length);
      b.set(this.tail);
      b.set(chunk, this.tail.length);
      buf = b;
    }
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let off = 0;
    while (buf.length - off >= HEADER) {
      if (dv.getUint16(off, true) !== MAGIC || dv.getUint8(off + 2) !== 1) throw new Error('framing lost');
      const len = dv.getUint32(off + 4, true);
      if (len > MAX_PAYLOAD) throw new Error('frame too large');
      if (buf.length - off - HEADER < len) break;
      if (dv.getUint8(off + 3) === T_EVENT_BATCH) this.batch(buf, dv, off + HEADER, len);
      off += HEADER + len;
    }
    this.tail = off < buf.length ? buf.slice(off) : new Uint8Array(0);
    this.finishBatch();
  }

  private batch(b: Uint8Array, dv: DataView, p: number, len: number): void {
    if (len < 4) return;
    const count = dv.getUint32(p, true);
    let off = 4;
    let k = 0;
    let broken = false;
    while (k < count && off < len) {
      if (len - off < 2) {
        broken = true;
        break;
      }
      const rl = dv.getUint16(p + off, true);
      if (rl < RECORD_FIXED || rl > len - off) {
        broken = true;
        break;
      }
      off += rl;
      k++;
    }
    if (!broken && (k < count || off !== len)) return; // MALFORMED_FRAME: skipped
    off = 4;
    for (let i = 0; i < k; i++) {
      const rl = dv.getUint16(p + off, true);
      if (this.record(b, dv, p + off, rl)) this.accepted++;
      else this.rejected++;
      off += rl;
    }
    if (broken) this.rejected += Math.min(count - k, 1 + Math.floor((len - off) / RECORD_FIXED));
  }

  /** Validates and feeds one record; false when it is invalid. */
  private record(b: Uint8Array, dv: DataView, r: number, recLen: number): boolean {
    const op = b[r + 2] as number;
    const flags = b[r + 3] as number;
    const pid = dv.getUint32(r + 4, true);
    const commLen = dv.getUint16(r + 72, true);
    const pathLen = dv.getUint16(r + 74, true);
    const path2Len = dv.getUint16(r + 76, true);
    const sampleLen = dv.getUint16(r + 78, true);
    const hbLen = dv.getUint16(r + 80, true);
    const haLen = dv.getUint16(r + 82, true);
    if (commLen > 255 || pathLen > 4096 || path2Len > 4096 || sampleLen > 4096 || hbLen > 256 || haLen > 256) return false;
    if (RECORD_FIXED + commLen + pathLen + path2Len + sampleLen + hbLen + haLen !== recLen) return false;
    if (op === 0 || op > 12 || pid === 0 || pathLen === 0 || (op === 6 && path2Len === 0)) return false;
    const entropy = dv.getFloat32(r + 68, true);
    if ((flags & 1) && !(entropy >= 0 && entropy <= 8)) return false;
    if (flags & ~1) return false;
    this.feed(b, dv, r, op, flags, pid, entropy, r + RECORD_FIXED + commLen, pathLen, path2Len);
    return true;
  }

  private feed(b: Uint8Array, dv: DataView, r: number, op: number, flags: number, pid: number, ent: number, pathAt: number, pathLen: number, path2Len: number): void {
    const ppid = dv.getUint32(r + 8, true);
    const sid = dv.getUint32(r + 16, true);
    const tsLo = dv.getUint32(r + 24, true);
    const tsHi = dv.getUint32(r + 28, true);
    const startLo = dv.getUint32(r + 32, true);
    const startHi = dv.getUint32(r + 36, true);
    const lenLo = dv.getUint32(r + 48, true);
    const lenHi = dv.getUint32(r + 52, true);

    // Exact split of the u64 ns timestamp into seconds and the ns remainder.
    const lo2 = tsLo % 1e9;
    const hiMod = tsHi % 1e9;
    // (hiMod * 2^32) mod 1e9 computed without overflow: 2^32 = 4294967296 = 4*1e9 + 294967296
    // hiMod * 294967296 may exceed 2^53, so split the constant: 294967296 = 4500 * 65536 + 55296.
    const b1 = 4500, b0 = 55296;
    const t1 = ((hiMod * b1) % 1e9) * 65536 % 1e9;
    const t0 = (hiMod * b0) % 1e9;
    const rem = (t1 + t0 + lo2) % 1e9;
    const approx = tsHi * 4294967296 + tsLo;
    const sec = Math.round((approx - rem) / 1e9);
    if (Number.isNaN(this.baseSec)) this.baseSec = Math.floor(sec / 10) * 10;
    const relSec = sec - this.baseSec;
    const ts = relSec * 1e9 + rem;
    const ep0 = relSec * 10 + Math.floor(rem / 1e8);
    const ep1 = relSec;
    const ep2 = Math.floor(relSec / 10);

    split(b, pathAt, pathLen, this.p1);
    const hasP2 = path2Len > 0;
    if (hasP2) split(b, pathAt + pathLen, path2Len, this.p2);
    const hasEnt = (flags & 1) !== 0;
    let entMilli = 0, entQ = 255, high = false;
    if (hasEnt) {
      entMilli = Math.round(Math.fround(ent * 1000));
      entQ = Math.round(Math.fround(ent * 16));
      high = ent >= F32_HIGH;
    }
    let extChange = false, rare = false, noteExt = false;
    if (op === 6 && hasP2) {
      const a = extOf(b, pathAt, pathLen, this.p1.slash);
      const e2 = extOf(b, pathAt + pathLen, path2Len, this.p2.slash);
      extChange = a !== e2;
      if (e2 !== '' && !isCommonExt(e2)) rare = this.extSeen(extHash) <= RARE_MAX_SEEN;
    } else if (op === 4) {
      const a = extOf(b, pathAt, pathLen, this.p1.slash);
      if (a !== '' && !isCommonExt(a)) rare = this.extSeen(extHash) <= RARE_MAX_SEEN;
      noteExt = NOTE_EXTS.has(a);
    }

    // Tree key (engine.cc resolve): the session; else the parent when it is not init or a
    // reaper (ppid <= 1); else the process itself (the root of its own tree).
    const treeKey: number | string = sid ? 4294967296 + sid : ppid > 1 ? ppid : `${pid}:${startHi}:${startLo}`;
    let tree = this.trees.get(treeKey) ?? null;
    if (!tree) tree = this.create(1, null, ts, (s) => { s.treeKey = treeKey; this.trees.set(treeKey, s); });
    let list = this.procs.get(pid);
    let proc: Subject | null = null;
    if (list) for (const s of list) if (s.startLo === startLo && s.startHi === startHi) proc = s;
    if (!proc) {
      proc = this.create(0, tree, ts, (s) => {
        s.pid = pid;
        s.startLo = startLo;
        s.startHi = startHi;
        list = this.procs.get(pid);
        if (list) list.push(s);
        else this.procs.set(pid, [s]);
      });
    }
    if (!tree || !proc) this.droppedNoSubject++;
    const len = lenHi * 4294967296 + lenLo;
    const ev = { op, ts, ep0, ep1, ep2, len, hasEnt, ent, entMilli, entQ, high, extChange, rare, noteExt, hasP2 };
    if (tree) this.apply(tree, ev);
    if (proc) {
      proc.treeId = tree ? tree.id : 0;
      this.apply(proc, ev);
    }
    this.globalIndex++;
  }

  private extSeen(hash: number): number {
    let i = hash & 4095;
    for (let p = 0; p < 16; p++, i = (i + 1) & 4095) {
      if (this.extKeys[i] === hash) {
        const c = (this.extCounts[i] as number) + 1;
        this.extCounts[i] = c;
        return c;
      }
      if (this.extKeys[i] === 0) {
        this.extKeys[i] = hash;
        this.extCounts[i] = 1;
        return 1;
      }
    }
    return 1;
  }

  private lruUnlink(s: Subject): void {
    if (s.prev) s.prev.next = s.next;
    else this.lruHead = s.next;
    if (s.next) s.next.prev = s.prev;
    else this.lruTail = s.prev;
    s.prev = s.next = null;
  }

  private lruPushFront(s: Subject): void {
    s.prev = null;
    s.next = this.lruHead;
    if (this.lruHead) this.lruHead.prev = s;
    this.lruHead = s;
    if (!this.lruTail) this.lruTail = s;
  }

  private effectiveState(s: Subject): number {
    let st = s.state;
    if (s.kind === 0 && s.treeId && (s.state >= 1 || s.score >= TREE_INHERIT_SCORE)) {
      const t = this.byId.get(s.treeId);
      if (t) st = Math.max(st, t.state);
    }
    return st;
  }

  private evictOne(protect: Subject | null, now: number): boolean {
    let best: Subject | null = null;
    let bestTier = 0;
    const idleNs = this.opts.idleEvictMs * 1e6;
    let walked = 0;
    for (let s = this.lruTail; s && walked < 256; s = s.prev, walked++) {
      if (s === protect || this.effectiveState(s) !== 0) continue;
      let tier = 1;
      if (!s.due) tier = 2;
      if (!s.due && now - s.lastNs >= idleNs) tier = 3;
      if (tier > bestTier) {
        best = s;
        bestTier = tier;
        if (tier === 3) break;
      }
    }
    if (!best) return false;
    const s = best;
    if (s.kind === 1) this.trees.delete(s.treeKey);
    else {
      const l = this.procs.get(s.pid) as Subject[];
      l.splice(l.indexOf(s), 1);
      if (l.length === 0) this.procs.delete(s.pid);
    }
    this.byId.delete(s.id);
    this.lruUnlink(s);
    if (s.due) this.dueLive--;
    s.live = false;
    s.due = false;
    s.dirty = false;
    this.live--;
    this.evicted++;
    return true;
  }

  private create(kind: number, protect: Subject | null, now: number, register: (s: Subject) => void): Subject | null {
    if (this.live >= this.opts.maxSubjects && !this.evictOne(protect, now)) return null;
    const s = new Subject();
    s.id = this.nextId++;
    s.kind = kind;
    register(s);
    this.byId.set(s.id, s);
    this.lruPushFront(s);
    this.live++;
    return s;
  }

  private markDue(s: Subject): void {
    if (s.due) return;
    s.due = true;
    this.dueLive++;
    this.dueIds.push(s.id);
  }

  private apply(s: Subject, e: { op: number; ts: number; ep0: number; ep1: number; ep2: number; len: number; hasEnt: boolean; ent: number; entMilli: number; entQ: number; high: boolean; extChange: boolean; rare: boolean; noteExt: boolean; hasP2: boolean }): void {
    const ts = e.ts;
    if (s.events === 0) {
      s.firstNs = s.lastNs = s.lastScoredNs = ts;
      s.headEpoch[0] = e.ep0;
      s.headEpoch[1] = e.ep1;
      s.headEpoch[2] = e.ep2;
    }
    s.events++;
    if (ts > s.lastNs) s.lastNs = ts;
    s.lastIndex = this.globalIndex;
    if (s.events === 1 || this.globalIndex - s.lruTouchedAt >= this.lruLag) {
      s.lruTouchedAt = this.globalIndex;
      if (this.lruHead !== s && s.prev !== this.lruHead) {
        this.lruUnlink(s);
        this.lruPushFront(s);
      }
    }

    const bk = [-1, -1, -1];
    const wstart = [0, 0, 0];
    const eps = [e.ep0, e.ep1, e.ep2];
    for (let w = 0; w < 3; w++) {
      const sp = WINDOWS[w] as (typeof WINDOWS)[number];
      const nb = sp.buckets;
      const off = BUCKET_OFFSET[w] as number;
      const ep = eps[w] as number;
      const head = s.headEpoch[w] as number;
      if (ep > head) {
        const steps = ep - head;
        if (steps >= nb) {
          s.buckets.fill(0, off * NC, (off + nb) * NC);
          s.bucketBytes.fill(0, off, off + nb);
          s.tot.fill(0, w * NC, (w + 1) * NC);
          s.totBytes[w] = 0;
          s.head[w] = 0;
        } else {
          for (let i = 0; i < steps; i++) {
            const h = ((s.head[w] as number) + 1) % nb;
            s.head[w] = h;
            const bi = (off + h) * NC;
            for (let c = 0; c < NC; c++) s.tot[w * NC + c] = (s.tot[w * NC + c] as number) - (s.buckets[bi + c] as number);
            s.totBytes[w] = (s.totBytes[w] as number) - (s.bucketBytes[off + h] as number);
            s.buckets.fill(0, bi, bi + NC);
            s.bucketBytes[off + h] = 0;
          }
        }
        s.headEpoch[w] = ep;
        if (w > 0) s.scoreDirty = true;
        bk[w] = off + (s.head[w] as number);
      } else {
        const back = head - ep;
        bk[w] = back >= nb ? -1 : off + (((s.head[w] as number) + nb - back) % nb);
      }
      wstart[w] = ((s.headEpoch[w] as number) - nb + 1) * sp.bucketNs;
    }

    const cs: number[] = [C_OPS];
    const vs: number[] = [1];
    const add = (c: number, v = 1): void => {
      cs.push(c);
      vs.push(v);
      if (SCORE_COUNTERS & (1 << c)) s.scoreDirty = true;
    };
    let bytes = 0;
    const pe = lookupInsert(s.pathKey, s.pathLast, PATH_SETS, this.p1.key);
    let fresh = lookupFresh;
    const prevPath = fresh ? -Infinity : (s.pathLast[pe] as number);
    if (fresh) {
      s.pathFlags[pe] = 0;
      s.pathReadQ[pe] = 255;
    }
    if (fresh || ts > (s.pathLast[pe] as number)) s.pathLast[pe] = ts;
    const de = lookupInsert(s.dirKey, s.dirLast, DIR_SETS, this.p1.dir);
    fresh = lookupFresh;
    const prevDir = fresh ? -Infinity : (s.dirLast[de] as number);
    if (fresh || ts > (s.dirLast[de] as number)) s.dirLast[de] = ts;

    const markWritten = (i: number): void => {
      if (!((s.pathFlags[i] as number) & PF_WROTE)) {
        s.pathFlags[i] = (s.pathFlags[i] as number) | PF_WROTE;
        s.filesWritten++;
      }
    };
    const rto = (): void => {
      const f = s.pathFlags[pe] as number;
      if (f & PF_READ && !(f & PF_RTO)) {
        s.pathFlags[pe] = f | PF_RTO;
        add(C_RTO);
        s.life[L_RTO]!++;
      }
    };
    switch (e.op) {
      case 2:
        add(C_READS);
        s.pathFlags[pe] = (s.pathFlags[pe] as number) | PF_READ;
        if (e.hasEnt) s.pathReadQ[pe] = e.entQ;
        break;
      case 3:
        add(C_WRITES);
        bytes = e.len;
        if (e.hasEnt) {
          add(3, e.entMilli);
          add(C_ENT_N);
          if (e.high) {
            add(C_HIGH);
            s.life[L_HIGH]!++;
          }
          const q = s.pathReadQ[pe] as number;
          if ((s.pathFlags[pe] as number) & PF_READ && q !== 255 && e.ent >= q / 16 + 2) add(C_RISE);
        }
        if (e.high && (s.pathFlags[pe] as number) & PF_READ && !((s.pathFlags[pe] as number) & PF_RTO_HIGH)) {
          s.pathFlags[pe] = (s.pathFlags[pe] as number) | PF_RTO_HIGH;
          add(C_RTO_HIGH);
        }
        rto();
        markWritten(pe);
        break;
      case 5:
        add(C_TRUNC);
        rto();
        markWritten(pe);
        break;
      case 4:
        add(C_CREATES);
        markWritten(pe);
        if (e.rare) add(C_RARE);
        if (e.noteExt) {
          const ni = lookupInsert(s.noteKey, s.noteLast, NOTE_SETS, this.p1.base);
          if (lookupFresh) {
            s.noteN[ni] = 0;
            s.noteDirs.fill(0, ni * 3, ni * 3 + 3);
          }
          s.noteLast[ni] = ts;
          const n = s.noteN[ni] as number;
          let known = false;
          for (let i = 0; i < n && i < 3; i++) known ||= s.noteDirs[ni * 3 + i] === this.p1.dir;
          if (!known && n < 3) s.noteDirs[ni * 3 + n] = this.p1.dir;
          if (!known && n < 255) s.noteN[ni] = n + 1;
          if ((s.noteN[ni] as number) >= 3) add(C_NOTE);
        }
        break;
      case 6:
        add(C_RENAMES);
        if (e.extChange) {
          add(C_EXT_CHANGE);
          s.life[L_EXT]!++;
        }
        if (e.rare) add(C_RARE);
        if (e.rare && e.extChange) add(C_RARE_REN);
        if (e.hasP2) {
          const fl = (s.pathFlags[pe] as number) & PF_READ;
          const rq = s.pathReadQ[pe] as number;
          const p2 = lookupInsert(s.pathKey, s.pathLast, PATH_SETS, this.p2.key);
          if (lookupFresh) {
            s.pathFlags[p2] = 0;
            s.pathReadQ[p2] = 255;
          }
          if (lookupFresh || ts > (s.pathLast[p2] as number)) s.pathLast[p2] = ts;
          if (fl) {
            s.pathFlags[p2] = (s.pathFlags[p2] as number) | fl;
            s.pathReadQ[p2] = rq;
          }
          markWritten(p2);
        }
        break;
      case 7: {
        add(C_UNLINKS);
        const f = s.pathFlags[pe] as number;
        if (f & PF_READ && s.filesWritten - (f & PF_WROTE ? 1 : 0) >= 1) add(C_CTD);
        break;
      }
      default:
        break;
    }
    s.life[L_EVENTS]!++;

    for (let w = 0; w < 3; w++) {
      const bi = bk[w] as number;
      if (bi < 0) continue;
      const B = bi * NC;
      const T = w * NC;
      for (let i = 0; i < cs.length; i++) {
        const c = cs[i] as number;
        const v = vs[i] as number;
        s.buckets[B + c] = (s.buckets[B + c] as number) + v;
        s.tot[T + c] = (s.tot[T + c] as number) + v;
      }
      s.bucketBytes[bi] = (s.bucketBytes[bi] as number) + bytes;
      s.totBytes[w] = (s.totBytes[w] as number) + bytes;
      if (prevPath < (wstart[w] as number)) {
        s.buckets[B + C_DFILES]!++;
        s.tot[T + C_DFILES]!++;
      }
      if (prevDir < (wstart[w] as number)) {
        s.buckets[B + C_DDIRS]!++;
        s.tot[T + C_DDIRS]!++;
      }
    }

    s.sinceScored++;
    // engine.cc: a subject at or above the trigger is rescored every 8 events.
    const dueAfter = s.score >= this.opts.triggerScore ? Math.min(8, this.opts.dueEveryEvents) : this.opts.dueEveryEvents;
    if (!s.due && (s.sinceScored >= dueAfter || ts - s.lastScoredNs >= this.opts.dueEveryMs * 1e6)) this.markDue(s);
    if (!s.dirty) {
      s.dirty = true;
      this.dirty.push(s);
    }
  }

  fillRow(s: Subject, row: Float32Array, at = 0): void {
    for (let w = 0; w < 3; w++) {
      const T = w * NC;
      const r = at + w * NWF;
      const t = s.tot;
      row[r + 0] = t[T + C_OPS] as number;
      row[r + 1] = t[T + C_READS] as number;
      row[r + 2] = t[T + C_WRITES] as number;
      row[r + 3] = s.totBytes[w] as number;
      const n = t[T + C_ENT_N] as number;
      row[r + 4] = n ? (t[T + C_ENT_SUM] as number) / n / 1000 : 0;
      row[r + 5] = t[T + C_HIGH] as number;
      row[r + 6] = t[T + 6] as number;
      row[r + 7] = t[T + C_RISE] as number;
      row[r + 8] = t[T + 8] as number;
      row[r + 9] = t[T + 9] as number;
      row[r + 10] = t[T + C_EXT_CHANGE] as number;
      row[r + 11] = t[T + C_RARE] as number;
      row[r + 12] = t[T + C_RENAMES] as number;
      row[r + 13] = t[T + C_UNLINKS] as number;
      row[r + 14] = t[T + C_TRUNC] as number;
      row[r + 15] = t[T + C_CREATES] as number;
      row[r + 16] = t[T + C_DFILES] as number;
      row[r + 17] = t[T + C_DDIRS] as number;
      row[r + 18] = t[T + C_RTO] as number;
      row[r + 19] = t[T + C_CTD] as number;
      row[r + 20] = t[T + C_NOTE] as number;
      row[r + 21] = t[T + C_DECOY] as number;
      row[r + 22] = t[T + C_RTO_HIGH] as number;
      row[r + 23] = t[T + C_RARE_REN] as number;
    }
    const l = at + 3 * NWF;
    row[l + 0] = s.life[L_EVENTS] as number;
    row[l + 1] = (s.lastNs - s.firstNs) / 1e9;
    row[l + 2] = s.life[L_HIGH] as number;
    row[l + 3] = s.life[L_RTO] as number;
    row[l + 4] = s.life[L_EXT] as number;
    row[l + 5] = s.life[L_DECOY] as number;
    row[l + 6] = s.filesWritten;
  }

  private finishBatch(): void {
    for (const s of this.dirty) {
      if (!s.live || !s.dirty) continue;
      s.dirty = false;
      if (!s.scoreDirty) continue;
      s.scoreDirty = false;
      this.fillRow(s, this.row);
      const prev = s.score;
      s.score = heuristicScore(this.row, this.weights, null);
      if (s.score >= this.opts.triggerScore && prev < this.opts.triggerScore) this.markDue(s);
    }
    this.dirty = [];
  }

  /** Same contract as RawEngine.collectDue (meta[1] is ms relative to the base second). */
  collectDue(ids: Uint32Array, rows: Float32Array, contrib: Float32Array, meta: Float64Array): number {
    let n = 0;
    let i = 0;
    const F = FEATURE_COUNT;
    const C = CONTRIBUTION_NAMES.length;
    for (; i < this.dueIds.length && n < ids.length; i++) {
      const s = this.byId.get(this.dueIds[i] as number);
      if (!s || !s.due) continue;
      s.due = false;
      this.dueLive--;
      const eventsSinceScored = s.sinceScored;
      s.sinceScored = 0;
      s.lastScoredNs = s.lastNs;
      ids[n] = s.id;
      this.fillRow(s, rows, n * F);
      const c = new Float32Array(C);
      s.score = heuristicScore(rows.subarray(n * F, (n + 1) * F), this.weights, c);
      contrib.set(c, n * C);
      const m = n * META_STRIDE;
      meta[m] = s.score;
      meta[m + 1] = s.lastNs / 1e6;
      meta[m + 2] = s.lastIndex;
      meta[m + 3] = s.kind;
      meta[m + 4] = eventsSinceScored;
      n++;
    }
    this.dueIds = this.dueIds.slice(i);
    return n;
  }
}

/** heuristic.h in double precision. */
export function heuristicScore(row: Float32Array, w: readonly number[], contrib: Float32Array | null): number {
  const f = (win: number, x: number): number => row[win * NWF + x] as number;
  const sat = (x: number, k: number): number => Math.min(1, Math.max(0, x) / k);
  const W = 1;
  const he = f(W, 5) + f(W, 8);
  const life = 3 * NWF;
  const ind = [
    sat(f(W, 22), 3),
    sat(f(W, 7), 4),
    sat(f(W, 23), 3),
    sat(Math.min(f(W, 11), he), 3),
    sat(f(W, 9), 3),
    sat(Math.min(f(W, 19), he), 3),
    sat(Math.min(f(W, 19), f(W, 11), he), 3),
    sat(Math.min(f(W, 22), f(W, 6)), 3),
    sat(f(2, 20), 2) * sat(f(2, 18) + f(2, 19), 3),
    sat(f(2, 21), 1),
    sat(Math.min(row[life + 3] as number, row[life + 2] as number), 24),
    sat(f(W, 5), 32),
    sat(f(W, 8), 8),
    sat(f(W, 10), 10),
    sat(f(W, 13), 100),
  ];
  let sum = 0;
  for (let k = 0; k < ind.length; k++) {
    const c = (w[k] as number) * (ind[k] as number);
    if (contrib) contrib[k] = c;
    sum += c;
  }
  return 1 - Math.exp(-sum);
}
