/**
 * Benign suite: real programs on real files. Each scenario prepares its inputs straight in the
 * source directory (before the mount, so the trace holds only the workload), then runs a bash
 * script with the mountpoint as working directory. A scenario whose programs are missing is
 * skipped and reported as such.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { rng } from './victims.js';

export interface BenignScenario {
  name: string;
  family: string;
  description: string;
  /** Programs that must be on PATH. */
  requires: string[];
  /** Extra availability check (e.g. a real ImageMagick, not a stand-in). */
  available?: () => boolean;
  prepare: (src: string, o: BenignPrepareOptions) => void;
  script: string;
}

export interface BenignPrepareOptions {
  seed: number;
  /** Scale of the input trees (1 = the lab's default size). */
  scale: number;
}

const WORDS = 'alpha beta gamma delta epsilon config build cache module index value return import export const function class table query update select insert page layout render'.split(' ');

/** A source-like tree: text files (most), a few binary assets, nested directories. */
export function makeTree(dir: string, o: BenignPrepareOptions, files = 400): void {
  const r = rng(o.seed * 7919 + files);
  const n = Math.max(20, Math.round(files * o.scale));
  for (let i = 0; i < n; i++) {
    const d = path.join(dir, `pkg${i % 12}`, i % 3 === 0 ? 'lib' : 'src');
    fs.mkdirSync(d, { recursive: true });
    const size = 300 + Math.floor(r() * 12000);
    if (i % 17 === 0) {
      const b = Buffer.alloc(size);
      for (let k = 0; k < size; k++) b[k] = Math.floor(r() * 256);
      fs.writeFileSync(path.join(d, `asset${i}.bin`), b);
    } else {
      const lines: string[] = [];
      let len = 0;
      while (len < size) {
        const l = `${WORDS[Math.floor(r() * WORDS.length)]} = ${Math.floor(r() * 1e6)}; // ${WORDS[Math.floor(r() * WORDS.length)]} ${WORDS[Math.floor(r() * WORDS.length)]}\n`;
        lines.push(l);
        len += l.length;
      }
      fs.writeFileSync(path.join(d, `file${i}.${['js', 'ts', 'txt', 'json', 'md'][i % 5]}`), lines.join(''));
    }
  }
}

function makeCProject(dir: string, o: BenignPrepareOptions): void {
  fs.mkdirSync(dir, { recursive: true });
  const n = Math.max(4, Math.round(24 * o.scale));
  const objs: string[] = [];
  const decls: string[] = [];
  for (let i = 0; i < n; i++) {
    const body = Array.from({ length: 30 }, (_, k) => `int m${i}_${k}(int x) { return x * ${k + 1} + ${i}; }`).join('\n');
    fs.writeFileSync(path.join(dir, `m${i}.c`), `#include "proj.h"\n${body}\nint mod${i}(int x) { return m${i}_0(x) + m${i}_29(x); }\n`);
    objs.push(`m${i}.o`);
    decls.push(`int mod${i}(int x);`);
  }
  fs.writeFileSync(path.join(dir, 'proj.h'), decls.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'main.c'), `#include <stdio.h>\n#include "proj.h"\nint main(void) { int s = 0; ${Array.from({ length: n }, (_, i) => `s += mod${i}(${i});`).join(' ')} printf("%d\\n", s); return 0; }\n`);
  fs.writeFileSync(path.join(dir, 'Makefile'), `CFLAGS = -O2 -g\nOBJS = main.o ${objs.join(' ')}\nall: app\napp: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n%.o: %.c proj.h\n\t$(CC) $(CFLAGS) -c -o $@ $<\nclean:\n\trm -f app $(OBJS)\n`);
}

function makeLogs(dir: string, o: BenignPrepareOptions): void {
  fs.mkdirSync(dir, { recursive: true });
  const r = rng(o.seed);
  const lines = Math.max(200, Math.round(20000 * o.scale));
  fs.writeFileSync(path.join(dir, 'app.log'), Array.from({ length: lines }, (_, i) => `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}Z INFO request ${i} took ${Math.floor(r() * 900)}ms path=/api/${WORDS[i % WORDS.length]}`).join('\n') + '\n');
}

