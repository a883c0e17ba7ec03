/**
 * The several-users mouse model: one softmax GBT over the quantised mouse enrollments of every
 * user enrolled on the host, so the session user's actions are scored against the other enrolled
 * users as well as against the population (docs/biometrics.md, "Several users on one host: one
 * mouse model over all of them"). Thin typed layer over the addon's fitMouseCohort and
 * MouseCohortScorer.
 *
 * Contract
 * - `fitMouseCohort` is asynchronous (libuv pool; seconds). It needs at least two members whose
 *   mouse profiles hold a quantised enrollment (version 3 and later) under `population`. The
 *   last `background` members (default 0) are other people's profiles (mouse-background.ts):
 *   one class of the model, never scored (each reports that class's calibration), and a
 *   user's score against them is taken apart from the score against the other enrolled users,
 *   the lower kept, so neither group dilutes the other. Rejects
 *   SENTINEL_E_INVALID_ARGUMENT for a bad member list, SENTINEL_E_BIO_PROFILE for a malformed
 *   profile or population, SENTINEL_E_BIO_ENROLL with the reason when the fit is refused.
 * - `MouseCohortStream.push` is synchronous and returns impostor probabilities (0.5 at the
 *   member's cross-fitted threshold, as for the one-class mouse model); its constructor throws
 *   SENTINEL_E_BIO_PROFILE for a malformed model or another population.
 * - Buffers passed in are read, never kept; the fitted model's bytes are owned by JavaScript.
 */
import { addon, type RawMouseCohortMember, type RawMouseCohortScorer } from '../binding.js';
import { fromNative, SentinelError } from '../errors.js';
import { impostorProbability } from './keystroke-model.js';
import { DEFAULT_MOUSE_BLOCK, MAX_ENROLLED_MOUSE_ACTIONS } from './mouse-model.js';

/**
 * Most recent enrolled actions of each member the model is fitted on: every action a profile
 * keeps. Measured on Balabit (docs/biometrics.md), all of them with the class prior dropped beat
 * the newest 4000: 0.988 / 4.6% against 0.985 / 5.6% pooled AUC / EER at 20 actions.
 */
export const DEFAULT_COHORT_ACTIONS = MAX_ENROLLED_MOUSE_ACTIONS;
/** The fewest a member may be fitted on: the calibration's 4 chunks of 2 blocks of 20, rounded up. */
export const MIN_COHORT_ACTIONS = 200;
/** Members one model takes (the addon refuses more). */
export const MAX_COHORT_MEMBERS = 64;

export interface CohortMemberInput {
  user: string;
  /** The member's serialized one-class mouse profile (its quantised enrollment is what is used). */
  mouse: Uint8Array;
}

export interface CohortMember extends RawMouseCohortMember {
  user: string;
}

export interface MouseCohortFit {
  model: Uint8Array;
  blockActions: number;
  /** In the order given: the enrolled users, then the `background` background members. */
  members: CohortMember[];
  background: number;
}

export async function fitMouseCohort(
  members: readonly CohortMemberInput[],
  population: Uint8Array,
  options: { blockActions?: number; frr?: number; maxActions?: number; rounds?: number; background?: number } = {},
): Promise<MouseCohortFit> {
  const users = members.map((m) => m.user);
  if (members.length < 2 || members.length > MAX_COHORT_MEMBERS) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `the several-users mouse model takes 2..${MAX_COHORT_MEMBERS} enrolled users, got ${members.length}`);
  const background = options.background ?? 0;
  if (!Number.isInteger(background) || background < 0 || background >= members.length) {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `the several-users mouse model needs at least one enrolled user besides its background members: background ${background} of ${members.length} members`);
  }
  if (new Set(users).size !== users.length) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `the several-users mouse model got a user twice: ${users.join(', ')}`);
  const blockActions = options.blockActions ?? DEFAULT_MOUSE_BLOCK;
  try {
    const r = await addon().fitMouseCohort(
      members.map((m) => m.mouse),
      population,
      { blockActions, frr: options.frr ?? 0.05, maxActions: options.maxActions ?? DEFAULT_COHORT_ACTIONS, backgroundMembers: background, ...(options.rounds ? { rounds: options.rounds } : {}) },
    );
    return { model: r.model, blockActions, members: r.members.map((c, i) => ({ user: users[i] as string, ...c })), background };
  } catch (err) {
    throw fromNative(err, 'SENTINEL_E_BIO_PROFILE', 'SENTINEL_E_BIO_ENROLL');
  }
}

/** One member's streaming scores under a fitted model. */
export class MouseCohortStream {
  private readonly raw: RawMouseCohortScorer;
  readonly member: CohortMember;

  /** Scores a block every `stride` actions (default a quarter of the block). Throws SENTINEL_E_INVALID_ARGUMENT for a user who is not a member. */
  constructor(fit: MouseCohortFit, population: Uint8Array, user: string, stride = Math.max(1, Math.floor(fit.blockActions / 4))) {
    const i = fit.members.findIndex((m) => m.user === user);
    if (i < 0) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `${user} is not a member of the several-users mouse model (${fit.members.map((m) => m.user).join(', ')})`);
    this.member = fit.members[i] as CohortMember;
    try {
      this.raw = new (addon().MouseCohortScorer)(fit.model, population, i, fit.blockActions, stride);
    } catch (err) {
      throw fromNative(err, 'SENTINEL_E_BIO_PROFILE', 'SENTINEL_E_INVALID_ARGUMENT');
    }
  }

  /** Block scores (higher = more likely the member) completed by this batch. */
  pushScores(actions: Float32Array, actionMeta: Float64Array): Float64Array {
    return this.raw.push(actions, actionMeta);
  }

  /** Impostor probabilities of the blocks completed by this batch. */
  push(actions: Float32Array, actionMeta: Float64Array): number[] {
    return Array.from(this.raw.push(actions, actionMeta), (s) => impostorProbability(s, this.member.threshold, this.member.genuineSd));
  }
}
