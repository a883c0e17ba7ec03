/**
 * Deterministic victim corpus for the ransomware simulator: documents, images, source files,
 * a real SQLite database and archives, with realistic headers and sizes, all derived from a
 * seed. Written straight into a directory (the lab writes them into the mount's source before
 * mounting, so the trace holds only the attack). Returns the manifest (relative path → sha256).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import Database from 'better-sqlite3';

export function rng(seed: number): () => number {
  let a = seed >>> 0 || 0x9e3779b9;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = 'the report quarterly revenue customer invoice meeting project budget draft final review contract schedule analysis summary team design release plan update notes client payment order account data market sales cost forecast risk policy'.split(' ');

function text(r: () => number, bytes: number): string {
  const out: string[] = [];
  let n = 0;
  while (n < bytes) {
    const sentence = Array.from({ length: 6 + Math.floor(r() * 10) }, () => WORDS[Math.floor(r() * WORDS.length)]).join(' ');
    const line = sentence.charAt(0).toUpperCase() + sentence.slice(1) + '.\n';
    out.push(line);
    n += line.length;
  }
  return out.join('').slice(0, bytes);
}

function randomBytes(r: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

function source(r: () => number, bytes: number, i: number): string {
  const out = [`/* module ${i} */`, '#include <stdio.h>', ''];
  let n = 0;
  let f = 0;
  while (n < bytes) {
    const body = `int f${i}_${f}(int x) {\n  int y = x * ${Math.floor(r() * 97)};\n  if (y > ${Math.floor(r() * 1000)}) return y - ${f};\n  return y + x;\n}\n`;
    out.push(body);
    n += body.length;
    f++;
  }
  return out.join('\n');
}

export interface VictimFile {
  rel: string;
  size: number;
  sha256: string;
  kind: string;
}

export interface VictimOptions {
  seed: number;
  /** Number of files (default 60). */
  files?: number;
  /** Scale of file sizes (1 = realistic, smaller for fast tests). */
  sizeScale?: number;
}

const KINDS = ['txt', 'docx', 'pdf', 'md', 'csv', 'jpg', 'png', 'c', 'py', 'zip', 'tar.gz', 'xlsx'] as const;

/** Writes <dir>/victims/… and returns the manifest sorted by path. */
export function createVictims(dir: string, o: VictimOptions): VictimFile[] {
  const r = rng(o.seed);
  const n = o.files ?? 60;
  const scale = o.sizeScale ?? 1;
  const dirs = ['Documents', 'Documents/2025', 'Documents/Contracts', 'Pictures', 'Pictures/Holiday', 'Projects/app/src', 'Projects/app/docs', 'Data', 'Archives'];
  const root = path.join(dir, 'victims');
  for (const d of dirs) fs.mkdirSync(path.join(root, d), { recursive: true });
  const out: VictimFile[] = [];
  const size = (lo: number, hi: number): number => Math.max(64, Math.floor((lo + r() * (hi - lo)) * scale));
  const write = (rel: string, data: Buffer | string, kind: string): void => {
    const abs = path.join(root, rel);
    fs.writeFileSync(abs, data);
    const buf = fs.readFileSync(abs);
    out.push({ rel: path.posix.join('victims', rel), size: buf.length, sha256: createHash('sha256').update(buf).digest('hex'), kind });
  };
  for (let i = 0; i < n - 1; i++) {
    const kind = KINDS[i % KINDS.length] as string;
    let rel: string;
    let data: Buffer | string;
    switch (kind) {
      case 'txt': case 'md': case 'csv':
        rel = `${dirs[i % 3]}/note-${i}.${kind}`;
        data = kind === 'csv' ? Array.from({ length: Math.ceil(size(2000, 30000) / 40) }, (_, k) => `${k},${Math.floor(r() * 1e6)},${WORDS[k % WORDS.length]},${(r() * 100).toFixed(2)}`).join('\n') : text(r, size(2000, 40000));
        break;
      case 'docx': case 'xlsx':
        rel = `${dirs[i % 3]}/file-${i}.${kind}`;
        data = Buffer.concat([Buffer.from('PK\x03\x04\x14\x00\x06\x00', 'latin1'), zlib.deflateRawSync(Buffer.from(text(r, size(20000, 120000))))]);
        break;
      case 'pdf':
        rel = `${dirs[i % 3]}/scan-${i}.pdf`;
        data = Buffer.concat([Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\nstream\n', 'latin1'), zlib.deflateSync(Buffer.from(text(r, size(20000, 200000)))), Buffer.from('\nendstream\n%%EOF\n')]);
        break;
      case 'jpg':
        rel = `${dirs[3 + (i % 2)]}/IMG_${1000 + i}.jpg`;
        data = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01]), randomBytes(r, size(30000, 300000)), Buffer.from([0xff, 0xd9])]);
        break;
      case 'png':
        rel = `${dirs[3 + (i % 2)]}/shot-${i}.png`;
        data = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), zlib.deflateSync(randomBytes(r, size(10000, 100000)).map((b) => (b & 0x0f)))]);
        break;
      case 'c': case 'py':
        rel = `${dirs[5]}/mod${i}.${kind}`;
        data = source(r, size(1000, 20000), i);
        break;
      default:
        rel = `${dirs[8]}/backup-${i}.${kind}`;
        data = kind === 'zip'
          ? Buffer.concat([Buffer.from('PK\x03\x04\x14\x00\x00\x00\x08\x00', 'latin1'), zlib.deflateRawSync(Buffer.from(text(r, size(40000, 200000))))])
          : zlib.gzipSync(Buffer.from(source(r, size(40000, 200000), i)));
    }
    write(rel, data, kind);
  }
  // A real SQLite database.
  const dbRel = 'Data/customers.sqlite';
  const db = new Database(path.join(root, dbRel));
  db.pragma('journal_mode = DELETE');
  db.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, email TEXT, balance REAL)');
  const ins = db.prepare('INSERT INTO customers (name, email, balance) VALUES (?, ?, ?)');
  const rows = Math.max(50, Math.floor(2000 * scale));
  db.transaction(() => {
    for (let k = 0; k < rows; k++) ins.run(`${WORDS[k % WORDS.length]} ${k}`, `user${k}@example.com`, Math.floor(r() * 1e6) / 100);
  })();
  db.close();
  const buf = fs.readFileSync(path.join(root, dbRel));
  out.push({ rel: path.posix.join('victims', dbRel), size: buf.length, sha256: createHash('sha256').update(buf).digest('hex'), kind: 'sqlite' });
  return out.sort((a, b) => a.rel.localeCompare(b.rel));
}

export function sha256File(p: string): string | null {
  try {
    return createHash('sha256').update(fs.readFileSync(p)).digest('hex');
  } catch {
    return null;
  }
}
