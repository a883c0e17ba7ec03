/**
 * Unix socket server for protocol v1 (docs/protocol.md).
 *
 * Node owns the socket; each chunk read crosses into native code once (`engine.ingest`), which
 * decodes frames, updates features, answers verdict queries and returns the reply bytes. This
 * module only moves bytes, checks peer credentials, keeps subscribers, and applies
 * back-pressure: when the scorer falls behind it pauses reading (the kernel buffer then blocks
 * the client), so no accepted event is ever dropped.
 */
import net from 'node:net';
import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Engine } from '../src/engine.js';
import type { RawIngestResult } from '../src/binding.js';
import { Role } from '../src/protocol/constants.js';
import { encodeBarrierAck, encodeError } from '../src/protocol/server-frames.js';
import { SentinelError, codeFromWire, wireCode } from '../src/errors.js';
import { peerCredentials, type PeerCredentials } from '../src/peer.js';
import type { Counters } from './counters.js';

export interface SocketServerOptions {
  path: string;
  mode: number;
  allowUids: readonly number[];
  allowGids: readonly number[];
  engine: Engine;
  log: Logger;
  counters: Counters;
  /** Called after every chunk that carried events, so the scorer can run soon. */
  onEvents: () => void;
  /** Called when a chunk made subjects due at once (trigger, decoy): score them now. */
  onUrgent: () => void;
  /**
   * Scoring ticks started so far (Scorer.ticksStarted). A BARRIER is acknowledged after a tick
   * that started after the BARRIER was ingested has finished (releaseBarriers). Without it,
   * barriers are acknowledged at the next releaseBarriers call.
   */
  ticksStarted?: () => number;
}

interface Conn {
  id: number;
  socket: net.Socket;
  peer: PeerCredentials;
  subscriber: boolean;
  closed: boolean;
  /** Backlog left by the ingest budget; reading is paused until it is done. */
  pending: boolean;
  /** Granted the BARRIER role: its state pushes carry the hold set. */
  barrier: boolean;
  /** BARRIER frames waiting for a tick: seq and the tick count when ingested. */
  barriers: { seq: number; tick: number }[];
}

const EMPTY = new Uint8Array(0);

export class SocketServer {
  private readonly server: net.Server;
  private readonly conns = new Set<Conn>();
  private paused = false;
  private closing = false;
  private pushSeq = 0;
  private barrierConns = 0;
  private waitingBarriers = 0;

  constructor(private readonly o: SocketServerOptions) {
    this.server = net.createServer({ allowHalfOpen: false, pauseOnConnect: false }, (s) => this.accept(s));
  }

