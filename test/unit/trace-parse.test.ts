import { describe, expect, it } from 'vitest';
import { parseTraceLine, writeTraceLine, MAX_TRACE_LINE, type TraceParseResult } from '../../src/trace/parse.js';
import { topLevelNumberTokens } from '../../src/trace/raw-numbers.js';
import { fsEvent, OPS, type FsEvent } from '../../src/protocol/index.js';

const BASE = { ts: 1700000000000000000, pid: 4242, ppid: 1, uid: 1000, comm: 'python3', op: 'write', path: '/home/u/a.docx' };
const line = (o: Record<string, unknown>): string => JSON.stringify(o);

function ok(r: TraceParseResult): FsEvent {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.reason}`);
  return r.event;
}
function err(r: TraceParseResult): { line: number; reason: string; field?: string } {
  if (r.ok) throw new Error('expected an error');
  expect(r.error.code).toBe('SENTINEL_E_TRACE_PARSE');
  return r.error;
}

describe('parseTraceLine: fields', () => {
  it('parses the example of docs/protocol.md', () => {
    const e = ok(parseTraceLine('{"ts":1700000000000000000,"pid":4242,"ppid":1,"uid":1000,"comm":"python3","op":"write","path":"/home/u/a.docx","offset":0,"len":4096,"size":4096,"flags":0,"result":0,"entropy":7.98}', 1));
    expect(e).toEqual({ ts: 1700000000000000000n, pid: 4242, ppid: 1, uid: 1000, sid: 0, start: 0n, comm: 'python3', op: 'write', path: '/home/u/a.docx', path2: '', offset: 0n, len: 4096n, size: 4096n, flags: 0, result: 0, entropy: 7.98 });
  });

  it('reads every field', () => {
    const e = ok(
      parseTraceLine(
        line({
          ...BASE, op: 'rename', path2: '/home/u/a.docx.locked', sid: 77, start: '123456789012345678', offset: 8192, len: 512, size: 9000,
          flags: 0o101, result: -13, entropy: 0, sample: 'AAEC/w==', header_before: 'UEsDBA==', header_after: 'q83v', unknown: { nested: [1, 2] },
        }),
        3,
      ),
    );
    expect(e).toEqual({
      ts: 1700000000000000000n, pid: 4242, ppid: 1, uid: 1000, sid: 77, start: 123456789012345678n, comm: 'python3', op: 'rename',
      path: '/home/u/a.docx', path2: '/home/u/a.docx.locked', offset: 8192n, len: 512n, size: 9000n, flags: 0o101, result: -13, entropy: 0,
      sample: new Uint8Array([0, 1, 2, 255]), headerBefore: new Uint8Array([0x50, 0x4b, 3, 4]), headerAfter: new Uint8Array([0xab, 0xcd, 0xef]),
    });
    expect(e.sample).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(e.sample)).toBe(false);
  });

  it('accepts every op name', () => {
    for (const op of OPS) expect(ok(parseTraceLine(line({ ...BASE, op, path2: '/b' }), 1)).op).toBe(op);
  });

  it('reads big integers exactly, as JSON integers or digit strings', () => {
    const text = '{"ts":18446744073709551615,"pid":1,"ppid":0,"uid":0,"comm":"c","op":"read","path":"/p","start":9007199254740993,"offset":"18446744073709551614","len":9007199254740995,"size":12345678901234567890}';
    const e = ok(parseTraceLine(text, 1));
    expect(e.ts).toBe(18446744073709551615n);
    expect(e.start).toBe(9007199254740993n);
    expect(e.offset).toBe(18446744073709551614n);
    expect(e.len).toBe(9007199254740995n);
    expect(e.size).toBe(12345678901234567890n);
    expect(ok(parseTraceLine(line({ ...BASE, ts: '1700000000123456789' }), 1)).ts).toBe(1700000000123456789n);
  });

  it('treats null optional fields as absent and ignores unknown fields', () => {
    const e = ok(parseTraceLine(line({ ...BASE, entropy: null, sample: null, sid: null, extra: 1 }), 1));
    expect(e.entropy).toBeUndefined();
    expect('entropy' in e).toBe(false);
    expect(e.sample).toBeUndefined();
    expect(e.sid).toBe(0);
  });

  it('accepts base64 without padding and caps at the limits', () => {
    expect(ok(parseTraceLine(line({ ...BASE, sample: 'AAEC_w'.replace('_', '/') }), 1)).sample).toEqual(new Uint8Array([0, 1, 2, 255]));
    const at = Buffer.alloc(4096, 1).toString('base64');
    expect(ok(parseTraceLine(line({ ...BASE, sample: at }), 1)).sample?.length).toBe(4096);
    expect(ok(parseTraceLine(line({ ...BASE, header_before: Buffer.alloc(256).toString('base64') }), 1)).headerBefore?.length).toBe(256);
  });
});

describe('parseTraceLine: errors name the line, the field and why', () => {
  const cases: [string, Record<string, unknown> | string, string | undefined, RegExp][] = [
    ['not JSON', '{"ts":1,', undefined, /not valid JSON/],
    ['not an object', '[1,2]', undefined, /JSON object/],
    ['a JSON string', '"hello"', undefined, /JSON object/],
    ['missing ts', { ...BASE, ts: undefined }, 'ts', /"ts": is required/],
    ['fractional ts', '{"ts":1.5,"pid":1,"ppid":0,"uid":0,"comm":"c","op":"read","path":"/p"}', 'ts', /"ts".*without fraction or exponent/],
    ['exponent ts', '{"ts":1e18,"pid":1,"ppid":0,"uid":0,"comm":"c","op":"read","path":"/p"}', 'ts', /"ts".*exponent/],
    ['negative ts', { ...BASE, ts: -1 }, 'ts', /"ts".*non-negative/],
    ['ts over u64', '{"ts":18446744073709551616,"pid":1,"ppid":0,"uid":0,"comm":"c","op":"read","path":"/p"}', 'ts', /"ts": exceeds 2\^64/],
    ['ts string with letters', { ...BASE, ts: '12a' }, 'ts', /"ts".*decimal digits/],
    ['ts empty string', { ...BASE, ts: '' }, 'ts', /"ts".*decimal digits/],
    ['ts boolean', { ...BASE, ts: true }, 'ts', /"ts"/],
    ['pid 0', { ...BASE, pid: 0 }, 'pid', /"pid": must be in 1…/],
    ['pid missing', { ...BASE, pid: undefined }, 'pid', /"pid": is required/],
    ['pid as string', { ...BASE, pid: '42' }, 'pid', /"pid": must be an integer/],
    ['pid over u32', { ...BASE, pid: 2 ** 32 }, 'pid', /"pid"/],
    ['ppid negative', { ...BASE, ppid: -1 }, 'ppid', /"ppid"/],
    ['ppid missing', { ...BASE, ppid: undefined }, 'ppid', /"ppid": is required/],
    ['uid missing', { ...BASE, uid: undefined }, 'uid', /"uid": is required/],
    ['uid fractional', { ...BASE, uid: 1.5 }, 'uid', /"uid": must be an integer/],
    ['comm missing', { ...BASE, comm: undefined }, 'comm', /"comm": is required/],
    ['comm not a string', { ...BASE, comm: 5 }, 'comm', /"comm": must be a string/],
    ['comm too long', { ...BASE, comm: 'x'.repeat(256) }, 'comm', /"comm": is 256 UTF-8 bytes, over its cap of 255/],
    ['op missing', { ...BASE, op: undefined }, 'op', /"op": is required/],
    ['op unknown', { ...BASE, op: 'explode' }, 'op', /"op": must be one of/],
    ['path missing', { ...BASE, path: undefined }, 'path', /"path": is required/],
    ['path empty', { ...BASE, path: '' }, 'path', /"path": must not be empty/],
    ['path too long', { ...BASE, path: '/' + 'é'.repeat(2048) }, 'path', /"path": is 4097 UTF-8 bytes/],
    ['rename without path2', { ...BASE, op: 'rename' }, 'path2', /"path2": is required \(non-empty\) for rename/],
    ['path2 not a string', { ...BASE, path2: 3 }, 'path2', /"path2"/],
    ['offset negative', { ...BASE, offset: -5 }, 'offset', /"offset"/],
    ['len object', { ...BASE, len: {} }, 'len', /"len"/],
    ['size float', { ...BASE, size: 0.5 }, 'size', /"size"/],
    ['start negative string', { ...BASE, start: '-1' }, 'start', /"start"/],
    ['sid negative', { ...BASE, sid: -2 }, 'sid', /"sid"/],
    ['flags fractional', { ...BASE, flags: 1.1 }, 'flags', /"flags"/],
    ['result out of i32', { ...BASE, result: 2 ** 31 }, 'result', /"result"/],
    ['entropy above 8', { ...BASE, entropy: 8.01 }, 'entropy', /"entropy": must be in 0…8/],
    ['entropy negative', { ...BASE, entropy: -0.1 }, 'entropy', /"entropy"/],
    ['entropy string', { ...BASE, entropy: '7' }, 'entropy', /"entropy": must be a number/],
    ['sample bad alphabet', { ...BASE, sample: 'AA*A' }, 'sample', /"sample": is not valid base64/],
    ['sample bad length', { ...BASE, sample: 'AAAAA' }, 'sample', /"sample": is not valid base64/],
    ['sample bad padding', { ...BASE, sample: 'AA=' }, 'sample', /"sample": is not valid base64/],
    ['sample not a string', { ...BASE, sample: [1] }, 'sample', /"sample": must be a base64 string/],
    ['sample over cap', { ...BASE, sample: Buffer.alloc(4097).toString('base64') }, 'sample', /"sample": decodes to 4097 bytes, over its cap of 4096/],
    ['header_before over cap', { ...BASE, header_before: Buffer.alloc(257).toString('base64') }, 'header_before', /"header_before": decodes to 257 bytes, over its cap of 256/],
    ['header_after over cap', { ...BASE, header_after: Buffer.alloc(300).toString('base64') }, 'header_after', /"header_after".*cap of 256/],
  ];
  for (const [name, input, field, reason] of cases) {
    it(name, () => {
      const text = typeof input === 'string' ? input : line(input);
      const e = err(parseTraceLine(text, 42));
      expect(e.line).toBe(42);
      expect(e.field).toBe(field);
      expect(e.reason).toMatch(reason);
    });
  }

  it('refuses an overlong line before parsing it', () => {
    const e = err(parseTraceLine(' '.repeat(MAX_TRACE_LINE + 1), 9));
    expect(e.reason).toMatch(/over the cap/);
  });
});

describe('writeTraceLine', () => {
  it('round-trips every field exactly', () => {
    const events: FsEvent[] = [
      fsEvent({ pid: 1, op: 'read', path: '/a' }),
      fsEvent({
        ts: 18446744073709551615n, pid: 4294967295, ppid: 7, uid: 65534, sid: 3, start: 9007199254740993n, comm: 'gpg "q"\n', op: 'rename',
        path: '/tmp/ü ñ', path2: '/tmp/b', offset: 1n, len: 2n, size: 3n, flags: 0o2101, result: -2147483648, entropy: 7.123456789,
        sample: new Uint8Array([0, 255, 128]), headerBefore: new Uint8Array(0), headerAfter: new Uint8Array(256).fill(9),
      }),
    ];
    for (const e of events) {
      const text = writeTraceLine(e);
      expect(text).not.toContain('\n');
      expect(ok(parseTraceLine(text, 1))).toEqual(e);
    }
  });

  it('writes u64 fields as plain JSON integers', () => {
    const text = writeTraceLine(fsEvent({ ts: 1700000000000000001n, pid: 1, op: 'read', path: '/a' }));
    expect(text.startsWith('{"ts":1700000000000000001,')).toBe(true);
  });
});

describe('topLevelNumberTokens', () => {
  it('returns literal tokens of top-level numbers only, last duplicate wins', () => {
    const m = topLevelNumberTokens('{ "a" : 123456789012345678901 , "b":{"a":1,"c":[1,{"x":"}"}]},"s":"1,2}","e":-1.5e3,"a\\"q":7,"d":1,"d":"x"}');
    expect(Object.fromEntries(m)).toEqual({ a: '123456789012345678901', e: '-1.5e3', 'a"q': '7' });
  });
});
