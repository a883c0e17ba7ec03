/**
 * The profiles directory: one profile file per enrolled user, `<dir>/<user>.json`
 * (`biometrics.profileDir`, default `<dataDir>/profiles`). A host where several people use the
 * keyboard enrolls each of them; the daemon scores the session against the profile of the user
 * whose session is active (daemon/session-user.ts).
 *
 * Releases before several users were supported wrote one `user.json`; it still stands for the
 * user it names (its `user` field) as long as that user has no `<user>.json`, so an upgraded host
 * keeps its enrollment and `sentinel enroll --add` keeps adding to it.
 *
 * Synchronous (a directory listing and small JSON reads, at start and on a seat change). Throws
 * SentinelError SENTINEL_E_BIO_PROFILE for a user name that cannot be a file name.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SentinelError } from '../errors.js';

const LOGIN_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/** Whether `name` is a POSIX login name as profiles take them (see checkUserName). */
export function isLoginName(name: string): boolean {
  return LOGIN_NAME.test(name);
}

/** The single profile file of releases before one file per user. */
export const LEGACY_PROFILE_FILE = 'user.json';

/**
 * A user name as the file name of its profile: a POSIX login name (letters, digits, `_`, `.`,
 * `-`, not starting with `-` or `.`, at most 64 bytes). Throws SENTINEL_E_BIO_PROFILE otherwise.
 */
export function checkUserName(user: string): string {
  if (!LOGIN_NAME.test(user)) {
    throw new SentinelError('SENTINEL_E_BIO_PROFILE', `user name ${JSON.stringify(user)} is not a login name (letters, digits, '_', '.', '-'; at most 64; not starting with '-' or '.')`);
  }
  return user;
}

/** The `user` field of a profile file, or null when the file does not read as a profile's JSON. */
function userOfFile(file: string): string | null {
  try {
    const j = JSON.parse(readFileSync(file, 'utf8')) as { user?: unknown };
    return typeof j.user === 'string' ? j.user : null;
  } catch {
    return null;
  }
}

/**
 * The profile file of `user` in `dir`: `<user>.json`; or the legacy `user.json` when it names
 * this user and `<user>.json` does not exist. The file may not exist (a user not enrolled yet:
 * that is where `sentinel enroll` writes).
 */
export function profilePathFor(dir: string, user: string): string {
  const own = path.join(dir, `${checkUserName(user)}.json`);
  if (existsSync(own)) return own;
  const legacy = path.join(dir, LEGACY_PROFILE_FILE);
  if (existsSync(legacy) && userOfFile(legacy) === user) return legacy;
  return own;
}

export interface ProfileEntry {
  user: string;
  path: string;
}

/**
 * Every enrolled user of `dir`, sorted by name, from the file names: `<user>.json` for each
 * login name, and the legacy `user.json` for the user its `user` field names unless that user
 * has a file of their own (a `user.json` that does not parse stands for a user "user", so its
 * load error is what the daemon reports). The files are not validated here: `loadProfile` does
 * that, and the daemon checks the loaded `user` against the name. A missing directory is empty.
 */
export function listProfiles(dir: string): ProfileEntry[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const byUser = new Map<string, string>();
  let legacy: ProfileEntry | null = null;
  for (const name of names) {
    const user = name.slice(0, -'.json'.length);
    if (!LOGIN_NAME.test(user)) continue;
    const file = path.join(dir, name);
    if (name === LEGACY_PROFILE_FILE) {
      const named = userOfFile(file);
      if (named !== null && named !== 'user') {
        legacy = { user: named, path: file };
        continue;
      }
    }
    byUser.set(user, file);
  }
  if (legacy && !byUser.has(legacy.user)) byUser.set(legacy.user, legacy.path);
  return [...byUser].map(([user, p]) => ({ user, path: p })).sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
}
