/** `sentinel start`: runs the daemon in the foreground until SIGTERM/SIGINT. */
import type { Command } from 'commander';
import { loadConfig, type SentinelConfig } from '../config.js';
import { createLogger } from '../log.js';
import { startDaemon } from '../daemon.js';
import { intOption } from './options.js';

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run the daemon in the foreground (embedded defaults: SQLite, socket and token under the data dir)')
    .option('-c, --config <file>', 'JSON configuration file')
    .option('--data-dir <dir>', 'data directory (default: <project>/data in a checkout)')
    .option('--socket <path>', 'Unix socket path')
    .option('--http-port <port>', 'operator HTTP port on loopback (0 = any free port)', intOption)
    .option('--log-level <level>', 'trace, debug, info, warn, error')
    .action(async (opts: { config?: string; dataDir?: string; socket?: string; httpPort?: number; logLevel?: SentinelConfig['log']['level'] }) => {
      const cfg = loadConfig(opts.config, {
        ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
        ...(opts.socket ? { socketPath: opts.socket } : {}),
        ...(opts.httpPort !== undefined ? { httpPort: opts.httpPort } : {}),
        ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
      });
      const log = createLogger(cfg.log.level);
      const daemon = await startDaemon(cfg, log);
      const onSignal = (sig: NodeJS.Signals): void => {
        void daemon.stop(sig);
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      await daemon.stopped;
    });
}
