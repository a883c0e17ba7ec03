/**
 * `sentinel watch <path>…`: the fanotify source as its own process (docs/fanotify.md), like
 * sentinel-fuse. It opens the native watcher, connects to the daemon with roles
 * EVENTS|SUBSCRIBE|ACKS, forwards the watcher's EVENT_BATCH frames, and hands every STATE_PUSH
 * snapshot to the watcher's permission thread (with --enforce). Logs are pino JSON on stderr;
 * the final counters are printed as one JSON line on stdout at exit.
 *
 * Flow control: at most --max-unacked records are in flight to the daemon (BATCH_ACKs count
 * them back); beyond that the frames wait in the watcher's bounded native queue, which drops
 * (and counts) whole frames when full. The reader threads never wait on JavaScript.
 *
 * Daemon gone: the watcher keeps running and keeps enforcing the last deny set it had; frames
 * wait in the native queue (bounded) while it reconnects with backoff (0.25 s … 5 s).
 */
import type { Command } from 'commander';
import type net from 'node:net';
import type { Logger } from 'pino';
import { SentinelClient, Role } from '../../src/client/client.js';
import { FanotifySource, numberFrames, type KillPolicy, type MarkMode } from '../../src/sources/fanotify.js';
import { peerCredentials } from '../../src/peer.js';
import { SentinelError } from '../../src/errors.js';
import { defaultConfig } from '../config.js';
import { createLogger } from '../log.js';
import { intOption } from './options.js';

export interface WatchOptions {
  paths: string[];
  socket: string;
  enforce?: boolean;
  accessPerm?: boolean;
  killPolicy?: KillPolicy;
  markMode?: MarkMode;
  maxQueueBytes?: number;
  maxUnacked?: number;
  statsIntervalS?: number;
  log?: Logger;
}

export interface WatchHandle {
  source: FanotifySource;
  /** Resolves with the final counters once stopped. */
  readonly done: Promise<WatchSummary>;
  stop(): Promise<WatchSummary>;
}

export interface WatchSummary {
  stats: ReturnType<FanotifySource['stats']>;
  sentRecords: number;
  sentFrames: number;
  accepted: number;
  rejected: number;
  reconnects: number;
}

function daemonPidOf(client: SentinelClient): number | undefined {
  // The client keeps its socket private; its peer credentials name the daemon process.
  const socket = (client as unknown as { socket?: net.Socket }).socket;
  if (!socket) return undefined;
  try {
    return peerCredentials(socket).pid;
  } catch {
    return undefined;
  }
}

async function connect(socketPath: string): Promise<SentinelClient> {
  try {
    return await SentinelClient.connect({ socketPath, roles: Role.Events | Role.Subscribe | Role.Acks, name: 'sentinel-watch' });
  } catch (err) {
    throw new SentinelError('SENTINEL_E_NOT_RUNNING', `cannot connect to ${socketPath}: ${(err as Error).message}`, { cause: err });
  }
}

