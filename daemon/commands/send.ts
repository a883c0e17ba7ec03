/**
 * `sentinel send <trace.jsonl>`: sends a trace to a running daemon over its Unix socket (the
 * same frames a live source sends), waits for every batch to be acknowledged, optionally waits
 * until given pids appear in the deny set and queries their verdicts, and prints a JSON summary.
 * A tool for operators checking a deployment, and the separate client process of the e2e tests.
 */
import type { Command } from 'commander';
import { SentinelClient, Role } from '../../src/client/client.js';
import { readTrace } from '../../src/trace/reader.js';
import { defaultConfig } from '../config.js';
import { SentinelError } from '../../src/errors.js';
import { TRUST_STATES } from '../../src/protocol/constants.js';

function pidList(v: string): number[] {
  return v.split(',').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n <= 0) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `bad pid "${s}"`);
    return n;
  });
}

export function registerSend(program: Command): void {
  program
    .command('send <trace>')
    .description('send a JSON Lines trace to the running daemon and print a JSON summary')
    .option('--socket <path>', 'daemon socket (default: the data dir socket)')
    .option('--batch <events>', 'events per write', (v) => Math.max(1, Number(v) | 0), 512)
    .option('--wait-deny <pids>', 'wait until these pids are in the deny set (comma separated)', pidList)
    .option('--query <pids>', 'query the verdicts of these pids at the end (comma separated)', pidList)
    .option('--wait-timeout <ms>', 'give up waiting for --wait-deny after this long', (v) => Math.max(1, Number(v) | 0), 30_000)
    .action(async (trace: string, opts: { socket?: string; batch: number; waitDeny?: number[]; query?: number[]; waitTimeout: number }) => {
      const socketPath = opts.socket ?? defaultConfig().socket.path;
      let client: SentinelClient;
      try {
        client = await SentinelClient.connect({ socketPath, roles: Role.Events | Role.Query | Role.Subscribe | Role.Acks, name: 'sentinel-send' });
      } catch (err) {
        throw new SentinelError('SENTINEL_E_NOT_RUNNING', `cannot connect to ${socketPath}: ${(err as Error).message}`);
      }
      let events = 0;
      const parseErrors: { line: number; reason: string }[] = [];
      for await (const b of readTrace(trace, { batchSize: opts.batch })) {
        parseErrors.push(...b.errors.map((e) => ({ line: e.line, reason: e.reason })));
        events += b.events.length;
        if (b.events.length) await client.sendEvents(b.events, true);
      }
      let denied: number[] | undefined;
      if (opts.waitDeny) {
        const want = opts.waitDeny;
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), opts.waitTimeout)));
        const set = await Promise.race([client.waitForDenySet((es) => want.every((p) => es.some((e) => e.pid === p))), timeout]);
        clearTimeout(timer);
        denied = (set ?? client.denySet).map((e) => e.pid);
        if (!set) process.stderr.write(`sentinel send: pids ${want.join(',')} not all in the deny set after ${opts.waitTimeout} ms\n`);
      }
      const verdicts = opts.query ? (await client.queryVerdicts(opts.query.map((pid) => ({ pid, start: 0n })))).map((v) => ({ pid: v.pid, state: TRUST_STATES[v.state] ?? v.state, actions: v.actions })) : undefined;
      await client.close();
      const summary = { events, accepted: client.accepted, rejected: client.rejected, parseErrors, errors: client.errors.map((e) => ({ code: e.name, message: e.message })), denied, verdicts };
      process.stdout.write(JSON.stringify(summary) + '\n');
      if (client.rejected > 0 || parseErrors.length > 0) process.exitCode = 4;
    });
}
