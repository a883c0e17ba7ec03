/**
 * The CMake build (same native/sources.txt as binding.gyp) compiles the pure C++ core and its
 * native test executable (including the 2-thread SPSC ring test); ctest runs it.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../support/daemon-process.js';

describe('CMake build of the native core', () => {
  it('builds from native/sources.txt and passes ctest', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-cmake-'));
    try {
      execFileSync('cmake', ['-S', ROOT, '-B', dir, '-DCMAKE_BUILD_TYPE=Release'], { stdio: 'pipe' });
      execFileSync('cmake', ['--build', dir, '--target', 'sentinel_core_test', '-j', '2'], { stdio: 'pipe' });
      const out = execFileSync('ctest', ['--test-dir', dir, '--output-on-failure'], { encoding: 'utf8' });
      expect(out).toMatch(/100% tests passed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
