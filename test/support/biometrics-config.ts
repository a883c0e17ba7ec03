/**
 * `biometrics` settings for e2e tests of the path from a one-sitting mouse profile to the
 * session's actions. The defaults keep a one-sitting mouse out of the fusion
 * (`mouseMinSittings` 2) and smooth it over about 20 blocks from a prior of 0.2; these tests
 * were written for the plumbing, with the mouse voting from enrollment and the short smoothing
 * (every modality α 0.5 from its first score). docs/biometrics.md, "Mouse: what the session
 * subject does with these scores", says why the defaults differ.
 */
export const MOUSE_VOTES_FROM_ONE_SITTING = { mouseMinSittings: 1, emaAlpha: 0.5, emaStart: 0 } as const;
