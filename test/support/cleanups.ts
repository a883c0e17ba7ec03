/**
 * Per-test cleanup stack: push unmounts, kills and temp-dir removals as they are created; after
 * each test they run last-first, every one even when an earlier one throws.
 */
import { afterEach } from 'vitest';

export type Cleanup = () => Promise<void> | void;

export function cleanupStack(): Cleanup[] {
  const cleanups: Cleanup[] = [];
  afterEach(async () => {
    while (cleanups.length) {
      try {
        await cleanups.pop()!();
      } catch {
        // keep cleaning
      }
    }
  });
  return cleanups;
}
