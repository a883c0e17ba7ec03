/**
 * The fanotify event rate sustained without overflow (docs/fanotify.md, "Event rate"). Opt in:
 *
 *   FANOTIFY_RATE_SECONDS=10 [FANOTIFY_RATE=0] [FANOTIFY_RATE_DIR=/mnt/tmpfs] [FANOTIFY_RATE_ENFORCE=1] \
 *     npx vitest run test/e2e/fanotify-rate.test.ts
 *
 * Starts the real daemon and `sentinel watch` on a fresh directory, runs
 * native/fanotify/rate_writer (built here with g++) creating/writing/closing distinct files as
 * fast as it can (or at FANOTIFY_RATE files/s) for the given seconds, stops the watcher and
 * prints files written, records seen and the loss counters. Each file is 3 records (create,
 * write with sample, close); with no overflow and no drop every one must arrive.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { CLI, ROOT, startDaemonProcess } from '../support/daemon-process.js';

const seconds = Number(process.env['FANOTIFY_RATE_SECONDS'] ?? 0);

describe.skipIf(!(seconds > 0) || process.getuid?.() !== 0)('fanotify event rate', () => {
  it('files written vs records seen, overflow and drop counters', async () => {
    const base = mkdtempSync(path.join(process.env['FANOTIFY_RATE_DIR'] ?? os.tmpdir(), 'sentinel-fan-rate-'));
    try {
      const writer = path.join(base, 'rate_writer');
      execFileSync('g++', ['-O2', '-o', writer, path.join(ROOT, 'native/fanotify/rate_writer.cc')]);
      const dataDir = path.join(base, 'data');
      const watched = path.join(base, 'w');
      mkdirSync(dataDir);
      mkdirSync(watched);
      const daemon = await startDaemonProcess({ dataDir, socket: path.join(base, 's.sock') });
      try {
        const args = [CLI, 'watch', watched, '--socket', daemon.socket, ...(process.env['FANOTIFY_RATE_ENFORCE'] ? ['--enforce'] : [])];
        const watch = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        watch.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        const warnings: string[] = [];
        await new Promise<void>((resolve, reject) => {
          const rl = readline.createInterface({ input: watch.stderr! });
          rl.on('line', (l) => {
            if (l.includes('"watching"')) resolve();
            if (l.includes('events-lost')) warnings.push(l);
          });
          watch.on('close', () => reject(new Error('sentinel watch exited early')));
        });
        const w = JSON.parse(execFileSync(writer, [watched, String(seconds), process.env['FANOTIFY_RATE'] ?? '0'], { encoding: 'utf8' })) as { files: number; seconds: number; rate: number };
        const closed = new Promise((r) => watch.on('close', r));
        watch.kill('SIGTERM');
        await closed;
        const summary = JSON.parse(out.trim().split('\n').pop()!) as { stats: Record<string, number>; sentRecords: number; accepted: number };
        const s = summary.stats;
        const result = {
          writer: w,
          events: s['events'],
          records: s['records'],
          expectedRecords: 3 * w.files,
          overflows: s['overflows'],
          dropped: s['dropped'],
          accepted: summary.accepted,
          kernelEventsPerS: Math.round(s['events']! / w.seconds),
          recordsPerS: Math.round(s['records']! / w.seconds),
          lossWarnings: warnings.length,
        };
        process.stdout.write(`fanotify rate: ${JSON.stringify(result)}\n`);
        expect(summary.accepted).toBe(summary.sentRecords);
        if (s['overflows'] === 0 && s['dropped'] === 0) expect(s['records']).toBe(3 * w.files);
        else expect(warnings.length).toBeGreaterThan(0);
      } finally {
        await daemon.stop();
        daemon.cleanup();
      }
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  }, 120_000);
});