  async listen(): Promise<void> {
    if (existsSync(this.o.path)) {
      const st = lstatSync(this.o.path);
      if (!st.isSocket()) throw new SentinelError('SENTINEL_E_CONFIG', `socket path ${this.o.path} exists and is not a socket`);
      // A stale socket from a crashed daemon: refuse if something still answers on it.
      const alive = await new Promise<boolean>((resolve) => {
        const probe = net.connect(this.o.path);
        probe.once('connect', () => { probe.destroy(); resolve(true); });
        probe.once('error', () => resolve(false));
      });
      if (alive) throw new SentinelError('SENTINEL_E_CONFIG', `another daemon is listening on ${this.o.path}`);
      unlinkSync(this.o.path);
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.path, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    chmodSync(this.o.path, this.o.mode);
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  private allowed(p: PeerCredentials): boolean {
    if (p.uid === 0 || p.uid === process.getuid?.()) return true;
    return this.o.allowUids.includes(p.uid) || this.o.allowGids.includes(p.gid);
  }

  private accept(socket: net.Socket): void {
    const { engine, log, counters } = this.o;
    let peer: PeerCredentials;
    try {
      peer = peerCredentials(socket);
    } catch (err) {
      log.error({ err, 'error.code': 'SENTINEL_E_PEER_REJECTED' }, 'cannot read peer credentials; closing');
      counters.inc('connections_rejected_total');
      socket.destroy();
      return;
    }
    if (!this.allowed(peer)) {
      log.warn({ 'client.user.id': peer.uid, 'process.pid': peer.pid, 'error.code': 'SENTINEL_E_PEER_REJECTED' }, 'peer rejected');
      counters.inc('connections_rejected_total');
      socket.end(encodeError(wireCode('SENTINEL_E_PEER_REJECTED'), 0, `uid ${peer.uid} is not allowed`));
      return;
    }
    const conn: Conn = { id: engine.openConnection(peer.uid), socket, peer, subscriber: false, closed: false, pending: false, barrier: false, barriers: [] };
    this.conns.add(conn);
    counters.inc('connections_total');
    if (this.paused) socket.pause();
    socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    socket.on('error', (err) => log.debug({ err, 'process.pid': peer.pid }, 'client socket error'));
    socket.on('close', () => this.onClose(conn));
  }

  private onData(conn: Conn, chunk: Buffer): void {
    this.o.counters.add('ingest_bytes_total', chunk.length);
    this.handle(conn, this.o.engine.ingest(conn.id, chunk));
  }

  /**
   * The ingest budget ran out mid-batch: stop reading this client and go on with its backlog on
   * the next turn of the event loop, so other clients (verdict queries) get served in between.
   */
  private continueLater(conn: Conn): void {
    conn.pending = true;
    conn.socket.pause();
    setImmediate(() => {
      if (!this.conns.has(conn)) return; // closed meanwhile: onClose drained it
      this.handle(conn, this.o.engine.ingest(conn.id, EMPTY));
    });
  }

  /** Finishes pending work of a connection at once (close, shutdown). */
  private drain(conn: Conn): void {
    while (conn.pending) this.handle(conn, this.o.engine.ingest(conn.id, EMPTY));
  }

  private handle(conn: Conn, r: RawIngestResult): void {
    const { log, counters } = this.o;
    if (r.accepted) counters.add('ingest_events_total', r.accepted);
    if (r.rejected) counters.add('ingest_rejected_events_total', r.rejected);
    for (const [code, n] of Object.entries(r.errors)) {
      const name = codeFromWire(Number(code)) ?? `code_${code}`;
      counters.add(`ingest_errors_total{code="${name}"}`, n);
      log.warn({ 'error.code': name, count: n, 'process.pid': conn.peer.pid }, 'client sent bad input');
    }
    if (r.reply && !conn.closed) conn.socket.write(r.reply);
    if (r.hello) {
      log.info({ 'client.name': r.hello.name, 'process.pid': r.hello.pid, roles: r.hello.roles, version: r.hello.version }, 'client connected');
      // The native reply already carries the first STATE_PUSH after HELLO_ACK.
      if (r.hello.roles & Role.Subscribe) conn.subscriber = true;
      if (r.hello.roles & Role.Barrier) {
        conn.barrier = true;
        this.barrierConns++;
      }
    }
    if (r.barriers) {
      const tick = this.o.ticksStarted?.() ?? 0;
      for (const seq of r.barriers) conn.barriers.push({ seq, tick });
      this.waitingBarriers += r.barriers.length;
      counters.add('barrier_requests_total', r.barriers.length);
    }
    if (r.fatal) {
      conn.closed = true;
      conn.pending = false;
      counters.inc('connections_closed_on_error_total');
      conn.socket.end();
      return;
    }
    if (r.urgent || r.barriers) this.o.onUrgent();
    else if (r.accepted) this.o.onEvents();
    if (r.pending) {
      this.continueLater(conn);
    } else if (conn.pending) {
      conn.pending = false;
      if (!this.paused) conn.socket.resume();
    }
  }

  private onClose(conn: Conn): void {
    if (!this.conns.has(conn)) return;
    this.drain(conn); // every byte received is ingested before the connection's state goes
    this.conns.delete(conn);
    if (conn.barrier) this.barrierConns--;
    this.waitingBarriers -= conn.barriers.length;
    conn.barriers = [];
    const dropped = this.o.engine.closeConnection(conn.id);
    if (dropped > 0) {
      this.o.counters.add('ingest_truncated_bytes_total', dropped);
      this.o.log.warn({ bytes: dropped, 'process.pid': conn.peer.pid, 'error.code': 'SENTINEL_E_MALFORMED_FRAME' }, 'client closed mid-frame; partial frame dropped');
    }
  }

  /** Sends the current deny set to every subscriber (full snapshot, docs/protocol.md). */
  pushStates(): void {
    const subs = [...this.conns].filter((c) => c.subscriber && !c.closed);
    if (subs.length === 0) return;
    const seq = ++this.pushSeq;
    let plain: Uint8Array | null = null;
    let holds: Uint8Array | null = null;
    for (const c of subs) {
      if (c.barrier) c.socket.write((holds ??= this.o.engine.encodeStatePush(seq, true)));
      else c.socket.write((plain ??= this.o.engine.encodeStatePush(seq)));
    }
    this.o.counters.add('state_pushes_total', subs.length);
  }

  /** Connections granted the BARRIER role (the scorer refreshes the hold set every tick then). */
  get barrierClients(): number {
    return this.barrierConns;
  }

  /**
   * After a scoring tick (and its state push): acknowledges every BARRIER ingested before
   * `tickNo` started (Scorer.ticksStarted numbering), in order, on its connection.
   */
  releaseBarriers(tickNo: number): void {
    if (this.waitingBarriers === 0) return;
    let released = 0;
    for (const c of this.conns) {
      if (c.barriers.length === 0) continue;
      let k = 0;
      while (k < c.barriers.length && (c.barriers[k] as { tick: number }).tick < tickNo) k++;
      if (k === 0) continue;
      const done = c.barriers.splice(0, k);
      if (!c.closed) c.socket.write(done.length === 1 ? encodeBarrierAck((done[0] as { seq: number }).seq) : Buffer.concat(done.map((b) => encodeBarrierAck(b.seq))));
      released += k;
    }
    this.waitingBarriers -= released;
    if (released) this.o.counters.add('barrier_acks_total', released);
  }

  /** Back-pressure: stop or resume reading every client socket. */
  setPaused(paused: boolean): void {
    if (paused === this.paused || this.closing) return; // once closing, reading stays stopped
    this.paused = paused;
    for (const c of this.conns) {
      if (paused) c.socket.pause();
      else if (!c.pending) c.socket.resume();
    }
  }

  /**
   * Stops accepting and stops reading: every byte already read is ingested (backlogs left by
   * the ingest budget are finished here), nothing more is read. Resolves when the listener is
   * closed, which waits for `endAll`.
   */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.setPaused(true);
    this.closing = true;
    for (const c of this.conns) this.drain(c);
    return closed;
  }

  /** Tells each client the daemon is stopping and ends the connections. */
  endAll(): void {
    for (const c of this.conns) {
      this.drain(c);
      if (!c.closed) {
        c.closed = true;
        c.socket.end(encodeError(wireCode('SENTINEL_E_SHUTTING_DOWN'), 0, 'daemon stopping'));
      }
    }
  }
}
