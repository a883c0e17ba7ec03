/**
 * End to end: the real daemon, a separate client process over the real Unix socket, a
 * ransomware-like burst and benign bursts; checks states, audit rows and a verdict query.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startDaemonProcess, runCli, type DaemonProcess, type SubjectView } from '../support/daemon-process.js';
import { ransomwareBurst, compileBurst, archiveBurst } from '../support/bursts.js';
import { writeTraceLine } from '../../src/trace/parse.js';
import type { FsEvent } from '../../src/protocol/event.js';
import { SentinelClient, Role } from '../../src/client/client.js';
import { encodeEventBatches, encodeFrame, encodeHello } from '../../src/protocol/encode.js';
import { FrameReader, type ServerFrame } from '../../src/protocol/decode.js';
import net from 'node:net';
import { once } from 'node:events';
import { FrameType } from '../../src/protocol/constants.js';
import { fsEvent } from '../../src/protocol/event.js';

function writeTrace(file: string, events: FsEvent[]): void {
  writeFileSync(file, events.map((e) => writeTraceLine(e)).join('\n') + '\n');
}

type SubjectRow = SubjectView;

let daemon: DaemonProcess | undefined;
afterEach(async () => {
  try {
    await daemon?.stop();
  } finally {
    daemon?.cleanup();
    daemon = undefined;
  }
});

describe('daemon end to end', () => {
  it('restricts a ransomware-like process, leaves benign work alone, and audits it', async () => {
    daemon = await startDaemonProcess();
    const now = BigInt(Date.now()) * 1_000_000n;
    const attacker = 45001;
    const events = [
      ...compileBurst({ pid: 46001, comm: 'cc1', dir: '/home/u/proj', files: 40, startNs: now }),
      ...archiveBurst({ pid: 46002, comm: 'tar', dir: '/home/u', files: 40, startNs: now }),
      ...ransomwareBurst({ pid: attacker, comm: 'cryptor', dir: '/home/u/docs', files: 30, startNs: now }),
    ].sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
    const trace = path.join(daemon.dataDir, 'burst.jsonl');
    writeTrace(trace, events);

    const sent = await runCli(['send', trace, '--socket', daemon.socket, '--wait-deny', String(attacker), '--wait-timeout', '15000', '--query', `${attacker},46001,46002`]);
    expect(sent.stderr).toBe('');
    expect(sent.code).toBe(0);
    const summary = JSON.parse(sent.stdout) as { events: number; accepted: number; rejected: number; denied: number[]; verdicts: { pid: number; state: string; actions: number }[] };
    expect(summary.events).toBe(events.length);
    expect(summary.accepted).toBe(events.length);
    expect(summary.rejected).toBe(0);
    expect(summary.denied).toContain(attacker);
    const byPid = new Map(summary.verdicts.map((v) => [v.pid, v]));
    expect(['Restricted', 'Lockdown']).toContain(byPid.get(attacker)?.state);
    expect(byPid.get(attacker)?.actions ?? 0).toBeGreaterThan(0);
    expect(['Normal', 'Monitoring']).toContain(byPid.get(46001)?.state);
    expect(['Normal', 'Monitoring']).toContain(byPid.get(46002)?.state);

    const subjects = (await daemon.http<{ subjects: SubjectRow[] }>('GET', '/v1/subjects')).body.subjects;
    const proc = (pid: number): SubjectRow | undefined => subjects.find((s) => s.kind === 'process' && s.pid === pid);
    expect(['Restricted', 'Lockdown']).toContain(proc(attacker)?.state);
    expect(proc(attacker)?.comm).toBe('cryptor');
    expect(['Normal', 'Monitoring']).toContain(proc(46001)?.state);
    expect(['Normal', 'Monitoring']).toContain(proc(46002)?.state);

    expect(await daemon.stop()).toBe(0);
    const dbPath = path.join(daemon.dataDir, 'sentinel.db');
    expect(statSync(dbPath).mode & 0o777).toBe(0o600);
    const db = new Database(dbPath, { readonly: true });
    try {
      const rows = db.prepare('SELECT * FROM transitions WHERE pid = ? ORDER BY id').all(attacker) as { to_state: number; score: number; top_features: string; model_hashes: string; subject_kind: string; event_index: number }[];
      const up = rows.filter((r) => r.subject_kind === 'process' && r.to_state >= 2);
      expect(up.length).toBeGreaterThan(0);
      const first = up[0]!;
      expect(first.score).toBeGreaterThan(0);
      expect(JSON.parse(first.top_features).length).toBeGreaterThan(0);
      const hashes = JSON.parse(first.model_hashes) as Record<string, string>;
      expect(Object.values(hashes).every((h) => /^[0-9a-f]{64}$/.test(h))).toBe(true);
      expect(first.event_index).toBeGreaterThanOrEqual(0);
      const benignUp = db.prepare('SELECT COUNT(*) AS n FROM transitions WHERE pid IN (46001, 46002) AND to_state >= 2').get() as { n: number };
      expect(benignUp.n).toBe(0);
    } finally {
      db.close();
    }
  });

  it('answers bad frames with coded errors, keeps serving others, and counts the drops', async () => {
    daemon = await startDaemonProcess();
    const good = await SentinelClient.connect({ socketPath: daemon.socket, roles: Role.Events | Role.Acks | Role.Query, name: 'good' });
    const bad = await SentinelClient.connect({ socketPath: daemon.socket, roles: Role.Events | Role.Acks, name: 'bad' });
    try {
      // An unknown frame type is skipped with an error; the connection goes on.
      bad.writeRaw(encodeFrame(0x55, Buffer.alloc(4), 900));
      // Then garbage: framing is lost, the daemon closes this connection.
      bad.writeRaw(Buffer.from('this is not a frame at all'));
      await bad.closed();
      expect(bad.errors.map((e) => e.name)).toEqual(['SENTINEL_E_UNKNOWN_FRAME_TYPE', 'SENTINEL_E_BAD_MAGIC']);
      // The other client is unaffected.
      await good.sendEvents([fsEvent({ pid: 777, op: 'write', path: '/tmp/x', ts: BigInt(Date.now()) * 1_000_000n })], true);
      expect(good.accepted).toBe(1);
      const [v] = await good.queryVerdicts([{ pid: 777, start: 0n }]);
      expect(v?.state).toBe(0);
      // A batch with one invalid record (pid 0): the good one is kept, the bad one is counted,
      // and a drop alert is logged and audited.
      const ts = BigInt(Date.now()) * 1_000_000n;
      await good.sendEvents([fsEvent({ pid: 778, op: 'write', path: '/tmp/y', ts }), fsEvent({ pid: 0, op: 'write', path: '/tmp/z', ts })], true);
      expect([good.accepted, good.rejected]).toEqual([2, 1]);
      expect(good.errors.map((e) => e.name)).toEqual(['SENTINEL_E_MALFORMED_EVENT']);
      const alert = await daemon.waitLog((l) => l['error.code'] === 'SENTINEL_E_ALERT_DROPPED');
      expect(alert).toMatchObject({ hop: 'socket', reason: 'malformed_event', count: 1 });
      const metrics = await fetch(`http://127.0.0.1:${daemon.httpPort}/metrics`, { headers: { authorization: `Bearer ${daemon.token}` } }).then((r) => r.text());
      expect(metrics).toMatch(/sentinel_ingest_errors_total\{code="SENTINEL_E_BAD_MAGIC"\} 1/);
      expect(metrics).toMatch(/sentinel_ingest_errors_total\{code="SENTINEL_E_UNKNOWN_FRAME_TYPE"\} 1/);
      expect(metrics).toMatch(/sentinel_connections_closed_on_error_total 1/);
      expect(metrics).toMatch(/sentinel_drop_alerts_total 1/);
    } finally {
      await good.close();
      await bad.close();
    }
    expect(await daemon.stop()).toBe(0);
    const db = new Database(path.join(daemon.dataDir, 'sentinel.db'), { readonly: true });
    try {
      expect(db.prepare('SELECT hop, reason, count FROM drops').all()).toEqual([{ hop: 'socket', reason: 'malformed_event', count: 1 }]);
    } finally {
      db.close();
    }
  });

  it('requires HELLO first and rejects the HTTP API without the token', async () => {
    daemon = await startDaemonProcess();
    const res = await fetch(`http://127.0.0.1:${daemon.httpPort}/v1/status`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('SENTINEL_E_UNAUTHORIZED');
    const st = await daemon.http<{ version: string; engine: { eventsAccepted: number } }>('GET', '/v1/status');
    expect(st.status).toBe(200);
    expect(st.body.engine.eventsAccepted).toBe(0);
    const cli = await runCli(['status', '--data-dir', daemon.dataDir]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^sentinel 0\.1\.0/);
    expect(cli.stdout).toMatch(/^session {5}off: biometrics off: no enrolled profile/m);
    // A client that skips HELLO gets SENTINEL_E_HELLO_REQUIRED and is closed.
    const sock = net.connect(daemon.socket);
    await once(sock, 'connect');
    const reader = new FrameReader();
    const frames: ServerFrame[] = [];
    sock.on('data', (d: Buffer) => frames.push(...reader.push(d)));
    sock.write(encodeEventBatches([fsEvent({ pid: 9, op: 'read', path: '/a' })], 7).bytes);
    await once(sock, 'close');
    expect(frames).toEqual([expect.objectContaining({ type: 'error', name: 'SENTINEL_E_HELLO_REQUIRED', refSeq: 7 })]);
    expect(encodeHello(1, 1, 1, 'x')[3]).toBe(FrameType.Hello);
  });

  it('loses no accepted event on graceful shutdown', async () => {
    daemon = await startDaemonProcess();
    const now = BigInt(Date.now()) * 1_000_000n;
    const c = await SentinelClient.connect({ socketPath: daemon.socket, roles: Role.Events | Role.Acks, name: 'shutdown' });
    const events = compileBurst({ pid: 51000, comm: 'make', dir: '/w', files: 400, startNs: now });
    await c.sendEvents(events, true);
    expect(c.accepted).toBe(events.length);
    const closed = c.closed();
    expect(await daemon.stop()).toBe(0);
    await closed;
    expect(c.errors.map((e) => e.name)).toContain('SENTINEL_E_SHUTTING_DOWN');
    const stopped = await daemon.waitLog((l) => l.message === 'stopped');
    expect(stopped['events']).toBe(events.length);
  });

  it('stops cleanly on a SIGTERM that comes right after its ready line', async () => {
    // The signal handlers used to be installed only after start-up returned; a SIGTERM in that
    // gap killed the daemon by the signal's default action (no "stopping", exit by signal).
    const exits: { code: number | null; signal: NodeJS.Signals | null; stopping: boolean }[] = [];
    for (let i = 0; i < 15; i++) {
      const d = await startDaemonProcess();
      try {
        d.proc.kill('SIGTERM'); // at once: startDaemonProcess resolves on the ready line
        const [code, signal] = (await once(d.proc, 'exit')) as [number | null, NodeJS.Signals | null];
        exits.push({ code, signal, stopping: d.logs.some((l) => l.message === 'stopping') });
      } finally {
        d.cleanup();
      }
    }
    expect(exits).toEqual(Array.from({ length: 15 }, () => ({ code: 0, signal: null, stopping: true })));
  });
});
