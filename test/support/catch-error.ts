import { SentinelError } from '../../src/errors.js';

/** Runs fn and returns the SentinelError it throws; fails when it throws nothing or something else. */
export function catchError(fn: () => unknown): SentinelError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SentinelError) return err;
    throw err;
  }
  throw new Error('expected a SentinelError');
}
