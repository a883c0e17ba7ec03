/** `sentinel replay` through the real CLI: states, transition indices, bad lines. */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../support/daemon-process.js';
import { ransomwareBurst, compileBurst } from '../support/bursts.js';
import { writeTraceLine } from '../../src/trace/parse.js';
import type { ReplayReport } from '../../src/replay/replay.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('sentinel replay', () => {
  it('reports final states and the event index of each transition, deterministically', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-replay-'));
    const t0 = 1_700_000_000_000_000_000n;
    const events = [
      ...compileBurst({ pid: 300, comm: 'cc1', dir: '/p', files: 30, startNs: t0 }),
      ...ransomwareBurst({ pid: 200, comm: 'locker', dir: '/home/u', files: 20, startNs: t0 + 500_000_000n }),
    ];
    const trace = path.join(dir, 't.jsonl');
    writeFileSync(trace, events.map((e) => writeTraceLine(e)).join('\n') + '\n');
    const a = await runCli(['replay', trace, '--report', 'json']);
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    const r = JSON.parse(a.stdout) as ReplayReport;
    expect(r.events).toBe(events.length);
    expect(r.accepted).toBe(events.length);
    expect(r.parseErrors).toEqual([]);
    const attacker = r.subjects.find((s) => s.kind === 'process' && s.pid === 200);
    const compiler = r.subjects.find((s) => s.kind === 'process' && s.pid === 300);
    expect(attacker && ['Restricted', 'Lockdown'].includes(attacker.maxState)).toBe(true);
    expect(compiler && ['Normal', 'Monitoring'].includes(compiler.maxState)).toBe(true);
    const up = attacker!.transitions.find((t) => t.to === 'Restricted' || t.to === 'Lockdown')!;
    // The index points into the trace, at one of the attacker's own events, inside its burst.
    expect(up.eventIndex).toBeGreaterThanOrEqual(150);
    expect(events[up.eventIndex]?.pid).toBe(200);
    expect(BigInt(up.tsNs)).toBeGreaterThanOrEqual(t0 + 500_000_000n);
    // Files the attacker got to before Restricted: renames before the transition's event.
    const renamed = events.slice(0, up.eventIndex + 1).filter((e) => e.pid === 200 && e.op === 'rename').length;
    expect(renamed).toBeLessThanOrEqual(10);
    const b = await runCli(['replay', trace, '--report', 'json']);
    expect(JSON.parse(b.stdout)).toEqual(r);
  });

  it('reports bad lines by number and still processes the rest', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-replay-'));
    const good = ransomwareBurst({ pid: 201, comm: 'x', dir: '/d', files: 2, startNs: 1_000_000_000n }).map((e) => writeTraceLine(e));
    const lines = [good[0], '{not json', good[1], '{"ts":1,"pid":0,"ppid":0,"uid":0,"comm":"a","op":"read","path":"/a"}', good[2], '{"ts":1,"pid":5,"ppid":0,"uid":0,"comm":"a","op":"explode","path":"/a"}', ...good.slice(3)];
    const trace = path.join(dir, 'bad.jsonl');
    writeFileSync(trace, lines.join('\n') + '\n');
    const out = await runCli(['replay', trace, '--report', 'json']);
    expect(out.code).toBe(4);
    const r = JSON.parse(out.stdout) as ReplayReport;
    expect(r.parseErrors.map((e) => e.line)).toEqual([2, 4, 6]);
    expect(r.parseErrors.every((e) => e.code === 'SENTINEL_E_TRACE_PARSE')).toBe(true);
    expect(r.events).toBe(good.length);
    expect(r.accepted).toBe(good.length);
  });
});
