import type { OpName } from './constants.js';

/** One file-system event: the fields of a protocol record and of a trace line. */
export interface FsEvent {
  /** Source timestamp, ns since the Unix epoch. */
  ts: bigint;
  pid: number;
  ppid: number;
  uid: number;
  sid: number;
  /** Process start time (0 = unknown). */
  start: bigint;
  comm: string;
  op: OpName;
  path: string;
  path2: string;
  offset: bigint;
  len: bigint;
  size: bigint;
  flags: number;
  result: number;
  /** Bits per byte of the written block, when known. */
  entropy?: number;
  sample?: Uint8Array;
  headerBefore?: Uint8Array;
  headerAfter?: Uint8Array;
}

/** An event with defaults for everything but the identifying fields (tests, tools). */
export function fsEvent(e: Pick<FsEvent, 'pid' | 'op' | 'path'> & Partial<FsEvent>): FsEvent {
  return {
    ts: 0n, ppid: 1, uid: 0, sid: 0, start: 0n, comm: 'proc', path2: '',
    offset: 0n, len: 0n, size: 0n, flags: 0, result: 0,
    ...e,
  };
}
