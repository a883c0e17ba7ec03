/**
 * SHA-256 helpers for model files.
 *
 * Synchronous (models are hashed once, at load). `hashFile` reads the file in 1 MiB chunks, so
 * memory stays bounded whatever the file size, and throws `SentinelError('SENTINEL_E_IO')`
 * naming the path when it cannot be read. Digests are lowercase hex.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { SentinelError } from '../errors.js';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function hashFile(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new SentinelError('SENTINEL_E_IO', `cannot open ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const got = readSync(fd, buf, 0, buf.length, null);
      if (got === 0) break;
      h.update(buf.subarray(0, got));
    }
    return h.digest('hex');
  } catch (err) {
    throw new SentinelError('SENTINEL_E_IO', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    closeSync(fd);
  }
}