const tree = (o: BenignPrepareOptions, src: string, n = 400): void => makeTree(path.join(src, 'tree'), o, n);

export const BENIGN_SCENARIOS: readonly BenignScenario[] = [
  { name: 'tar-gzip', family: 'archive', description: 'tar czf of a source tree, then extract it', requires: ['tar', 'gzip'], prepare: (s, o) => tree(o, s), script: 'tar czf tree.tar.gz tree && mkdir out && tar xzf tree.tar.gz -C out && rm -rf out' },
  { name: 'tar-xz', family: 'archive', description: 'tar cJf (xz) of a source tree, then extract it', requires: ['tar', 'xz'], prepare: (s, o) => tree(o, s), script: 'tar cJf tree.tar.xz tree && mkdir out && tar xJf tree.tar.xz -C out' },
  { name: 'tar-zstd', family: 'archive', description: 'tar --zstd of a source tree, then extract it', requires: ['tar', 'zstd'], prepare: (s, o) => tree(o, s), script: 'tar --zstd -cf tree.tar.zst tree && mkdir out && tar --zstd -xf tree.tar.zst -C out' },
  { name: 'zip-unzip', family: 'archive', description: 'zip -r a tree, unzip it elsewhere', requires: ['zip', 'unzip'], prepare: (s, o) => tree(o, s), script: 'zip -qr tree.zip tree && mkdir out && unzip -q tree.zip -d out' },
  {
    name: 'gpg-symmetric', family: 'encryption', description: 'gpg --symmetric (AES256) of 8 files, decrypt one back', requires: ['gpg', 'gpgconf'], prepare: (s, o) => tree(o, s, 60),
    script: 'export GNUPGHOME=$(mktemp -d); trap "gpgconf --kill all; rm -rf $GNUPGHOME" EXIT; n=0; for f in $(find tree -name "*.txt" | sort | head -8); do gpg --batch --yes --quiet --pinentry-mode loopback --passphrase lab --symmetric --cipher-algo AES256 -o "$f.gpg" "$f"; n=$((n+1)); done; f=$(find tree -name "*.gpg" | sort | head -1); gpg --batch --yes --quiet --pinentry-mode loopback --passphrase lab -d -o "$f.out" "$f"',
  },
  {
    name: 'git', family: 'vcs', description: 'git clone of a local repository, edit 20 files, commit, git gc', requires: ['git'],
    prepare: (s, o) => {
      tree(o, s);
      const g = (args: string[], cwd: string): void => {
        const r = spawnSync('git', ['-c', 'user.name=lab', '-c', 'user.email=lab@example.com', ...args], { cwd, stdio: 'ignore' });
        if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed during prepare`);
      };
      g(['init', '-q'], path.join(s, 'tree'));
      g(['add', '-A'], path.join(s, 'tree'));
      g(['commit', '-qm', 'initial'], path.join(s, 'tree'));
      g(['clone', '-q', '--bare', 'tree', 'origin.git'], s);
      fs.rmSync(path.join(s, 'tree'), { recursive: true, force: true });
    },
    script: 'git clone -q origin.git work && cd work && for f in $(git ls-files | head -20); do echo "// edit" >> "$f"; done && git -c user.name=lab -c user.email=lab@example.com commit -qam edit && git gc -q && git log --oneline | wc -l',
  },
  {
    name: 'npm-install', family: 'package-manager', description: 'npm pack of a local package, npm install of the tarball into a project (offline)', requires: ['npm'],
    prepare: (s, o) => {
      const pkg = path.join(s, 'lib-pkg');
      makeTree(path.join(pkg, 'lib'), o, 120);
      fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'lab-lib', version: '1.0.0', main: 'lib/index.js', files: ['lib'] }, null, 2));
      fs.writeFileSync(path.join(pkg, 'lib', 'index.js'), 'module.exports = 42;\n');
      fs.mkdirSync(path.join(s, 'app'));
      fs.writeFileSync(path.join(s, 'app', 'package.json'), JSON.stringify({ name: 'lab-app', version: '1.0.0', private: true }, null, 2));
    },
    script: 'export npm_config_cache=$(mktemp -d); trap "rm -rf $npm_config_cache" EXIT; (cd lib-pkg && npm pack --silent >/dev/null) && cd app && npm install --offline --no-audit --no-fund --silent ../lib-pkg/lab-lib-1.0.0.tgz && node -e "process.exit(require(\'lab-lib\') === 42 ? 0 : 1)" && rm -rf node_modules && npm install --offline --no-audit --no-fund --silent',
  },
  { name: 'make-gcc', family: 'build', description: 'make -j2 of a generated C project with gcc, clean, rebuild', requires: ['make', 'gcc'], prepare: (s, o) => makeCProject(path.join(s, 'proj'), o), script: 'make -s -C proj -j2 && ./proj/app && make -s -C proj clean && make -s -C proj -j2' },
  {
    name: 'sqlite', family: 'database', description: 'sqlite3: 20k inserts in transactions, updates, delete half, VACUUM', requires: ['sqlite3'], prepare: () => undefined,
    script: 'sqlite3 app.db "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, v REAL); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 20000) INSERT INTO t (name, v) SELECT printf(\'row-%d-%s\', x, hex(randomblob(8))), x * 0.5 FROM c; UPDATE t SET v = v + 1 WHERE id % 3 = 0; DELETE FROM t WHERE id % 2 = 0; VACUUM;" && sqlite3 app.db "SELECT count(*) FROM t"',
  },
  { name: 'rsync', family: 'backup', description: 'rsync -a of a tree to a backup dir, edit, rsync again', requires: ['rsync'], prepare: (s, o) => tree(o, s), script: 'rsync -a tree/ backup/ && for f in $(find tree -name "*.md" | head -10); do echo x >> "$f"; done && rsync -a --delete tree/ backup/' },
  { name: 'cp-rm', family: 'bulk', description: 'cp -r of a large tree, then rm -rf of the copy', requires: ['cp', 'rm'], prepare: (s, o) => tree(o, s, 1500), script: 'cp -r tree tree-copy && rm -rf tree-copy' },
  {
    name: 'logrotate', family: 'logs', description: 'log rotation by hand (mv app.log.N, gzip, new app.log), 6 rounds', requires: ['gzip'], prepare: (s, o) => makeLogs(path.join(s, 'logs'), o),
    script: 'cd logs && for round in 1 2 3 4 5 6; do for n in 4 3 2 1; do [ -f app.log.$n.gz ] && mv app.log.$n.gz app.log.$((n+1)).gz; done; mv app.log app.log.1 && gzip app.log.1; rm -f app.log.5.gz; seq 1 3000 | sed "s/^/round $round line /" > app.log; done; ls',
  },
  {
    name: 'imagemagick', family: 'media', description: 'ImageMagick: generate PNGs, convert to JPEG and resize', requires: ['convert'],
    available: () => /ImageMagick/.test(spawnSync('convert', ['-version'], { encoding: 'utf8' }).stdout ?? ''),
    prepare: () => undefined, script: 'for i in 1 2 3 4 5 6; do convert -size 640x480 plasma:fractal img$i.png && convert img$i.png -resize 50% img$i.jpg; done',
  },
  {
    name: 'ffmpeg', family: 'media', description: 'ffmpeg: synthesize a 5 s test video, re-encode it', requires: ['ffmpeg'], prepare: () => undefined,
    script: 'ffmpeg -loglevel error -f lavfi -i testsrc=duration=5:size=320x240:rate=25 -y in.mp4 && ffmpeg -loglevel error -i in.mp4 -vf scale=160:120 -y out.mp4',
  },
];

export function benignScenario(name: string): BenignScenario | undefined {
  return BENIGN_SCENARIOS.find((s) => s.name === name);
}

/** Undefined when runnable, else why not (missing programs). */
export function missingFor(s: BenignScenario): string | undefined {
  const missing = s.requires.filter((p) => spawnSync('sh', ['-c', `command -v ${p}`], { stdio: 'ignore' }).status !== 0);
  if (missing.length > 0) return `missing: ${missing.join(', ')}`;
  if (s.available && !s.available()) return `${s.requires.join(', ')} present but not usable (stand-in?)`;
  return undefined;
}
