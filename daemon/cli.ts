/**
 * `sentinel` command line. Every failure prints `sentinel: <CODE>: <message>` on stderr and
 * exits non-zero (2 usage/config, 3 daemon not running, 1 anything else).
 */
import { Command } from 'commander';
import { SentinelError } from '../src/errors.js';
import { registerStart } from './commands/start.js';
import { registerStatus } from './commands/status.js';
import { registerReplay } from './commands/replay.js';
import { registerSend } from './commands/send.js';
import { registerProtect } from './commands/protect.js';
import { registerWatch } from './commands/watch.js';
import { registerLab } from './commands/lab.js';
import { registerEval } from './commands/eval.js';
import { registerEnroll } from './commands/enroll.js';

export function buildProgram(): Command {
  const program = new Command('sentinel')
    .description('Sentinel host-security daemon: scores file-system, network and user behaviour, and acts')
    .version('0.1.0')
    .showHelpAfterError();
  registerStart(program);
  registerStatus(program);
  registerReplay(program);
  registerSend(program);
  registerProtect(program);
  registerWatch(program);
  registerLab(program);
  registerEval(program);
  registerEnroll(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof SentinelError) {
      process.stderr.write(`sentinel: ${err.code}: ${err.message}\n`);
      process.exitCode = err.code === 'SENTINEL_E_CONFIG' ? 2 : err.code === 'SENTINEL_E_NOT_RUNNING' ? 3 : 1;
    } else {
      process.stderr.write(`sentinel: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  }
}
