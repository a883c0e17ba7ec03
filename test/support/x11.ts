/**
 * A real X11 session for tests: Xvfb, the openbox window manager (EWMH: publishes
 * _NET_ACTIVE_WINDOW), xterm windows with chosen WM_CLASS classes, focus moved with
 * `xdotool windowactivate --sync`.
 *
 * Synchronisation is on events only: Xvfb reports its display on -displayfd when it accepts
 * connections, openbox runs its --startup command once _NET_SUPPORTED is published, and
 * `xdotool search --sync --onlyvisible` returns once a window is mapped (managed by the WM).
 * `killAll()` kills every process started here and waits for each exit; call it in afterEach.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable } from 'node:stream';

export const X11_TOOLS = ['Xvfb', 'openbox', 'xterm', 'xdotool'];
export const haveX11Tools = X11_TOOLS.every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);

/** The first line of `stream` that matches, or a rejection when the process exits first. */
export function lineMatching(c: ChildProcess, stream: Readable, re: RegExp, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: stream });
    const onExit = (code: number | null, sig: string | null): void => reject(new Error(`${what} exited (${code ?? sig}) before it was ready`));
    rl.on('line', (l) => {
      if (re.test(l)) {
        c.off('exit', onExit);
        rl.close();
        resolve(l);
      }
    });
    c.once('exit', onExit);
  });
}

export class X11Fixture {
  private readonly children: ChildProcess[] = [];
  /** What the running test last waited for, printed when it fails (a hang shows where it stood). */
  readonly progress: string[] = [];

  track(c: ChildProcess): ChildProcess {
    this.children.push(c);
    c.on('error', () => {
      // reported through the awaited line or exit
    });
    return c;
  }

  /** Starts Xvfb on a free display; resolves with ":<n>" once the server accepts connections. */
  async startXvfb(): Promise<{ display: string; proc: ChildProcess }> {
    const proc = this.track(spawn('Xvfb', ['-displayfd', '3', '-nolisten', 'tcp', '-noreset', '-screen', '0', '800x600x24'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] }));
    const line = await lineMatching(proc, proc.stdio[3] as Readable, /^\d+$/, 'Xvfb');
    return { display: `:${line.trim()}`, proc };
  }

  /**
   * Starts openbox; resolves once its --startup command ran (after _NET_SUPPORTED is set).
   * focusNew is off: a new window would otherwise take the focus whenever openbox gets round to
   * managing it, possibly after the test's own activation, and only the test moves focus here.
   */
  async startWm(display: string, home: string): Promise<ChildProcess> {
    const rc = path.join(home, 'rc.xml');
    writeFileSync(rc, '<?xml version="1.0"?>\n<openbox_config xmlns="http://openbox.org/3.4/rc"><focus><focusNew>no</focusNew><followMouse>no</followMouse></focus></openbox_config>\n');
    const proc = this.track(
      spawn('openbox', ['--config-file', rc, '--startup', 'echo sentinel-wm-ready'], { env: { ...process.env, DISPLAY: display, HOME: home }, stdio: ['ignore', 'pipe', 'ignore'] }),
    );
    await lineMatching(proc, proc.stdout!, /sentinel-wm-ready/, 'openbox');
    return proc;
  }

  /** Runs xdotool to completion (its --sync options wait on the X server, not on a clock). */
  async xdotool(display: string, args: string[]): Promise<string> {
    this.progress.push(`xdotool ${args.join(' ')}`);
    const p = this.track(spawn('xdotool', args, { env: { ...process.env, DISPLAY: display }, stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    let err = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const [code] = (await once(p, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`xdotool ${args.join(' ')} failed (${code}): ${err}`);
    return out.trim();
  }

  /** Maps one xterm with WM class `cls`; resolves with its window id once it is mapped. */
  async openWindow(display: string, cls: string, title: string): Promise<string> {
    this.progress.push(`xterm ${cls}`);
    this.track(spawn('xterm', ['-class', cls, '-title', title, '-geometry', '40x10', '-e', 'sleep', '3600'], { env: { ...process.env, DISPLAY: display }, stdio: 'ignore' }));
    // --onlyvisible: mapped, i.e. managed by the WM; activating a window the WM has not managed
    // yet is ignored and `windowactivate --sync` would then wait for ever.
    const ids = await this.xdotool(display, ['search', '--sync', '--onlyvisible', '--name', `^${title}$`]);
    const id = ids.split('\n')[0] ?? '';
    if (!/^\d+$/.test(id)) throw new Error(`xdotool search returned no window id for ${title}: ${ids}`);
    return id;
  }

  /** Kills windows and the WM first, the server last, and waits for every exit. */
  async killAll(): Promise<void> {
    for (const c of this.children.splice(0).reverse()) {
      if (c.exitCode === null && c.signalCode === null) {
        const gone = once(c, 'exit');
        c.kill('SIGKILL');
        await gone;
      }
    }
  }
}
