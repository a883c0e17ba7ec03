/**
 * Decodes recorded `input_event` records through the addon, in pieces: decodeInputEvents takes
 * at most 256 KiB a call (9000 events = 211 KiB). One batch of every key record and mouse action.
 */
import { addon } from '../../src/binding.js';
import { concatInputBatches } from '../../src/biometrics/input-batch.js';
import { encodeInputEvents, type RawInput } from './input-events.js';

export function decodeEvents(events: readonly RawInput[], keyPath: string): { keys: Float64Array; actions: Float32Array; actionMeta: Float64Array } {
  const parts = [];
  for (let i = 0; i < events.length; i += 9000) parts.push(addon().decodeInputEvents(encodeInputEvents(events.slice(i, i + 9000)), { keyPath }));
  return concatInputBatches(parts);
}