/** Starts watching; resolves once the watcher runs and the first deny set is applied. */
export async function startWatch(o: WatchOptions): Promise<WatchHandle> {
  const log = o.log ?? createLogger('info');
  const maxUnacked = o.maxUnacked ?? 65536;
  let client = await connect(o.socket);
  const daemonPid = daemonPidOf(client);
  if (daemonPid === undefined) log.warn('daemon pid unknown (no peer credentials): it is not exempt from denial');
  let source: FanotifySource;
  try {
    source = FanotifySource.open({
      paths: o.paths,
      enforce: o.enforce ?? false,
      accessPerm: o.accessPerm ?? false,
      killPolicy: o.killPolicy ?? 'none',
      markMode: o.markMode ?? 'inode',
      ...(o.maxQueueBytes !== undefined ? { maxQueueBytes: o.maxQueueBytes } : {}),
    });
    if (daemonPid !== undefined) source.setDaemonPid(daemonPid);
  } catch (err) {
    await client.close().catch(() => undefined);
    throw err;
  }

  let stopping = false;
  let connected = true;
  let sentRecords = 0;
  let sentFrames = 0;
  // Acks of earlier connections (a reconnect starts a new client with fresh counters).
  let ackedBefore = 0;
  let acceptedBefore = 0;
  let rejectedBefore = 0;
  let reconnects = 0;
  let lastGen = -1n;
  let retry: NodeJS.Timeout | undefined;

  const acked = (): number => ackedBefore + client.accepted + client.rejected;

  const pump = (): void => {
    if (!connected) return;
    if (sentRecords - acked() > maxUnacked) {
      retry ??= setTimeout(() => {
        retry = undefined;
        pump();
      }, 10);
      return;
    }
    const buf = source.drain();
    if (!buf) return;
    const n = numberFrames(buf, () => client.nextSeq());
    sentRecords += n.records;
    sentFrames += n.frames;
    client.writeRaw(buf);
  };

  const applyDeny = (c: SentinelClient): void => {
    if (c.denyGeneration === lastGen) return;
    lastGen = c.denyGeneration;
    const u = source.setDenySet(c.denySet);
    log.info(
      {
        'event.action': 'deny-set',
        generation: Number(c.denyGeneration),
        entries: c.denySet.slice(0, 64).map((e) => ({ pid: e.pid, state: e.state })),
        lockdown: u.lockdown,
        newlyDenied: u.newlyDenied.slice(0, 64),
        signalled: u.signalled,
      },
      'deny set',
    );
  };

  const follow = (c: SentinelClient): void => {
    void (async () => {
      while (!stopping && c === client && connected) {
        await c.waitForDenySet(() => c.denyGeneration !== lastGen);
        if (c !== client || stopping) return;
        applyDeny(c);
      }
    })();
    void c.closed().then(() => {
      if (stopping || c !== client) return;
      connected = false;
      ackedBefore += c.accepted + c.rejected;
      acceptedBefore += c.accepted;
      rejectedBefore += c.rejected;
      // Records written but not acknowledged are lost with the connection; count them as sent.
      sentRecords = ackedBefore;
      log.error({ 'event.action': 'daemon-lost', 'error.code': 'SENTINEL_E_NOT_RUNNING' }, 'daemon connection closed; enforcing the last deny set, reconnecting');
      void reconnect(250);
    });
  };

  const reconnect = async (delay: number): Promise<void> => {
    await new Promise((r) => setTimeout(r, delay));
    if (stopping) return;
    try {
      const c = await connect(o.socket);
      if (stopping) {
        await c.close();
        return;
      }
      client = c;
      connected = true;
      reconnects++;
      const pid = daemonPidOf(c);
      source.setDaemonPid(pid ?? 0);
      log.info({ 'event.action': 'daemon-reconnected', reconnects, daemonPid: pid }, 'daemon connection restored');
      follow(c);
      pump();
    } catch {
      void reconnect(Math.min(5000, delay * 2));
    }
  };

  // The daemon sends a STATE_PUSH right after HELLO_ACK: apply it before the first event.
  let firstPushTimer: NodeJS.Timeout | undefined;
  await Promise.race([client.waitForDenySet(() => true), new Promise((r) => (firstPushTimer = setTimeout(r, 2000)))]);
  clearTimeout(firstPushTimer);
  if (client.denyGeneration >= 0n) applyDeny(client);
  follow(client);
  source.start(pump);

  // Loss is reported as it happens: kernel queue overflows (events lost before we could read
  // them) and frames dropped from the full native queue.
  let lastLoss = { overflows: 0, dropped: 0 };
  const lossTimer = setInterval(() => {
    const s = source.stats();
    if (s.overflows > lastLoss.overflows || s.dropped > lastLoss.dropped) {
      log.warn(
        { 'event.action': 'events-lost', 'error.code': 'SENTINEL_E_QUEUE_FULL', overflows: s.overflows - lastLoss.overflows, dropped: s.dropped - lastLoss.dropped, overflowsTotal: s.overflows, droppedTotal: s.dropped },
        'fanotify events lost',
      );
      lastLoss = { overflows: s.overflows, dropped: s.dropped };
    }
  }, 1000);
  lossTimer.unref();

  const statsTimer = o.statsIntervalS
    ? setInterval(() => log.info({ 'event.action': 'stats', ...source.stats(), sentRecords, acked: acked() }, 'stats'), o.statsIntervalS * 1000)
    : undefined;
  statsTimer?.unref();

  log.info(
    { 'event.action': 'watching', roots: source.roots(), enforce: o.enforce ?? false, killPolicy: o.killPolicy ?? 'none', markMode: o.markMode ?? 'inode', daemonPid, ...source.stats() },
    'watching',
  );

  let resolveDone!: (s: WatchSummary) => void;
  const done = new Promise<WatchSummary>((r) => (resolveDone = r));
  let stopped: Promise<WatchSummary> | undefined;
  const stop = (): Promise<WatchSummary> => {
    stopped ??= (async () => {
      stopping = true;
      if (statsTimer) clearInterval(statsTimer);
      clearInterval(lossTimer);
      if (retry) clearTimeout(retry);
      source.stop();
      if (connected) {
        const last = source.drain();
        if (last) {
          const n = numberFrames(last, () => client.nextSeq());
          sentRecords += n.records;
          sentFrames += n.frames;
          client.writeRaw(last);
        }
        // Wait (bounded) for the daemon to acknowledge what was sent.
        const until = Date.now() + 3000;
        while (acked() < sentRecords && Date.now() < until && !client.errors.some((e) => e.code === 11)) await new Promise((r) => setTimeout(r, 10));
        await Promise.race([client.close(), new Promise((r) => setTimeout(r, 1000))]).catch(() => undefined);
      }
      const summary: WatchSummary = {
        stats: source.stats(),
        sentRecords,
        sentFrames,
        accepted: acceptedBefore + client.accepted,
        rejected: rejectedBefore + client.rejected,
        reconnects,
      };
      log.info({ 'event.action': 'stopped', ...summary.stats, sentRecords, accepted: summary.accepted, rejected: summary.rejected }, 'stopped');
      resolveDone(summary);
      return summary;
    })();
    return stopped;
  };
  return { source, done, stop };
}

