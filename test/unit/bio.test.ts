// Runs the native biometrics tests (tools/bio-eval/bio_test.cpp): keystroke
// and mouse feature fixtures, GP/metrics fixtures, key-file mode, and two
// synthetic typists separated by enrollment + scoring.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const haveCxx = (() => {
  try {
    execFileSync('g++', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('native biometrics', () => {
  it.skipIf(!haveCxx)(
    'feature fixtures, scorers and two synthetic typists pass',
    () => {
      // Build outside build/: a concurrent node-gyp rebuild wipes that folder.
      const out_dir = mkdtempSync(resolve(tmpdir(), 'sentinel-bio-'));
      try {
        const bin = resolve(out_dir, 'bio_test');
        execFileSync('make', ['-s', '-C', resolve(root, 'tools/bio-eval'), `OUT=${out_dir}`, bin], {
          stdio: 'pipe',
        });
        expect(existsSync(bin)).toBe(true);
        const out = execFileSync(bin, { encoding: 'utf8' });
        expect(out).toContain('bio_test: all passed');
        expect(out).toMatch(/\d+ checks, 0 failures/);
      } finally {
        rmSync(out_dir, { recursive: true, force: true });
      }
    },
    300_000,
  );
});
