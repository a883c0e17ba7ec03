/**
 * A child process whose stderr is JSON log lines: keeps every line, and lets a test wait on the
 * first line (from a given index) that matches, with a bound so a missing line fails with the
 * child's last stderr instead of hanging (and at once when the child exits without it). `stop()` sends SIGTERM, SIGKILL after 10 s.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import readline from 'node:readline';

export interface LoggedChild<L> {
  child: ChildProcess;
  /** Parsed JSON lines, in order. */
  lines: L[];
  /** Every stderr line as text. */
  raw: string[];
  /** Everything the child printed on stdout (when piped). */
  stdout(): string;
  waitLine(pred: (l: L) => boolean, what: string, timeoutMs?: number, from?: number): Promise<L>;
  /** Resolves with the exit code (1 when killed by a signal). */
  closed: Promise<number>;
  stop(): Promise<number>;
}

export function spawnLogged<L>(command: string, args: string[], options: SpawnOptions = {}): LoggedChild<L> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const lines: L[] = [];
  const raw: string[] = [];
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const waiters = new Set<() => void>();
  readline.createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (l) => {
    raw.push(l);
    if (l.startsWith('{')) {
      try {
        lines.push(JSON.parse(l) as L);
      } catch {
        // not JSON: kept in raw only
      }
    }
    for (const w of [...waiters]) w();
  });
  const closed = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  const waitLine = (pred: (l: L) => boolean, what: string, timeoutMs = 20_000, from = 0): Promise<L> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const l = lines.slice(from).find(pred);
        if (l === undefined) return;
        waiters.delete(check);
        clearTimeout(t);
        resolve(l);
      };
      const t = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${args[1] ?? command}: no ${what} in ${timeoutMs} ms; stderr:\n${raw.slice(-20).join('\n')}`));
      }, timeoutMs);
      waiters.add(check);
      check();
      // A child that exits without the line fails the wait at once, with its stderr.
      void closed.then(() => {
        if (!waiters.has(check)) return;
        waiters.delete(check);
        clearTimeout(t);
        reject(new Error(`${args[1] ?? command} exited before ${what}; stderr:\n${raw.slice(-20).join('\n')}`));
      });
    });
  let stopping: Promise<number> | undefined;
  const stop = (): Promise<number> =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await closed;
      clearTimeout(t);
      return code;
    })());
  return { child, lines, raw, stdout: () => out, waitLine, closed, stop };
}
