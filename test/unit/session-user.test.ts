// Whose profile the session is scored against: the profiles folder (one <user>.json per user, a
// legacy user.json for the user it names), logind's seat file, and the choice between them.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkUserName, listProfiles, profilePathFor } from '../../src/biometrics/profile-dir.js';
import { parseSeat, readSeat } from '../../src/biometrics/seat.js';
import { chooseSessionUser, uidOfUser, userOfUid, type SessionUserConfig } from '../../daemon/session-user.js';
import { BOOT_ID_FILE, readBootId } from '../../daemon/boot-id.js';

let dir: string;
let profiles: string;
let passwd: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-session-user-'));
  profiles = path.join(dir, 'profiles');
  mkdirSync(profiles);
  passwd = path.join(dir, 'passwd');
  writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\nbobby:x:1001:1001::/home/bob:/bin/sh\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const profile = (file: string, user: string): void => writeFileSync(path.join(profiles, file), JSON.stringify({ format: 'sentinel-bio-profile', version: 1, user }));
const seatText = (uid: number | null): string => `# This is private data. Do not parse.\nIS_SEAT0=1\nCAN_MULTI_SESSION=1\nCAN_TTY=1\nCAN_GRAPHICAL=1\n${uid === null ? '' : `ACTIVE=3\nACTIVE_UID=${uid}\n`}SESSIONS=3\n`;
const seatFile = (uid: number | null): string => {
  const f = path.join(dir, 'seat0');
  writeFileSync(f, seatText(uid));
  return f;
};
const cfg = (over: Partial<SessionUserConfig>): SessionUserConfig => ({ profileDir: profiles, user: '', seatFile: '', sessionUid: -1, ...over });

describe('profiles folder', () => {
  it('accepts login names and refuses names that are not file names', () => {
    for (const ok of ['alice', 'a.b-c_1', '_svc', 'A1']) expect(checkUserName(ok)).toBe(ok);
    for (const bad of ['', '../etc/passwd', 'a/b', '.hidden', '-x', 'a b', 'x'.repeat(65)]) {
      expect(() => checkUserName(bad)).toThrow(/SENTINEL_E_BIO_PROFILE|is not a login name/);
    }
  });

  it("lists one profile per user from the file names; a legacy user.json stands for the user it names unless that user has their own file", () => {
    profile('bob.json', 'bob');
    profile('user.json', 'alice');
    writeFileSync(path.join(profiles, 'carol.json.tmp-123'), '{}'); // a write in progress
    writeFileSync(path.join(profiles, '.x.json'), '{}'); // not a login name
    expect(listProfiles(profiles)).toEqual([
      { user: 'alice', path: path.join(profiles, 'user.json') },
      { user: 'bob', path: path.join(profiles, 'bob.json') },
    ]);
    expect(profilePathFor(profiles, 'alice')).toBe(path.join(profiles, 'user.json'));
    profile('alice.json', 'alice');
    expect(listProfiles(profiles).map((p) => p.path)).toEqual([path.join(profiles, 'alice.json'), path.join(profiles, 'bob.json')]);
    expect(profilePathFor(profiles, 'alice')).toBe(path.join(profiles, 'alice.json'));
    expect(profilePathFor(profiles, 'dave')).toBe(path.join(profiles, 'dave.json')); // not enrolled yet: where enroll writes
    expect(listProfiles(path.join(dir, 'missing'))).toEqual([]);
  });

  it('keeps a damaged user.json as the profile of a user "user", so loading it reports the damage', () => {
    writeFileSync(path.join(profiles, 'user.json'), '{"format":"sentinel-bio-profile","user":"al');
    expect(listProfiles(profiles)).toEqual([{ user: 'user', path: path.join(profiles, 'user.json') }]);
  });
});

describe('seat file', () => {
  it('reads the active uid the way sd_seat_get_active does, and says when it cannot', () => {
    expect(parseSeat(seatText(1000))).toEqual({ kind: 'active', uid: 1000, session: '3' });
    expect(parseSeat(seatText(null))).toEqual({ kind: 'none' });
    expect(parseSeat('ACTIVE_UID=1000\n')).toMatchObject({ kind: 'unreadable', why: expect.stringMatching(/not a logind seat file/) });
    expect(parseSeat('IS_SEAT0=1\nACTIVE_UID=-1\n')).toMatchObject({ kind: 'unreadable', why: expect.stringMatching(/ACTIVE_UID "-1" is not a uid/) });
    expect(parseSeat('IS_SEAT0=1\nACTIVE_UID=99999999999\n')).toMatchObject({ kind: 'unreadable' });
    expect(readSeat(path.join(dir, 'no-such-seat'))).toEqual({ kind: 'missing' });
    expect(readSeat(dir)).toMatchObject({ kind: 'unreadable' }); // a directory: EISDIR
  });
});

