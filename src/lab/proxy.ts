/**
 * Recording proxy: a Unix socket that sentinel-fuse connects to instead of the daemon. Every
 * byte is forwarded both ways unchanged (the daemon still sees the real peer protocol, and its
 * STATE_PUSH reaches sentinel-fuse), and each client→daemon EVENT_BATCH is decoded and
 * appended to a JSON Lines trace (docs/protocol.md, trace format): the trace is exactly what
 * Sentinel saw. A batch resent after a reconnect is recorded again (at-least-once, like the daemon).
 */
import net from 'node:net';
import { createWriteStream, rmSync, type WriteStream } from 'node:fs';
import { FrameType, HEADER_SIZE } from '../protocol/constants.js';
import { writeTraceLine } from '../trace/parse.js';
import { decodeEventBatch } from '../protocol/decode-events.js';

export interface RecordingProxy {
  path: string;
  /** Events written to the trace so far. */
  readonly events: number;
  /** Batches that could not be decoded (forwarded anyway). */
  readonly decodeErrors: number;
  close(): Promise<void>;
}

export async function startRecordingProxy(listenPath: string, upstreamPath: string, tracePath: string): Promise<RecordingProxy> {
  rmSync(listenPath, { force: true });
  const out: WriteStream = createWriteStream(tracePath, { flags: 'w' });
  let events = 0;
  let decodeErrors = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.createConnection(upstreamPath);
    sockets.add(client);
    sockets.add(upstream);
    let pending: Buffer = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let at = 0;
      while (pending.length - at >= HEADER_SIZE) {
        const type = pending.readUInt8(at + 3);
        const len = pending.readUInt32LE(at + 4);
        if (pending.length - at < HEADER_SIZE + len) break;
        if (type === FrameType.EventBatch) {
          try {
            const evs = decodeEventBatch(pending.subarray(at + HEADER_SIZE, at + HEADER_SIZE + len));
            if (evs.length > 0) out.write(evs.map((e) => writeTraceLine(e)).join('\n') + '\n');
            events += evs.length;
          } catch {
            decodeErrors++;
          }
        }
        at += HEADER_SIZE + len;
      }
      pending = at === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(at));
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPath, () => resolve());
  });
  return {
    path: listenPath,
    get events() {
      return events;
    },
    get decodeErrors() {
      return decodeErrors;
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => out.end(() => resolve()));
      rmSync(listenPath, { force: true });
    },
  };
}
