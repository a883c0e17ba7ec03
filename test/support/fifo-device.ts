/**
 * An input device for the daemon's collector, made of a FIFO: tests have no /dev/input, so a
 * FIFO in the watched input directory stands for a hot-plugged device (its identity is
 * `file:<name>`).
 *
 * plugFifoDevice() creates the FIFO, waits until the daemon has opened it, writes `bytes`, closes
 * it and waits until the daemon logs the device's removal (by then every record it sent has been
 * through the biometrics service), then removes the node so the same name can be plugged again.
 * The waits count log lines, so a second plug of one name waits for its own added/removed lines,
 * not the first plug's.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { DaemonProcess } from './daemon-process.js';

export async function plugFifoDevice(d: Pick<DaemonProcess, 'logs' | 'waitLog'>, dir: string, name: string, bytes: Buffer): Promise<void> {
  const node = path.join(dir, name);
  const count = (action: string): number => d.logs.filter((l) => l['event.action'] === action && l['device.path'] === node).length;
  const nth = (action: string, n: number): Promise<unknown> =>
    d.waitLog((l) => l['event.action'] === action && l['device.path'] === node && count(action) >= n);
  const opened = nth('input_device_added', count('input_device_added') + 1);
  execFileSync('mkfifo', [node]);
  await opened;
  const removed = nth('input_device_removed', count('input_device_removed') + 1);
  const fd = openSync(node, constants.O_WRONLY); // the daemon holds the read side: does not block
  try {
    for (let at = 0; at < bytes.length; at += 4096) writeSync(fd, bytes.subarray(at, Math.min(bytes.length, at + 4096)));
  } finally {
    closeSync(fd);
  }
  await removed;
  unlinkSync(node);
}