describe('choosing the session user', () => {
  it('looks names and uids up in the passwd file', () => {
    expect(uidOfUser('alice', passwd)).toBe(1000);
    expect(uidOfUser('nobody', passwd)).toBeNull();
    expect(userOfUid(1001, passwd)).toBe('bob');
    expect(userOfUid(4242, passwd)).toBeNull();
  });

  it('follows the seat to the active user, and scores nobody when the active user is not enrolled or no session is active', () => {
    profile('alice.json', 'alice');
    profile('carol.json', 'carol');
    expect(chooseSessionUser(cfg({ seatFile: seatFile(1000) }), passwd)).toEqual({ ok: true, user: 'alice', path: path.join(profiles, 'alice.json'), uid: 1000, source: 'seat' });
    expect(chooseSessionUser(cfg({ seatFile: seatFile(0) }), passwd)).toEqual({ ok: false, why: `the active session's user root (uid 0) has no enrolled profile in ${profiles} (run \`sentinel enroll --user root\`)` });
    expect(chooseSessionUser(cfg({ seatFile: seatFile(4242) }), passwd)).toMatchObject({ ok: false, why: expect.stringMatching(/^the active session's user uid 4242 \(no user name: not in .*passwd nor the name service\) has no enrolled profile in [^ ]+$/) });
    expect(chooseSessionUser(cfg({ seatFile: seatFile(null) }), passwd)).toEqual({ ok: false, why: `no session is active on the seat (${path.join(dir, 'seat0')})` });
    // The seat's uid wins over biometrics.sessionUid: it is the session's own.
    expect(chooseSessionUser(cfg({ seatFile: seatFile(1000), sessionUid: 7 }), passwd)).toMatchObject({ ok: true, uid: 1000 });
  });

  it("takes the seat uid's first name: another name of that uid is not its user", () => {
    profile('bobby.json', 'bobby');
    expect(chooseSessionUser(cfg({ seatFile: seatFile(1001) }), passwd)).toMatchObject({ ok: false, why: expect.stringMatching(/^the active session's user bob \(uid 1001\) has no enrolled profile/) });
    profile('bob.json', 'bob');
    expect(chooseSessionUser(cfg({ seatFile: seatFile(1001) }), passwd)).toMatchObject({ ok: true, user: 'bob', uid: 1001 });
  });

  it("looks users up in the system's own database by default", () => {
    // (No user here is known to the name service only, so its getent fallback is not exercised.)
    expect(uidOfUser('root')).toBe(0);
    expect(userOfUid(0)).toBe('root');
    expect(uidOfUser('no-such-user-sentinel')).toBeNull();
    expect(userOfUid(4_000_000_000)).toBeNull();
  });

  it('says why when the seat file is not one', () => {
    profile('alice.json', 'alice');
    const f = path.join(dir, 'seat0');
    writeFileSync(f, 'hello\n');
    expect(chooseSessionUser(cfg({ seatFile: f }), passwd)).toMatchObject({ ok: false, why: expect.stringMatching(/^cannot tell whose session is active: seat file .*not a logind seat file.*biometrics\.seatFile ""/) });
  });

  it('without a seat, scores the only profile, and refuses to pick one of several', () => {
    expect(chooseSessionUser(cfg({}), passwd)).toEqual({ ok: false, why: `no enrolled profile in ${profiles} (run \`sentinel enroll\`)` });
    profile('user.json', 'alice');
    expect(chooseSessionUser(cfg({ seatFile: path.join(dir, 'no-logind') }), passwd)).toEqual({ ok: true, user: 'alice', path: path.join(profiles, 'user.json'), uid: 1000, source: 'only profile' });
    expect(chooseSessionUser(cfg({ sessionUid: 7 }), passwd)).toMatchObject({ ok: true, uid: 7 });
    profile('bob.json', 'bob');
    expect(chooseSessionUser(cfg({}), passwd)).toEqual({ ok: false, why: `2 enrolled profiles in ${profiles} (alice, bob) and nothing says whose session is active (biometrics.seatFile is ""): set biometrics.user` });
    expect(chooseSessionUser(cfg({ seatFile: path.join(dir, 'no-logind') }), passwd)).toMatchObject({ ok: false, why: expect.stringMatching(/\(no seat file at .*no-logind\): set biometrics\.user$/) });
  });

  it('scores biometrics.user whoever is logged in', () => {
    profile('alice.json', 'alice');
    profile('bob.json', 'bob');
    expect(chooseSessionUser(cfg({ user: 'bob', seatFile: seatFile(1000) }), passwd)).toEqual({ ok: true, user: 'bob', path: path.join(profiles, 'bob.json'), uid: 1001, source: 'config' });
    expect(chooseSessionUser(cfg({ user: 'dave' }), passwd)).toEqual({ ok: false, why: `no enrolled profile for dave (biometrics.user) at ${path.join(profiles, 'dave.json')} (run \`sentinel enroll --user dave\`)` });
    expect(chooseSessionUser(cfg({ user: '../x' }), passwd)).toMatchObject({ ok: false, why: expect.stringMatching(/^SENTINEL_E_BIO_PROFILE: user name/) });
  });
});

describe('readBootId', () => {
  it("reads this boot's id, trimmed, and gives '' for a file that cannot be read", () => {
    const id = readBootId();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(readBootId(BOOT_ID_FILE)).toBe(id); // the same all boot long
    const d = mkdtempSync(path.join(os.tmpdir(), 'sentinel-boot-'));
    try {
      writeFileSync(path.join(d, 'id'), 'abc\n');
      expect(readBootId(path.join(d, 'id'))).toBe('abc');
      expect(readBootId(path.join(d, 'missing'))).toBe('');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
