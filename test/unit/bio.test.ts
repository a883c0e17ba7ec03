// Runs the native biometrics tests (tools/bio-eval/bio_test.cpp): keystroke
// and mouse feature fixtures, GP/metrics fixtures, key-file mode, and two
// synthetic typists separated by enrollment + scoring.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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
      execFileSync('make', ['-s', '-C', resolve(root, 'tools/bio-eval'), resolve(root, 'build/bio-eval/bio_test')], {
        stdio: 'pipe',
      });
      const bin = resolve(root, 'build/bio-eval/bio_test');
      expect(existsSync(bin)).toBe(true);
      const out = execFileSync(bin, { encoding: 'utf8' });
      expect(out).toContain('bio_test: all passed');
      expect(out).toMatch(/\d+ checks, 0 failures/);
    },
    300_000,
  );
});
