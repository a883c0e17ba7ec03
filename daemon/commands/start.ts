/** `sentinel start`: runs the daemon in the foreground until SIGTERM/SIGINT. */
import type { Command } from 'commander';
import { loadConfig, type SentinelConfig } from '../config.js';
import { createLogger } from '../log.js';
import { startDaemon } from '../daemon.js';
import { intOption } from './options.js';
import { errorCode } from '../../src/errors.js';

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
      // The handlers go in before start-up: a signal that comes while the daemon starts (or
      // right after its `ready` line) must stop it cleanly once it is up, not kill it by the
      // signal's default action.
      let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
      let pending: NodeJS.Signals | undefined;
      const stop = (d: NonNullable<typeof daemon>, sig: NodeJS.Signals): void => {
        d.stop(sig).catch((err: unknown) => {
          log.error({ err, 'error.code': errorCode(err, 'SENTINEL_E_IO') }, 'shutdown failed');
          process.exit(1);
        });
      };
      const onSignal = (sig: NodeJS.Signals): void => {
        if (daemon) stop(daemon, sig);
        else pending ??= sig;
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      daemon = await startDaemon(cfg, log);
      if (pending) stop(daemon, pending);
      await daemon.stopped;
    });
}
