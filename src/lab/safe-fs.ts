/**
 * File operations confined to one root directory. Before every write, rename, unlink or mkdir
 * the target (or, for a name that does not exist yet, its parent directory) is resolved with
 * realpath and must lie inside the root's realpath; symlinks pointing out are therefore refused
 * too. A refusal throws PathRefused and touches nothing.
 */
import fs from 'node:fs';
import path from 'node:path';

export class PathRefused extends Error {
  constructor(readonly target: string, readonly root: string) {
    super(`refusing to touch ${target}: outside the simulator root ${root}`);
    this.name = 'PathRefused';
  }
}

export class SafeFs {
  readonly root: string;

  constructor(root: string) {
    this.root = fs.realpathSync(root);
  }

  private inside(real: string): boolean {
    return real === this.root || real.startsWith(this.root + path.sep);
  }

  /** Resolves p (absolute, or relative to the root); throws PathRefused when outside the root. */
  check(p: string): string {
    const abs = path.resolve(this.root, p);
    let real: string;
    try {
      real = fs.realpathSync(abs);
    } catch {
      // Does not exist (yet): its parent must resolve inside, and the name must be plain.
      const base = path.basename(abs);
      if (base === '..' || base === '.' || base === '') throw new PathRefused(abs, this.root);
      let parent: string;
      try {
        parent = fs.realpathSync(path.dirname(abs));
      } catch {
        throw new PathRefused(abs, this.root);
      }
      real = path.join(parent, base);
    }
    if (!this.inside(real) || real === this.root) throw new PathRefused(abs, this.root);
    return abs;
  }

  readFile(p: string): Buffer {
    return fs.readFileSync(this.check(p));
  }

  writeFile(p: string, data: Uint8Array | string): void {
    fs.writeFileSync(this.check(p), data);
  }

  /** Opens an existing file for in-place writing (r+, no truncation). */
  openForUpdate(p: string): number {
    return fs.openSync(this.check(p), 'r+');
  }

  writeAt(fd: number, p: string, data: Uint8Array, offset: number): void {
    this.check(p);
    let done = 0;
    while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, offset + done);
  }

  rename(from: string, to: string): void {
    fs.renameSync(this.check(from), this.check(to));
  }

  unlink(p: string): void {
    fs.unlinkSync(this.check(p));
  }

  mkdir(p: string): void {
    fs.mkdirSync(this.check(p), { recursive: true });
  }
}
