/**
 * Audit record shapes: what the scoring tick writes (`*Record`) and what queries return
 * (`*Row`, the record plus its row id). Types only, plus `checkDetail`, which keeps raw event
 * content out of the audit trail.
 *
 * The audit trail never holds raw event content: no samples, no headers, no key identities.
 * `topFeatures` carries feature names and numbers only; `detail` is a small JSON object whose
 * values may not be binary (a Uint8Array/ArrayBuffer anywhere in it is refused).
 */
import { SentinelError } from '../errors.js';
import type { TrustState } from '../state/policy.js';

/** 'session': the user-session subject of continuous authentication (pid 0). */
export type SubjectKind = 'process' | 'tree' | 'session';
export type TransitionReason = 'escalate' | 'decay' | 'reset' | 'force';

export interface TopFeature {
  detector: string;
  name: string;
  value: number;
}

export interface TransitionRecord {
  atMs: number;
  subjectId: number;
  subjectKind: SubjectKind;
  pid: number;
  /** Process start time as a decimal string (u64, exact). */
  startTime: string;
  uid: number;
  comm: string;
  fromState: TrustState;
  toState: TrustState;
  score: number;
  reason: TransitionReason;
  /** Operator identity for reset/force, else null. */
  by: string | null;
  /** Global index of the subject's last event when it was scored (-1 unknown). */
  eventIndex: number;
  topFeatures: TopFeature[];
  /** Detector / fusion name → sha256 of the model in force. */
  modelHashes: Record<string, string>;
}

export interface ActionRecord {
  atMs: number;
  subjectId: number;
  /** e.g. "deny_mutate", "sigstop", "sigkill", "lock_session", "alert". */
  action: string;
  /** What it was applied to, e.g. "pid 4242" or a session id. */
  target: string;
  /** e.g. "ok", "failed", "skipped". */
  result: string;
  detail?: Record<string, unknown>;
}

export interface DropRecord {
  atMs: number;
  /** The hop that dropped: "socket", "ring", "tick", "audit", "alert". */
  hop: string;
  reason: string;
  count: number;
}

export interface AuditTick {
  transitions: TransitionRecord[];
  actions: ActionRecord[];
  drops: DropRecord[];
}

export type TransitionRow = TransitionRecord & { id: number };
export type ActionRow = Omit<ActionRecord, 'detail'> & { id: number; detail: Record<string, unknown> | null };
export type DropRow = DropRecord & { id: number };

export interface RunRow {
  id: number;
  startedMs: number;
  stoppedMs: number | null;
  version: string;
  configHash: string;
}

/** A uid whose processes the session subject holds at Restricted (2) or Lockdown (3). */
export interface SessionFloorRow {
  uid: number;
  state: 2 | 3;
  /** The enrolled user it was set for, when known. */
  user: string | null;
  /** The kernel's boot id (/proc/sys/kernel/random/boot_id) when it was set; '' when unknown. */
  bootId: string;
  /** When the floor was set (or last changed). */
  sinceMs: number;
}

/** What `AuditStore.setSessionFloor` takes: state 0 or 1 removes the uid's floor. */
export interface SessionFloorUpdate {
  uid: number;
  state: number;
  user: string | null;
  bootId: string;
}

export interface TransitionFilter {
  subjectId?: number;
  pid?: number;
  sinceMs?: number;
  limit?: number;
}

export interface ActionFilter {
  subjectId?: number;
  action?: string;
  sinceMs?: number;
  limit?: number;
}

export interface DropFilter {
  hop?: string;
  sinceMs?: number;
  limit?: number;
}

export interface AuditCounts {
  transitions: number;
  actions: number;
  drops: number;
  runs: number;
}

/** Largest JSON text of one action's `detail`. */
export const MAX_DETAIL_BYTES = 8192;

/** JSON text of `detail`, refusing binary values and oversize objects. */
export function detailJson(detail: Record<string, unknown> | undefined): string | null {
  if (detail === undefined) return null;
  const text = JSON.stringify(detail, (_k, v: unknown) => {
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
      throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'audit action detail may not hold binary data (raw event content is never stored)');
    }
    return v;
  });
  if (Buffer.byteLength(text, 'utf8') > MAX_DETAIL_BYTES) {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `audit action detail is over ${MAX_DETAIL_BYTES} bytes of JSON`);
  }
  return text;
}
