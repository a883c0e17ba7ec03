/** Protocol v1 constants; mirror of native/core/protocol.h (checked against the addon in test/native). */
export const MAGIC = 0x4e53;
export const VERSION = 1;
export const HEADER_SIZE = 12;
export const MAX_PAYLOAD = 1 << 20;
export const RECORD_FIXED = 84;
export const MAX_COMM = 255;
export const MAX_PATH = 4096;
export const MAX_SAMPLE = 4096;
export const MAX_HEADER = 256;
export const VERDICT_ENTRY_SIZE = 16;
export const MAX_VERDICT_QUERIES = 4096;

export const FrameType = {
  Hello: 0x01,
  HelloAck: 0x02,
  EventBatch: 0x10,
  BatchAck: 0x11,
  /** Barrier extension (role Barrier): client asks to be told when its events so far are scored. */
  Barrier: 0x12,
  BarrierAck: 0x13,
  VerdictQuery: 0x20,
  VerdictReply: 0x21,
  StatePush: 0x30,
  Error: 0x7f,
} as const;
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

export const Role = { Events: 1, Query: 2, Subscribe: 4, Acks: 8, Barrier: 16 } as const;

export const OPS = ['open', 'read', 'write', 'create', 'truncate', 'rename', 'unlink', 'mkdir', 'rmdir', 'chmod', 'setattr', 'close'] as const;
export type OpName = (typeof OPS)[number];
/** Wire value of an op name (1-based). */
export function opCode(op: OpName): number {
  return OPS.indexOf(op) + 1;
}

export const FLAG_HAS_ENTROPY = 1;

export const TRUST_STATES = ['Normal', 'Monitoring', 'Restricted', 'Lockdown'] as const;
export type TrustStateName = (typeof TRUST_STATES)[number];

/** Hold: barrier extension, only in STATE_PUSH to barrier clients (docs/protocol.md). */
export const Action = { DenyMutate: 1, DenyAll: 2, Hold: 4 } as const;
