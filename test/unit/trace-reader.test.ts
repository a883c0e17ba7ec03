import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { readTrace, type TraceBatch } from '../../src/trace/reader.js';
import { writeTraceLine } from '../../src/trace/parse.js';
import { splitLines } from '../../src/trace/lines.js';
import { fsEvent } from '../../src/protocol/index.js';
import { SentinelError } from '../../src/errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sentinel-trace-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const ev = (i: number): string => writeTraceLine(fsEvent({ ts: 1700000000000000000n + BigInt(i), pid: 100 + i, op: 'write', path: `/f${i}` }));

async function readAll(file: string, batchSize?: number): Promise<TraceBatch[]> {
  const out: TraceBatch[] = [];
  for await (const b of readTrace(file, batchSize === undefined ? {} : { batchSize })) out.push(b);
  return out;
}

function write(content: string | Buffer): string {
  const file = path.join(dir, 't.jsonl');
  writeFileSync(file, content);
  return file;
}

describe('readTrace', () => {
  it('streams batches of batchSize non-blank lines with their first and last line numbers', async () => {
    const file = write([ev(0), ev(1), '', ev(2), '   ', ev(3), ev(4)].join('\n') + '\n');
    const batches = await readAll(file, 2);
    expect(batches.map((b) => [b.firstLine, b.lastLine, b.events.map((e) => e.pid)])).toEqual([
      [1, 2, [100, 101]],
      [4, 6, [102, 103]],
      [7, 7, [104]],
    ]);
    expect(batches.every((b) => b.errors.length === 0)).toBe(true);
  });

  it('processes mixed good and bad lines, reporting each error with its line number', async () => {
    const file = write([ev(0), 'not json', ev(1), '{"ts":1}', '', ev(2), '{"ts":1,"pid":0,"ppid":0,"uid":0,"comm":"c","op":"read","path":"/p"}', ev(3)].join('\n') + '\n');
    const batches = await readAll(file, 100);
    expect(batches).toHaveLength(1);
    const b = batches[0] as TraceBatch;
    expect(b.events.map((e) => e.pid)).toEqual([100, 101, 102, 103]);
    expect(b.errors.map((e) => [e.line, e.field])).toEqual([[2, undefined], [4, 'pid'], [7, 'pid']]);
    expect(b.errors[0]?.reason).toMatch(/not valid JSON/);
    expect(b.errors.every((e) => e.code === 'SENTINEL_E_TRACE_PARSE')).toBe(true);
  });

  it('reports a truncated last line as an error, after the good lines', async () => {
    const file = write(ev(0) + '\n' + ev(1) + '\n' + ev(2).slice(0, 30));
    const [b] = await readAll(file);
    expect(b?.events).toHaveLength(2);
    expect(b?.errors).toEqual([{ line: 3, code: 'SENTINEL_E_TRACE_PARSE', reason: expect.stringMatching(/^truncated last line \(no newline at end of file\): not valid JSON/) }]);
  });

  it('skips a UTF-8 byte-order mark at the start of the file', async () => {
    const [b] = await readAll(write(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(ev(0) + '\n')])));
    expect(b?.errors).toEqual([]);
    expect(b?.events).toHaveLength(1);
  });

  it('accepts a complete last line without a newline, and CRLF line ends', async () => {
    const [b] = await readAll(write(ev(0) + '\r\n' + ev(1)));
    expect(b?.events.map((e) => e.pid)).toEqual([100, 101]);
    expect(b?.errors).toEqual([]);
  });

  it('keeps big timestamps exact across chunk boundaries and multi-byte characters', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) lines.push(writeTraceLine(fsEvent({ ts: 18446744073709551000n + BigInt(i % 600), pid: 1, op: 'write', path: `/dïr/ファイル${i}` })));
    const file = write(lines.join('\n') + '\n');
    let n = 0;
    for await (const b of readTrace(file, { batchSize: 500 })) {
      expect(b.errors).toEqual([]);
      for (const e of b.events) {
        expect(e.ts).toBe(18446744073709551000n + BigInt(n % 600));
        expect(e.path).toBe(`/dïr/ファイル${n}`);
        n++;
      }
    }
    expect(n).toBe(3000);
  });

  it('yields nothing for an empty or blank file', async () => {
    expect(await readAll(write(''))).toEqual([]);
    expect(await readAll(write('\n\n  \n'))).toEqual([]);
  });

  it('stops reading when the consumer breaks', async () => {
    const file = write(Array.from({ length: 100 }, (_, i) => ev(i)).join('\n'));
    let seen = 0;
    for await (const b of readTrace(file, { batchSize: 10 })) {
      seen += b.events.length;
      break;
    }
    expect(seen).toBe(10);
  });

  it('rejects a missing file with SENTINEL_E_IO and a bad batchSize with SENTINEL_E_INVALID_ARGUMENT', async () => {
    await expect(readAll(path.join(dir, 'none.jsonl'))).rejects.toMatchObject({ code: 'SENTINEL_E_IO' });
    await expect(readAll(write(ev(0)), 0)).rejects.toBeInstanceOf(SentinelError);
    await expect(readAll(write(ev(0)), 1.5)).rejects.toMatchObject({ code: 'SENTINEL_E_INVALID_ARGUMENT' });
  });
});

describe('splitLines', () => {
  async function collect(chunks: string[], max: number) {
    const out = [];
    for await (const l of splitLines(Readable.from(chunks.map((c) => Buffer.from(c))), max)) out.push(l);
    return out;
  }

  it('reports an overlong line without buffering it and resumes after it', async () => {
    const lines = await collect(['ab\nxxxx', 'xxxx', 'xx\ncd\n'], 5);
    expect(lines.map((l) => [l.no, l.text, l.overlong, l.length])).toEqual([
      [1, 'ab', false, 2],
      [2, '', true, 10],
      [3, 'cd', false, 2],
    ]);
  });

  it('decodes UTF-8 split across chunks and marks an unterminated last line', async () => {
    const bytes = Buffer.from('é\nz');
    const out = [];
    for await (const l of splitLines(Readable.from([bytes.subarray(0, 1), bytes.subarray(1)]), 10)) out.push(l);
    expect(out.map((l) => [l.text, l.unterminated])).toEqual([
      ['é', false],
      ['z', true],
    ]);
  });
});
