/**
 * One JSON Lines trace line ⇄ one `FsEvent` (docs/protocol.md, "Trace format").
 *
 * Contract
 * - Synchronous and pure. `parseTraceLine` never throws: a bad line comes back as
 *   `{ ok: false, error }` with the line number, the field (when one is at fault) and why.
 * - u64 fields (`ts`, `start`, `offset`, `len`, `size`) are exact: a JSON integer is read from
 *   its literal digits (not through a double), and a string of decimal digits is accepted too.
 *   Fractions, exponents, negatives and values above 2^64 − 1 are refused.
 * - u32 fields (`pid` > 0, `ppid`, `uid`, `sid`, `flags`) and `result` (i32) must be JSON
 *   integers in range. `entropy` is a number in 0…8.
 * - `comm` ≤ 255, `path` 1…4096, `path2` ≤ 4096 UTF-8 bytes; `path2` is required (non-empty)
 *   for `rename`. Base64 fields are strict (standard alphabet, padding optional) and capped at
 *   4096 (`sample`) / 256 (`header_before`, `header_after`) decoded bytes; decoded bytes are a
 *   fresh Uint8Array owned by the caller.
 * - Optional fields given as `null` count as absent. Unknown fields are ignored.
 *   A line longer than `MAX_TRACE_LINE` characters is refused before it is parsed.
 * - `writeTraceLine` is the inverse (no trailing newline): every line it writes parses back to
 *   an equal event. It does not validate; `parseTraceLine` is the validator.
 */
import { MAX_COMM, MAX_HEADER, MAX_PATH, MAX_SAMPLE, OPS, type OpName } from '../protocol/constants.js';
import type { FsEvent } from '../protocol/event.js';
import { topLevelNumberTokens } from './raw-numbers.js';

export interface TraceError {
  /** 1-based line number in the trace file. */
  line: number;
  code: 'SENTINEL_E_TRACE_PARSE';
  /** Human-readable reason, naming the field when one is at fault. */
  reason: string;
  /** The offending field, when the error is about one. */
  field?: string;
}

export type TraceParseResult = { ok: true; event: FsEvent } | { ok: false; error: TraceError };

/** Longest accepted line, in UTF-16 code units (a maximal valid event is far below this). */
export const MAX_TRACE_LINE = 1 << 20;

const U64_MAX = (1n << 64n) - 1n;
const U32_MAX = 0xffffffff;
const DIGITS = /^[0-9]+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const OP_SET: ReadonlySet<string> = new Set(OPS);

class FieldError {
  constructor(readonly field: string | undefined, readonly reason: string) {}
}

function fieldError(field: string, why: string): never {
  throw new FieldError(field, `field "${field}": ${why}`);
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? s.slice(0, 40) + '…' : s;
}

function has(o: Record<string, unknown>, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k) && o[k] !== null;
}

function u64(o: Record<string, unknown>, raw: Map<string, string>, k: string, required: boolean): bigint {
  if (!has(o, k)) {
    if (required) fieldError(k, 'is required');
    return 0n;
  }
  const v = o[k];
  let digits: string;
  if (typeof v === 'number') {
    const tok = raw.get(k) ?? String(v);
    if (!DIGITS.test(tok)) fieldError(k, `must be a non-negative integer without fraction or exponent, got ${tok.slice(0, 40)}`);
    digits = tok;
  } else if (typeof v === 'string') {
    if (!DIGITS.test(v)) fieldError(k, `must be an integer or a string of decimal digits, got ${show(v)}`);
    digits = v;
  } else {
    fieldError(k, `must be an integer or a string of decimal digits, got ${show(v)}`);
  }
  if (digits.length > 20) fieldError(k, `exceeds 2^64 − 1`);
  const b = BigInt(digits);
  if (b > U64_MAX) fieldError(k, `exceeds 2^64 − 1`);
  return b;
}

function int(o: Record<string, unknown>, k: string, min: number, max: number, required: boolean): number {
  if (!has(o, k)) {
    if (required) fieldError(k, 'is required');
    return 0;
  }
  const v = o[k];
  if (typeof v !== 'number' || !Number.isInteger(v)) fieldError(k, `must be an integer, got ${show(v)}`);
  if (v < min || v > max) fieldError(k, `must be in ${min}…${max}, got ${v}`);
  return v;
}

function text(o: Record<string, unknown>, k: string, maxBytes: number, required: boolean): string {
  if (!has(o, k)) {
    if (required) fieldError(k, 'is required');
    return '';
  }
  const v = o[k];
  if (typeof v !== 'string') fieldError(k, `must be a string, got ${show(v)}`);
  const bytes = Buffer.byteLength(v, 'utf8');
  if (bytes > maxBytes) fieldError(k, `is ${bytes} UTF-8 bytes, over its cap of ${maxBytes}`);
  return v;
}

