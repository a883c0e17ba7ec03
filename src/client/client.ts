/**
 * Protocol v1 client over the daemon's Unix socket (TypeScript): used by tools, the lab, tests
 * and benchmarks. Async; every reply is matched to its request by seq. ERROR frames reject the
 * pending request they name (or surface through `errors`), STATE_PUSH frames update `denySet`.
 */
import net from 'node:net';
import { once } from 'node:events';
import { Role } from '../protocol/constants.js';
import { encodeEventBatches, encodeHello, encodeVerdictQuery, type VerdictQueryItem } from '../protocol/encode.js';
import { FrameReader, type ServerFrame, type VerdictEntry } from '../protocol/decode.js';
import type { FsEvent } from '../protocol/event.js';
import { SentinelError } from '../errors.js';

export interface ClientOptions {
  socketPath: string;
  roles: number;
  name: string;
}

type Waiter = { resolve: (f: ServerFrame) => void; reject: (e: Error) => void };

export class SentinelClient {
  private readonly socket: net.Socket;
  private readonly reader = new FrameReader();
  private readonly waiters = new Map<number, Waiter>();
  private seq = 1;
  private helloSeq = 0;
  readonly errors: Extract<ServerFrame, { type: 'error' }>[] = [];
  denySet: VerdictEntry[] = [];
  denyGeneration = -1n;
  accepted = 0;
  rejected = 0;
  private readonly pushListeners: ((entries: VerdictEntry[]) => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => {
      const err = new SentinelError('SENTINEL_E_IO', 'connection closed');
      for (const w of this.waiters.values()) w.reject(err);
      this.waiters.clear();
    });
  }

  static async connect(o: ClientOptions): Promise<SentinelClient> {
    const socket = net.connect(o.socketPath);
    await once(socket, 'connect');
    const c = new SentinelClient(socket);
    c.helloSeq = c.seq++;
    const ack = await c.request(c.helloSeq, encodeHello(c.helloSeq, o.roles, process.pid, o.name));
    if (ack.type !== 'hello_ack') throw new SentinelError('SENTINEL_E_IO', `handshake failed: ${JSON.stringify(ack)}`);
    return c;
  }

  private onData(chunk: Buffer): void {
    for (const f of this.reader.push(chunk)) {
      if (f.type === 'state_push') {
        this.denySet = f.entries;
        this.denyGeneration = f.generation;
        for (const l of this.pushListeners) l(f.entries);
        continue;
      }
      if (f.type === 'batch_ack') {
        this.accepted += f.accepted;
        this.rejected += f.rejected;
      }
      const key = f.type === 'error' ? f.refSeq : f.seq;
      if (f.type === 'error') this.errors.push(f);
      const w = this.waiters.get(key);
      if (w) {
        this.waiters.delete(key);
        w.resolve(f);
      }
    }
  }

  private request(seq: number, bytes: Buffer): Promise<ServerFrame> {
    return new Promise((resolve, reject) => {
      this.waiters.set(seq, { resolve, reject });
      this.socket.write(bytes);
    });
  }

  /** Sends events as EVENT_BATCH frames; with the ACKS role, resolves once all are acknowledged. */
  async sendEvents(events: readonly FsEvent[], waitAcks: boolean): Promise<void> {
    const { bytes, frames } = encodeEventBatches(events, this.seq);
    const first = this.seq;
    this.seq += frames;
    if (!waitAcks) {
      if (!this.socket.write(bytes)) await once(this.socket, 'drain');
      return;
    }
    const last = this.request(first + frames - 1, bytes);
    await last;
  }

  /** Raw bytes, for tests of malformed input. */
  writeRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  nextSeq(): number {
    return this.seq++;
  }

  async queryVerdicts(items: readonly VerdictQueryItem[]): Promise<VerdictEntry[]> {
    const seq = this.seq++;
    const f = await this.request(seq, encodeVerdictQuery(seq, items));
    if (f.type !== 'verdict_reply') throw new SentinelError('SENTINEL_E_IO', `verdict query failed: ${JSON.stringify(f, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
    return f.entries;
  }

  /** Resolves with the first deny-set snapshot (current or future) that satisfies `pred`. */
  waitForDenySet(pred: (entries: VerdictEntry[]) => boolean): Promise<VerdictEntry[]> {
    if (this.denyGeneration >= 0n && pred(this.denySet)) return Promise.resolve(this.denySet);
    return new Promise((resolve) => {
      const l = (entries: VerdictEntry[]): void => {
        if (pred(entries)) {
          this.pushListeners.splice(this.pushListeners.indexOf(l), 1);
          resolve(entries);
        }
      };
      this.pushListeners.push(l);
    });
  }

  /** Resolves when the daemon closes the connection. */
  closed(): Promise<void> {
    return this.socket.closed ? Promise.resolve() : once(this.socket, 'close').then(() => undefined);
  }

  async close(): Promise<void> {
    if (this.socket.closed) return;
    this.socket.end();
    await once(this.socket, 'close');
  }
}

export { Role };
