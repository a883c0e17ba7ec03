/**
 * The workload lab (docs/lab.md), small and fast: the simulator's confinement; one ransomware
 * scenario (in place, 300 small files: at full speed the attacker does more than one file per
 * millisecond, so with 30 it can finish before the daemon's block lands) and one benign scenario
 * (tar + gzip) through a real mount with the real, enforcing daemon (`sentinel lab`);
 * `sentinel eval` on that corpus.
 * Needs root, /dev/fuse and the compiled TypeScript (dist/); skipped otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { ensureFuseBuilt, root } from '../fixtures/fuse/helpers.js';
import { PathRefused, SafeFs } from '../../src/lab/safe-fs.js';
import { isMounted } from '../../daemon/commands/protect.js';

const CLI = path.join(root, 'bin', 'sentinel.js');
const SIM = path.join(root, 'dist', 'src', 'lab', 'ransomware-cli.js');
const haveDist = existsSync(SIM) && existsSync(path.join(root, 'dist', 'daemon', 'commands', 'lab.js'));
const haveFuse = existsSync('/dev/fuse') && process.getuid?.() === 0;
const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sentinel-labtest-'));
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  // The lab unmounts in its own finally; make sure nothing of ours is left mounted.
  for (const l of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const mp = l.split(' ')[1];
    if (mp && mp.includes('/sentinel-lab-') && isMounted(mp)) spawnSync('fusermount3', ['-uz', mp]);
  }
  rmSync(tmp, { recursive: true, force: true });
});

async function run(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(p);
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(p, 'close')) as [number | null];
  clearTimeout(t);
  children.delete(p);
  return { code, stdout, stderr };
}

describe.skipIf(!haveDist)('ransomware simulator confinement', () => {
  it('refuses paths outside its root: SafeFs, --victims outside, a symlink pointing out', async () => {
    const r = path.join(tmp, 'sim');
    mkdirSync(r);
    const safe = new SafeFs(r);
    expect(() => safe.check('/etc/passwd')).toThrow(PathRefused);
    expect(() => safe.check('../outside.txt')).toThrow(PathRefused);
    expect(() => safe.writeFile(path.join(tmp, 'outside.txt'), 'x')).toThrow(PathRefused);
    expect(existsSync(path.join(tmp, 'outside.txt'))).toBe(false);

    const prep = await run([SIM, '--prepare', '--root', r, '--seed', '3', '--files', '12', '--size-scale', '0.05']);
    expect(prep.code).toBe(0);
    const outside = path.join(tmp, 'precious.txt');
    writeFileSync(outside, 'do not touch\n');
    const before = sha(outside);
    symlinkSync(outside, path.join(r, 'victims', 'Documents', 'link.txt'));

    const bad = await run([SIM, '--root', r, '--victims', tmp, '--scenario', 'inplace', '--seed', '3']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/refusing to touch/);

    const ok = await run([SIM, '--root', r, '--scenario', 'copy-delete', '--seed', '3']);
    expect(ok.code).toBe(0);
    const rep = JSON.parse(ok.stdout) as { encrypted: number; refused: string[]; stoppedBy: string };
    expect(rep.refused).toEqual(['victims/Documents/link.txt']);
    expect(rep.stoppedBy).toBe('done');
    expect(rep.encrypted).toBe(12);
    expect(sha(outside)).toBe(before);
    expect(readdirSync(tmp).sort()).toEqual(['precious.txt', 'sim']);
  });
});

describe.skipIf(!haveDist || !haveFuse)('sentinel lab + sentinel eval (real mount, real daemon)', () => {
  beforeAll(() => ensureFuseBuilt());

  it('stops the in-place attacker with EPERM, leaves tar+gzip below Restricted, and eval reports both', async () => {
    const out = path.join(tmp, 'corpus');
    const lab = await run([CLI, 'lab', '--out', out, '--only', 'inplace,tar-gzip', '--seed', '7', '--files', '300', '--size-scale', '0.1', '--benign-scale', '0.25', '--timeout', '60']);
    expect(lab.code, lab.stderr).toBe(0);
    for (const s of ['inplace', 'tar-gzip']) for (const f of ['trace.jsonl', 'labels.json', 'result.json']) expect(existsSync(path.join(out, s, f))).toBe(true);

    const ransom = JSON.parse(readFileSync(path.join(out, 'inplace', 'result.json'), 'utf8')) as Record<string, unknown>;
    const labels = JSON.parse(readFileSync(path.join(out, 'inplace', 'labels.json'), 'utf8')) as { attackerPids: number[]; victims: unknown[] };
    expect(ransom['error']).toBeUndefined();
    expect(labels.victims).toHaveLength(300);
    expect(labels.attackerPids.length).toBeGreaterThan(0);
    expect(ransom).toMatchObject({ stoppedBy: 'EPERM', detected: true, filesTotal: 300 });
    const lostLive = ransom['filesLost'] as number;
    // The attacker was stopped before it finished; the file it was denied on is intact.
    expect(lostLive).toBeLessThan(300);
    expect(lostLive).toBeLessThanOrEqual(ransom['filesEncrypted'] as number);
    expect(['Restricted', 'Lockdown']).toContain(ransom['maxState']);

    const benign = JSON.parse(readFileSync(path.join(out, 'tar-gzip', 'result.json'), 'utf8')) as Record<string, unknown>;
    expect(benign['error']).toBeUndefined();
    expect(benign['benign']).toMatchObject({ exitCode: 0 });
    expect(['Normal', 'Monitoring']).toContain(benign['maxState']);
    expect(benign['traceEvents'] as number).toBeGreaterThan(100);

    const html = path.join(tmp, 'report.html');
    const ev = await run([CLI, 'eval', out, '--json', '--html', html]);
    expect(ev.code, ev.stderr).toBe(0);
    const report = JSON.parse(ev.stdout) as {
      scenarios: { scenario: string; live: { detected: boolean; filesLost: number | null; maxState: string }; replay: { detected: boolean; filesLostBeforeRestricted: number | null; maxState: string } }[];
      windows: { overall: { auc: number | null; positives: number; negatives: number } };
    };
    const r = report.scenarios.find((s) => s.scenario === 'inplace');
    const b = report.scenarios.find((s) => s.scenario === 'tar-gzip');
    expect(r?.live).toMatchObject({ detected: true, filesLost: lostLive });
    expect(r?.replay.detected).toBe(true);
    // The engine's own decision point (replay, no pipeline latency): within the worst case.
    expect(r?.replay.filesLostBeforeRestricted).toBeLessThanOrEqual(10);
    expect(['Normal', 'Monitoring']).toContain(b?.replay.maxState);
    expect(report.windows.overall.positives).toBeGreaterThan(0);
    expect(report.windows.overall.negatives).toBeGreaterThan(0);
    expect(report.windows.overall.auc).toBeGreaterThan(0.5);
    expect(readFileSync(html, 'utf8')).toMatch(/<svg/);
    console.info(`lab test: in-place attacker lost ${lostLive}/300 live, ${String(r?.replay.filesLostBeforeRestricted)} in replay; tar+gzip max ${String(b?.live.maxState)}`);
  });
});
