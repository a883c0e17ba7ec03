/** `sentinel replay <trace.jsonl>`: runs a trace through the same engine and prints the result. */
import type { Command } from 'commander';
import { replayTrace, type ReplayReport } from '../../src/replay/replay.js';
import { defaultConfig } from '../config.js';
import { intOption } from './options.js';

function table(r: ReplayReport): string {
  const out = [`${r.events} events (${r.accepted} accepted, ${r.rejected} rejected), ${r.parseErrors.length} bad lines, ${r.subjects.length} subjects`];
  for (const e of r.parseErrors.slice(0, 20)) out.push(`  line ${e.line}: ${e.reason}`);
  if (r.parseErrors.length > 20) out.push(`  ... ${r.parseErrors.length - 20} more bad lines`);
  out.push('', 'subject  kind     pid      comm             events  final       max         first escalation');
  for (const s of r.subjects) {
    const first = s.transitions.find((t) => t.reason === 'escalate');
    out.push(
      [String(s.id).padEnd(8), s.kind.padEnd(8), String(s.pid).padEnd(8), s.comm.slice(0, 16).padEnd(16), String(s.events).padEnd(7), s.finalState.padEnd(11), s.maxState.padEnd(11), first ? `${first.to} at event ${first.eventIndex}` : '-'].join(' '),
    );
  }
  return out.join('\n') + '\n';
}

export function registerReplay(program: Command): void {
  program
    .command('replay <trace>')
    .description('replay a JSON Lines trace through the engine, at full speed or in real time')
    .option('--realtime', 'pace the replay by the trace timestamps')
    .option('--report <format>', 'table or json', 'table')
    .option('--batch <events>', 'events per ingest and scoring tick', intOption, 16)
    .option('--db <file>', 'also write the audit trail to this SQLite file')
    .option('--models <dir>', 'models directory')
    .action(async (trace: string, opts: { realtime?: boolean; report: string; batch: number; db?: string; models?: string }) => {
      const showProgress = process.stderr.isTTY === true && opts.report !== 'json';
      const report = await replayTrace(trace, {
        modelsDir: opts.models ?? defaultConfig().modelsDir,
        realtime: opts.realtime === true,
        batchEvents: Math.max(1, opts.batch),
        ...(opts.db ? { dbPath: opts.db } : {}),
        ...(showProgress ? { onProgress: (p) => process.stderr.write(`\rreplaying: ${p.lines} lines, ${p.events} events`) } : {}),
      });
      if (showProgress) process.stderr.write('\n');
      process.stdout.write(opts.report === 'json' ? JSON.stringify(report, null, 2) + '\n' : table(report));
      if (report.parseErrors.length > 0) process.exitCode = 4;
    });
}
