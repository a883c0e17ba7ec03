/**
 * Whose profile the session subject is scored against (docs/biometrics.md, "Several users on
 * one host"). In order:
 *
 * 1. `biometrics.user`, when set: that user's profile, whoever is logged in.
 * 2. The seat (`biometrics.seatFile`, logind's `/run/systemd/seats/seat0`): the profile of the
 *    user whose session is active. The daemon follows each switch (daemon/biometrics.ts).
 *    No active session, or an active user without a profile: nothing is scored, and the reason
 *    says so.
 * 3. No seat file (not a logind host, or `seatFile` ""): the only profile in the directory.
 *    Several profiles and no seat: nothing is scored, since guessing would score one person
 *    against another's profile.
 *
 * Synchronous (a directory listing, /etc/passwd or `getent passwd`, and the seat file); never
 * throws.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { listProfiles, profilePathFor } from '../src/biometrics/profile-dir.js';
import { readSeat } from '../src/biometrics/seat.js';
import { errorCode } from '../src/errors.js';

export interface SessionUserConfig {
  profileDir: string;
  /** A fixed user ("" : follow the seat, or the only profile). */
  user: string;
  /** logind's seat file ("" : do not follow the seat). */
  seatFile: string;
  /** uid of the session's user when not told by the seat; -1: the profile's user in /etc/passwd. */
  sessionUid: number;
}

/** How the session's user was chosen, as /v1/status shows it. */
export type SessionUserSource = 'config' | 'seat' | 'only profile';

export type SessionUserChoice =
  | { ok: true; user: string; path: string; uid: number; source: SessionUserSource }
  | { ok: false; why: string };

/** passwd entries (name, uid) of a passwd-format text, one per line. */
function passwdEntries(text: string): { name: string; uid: number }[] {
  const out: { name: string; uid: number }[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] && f[2] !== undefined && /^\d+$/.test(f[2])) out.push({ name: f[0], uid: Number(f[2]) });
  }
  return out;
}

/**
 * One user's passwd entry: from `passwd` (default /etc/passwd) first; for the default, users
 * only the name service knows (LDAP, SSSD) through `getent passwd KEY` (2 s at most; a key
 * getent does not know, or no getent, is null). Only at start and on a seat change.
 */
function lookup(key: string, pick: (e: { name: string; uid: number }) => boolean, passwd: string): { name: string; uid: number } | null {
  let text = '';
  try {
    text = readFileSync(passwd, 'utf8');
  } catch {
    // fall through to getent
  }
  const local = passwdEntries(text).find(pick);
  if (local || passwd !== '/etc/passwd') return local ?? null;
  try {
    return passwdEntries(execFileSync('getent', ['passwd', key], { encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'] })).find(pick) ?? null;
  } catch {
    return null;
  }
}

/** uid of a user name (/etc/passwd, then the name service), or null. */
export function uidOfUser(name: string, passwd = '/etc/passwd'): number | null {
  return lookup(name, (e) => e.name === name, passwd)?.uid ?? null;
}

/** The user name of a uid (the first in /etc/passwd, then the name service's), or null. */
export function userOfUid(uid: number, passwd = '/etc/passwd'): string | null {
  return lookup(String(uid), (e) => e.uid === uid, passwd)?.name ?? null;
}

/** Picks the session's user and profile file (see the file comment). */
export function chooseSessionUser(cfg: SessionUserConfig, passwd = '/etc/passwd'): SessionUserChoice {
  const uidFor = (user: string): number => (cfg.sessionUid >= 0 ? cfg.sessionUid : (uidOfUser(user, passwd) ?? -1));
  try {
    if (cfg.user) {
      const p = profilePathFor(cfg.profileDir, cfg.user);
      if (!existsSync(p)) return { ok: false, why: `no enrolled profile for ${cfg.user} (biometrics.user) at ${p} (run \`sentinel enroll --user ${cfg.user}\`)` };
      return { ok: true, user: cfg.user, path: p, uid: uidFor(cfg.user), source: 'config' };
    }
    const profiles = listProfiles(cfg.profileDir);
    const seat = cfg.seatFile ? readSeat(cfg.seatFile) : ({ kind: 'missing' } as const);
    switch (seat.kind) {
      case 'unreadable':
        return { ok: false, why: `cannot tell whose session is active: seat file ${cfg.seatFile}: ${seat.why} (set biometrics.user, or biometrics.seatFile "" to score the only profile)` };
      case 'none':
        return { ok: false, why: `no session is active on the seat (${cfg.seatFile})` };
      case 'active': {
        // The seat's uid names the user; their profile is the one of that name.
        const name = userOfUid(seat.uid, passwd);
        const mine = name === null ? undefined : profiles.find((p) => p.user === name);
        const who = name ? `${name} (uid ${seat.uid})` : `uid ${seat.uid} (no user name: not in ${passwd} nor the name service)`;
        if (!mine) return { ok: false, why: `the active session's user ${who} has no enrolled profile in ${cfg.profileDir}${name ? ` (run \`sentinel enroll --user ${name}\`)` : ''}` };
        return { ok: true, user: mine.user, path: mine.path, uid: seat.uid, source: 'seat' };
      }
      case 'missing':
        break;
    }
    if (profiles.length === 0) return { ok: false, why: `no enrolled profile in ${cfg.profileDir} (run \`sentinel enroll\`)` };
    if (profiles.length > 1) {
      const seatWhy = cfg.seatFile ? `no seat file at ${cfg.seatFile}` : 'biometrics.seatFile is ""';
      return { ok: false, why: `${profiles.length} enrolled profiles in ${cfg.profileDir} (${profiles.map((p) => p.user).join(', ')}) and nothing says whose session is active (${seatWhy}): set biometrics.user` };
    }
    const only = profiles[0] as (typeof profiles)[number];
    return { ok: true, user: only.user, path: only.path, uid: uidFor(only.user), source: 'only profile' };
  } catch (err) {
    return { ok: false, why: `${errorCode(err, 'SENTINEL_E_IO')}: ${(err as Error).message}` };
  }
}
