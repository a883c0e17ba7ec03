/**
 * Tuning targets of the default heuristic (models/heuristic/weights.json): a ransomware-like
 * burst scores >= 0.9 within 5 files; heavy benign bursts (compiler, archiver, package manager,
 * git) stay low. Scores are taken per file, as the daemon would see them after each chunk.
 */
import { describe, expect, it } from 'vitest';
import type { FsEvent } from '../../src/protocol/index.js';
import { at, collect, connect, newEngine, prng, randomBytes, randomName, sendEvents, textBytes, type DueRow } from './helpers.js';

type Step = FsEvent[];

/** Feeds one step (e.g. one file's events) per chunk; returns the max score per step over all subjects of `pid`'s tree. */
function scores(steps: Step[]): { perStep: number[]; last: DueRow[] } {
  const e = newEngine({ dueEveryEvents: 1 });
  const c = connect(e);
  const perStep: number[] = [];
  let last: DueRow[] = [];
  steps.forEach((s, i) => {
    const res = sendEvents(e, c, s, i + 2);
    expect(res.rejected).toBe(0);
    last = collect(e);
    perStep.push(Math.max(0, ...last.map((r) => r.score)));
  });
  return { perStep, last };
}

const PID = 4242;
const HOME = '/home/alice/Documents';

function ransomware(files: number, opts: { samples: boolean; ext: 'random' | 'fixed'; startMs?: number; gapMs?: number }): Step[] {
  const r = prng(99);
  const steps: Step[] = [];
  let t = opts.startMs ?? 0;
  const gap = opts.gapMs ?? 40;
  for (let i = 0; i < files; i++) {
    const path = `${HOME}/report-${i}.${['docx', 'pdf', 'xlsx', 'jpg'][i % 4]}`;
    const ext = opts.ext === 'random' ? randomName(r, 6) : 'locked';
    const hb = opts.samples ? textBytes(256) : undefined;
    const sample = opts.samples ? randomBytes(4096, 1000 + i) : undefined;
    steps.push([
      at(t, { pid: PID, ppid: 1, sid: 900, comm: 'svch0st', op: 'open', path }),
      at(t + 1, { pid: PID, ppid: 1, sid: 900, comm: 'svch0st', op: 'read', path, len: 65536n }),
      at(t + 5, { pid: PID, ppid: 1, sid: 900, comm: 'svch0st', op: 'write', path, len: 65536n, entropy: opts.samples ? undefined : 7.99, sample, headerBefore: hb, headerAfter: opts.samples ? randomBytes(256, 5000 + i) : undefined }),
      at(t + 9, { pid: PID, ppid: 1, sid: 900, comm: 'svch0st', op: 'close', path }),
      at(t + 10, { pid: PID, ppid: 1, sid: 900, comm: 'svch0st', op: 'rename', path, path2: `${path}.${ext}` }),
    ]);
    t += gap;
  }
  return steps;
}

function copyDeleteRansomware(files: number): Step[] {
  const steps: Step[] = [];
  for (let i = 0; i < files; i++) {
    const path = `${HOME}/photo-${i}.jpg`;
    const t = i * 50;
    steps.push([
      at(t, { pid: PID, sid: 900, op: 'read', path, len: 200000n }),
      at(t + 2, { pid: PID, sid: 900, op: 'create', path: `${path}.crypt` }),
      at(t + 3, { pid: PID, sid: 900, op: 'write', path: `${path}.crypt`, len: 200000n, entropy: 7.99 }),
      at(t + 4, { pid: PID, sid: 900, op: 'unlink', path }),
    ]);
  }
  return steps;
}

