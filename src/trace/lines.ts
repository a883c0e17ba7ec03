/**
 * Splits a byte stream into text lines, bounded: a line longer than `maxChars` is not buffered
 * past the cap; it comes back as { overlong: true } with its length so far, and its remainder
 * is skipped up to the next newline.
 *
 * Async generator over an async iterable of chunks (a `fs.ReadStream`); UTF-8 is decoded across
 * chunk boundaries. Yields every line with its 1-based number, including blank ones; a trailing
 * "\r" is removed, and so is a UTF-8 byte-order mark at the start of the input. `unterminated`
 * is set on a last line that had no terminating newline (a file cut off mid-write). Errors of
 * the source propagate unchanged.
 */
import { StringDecoder } from 'node:string_decoder';

export interface Line {
  no: number;
  text: string;
  /** The line exceeded maxChars; `text` is empty and `length` tells how long it got. */
  overlong: boolean;
  length: number;
  /** Last line of the input, not terminated by "\n". */
  unterminated: boolean;
}

export async function* splitLines(source: AsyncIterable<Buffer | string>, maxChars: number): AsyncGenerator<Line> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let overlong = false;
  let overlongLength = 0;
  let no = 0;
  const finish = (s: string, unterminated: boolean): Line => {
    no++;
    if (overlong) {
      const length = overlongLength + s.length;
      overlong = false;
      overlongLength = 0;
      return { no, text: '', overlong: true, length, unterminated };
    }
    let text = s.endsWith('\r') ? s.slice(0, -1) : s;
    if (no === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return { no, text, overlong: false, length: text.length, unterminated };
  };
  const feed = function* (chunk: string): Generator<Line> {
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', from);
      if (nl < 0) break;
      const piece = chunk.slice(from, nl);
      const whole = pending + piece;
      pending = '';
      yield finish(whole, false);
      from = nl + 1;
    }
    const rest = chunk.slice(from);
    if (overlong) {
      overlongLength += rest.length;
    } else if (pending.length + rest.length > maxChars) {
      overlong = true;
      overlongLength = pending.length + rest.length;
      pending = '';
    } else {
      pending += rest;
    }
  };
  for await (const chunk of source) {
    yield* feed(typeof chunk === 'string' ? chunk : decoder.write(chunk));
  }
  yield* feed(decoder.end());
  if (pending.length > 0 || overlong) yield finish(pending, true);
}
