/**
 * Operator HTTP API on loopback (token-protected): status, subjects, operator state changes,
 * audit queries, Prometheus /metrics. Every error body is {"error":{"code","message"}} with a
 * SENTINEL_E_* code. Only /healthz answers without the token.
 */
import http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { SentinelError, type ErrorCode } from '../src/errors.js';
import { TRUST_STATES } from '../src/protocol/constants.js';
import type { TrustState } from '../src/state/trust-machine.js';

/** What the HTTP layer needs from the daemon; implemented in daemon/daemon.ts. */
export interface OperatorApi {
  status(): Record<string, unknown>;
  subjects(filter: { minState: number; limit: number }): Record<string, unknown>[];
  subject(id: number): Record<string, unknown> | undefined;
  /** Returns the transition made, or null when the subject was already in that state. */
  setState(id: number, state: TrustState, by: string): object | null;
  transitions(filter: { subjectId?: number; limit: number }): unknown[];
  /**
   * Lifts the floor held on the processes of `uid` (a user who left the seat while Restricted
   * or Lockdown). Throws SENTINEL_E_NOT_FOUND when none is held for it.
   */
  releaseFloor(uid: number, by: string): { uid: number; was: string };
  metrics(): string;
}

const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  SENTINEL_E_UNAUTHORIZED: 401,
  SENTINEL_E_NOT_FOUND: 404,
  SENTINEL_E_INVALID_ARGUMENT: 400,
};

function send(res: http.ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? JSON.stringify(body) : String(body);
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(text);
}

function intParam(url: URL, name: string, def: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return def;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `${name} must be an integer ${min}..${max}`);
  return v;
}

/** The operator identity a request names in `by` (at most 64 characters), else 'operator'. */
function operatorName(by: unknown): string {
  return typeof by === 'string' && by.length > 0 ? by.slice(0, 64) : 'operator';
}

async function readJson(req: http.IncomingMessage, limit = 64 * 1024): Promise<unknown> {
  let size = 0;
  const parts: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'request body too large');
    parts.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8')) as unknown;
  } catch {
    throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', 'request body is not JSON');
  }
}

export class HttpServer {
  private readonly server: http.Server;
  private readonly token: Buffer;

  constructor(private readonly api: OperatorApi, token: string, private readonly log: Logger) {
    this.token = Buffer.from(token);
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        const e = err instanceof SentinelError ? err : new SentinelError('SENTINEL_E_IO', (err as Error).message);
        if (!(err instanceof SentinelError)) this.log.error({ err }, 'http handler failed');
        if (!res.headersSent) send(res, STATUS_OF[e.code] ?? 500, { error: e.toJSON() });
        else res.end();
      });
    });
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private authorized(req: http.IncomingMessage): boolean {
    const h = req.headers.authorization ?? '';
    const m = /^Bearer (.+)$/.exec(h);
    if (!m) return false;
    const given = Buffer.from(m[1] as string);
    return given.length === this.token.length && timingSafeEqual(given, this.token);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    if (url.pathname === '/healthz') return send(res, 200, { status: 'ok' });
    if (!this.authorized(req)) throw new SentinelError('SENTINEL_E_UNAUTHORIZED');
    if (method === 'GET' && url.pathname === '/metrics') return send(res, 200, this.api.metrics(), 'text/plain; version=0.0.4');
    if (method === 'GET' && url.pathname === '/v1/status') return send(res, 200, this.api.status());
    if (method === 'GET' && url.pathname === '/v1/subjects') {
      const minState = intParam(url, 'minState', 0, 0, 3);
      const limit = intParam(url, 'limit', 1000, 1, 100_000);
      return send(res, 200, { subjects: this.api.subjects({ minState, limit }) });
    }
    const sm = /^\/v1\/subjects\/(\d+)(\/state)?$/.exec(url.pathname);
    if (sm) {
      const id = Number(sm[1]);
      if (method === 'GET' && !sm[2]) {
        const s = this.api.subject(id);
        if (!s) throw new SentinelError('SENTINEL_E_NOT_FOUND', `no live subject ${id}`);
        return send(res, 200, s);
      }
      if (method === 'POST' && sm[2]) {
        const body = (await readJson(req)) as { state?: unknown; by?: unknown };
        const state = TRUST_STATES.indexOf(body.state as (typeof TRUST_STATES)[number]);
        if (state < 0) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `state must be one of ${TRUST_STATES.join(', ')}`);
        const by = operatorName(body.by);
        if (!this.api.subject(id)) throw new SentinelError('SENTINEL_E_NOT_FOUND', `no live subject ${id}`);
        const t = this.api.setState(id, state as TrustState, by);
        this.log.info({ 'subject.id': id, state: TRUST_STATES[state], 'user.name': by }, 'operator set state');
        return send(res, 200, { changed: t !== null, transition: t });
      }
    }
    const fm = /^\/v1\/session\/floors\/(\d+)\/release$/.exec(url.pathname);
    if (fm && method === 'POST') {
      const uid = Number(fm[1]);
      if (!Number.isSafeInteger(uid) || uid > 2 ** 32 - 1) throw new SentinelError('SENTINEL_E_INVALID_ARGUMENT', `uid must be 0..${2 ** 32 - 1}`);
      const body = (await readJson(req)) as { by?: unknown };
      const by = operatorName(body.by);
      const r = this.api.releaseFloor(uid, by);
      this.log.info({ uid, was: r.was, 'user.name': by }, 'operator released a held session floor');
      return send(res, 200, { released: true, ...r });
    }
    if (method === 'GET' && url.pathname === '/v1/audit/transitions') {
      const limit = intParam(url, 'limit', 100, 1, 10_000);
      const subjectId = url.searchParams.has('subject') ? intParam(url, 'subject', 0, 0, 2 ** 32) : undefined;
      return send(res, 200, { transitions: this.api.transitions(subjectId === undefined ? { limit } : { subjectId, limit }) });
    }
    throw new SentinelError('SENTINEL_E_NOT_FOUND', `${method} ${url.pathname}`);
  }
}