function compiler(units: number): Step[] {
  const steps: Step[] = [];
  for (let i = 0; i < units; i++) {
    const t = i * 30;
    const s: Step = [
      at(t, { pid: 7001, sid: 700, comm: 'cc1', op: 'read', path: `/src/proj/src/mod${i}.c`, len: 12000n }),
      at(t + 1, { pid: 7001, sid: 700, comm: 'cc1', op: 'read', path: `/src/proj/include/common.h`, len: 3000n }),
      at(t + 2, { pid: 7001, sid: 700, comm: 'cc1', op: 'read', path: `/usr/include/stdio.h`, len: 30000n }),
      at(t + 3, { pid: 7001, sid: 700, comm: 'cc1', op: 'create', path: `/tmp/cc${i}XyZ.s` }),
      at(t + 4, { pid: 7001, sid: 700, comm: 'cc1', op: 'write', path: `/tmp/cc${i}XyZ.s`, len: 40000n, entropy: 4.8 }),
      at(t + 5, { pid: 7002, sid: 700, comm: 'as', op: 'read', path: `/tmp/cc${i}XyZ.s`, len: 40000n }),
      at(t + 6, { pid: 7002, sid: 700, comm: 'as', op: 'create', path: `/src/proj/build/mod${i}.o` }),
      at(t + 7, { pid: 7002, sid: 700, comm: 'as', op: 'write', path: `/src/proj/build/mod${i}.o`, len: 20000n, entropy: 5.6 }),
      at(t + 8, { pid: 7000, sid: 700, comm: 'gcc', op: 'unlink', path: `/tmp/cc${i}XyZ.s` }),
    ];
    if (i % 10 === 9) s.push(at(t + 9, { pid: 7003, sid: 700, comm: 'ld', op: 'write', path: '/src/proj/build/app', len: 500000n, entropy: 6.1 }));
    steps.push(s);
  }
  return steps;
}

function archiver(files: number): Step[] {
  const steps: Step[] = [[at(0, { pid: 7100, sid: 710, comm: 'tar', op: 'create', path: '/backup/home.tar.gz' })]];
  for (let i = 0; i < files; i++) {
    const t = 1 + i * 8;
    steps.push([
      at(t, { pid: 7100, sid: 710, comm: 'tar', op: 'read', path: `${HOME}/f${i}.${['docx', 'pdf', 'txt'][i % 3]}`, len: 65536n }),
      at(t + 2, { pid: 7100, sid: 710, comm: 'tar', op: 'write', path: '/backup/home.tar.gz', offset: BigInt(i) * 40000n, len: 40000n, sample: randomBytes(4096, 3000 + i) }),
      at(t + 3, { pid: 7100, sid: 710, comm: 'tar', op: 'write', path: '/backup/home.tar.gz', offset: BigInt(i) * 40000n + 20000n, len: 20000n, entropy: 7.97 }),
    ]);
  }
  return steps;
}

function packageManager(pkgs: number): Step[] {
  const steps: Step[] = [];
  const exts = ['so', 'py', 'h', 'json', 'js', 'txt', 'md', 'png'];
  for (let i = 0; i < pkgs; i++) {
    const t = i * 20;
    const dir = `/usr/lib/python3/dist-packages/pkg${i % 12}`;
    const final = `${dir}/module${i}.${exts[i % exts.length]}`;
    const s: Step = [
      at(t, { pid: 7200, sid: 720, comm: 'dpkg', op: 'create', path: `${final}.dpkg-new` }),
      at(t + 1, { pid: 7200, sid: 720, comm: 'dpkg', op: 'write', path: `${final}.dpkg-new`, len: 30000n, entropy: i % 5 === 0 ? 7.6 : 5.9 }),
      at(t + 2, { pid: 7200, sid: 720, comm: 'dpkg', op: 'rename', path: `${final}.dpkg-new`, path2: final }),
      at(t + 3, { pid: 7200, sid: 720, comm: 'dpkg', op: 'create', path: `${dir}/sub${i}/__init__.py` }),
      at(t + 4, { pid: 7200, sid: 720, comm: 'dpkg', op: 'create', path: `${dir}/sub${i}/README.txt` }),
    ];
    if (i % 4 === 3) s.push(at(t + 5, { pid: 7200, sid: 720, comm: 'dpkg', op: 'unlink', path: `${dir}/old${i}.pyc` }));
    steps.push(s);
  }
  return steps;
}

