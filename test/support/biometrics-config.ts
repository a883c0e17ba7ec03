/**
 * `biometrics` settings for e2e tests of the path from a one-sitting mouse profile to the
 * session's actions. The defaults keep a one-sitting mouse out of the fusion
 * (`mouseMinSittings` 2) and smooth it over about 20 blocks from a prior of 0.2; these tests
 * were written for the plumbing, with the mouse voting from enrollment and the short smoothing
 * (every modality α 0.5 from its first score). docs/biometrics.md, "Mouse: what the session
 * subject does with these scores", says why the defaults differ.
 */
export const MOUSE_VOTES_FROM_ONE_SITTING = { mouseMinSittings: 1, emaAlpha: 0.5, emaStart: 0 } as const;

/**
 * Tests that are not about several users score their only profile whoever is logged in: without
 * this, a developer's machine running logind would make the daemon follow the seat to the
 * developer's own uid, which has no profile (docs/biometrics.md, "Several users on one host").
 */
export const NO_SEAT = { seatFile: '' } as const;
