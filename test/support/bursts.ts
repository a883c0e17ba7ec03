/**
 * Small deterministic event bursts for tests: a ransomware-like process (read, overwrite with
 * real AES ciphertext, rename to a new extension, across many files) and benign bursts
 * (compile-like, archive-like). Content samples are real bytes, so entropy is computed natively.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { fsEvent, type FsEvent } from '../../src/protocol/event.js';
import { xorshift32 } from './prng.js';

/** Deterministic pseudo-text of n bytes (low entropy, like a document). */
export function textBytes(n: number, seed: number): Buffer {
  const words = ['the', 'report', 'quarter', 'budget', 'meeting', 'project', 'and', 'of', 'to', 'notes', 'draft', 'final'];
  let s = '';
  let x = seed * 2654435761;
  while (s.length < n) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += words[x % words.length] + (x % 7 === 0 ? '.\n' : ' ');
  }
  return Buffer.from(s.slice(0, n));
}

/** AES-256-CTR ciphertext of n bytes, deterministic for a seed. */
export function cipherBytes(n: number, seed: number): Buffer {
  const key = createHash('sha256').update(`key${seed}`).digest();
  const iv = createHash('md5').update(`iv${seed}`).digest();
  return createCipheriv('aes-256-ctr', key, iv).update(Buffer.alloc(n));
}

/** Bytes with about 5–6 bits/byte of entropy, like object code. */
export function objectBytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  const next = xorshift32(seed);
  for (let i = 0; i < n; i++) {
    const x = next();
    b[i] = x % 5 === 0 ? 0 : x % 3 === 0 ? 0x48 : x & 0x3f;
  }
  b.set([0x7f, 0x45, 0x4c, 0x46], 0);
  return b;
}

const ZIP_HEADER = Buffer.from('504b0304140006000800000021', 'hex');

export interface BurstOptions {
  pid: number;
  ppid?: number;
  sid?: number;
  comm: string;
  dir: string;
  files: number;
  startNs: bigint;
  /** Gap between events, ns. */
  stepNs?: bigint;
}

/** Events of one process, `stepNs` apart from `startNs`, with the burst's identity filled in. */
type BurstEvent = Omit<Parameters<typeof fsEvent>[0], 'pid'>;

function eventStream(o: BurstOptions): { out: FsEvent[]; ev: (e: BurstEvent) => void } {
  const step = o.stepNs ?? 1_000_000n;
  let ts = o.startNs;
  const out: FsEvent[] = [];
  const ev = (e: BurstEvent): void => {
    out.push(fsEvent({ ppid: o.ppid ?? 1, sid: o.sid ?? 0, uid: 1000, comm: o.comm, ...e, pid: o.pid, ts }));
    ts += step;
  };
  return { out, ev };
}

export function ransomwareBurst(o: BurstOptions): FsEvent[] {
  const { out, ev: push } = eventStream(o);
  for (let i = 0; i < o.files; i++) {
    const path = `${o.dir}/report-${i}.docx`;
    const plain = Buffer.concat([ZIP_HEADER, textBytes(4096, i)]).subarray(0, 4096);
    const enc = cipherBytes(4096, i);
    push({ op: 'open', path, flags: 2, size: 65536n });
    push({ op: 'read', path, offset: 0n, len: 65536n, size: 65536n, sample: plain });
    push({ op: 'write', path, offset: 0n, len: 65536n, size: 65536n, sample: enc, headerBefore: plain.subarray(0, 256) });
    push({ op: 'close', path, size: 65536n, headerAfter: enc.subarray(0, 256) });
    push({ op: 'rename', path, path2: `${path}.kr4ken`, size: 65536n });
  }
  return out;
}

export function compileBurst(o: BurstOptions): FsEvent[] {
  const { out, ev } = eventStream(o);
  for (let i = 0; i < o.files; i++) {
    const src = `${o.dir}/src/mod${i}.c`;
    const obj = `${o.dir}/build/mod${i}.o`;
    ev({ op: 'open', path: src, size: 8192n });
    ev({ op: 'read', path: src, len: 8192n, size: 8192n, sample: textBytes(4096, i + 100) });
    ev({ op: 'create', path: obj, flags: 0o1101 });
    ev({ op: 'write', path: obj, len: 16384n, size: 16384n, sample: objectBytes(4096, i + 1) });
    ev({ op: 'close', path: obj, size: 16384n, headerAfter: objectBytes(256, i + 1) });
  }
  return out;
}

export function archiveBurst(o: BurstOptions): FsEvent[] {
  const { out, ev } = eventStream(o);
  const archive = `${o.dir}/backup.tar.gz`;
  ev({ op: 'create', path: archive, flags: 0o1101 });
  let size = 0n;
  for (let i = 0; i < o.files; i++) {
    const src = `${o.dir}/docs/page-${i}.txt`;
    ev({ op: 'open', path: src, size: 4096n });
    ev({ op: 'read', path: src, len: 4096n, size: 4096n, sample: textBytes(4096, i + 500) });
    ev({ op: 'write', path: archive, offset: size, len: 4096n, size: size + 4096n, sample: cipherBytes(4096, i + 900) });
    size += 4096n;
  }
  ev({ op: 'close', path: archive, size, headerAfter: Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0]) });
  return out;
}
