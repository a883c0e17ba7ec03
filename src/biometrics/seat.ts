/**
 * Whose session is active on the seat: systemd-logind's seat file (`/run/systemd/seats/seat0`),
 * read the way `sd_seat_get_active()` reads it (lines `KEY=VALUE`; `ACTIVE` is the active
 * session's id and `ACTIVE_UID` its user's uid; neither is there while no session is active,
 * e.g. at the greeter). logind replaces the file by rename on every change, so watching its
 * folder sees each switch.
 *
 * The file's first line says it is logind's private data: its keys have been stable since
 * systemd 183, and they are all this reads. A file without the keys logind writes on every seat
 * (`IS_SEAT0` or `CAN_MULTI_SESSION`) is reported as unreadable rather than guessed at.
 *
 * Synchronous, never throws.
 */
import { readFileSync } from 'node:fs';

export type SeatState =
  /** No seat file: not a logind host (or logind not running). */
  | { kind: 'missing' }
  /** The file exists but cannot be read or is not a seat file. */
  | { kind: 'unreadable'; why: string }
  /** No session is active on the seat (a greeter, a text console without login). */
  | { kind: 'none' }
  | { kind: 'active'; uid: number; session: string };

/** Parses a seat file's text. */
export function parseSeat(text: string): SeatState {
  const kv = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq > 0) kv.set(line.slice(0, eq), line.slice(eq + 1));
  }
  if (!kv.has('IS_SEAT0') && !kv.has('CAN_MULTI_SESSION')) return { kind: 'unreadable', why: 'not a logind seat file (no IS_SEAT0 or CAN_MULTI_SESSION line)' };
  const uid = kv.get('ACTIVE_UID');
  if (uid === undefined || uid === '') return { kind: 'none' };
  if (!/^\d+$/.test(uid) || Number(uid) > 0xffffffff) return { kind: 'unreadable', why: `ACTIVE_UID ${JSON.stringify(uid)} is not a uid` };
  return { kind: 'active', uid: Number(uid), session: kv.get('ACTIVE') ?? '' };
}

/** Reads and parses the seat file at `file`. */
export function readSeat(file: string): SeatState {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'unreadable', why: (err as Error).message };
  }
  return parseSeat(text);
}
