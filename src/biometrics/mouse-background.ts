/**
 * Background members of the several-users mouse model: other people's one-class mouse profiles,
 * built from a research data set on this machine (`scripts/bio/mouse_background.sh`, Balabit's
 * users), that the model is fitted with beside the host's enrolled users. They are never scored;
 * they give an enrolled user someone to be told from, so a single-user host gets the
 * discriminative model too, and every host gets it against people it has never enrolled
 * (docs/biometrics.md, "Mouse: a background for the several-users model").
 *
 * File format ("SMBG", little-endian): 4 bytes magic, u32 version (1), u32 member count, then per
 * member u16 name length, the name (ASCII), u32 profile length, the profile (the addon's
 * serialized one-class mouse profile, the same bytes a user's profile file holds). Written by
 * `balabit_eval --write-background` (tools/bio-eval) and by `encodeMouseBackground`.
 *
 * Contract
 * - `parseMouseBackground` and `loadMouseBackground` are synchronous. They throw SentinelError
 *   SENTINEL_E_BIO_PROFILE, naming the file and what is wrong, for a malformed, truncated or
 *   unknown-version file, a duplicate or bad name, or a profile that is malformed, lacks a
 *   quantised enrollment or was enrolled under another population than `population`.
 *   `loadMouseBackground` throws SENTINEL_E_IO when the file cannot be read.
 * - Member names come back as `background/<name>`: a login name cannot hold `/`, so a
 *   background member never stands for an enrolled user.
 * - Buffers are copied out of the file's bytes; nothing is kept.
 */
import { readFileSync } from 'node:fs';
import { SentinelError } from '../errors.js';
import type { CohortMemberInput } from './mouse-cohort.js';
import { mouseProfileInfo } from './mouse-model.js';
import { isLoginName } from './profile-dir.js';

const MAGIC = 'SMBG';
export const MOUSE_BACKGROUND_VERSION = 1;
/** The prefix of a background member's name in the model and in the status. */
export const BACKGROUND_PREFIX = 'background/';
/** Most background members a file may hold (the model takes 64 members, enrolled users included). */
export const MAX_BACKGROUND_MEMBERS = 32;

export function isBackgroundMember(user: string): boolean {
  return user.startsWith(BACKGROUND_PREFIX);
}

/** A model's member names split into the enrolled users (in order) and the count of background members. */
export function splitMembers(members: readonly { user: string }[]): { enrolled: string[]; background: number } {
  const enrolled = members.filter((m) => !isBackgroundMember(m.user)).map((m) => m.user);
  return { enrolled, background: members.length - enrolled.length };
}

/** The bytes of a background file holding these members (name, serialized mouse profile). */
export function encodeMouseBackground(members: readonly { name: string; mouse: Uint8Array }[]): Uint8Array {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(12);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(MOUSE_BACKGROUND_VERSION, 4);
  head.writeUInt32LE(members.length, 8);
  parts.push(head);
  for (const m of members) {
    if (!isLoginName(m.name)) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `background member name ${JSON.stringify(m.name)} is not a name (letters, digits, '_', '.', '-'; at most 64)`);
    const name = Buffer.from(m.name, 'latin1');
    const len = Buffer.alloc(2);
    len.writeUInt16LE(name.length, 0);
    const plen = Buffer.alloc(4);
    plen.writeUInt32LE(m.mouse.length, 0);
    parts.push(len, name, plen, Buffer.from(m.mouse.buffer, m.mouse.byteOffset, m.mouse.byteLength));
  }
  return new Uint8Array(Buffer.concat(parts));
}

/**
 * The members of a background file's bytes, checked against `population` (the shipped one the
 * host's profiles are enrolled with). `source` names the file in errors.
 */
export function parseMouseBackground(bytes: Uint8Array, population: Uint8Array, source = 'mouse background'): CohortMemberInput[] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (why: string): never => {
    throw new SentinelError('SENTINEL_E_BIO_PROFILE', `${source}: ${why}`);
  };
  if (b.length < 12 || b.toString('latin1', 0, 4) !== MAGIC) bad(`not a mouse background file (no "${MAGIC}" header)`);
  const version = b.readUInt32LE(4);
  if (version !== MOUSE_BACKGROUND_VERSION) bad(`version ${version}, this release reads version ${MOUSE_BACKGROUND_VERSION}`);
  const count = b.readUInt32LE(8);
  if (count < 1 || count > MAX_BACKGROUND_MEMBERS) bad(`${count} members, a background holds 1 to ${MAX_BACKGROUND_MEMBERS}`);
  const out: CohortMemberInput[] = [];
  const seen = new Set<string>();
  let at = 12;
  for (let i = 0; i < count; i++) {
    if (at + 2 > b.length) bad(`truncated at member ${i + 1} of ${count}`);
    const nlen = b.readUInt16LE(at);
    at += 2;
    if (at + nlen + 4 > b.length) bad(`truncated at member ${i + 1} of ${count}`);
    const name = b.toString('latin1', at, at + nlen);
    at += nlen;
    if (!isLoginName(name)) bad(`member ${i + 1} has the name ${JSON.stringify(name)}, not a name`);
    if (seen.has(name)) bad(`member ${JSON.stringify(name)} appears twice`);
    seen.add(name);
    const plen = b.readUInt32LE(at);
    at += 4;
    if (at + plen > b.length) bad(`truncated in member ${JSON.stringify(name)}'s profile (${plen} bytes, ${b.length - at} left)`);
    const mouse = new Uint8Array(b.subarray(at, at + plen));
    at += plen;
    let info;
    try {
      info = mouseProfileInfo(mouse, population);
    } catch (err) {
      bad(`member ${JSON.stringify(name)}: ${(err as Error).message}`);
    }
    if (!info?.canAddSittings) bad(`member ${JSON.stringify(name)}'s profile has no quantised enrollment (version 2)`);
    if (!info?.populationMatches) bad(`member ${JSON.stringify(name)} was enrolled under another population model: rebuild it (scripts/bio/mouse_background.sh)`);
    out.push({ user: `${BACKGROUND_PREFIX}${name}`, mouse });
  }
  if (at !== b.length) bad(`${b.length - at} bytes after the last member`);
  return out;
}

/** The members of the background file at `file` (see parseMouseBackground). */
export function loadMouseBackground(file: string, population: Uint8Array): CohortMemberInput[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new SentinelError('SENTINEL_E_IO', `mouse background ${file} does not read: ${(err as Error).message}`);
  }
  return parseMouseBackground(bytes, population, file);
}