function base64(o: Record<string, unknown>, k: string, cap: number): Uint8Array | undefined {
  if (!has(o, k)) return undefined;
  const v = o[k];
  if (typeof v !== 'string') fieldError(k, `must be a base64 string, got ${show(v)}`);
  if (!BASE64.test(v) || v.length % 4 === 1 || (v.includes('=') && v.length % 4 !== 0)) fieldError(k, 'is not valid base64');
  const unpadded = v.replace(/=+$/, '').length;
  const decoded = Math.floor((unpadded * 3) / 4);
  if (decoded > cap) fieldError(k, `decodes to ${decoded} bytes, over its cap of ${cap}`);
  const buf = Buffer.from(v, 'base64');
  return new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
}

function toEvent(o: Record<string, unknown>, raw: Map<string, string>): FsEvent {
  const ts = u64(o, raw, 'ts', true);
  const pid = int(o, 'pid', 1, U32_MAX, true);
  const ppid = int(o, 'ppid', 0, U32_MAX, true);
  const uid = int(o, 'uid', 0, U32_MAX, true);
  const comm = text(o, 'comm', MAX_COMM, true);
  if (!has(o, 'op')) fieldError('op', 'is required');
  const opv = o['op'];
  if (typeof opv !== 'string' || !OP_SET.has(opv)) fieldError('op', `must be one of ${OPS.join(', ')}; got ${show(opv)}`);
  const op = opv as OpName;
  const path = text(o, 'path', MAX_PATH, true);
  if (path.length === 0) fieldError('path', 'must not be empty');
  const path2 = text(o, 'path2', MAX_PATH, false);
  if (op === 'rename' && path2.length === 0) fieldError('path2', 'is required (non-empty) for rename');
  const e: FsEvent = {
    ts,
    pid,
    ppid,
    uid,
    sid: int(o, 'sid', 0, U32_MAX, false),
    start: u64(o, raw, 'start', false),
    comm,
    op,
    path,
    path2,
    offset: u64(o, raw, 'offset', false),
    len: u64(o, raw, 'len', false),
    size: u64(o, raw, 'size', false),
    flags: int(o, 'flags', 0, U32_MAX, false),
    result: int(o, 'result', -0x80000000, 0x7fffffff, false),
  };
  if (has(o, 'entropy')) {
    const v = o['entropy'];
    if (typeof v !== 'number' || !Number.isFinite(v)) fieldError('entropy', `must be a number, got ${show(v)}`);
    if (v < 0 || v > 8) fieldError('entropy', `must be in 0…8, got ${v}`);
    e.entropy = v;
  }
  const sample = base64(o, 'sample', MAX_SAMPLE);
  if (sample) e.sample = sample;
  const hb = base64(o, 'header_before', MAX_HEADER);
  if (hb) e.headerBefore = hb;
  const ha = base64(o, 'header_after', MAX_HEADER);
  if (ha) e.headerAfter = ha;
  return e;
}

export function parseTraceLine(line: string, lineNo: number): TraceParseResult {
  const error = (reason: string, field?: string): TraceParseResult => ({
    ok: false,
    error: field === undefined ? { line: lineNo, code: 'SENTINEL_E_TRACE_PARSE', reason } : { line: lineNo, code: 'SENTINEL_E_TRACE_PARSE', reason, field },
  });
  if (line.length > MAX_TRACE_LINE) return error(`line is ${line.length} characters, over the cap of ${MAX_TRACE_LINE}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (err) {
    return error(`not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return error('line must be a JSON object');
  try {
    return { ok: true, event: toEvent(parsed as Record<string, unknown>, topLevelNumberTokens(line)) };
  } catch (err) {
    if (err instanceof FieldError) return error(err.reason, err.field);
    return error(`cannot read the event: ${(err as Error).message}`);
  }
}

function b64(u: Uint8Array): string {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
}

/** One trace line for `e` (no trailing newline). u64 fields are written as plain JSON integers. */
export function writeTraceLine(e: FsEvent): string {
  const parts: string[] = [
    `"ts":${e.ts.toString()}`,
    `"pid":${e.pid}`,
    `"ppid":${e.ppid}`,
    `"uid":${e.uid}`,
  ];
  if (e.sid !== 0) parts.push(`"sid":${e.sid}`);
  if (e.start !== 0n) parts.push(`"start":${e.start.toString()}`);
  parts.push(`"comm":${JSON.stringify(e.comm)}`, `"op":${JSON.stringify(e.op)}`, `"path":${JSON.stringify(e.path)}`);
  if (e.path2 !== '') parts.push(`"path2":${JSON.stringify(e.path2)}`);
  parts.push(
    `"offset":${e.offset.toString()}`,
    `"len":${e.len.toString()}`,
    `"size":${e.size.toString()}`,
    `"flags":${e.flags}`,
    `"result":${e.result}`,
  );
  if (e.entropy !== undefined) parts.push(`"entropy":${JSON.stringify(e.entropy)}`);
  if (e.sample !== undefined) parts.push(`"sample":"${b64(e.sample)}"`);
  if (e.headerBefore !== undefined) parts.push(`"header_before":"${b64(e.headerBefore)}"`);
  if (e.headerAfter !== undefined) parts.push(`"header_after":"${b64(e.headerAfter)}"`);
  return `{${parts.join(',')}}`;
}
