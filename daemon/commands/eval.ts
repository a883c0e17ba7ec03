/** `sentinel eval <corpus>`: scores a lab corpus (docs/lab.md). */
import type { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { SentinelError } from '../../src/errors.js';
import { evalHtml, evalTable, evaluateCorpus } from '../../src/lab/eval.js';
import { defaultConfig } from '../config.js';
import { intOption } from './options.js';

export function registerEval(program: Command): void {
  program
    .command('eval <corpus>')
    .description('replay a lab corpus (sentinel lab) through the engine and report detection, files lost, benign states, ROC AUC and precision/recall')
    .option('--json', 'print the report as JSON')
    .option('--html <file>', 'also write an HTML report with plots')
    .option('--models <dir>', 'models directory')
    .option('--batch <events>', 'events per ingest and scoring tick in the replay', intOption, 16)
    .action(async (corpus: string, opts: { json?: boolean; html?: string; models?: string; batch: number }) => {
      if (!fs.existsSync(corpus) || !fs.statSync(corpus).isDirectory()) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `${corpus} is not a corpus directory`);
      const report = await evaluateCorpus(path.resolve(corpus), {
        modelsDir: opts.models ?? defaultConfig().modelsDir,
        batchEvents: Math.max(1, opts.batch),
        ...(process.stderr.isTTY && !opts.json ? { onScenario: (n: string) => process.stderr.write(`eval: ${n}\n`) } : {}),
      });
      if (opts.html) fs.writeFileSync(opts.html, evalHtml(report));
      process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : evalTable(report));
    });
}
