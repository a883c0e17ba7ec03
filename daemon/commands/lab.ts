/** `sentinel lab`: runs the workload lab (docs/lab.md) and writes a corpus for `sentinel eval`. */
import type { Command } from 'commander';
import path from 'node:path';
import { SentinelError } from '../../src/errors.js';
import { allScenarios, runScenario, type ScenarioResult } from '../../src/lab/runner.js';
import { intOption } from './options.js';

export function registerLab(program: Command): void {
  program
    .command('lab')
    .description('run ransomware and benign scenarios through a protected mount against a live, enforcing daemon; record traces, labels and outcomes')
    .option('--out <dir>', 'corpus directory', 'corpus')
    .option('--only <names>', 'comma-separated scenario names (default all)')
    .option('--seed <n>', 'seed for victims, keys and orders', intOption, 1)
    .option('--files <n>', 'victim files per ransomware scenario', intOption, 60)
    .option('--size-scale <x>', 'victim file size scale (1 = realistic)', parseFloat, 1)
    .option('--benign-scale <x>', 'benign input tree scale', parseFloat, 1)
    .option('--slow-delay-ms <ms>', 'delay between files in the slow scenario', intOption, 2000)
    .option('--timeout <s>', 'per-scenario workload limit, seconds', intOption, 300)
    .option('--daemon-config <file>', 'configuration file for the per-scenario daemons (sentinel start --config)')
    .option('--barrier-ms <ms>', "sentinel-fuse verdict barrier: longest hold of a suspicious process's destructive operation (default sentinel-fuse's 100; 0 = off)", intOption)
    .option('--live', 'enforce for real (the default; there is no other mode yet)', true)
    .option('--list', 'list the scenarios and exit')
    .action(async (opts: { out: string; only?: string; seed: number; files: number; sizeScale: number; benignScale: number; slowDelayMs: number; timeout: number; daemonConfig?: string; barrierMs?: number; list?: boolean }) => {
      const all = allScenarios();
      if (opts.list) {
        for (const s of all) process.stdout.write(`${s.name.padEnd(16)} ${s.kind.padEnd(10)} ${s.family.padEnd(14)} ${s.description}\n`);
        return;
      }
      const names = opts.only ? opts.only.split(',').map((s) => s.trim()).filter(Boolean) : all.map((s) => s.name);
      const unknown = names.filter((n) => !all.some((s) => s.name === n));
      if (unknown.length > 0) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `unknown scenario(s): ${unknown.join(', ')} (sentinel lab --list)`);
      const out = path.resolve(opts.out);
      const results: ScenarioResult[] = [];
      for (const name of names) {
        const sc = all.find((s) => s.name === name);
        if (!sc) continue;
        results.push(await runScenario(sc, {
          out, seed: opts.seed, victimFiles: opts.files, sizeScale: opts.sizeScale, benignScale: opts.benignScale,
          slowDelayMs: opts.slowDelayMs, ...(opts.daemonConfig ? { daemonConfig: opts.daemonConfig } : {}), ...(opts.barrierMs !== undefined ? { barrierMs: opts.barrierMs } : {}), timeoutMs: opts.timeout * 1000, log: (m) => process.stderr.write(`lab: ${m}\n`),
        }));
      }
      process.stdout.write(JSON.stringify({ out, scenarios: results.map((r) => ({ scenario: r.scenario, kind: r.kind, skipped: r.skipped, detected: r.detected, filesLost: r.filesLost, maxState: r.maxState, error: r.error })) }, null, 2) + '\n');
      if (results.some((r) => r.error)) process.exitCode = 1;
    });
}
