/**
 * Streams a JSON Lines trace file as batches of parsed events and parse errors.
 *
 * Contract
 * - `readTrace` is an async generator; it reads the file with a bounded stream (64 KiB chunks)
 *   and never holds more than one batch plus one line (at most `MAX_TRACE_LINE` characters; a
 *   longer line is reported, not buffered). Breaking out of the loop closes the file.
 * - Line numbers are 1-based physical lines. Blank (whitespace-only) lines are skipped and
 *   counted in numbering only.
 * - A batch holds up to `batchSize` non-blank lines (events + errors); `firstLine` / `lastLine`
 *   are the numbers of its first and last non-blank line. The last batch may be shorter; a file
 *   with no non-blank line yields no batch.
 * - A bad line never stops the read: it becomes a `TraceError`. A last line without a newline
 *   that does not parse is reported as truncated.
 * - Throws (rejects) `SentinelError('SENTINEL_E_INVALID_ARGUMENT')` for a bad batchSize and
 *   `SentinelError('SENTINEL_E_IO')` when the file cannot be read.
 *
 * Uses node:fs streams with a bounded line splitter (./lines.ts) rather than node:readline,
 * which buffers an unbounded line and cannot tell whether the last line was terminated.
 */
import { createReadStream } from 'node:fs';
import { SentinelError } from '../errors.js';
import type { FsEvent } from '../protocol/event.js';
import { MAX_TRACE_LINE, parseTraceLine, type TraceError } from './parse.js';
import { splitLines } from './lines.js';

export type { TraceError } from './parse.js';

export interface TraceBatch {
  events: FsEvent[];
  errors: TraceError[];
  /** Line number of the batch's first non-blank line. */
  firstLine: number;
  /** Line number of the batch's last non-blank line. */
  lastLine: number;
}

export interface ReadTraceOptions {
  /** Non-blank lines per batch (default 1024, 1…1 000 000). */
  batchSize?: number;
}

export async function* readTrace(path: string, options: ReadTraceOptions = {}): AsyncGenerator<TraceBatch> {
  const batchSize = options.batchSize ?? 1024;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1_000_000) {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `batchSize must be an integer in 1…1000000, got ${String(batchSize)}`);
  }
  const stream = createReadStream(path, { highWaterMark: 64 * 1024 });
  let batch: TraceBatch | null = null;
  try {
    for await (const line of splitLines(stream, MAX_TRACE_LINE)) {
      if (!line.overlong && line.text.trim() === '') continue;
      batch ??= { events: [], errors: [], firstLine: line.no, lastLine: line.no };
      batch.lastLine = line.no;
      if (line.overlong) {
        batch.errors.push({ line: line.no, code: 'SENTINEL_E_TRACE_PARSE', reason: `line is ${line.length} characters, over the cap of ${MAX_TRACE_LINE}` });
      } else {
        const r = parseTraceLine(line.text, line.no);
        if (r.ok) batch.events.push(r.event);
        else if (line.unterminated) batch.errors.push({ ...r.error, reason: `truncated last line (no newline at end of file): ${r.error.reason}` });
        else batch.errors.push(r.error);
      }
      if (batch.events.length + batch.errors.length >= batchSize) {
        const full = batch;
        batch = null;
        yield full;
      }
    }
  } catch (err) {
    if (err instanceof SentinelError) throw err;
    throw new SentinelError('SENTINEL_E_IO', `cannot read trace ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    stream.destroy();
  }
  if (batch !== null) yield batch;
}