function git(objects: number): Step[] {
  const steps: Step[] = [];
  const r = prng(5);
  for (let i = 0; i < objects; i++) {
    const t = i * 10;
    const hash = randomName(r, 40).replace(/[g-z]/g, 'a');
    const dir = `/src/repo/.git/objects/${hash.slice(0, 2)}`;
    steps.push([
      at(t, { pid: 7300, sid: 730, comm: 'git', op: 'read', path: `/src/repo/src/file${i}.ts`, len: 8000n }),
      at(t + 1, { pid: 7300, sid: 730, comm: 'git', op: 'create', path: `${dir}/tmp_obj_${randomName(r, 6)}` }),
      at(t + 2, { pid: 7300, sid: 730, comm: 'git', op: 'write', path: `${dir}/tmp_obj_x${i}`, len: 3000n, entropy: 7.85, sample: randomBytes(2048, 7000 + i) }),
      at(t + 3, { pid: 7300, sid: 730, comm: 'git', op: 'rename', path: `${dir}/tmp_obj_x${i}`, path2: `${dir}/${hash.slice(2)}` }),
    ]);
  }
  steps.push([
    at(objects * 10, { pid: 7300, sid: 730, comm: 'git', op: 'create', path: '/src/repo/.git/index.lock' }),
    at(objects * 10 + 1, { pid: 7300, sid: 730, comm: 'git', op: 'write', path: '/src/repo/.git/index.lock', len: 100000n, entropy: 6.2 }),
    at(objects * 10 + 2, { pid: 7300, sid: 730, comm: 'git', op: 'rename', path: '/src/repo/.git/index.lock', path2: '/src/repo/.git/index' }),
  ]);
  return steps;
}

const firstAbove = (xs: number[], th: number): number => xs.findIndex((x) => x >= th);

describe('heuristic: ransomware is caught within 5 files', () => {
  it.each([
    ['entropy field, random extensions', { samples: false, ext: 'random' as const }],
    ['entropy field, one fixed extension', { samples: false, ext: 'fixed' as const }],
    ['content samples and headers, random extensions', { samples: true, ext: 'random' as const }],
  ])('%s', (_name, opts) => {
    const { perStep } = scores(ransomware(12, opts));
    const k = firstAbove(perStep, 0.9);
    expect(k).toBeGreaterThanOrEqual(0);
    expect(k + 1).toBeLessThanOrEqual(5);
    expect(perStep[0]).toBeLessThan(0.9); // one file alone is not enough (no hard-coded verdict)
    expect(Math.min(...perStep.slice(k))).toBeGreaterThanOrEqual(0.9);
  });

  it('copy-then-delete ransomware', () => {
    const { perStep } = scores(copyDeleteRansomware(10));
    const k = firstAbove(perStep, 0.9);
    expect(k).toBeGreaterThanOrEqual(0);
    expect(k + 1).toBeLessThanOrEqual(5);
  });

  it('both the process and its tree subject score high', () => {
    const { last } = scores(ransomware(6, { samples: false, ext: 'random' }));
    expect(last.find((r) => r.info.kind === 'process')?.score).toBeGreaterThanOrEqual(0.9);
    expect(last.find((r) => r.info.kind === 'tree')?.score).toBeGreaterThanOrEqual(0.9);
  });

  it('slow ransomware (one file every 20 s) still climbs over its lifetime', () => {
    const { perStep } = scores(ransomware(40, { samples: false, ext: 'random', gapMs: 20_000 }));
    expect(perStep[0]).toBeLessThan(0.9);
    expect(perStep.at(-1)).toBeGreaterThanOrEqual(0.8);
  });
});

describe('heuristic: heavy benign work stays low', () => {
  it.each([
    ['compiler', compiler(60)],
    ['archiver', archiver(200)],
    ['package manager', packageManager(150)],
    ['git', git(200)],
  ])('%s', (_name, steps) => {
    const { perStep } = scores(steps);
    expect(Math.max(...perStep)).toBeLessThan(0.5);
  });
});