export function registerWatch(program: Command): void {
  program
    .command('watch <paths...>')
    .description('watch paths with fanotify and report to the daemon; --enforce denies opens by Lockdown processes (needs root)')
    .option('--socket <path>', 'daemon socket (default: the data dir socket)')
    .option('--enforce', 'answer FAN_OPEN_PERM: deny opens by processes in Lockdown', false)
    .option('--access-perm', 'with --enforce, also deny reads through already-open files (FAN_ACCESS_PERM)', false)
    .option('--kill-policy <policy>', 'signal a process tree entering Lockdown: none, stop (SIGSTOP) or kill (SIGKILL)', 'none')
    .option('--mark <mode>', 'notification marks: inode (every directory of the trees) or filesystem (FAN_MARK_FILESYSTEM)', 'inode')
    .option('--queue-bytes <n>', 'bound of the native frame queue', intOption)
    .option('--max-unacked <n>', 'records in flight to the daemon before frames wait in the native queue', intOption, 65536)
    .option('--stats-interval <s>', 'log counters every s seconds (0: never)', intOption, 0)
    .action(
      async (
        paths: string[],
        opts: { socket?: string; enforce: boolean; accessPerm: boolean; killPolicy: string; mark: string; queueBytes?: number; maxUnacked: number; statsInterval: number },
      ) => {
        if (!['none', 'stop', 'kill'].includes(opts.killPolicy)) throw new SentinelError('SENTINEL_E_CONFIG', '--kill-policy must be none, stop or kill');
        if (!['inode', 'filesystem'].includes(opts.mark)) throw new SentinelError('SENTINEL_E_CONFIG', '--mark must be inode or filesystem');
        if (process.getuid?.() !== 0) {
          throw new SentinelError('SENTINEL_E_IO', 'fanotify needs root (CAP_SYS_ADMIN): run sentinel watch as root');
        }
        const log = createLogger('info');
        const h = await startWatch({
          paths,
          socket: opts.socket ?? defaultConfig().socket.path,
          enforce: opts.enforce,
          accessPerm: opts.accessPerm,
          killPolicy: opts.killPolicy as KillPolicy,
          markMode: opts.mark as MarkMode,
          ...(opts.queueBytes !== undefined ? { maxQueueBytes: opts.queueBytes } : {}),
          maxUnacked: opts.maxUnacked,
          statsIntervalS: opts.statsInterval,
          log,
        });
        const onSignal = (sig: NodeJS.Signals): void => {
          log.info({ 'event.action': 'signal', signal: sig }, 'stopping');
          void h.stop();
        };
        process.once('SIGTERM', onSignal);
        process.once('SIGINT', onSignal);
        const summary = await h.done;
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        process.stdout.write(JSON.stringify(summary) + '\n');
      },
    );
}
