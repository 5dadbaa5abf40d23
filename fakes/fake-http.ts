// What both CRM fakes share: tenants under `/t/<name>` (so test files never see each other's
// state), JSON in and out, and injected faults (`POST /__fake/faults`) consumed in order.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A fault: answer `status` (with `Retry-After`) instead of serving, or serve and drop the answer. */
export interface FaultRule {
  /** Only requests with this method (any when absent). */
  method?: string;
  /** Only requests whose path (after the tenant prefix) contains this (any when absent). */
  path?: string;
  status?: number;
  retryAfter?: string;
  body?: unknown;
  /** Serve the request, change state, then close the connection without an answer. */
  lostAnswer?: boolean;
  /** How many matching requests it hits (default 1). */
  times?: number;
}

export interface FakeRequest {
  /** Absolute URL of this tenant's root (`http://host/t/<name>`), for links in answers. */
  base: string;
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: unknown;
  rawBody: string;
}

export interface FakeAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface FakeTenant {
  faults: FaultRule[];
  log: { method: string; path: string; status: number }[];
}

export interface FakeOptions<T extends FakeTenant> {
  createTenant(name: string): T;
  /** The CRM's own routes; `undefined` ⇒ 404. */
  handle(tenant: T, req: FakeRequest): FakeAnswer | Promise<FakeAnswer>;
  /** `GET /__fake/state`: what tests assert on. */
  state(tenant: T): unknown;
  /** `POST /__fake/<name>`: seeding and setting (tokens, clock). */
  control(tenant: T, name: string, body: unknown): FakeAnswer | undefined;
}

const MAX_BODY_BYTES = 20 * 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, answer: FakeAnswer) {
  const headers: Record<string, string> = { ...(answer.headers ?? {}) };
  let payload = '';
  if (answer.body !== undefined) {
    payload = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    headers['content-type'] ??= typeof answer.body === 'string' ? 'text/plain' : 'application/json';
  }
  res.writeHead(answer.status, headers).end(payload);
}

export async function startFake<T extends FakeTenant>(
  options: FakeOptions<T>,
  port = 0,
): Promise<{ url: string; server: Server; tenant(name: string): T; close(): Promise<void> }> {
  const tenants = new Map<string, T>();
  const tenantOf = (name: string) => {
    let t = tenants.get(name);
    if (!t) {
      t = options.createTenant(name);
      tenants.set(name, t);
    }
    return t;
  };
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://fake');
      const m = /^\/t\/([^/]+)(\/.*)?$/.exec(url.pathname);
      const tenantName = m ? decodeURIComponent(m[1] as string) : 'default';
      const tenant = tenantOf(tenantName);
      const path = m ? (m[2] ?? '/') : url.pathname;
      const rawBody = await readBody(req);
      let body: unknown;
      if (rawBody && (req.headers['content-type'] ?? '').includes('json')) {
        try {
          body = JSON.parse(rawBody);
        } catch {
          send(res, { status: 400, body: { message: 'Invalid JSON body' } });
          return;
        }
      }
      if (path.startsWith('/__fake/')) {
        const name = path.slice('/__fake/'.length);
        if (req.method === 'GET' && name === 'state')
          return send(res, { status: 200, body: options.state(tenant) });
        if (req.method === 'GET' && name === 'log') return send(res, { status: 200, body: tenant.log });
        if (req.method === 'POST' && name === 'faults') {
          tenant.faults.push(...((body as { rules?: FaultRule[] })?.rules ?? []));
          return send(res, { status: 204 });
        }
        if (req.method === 'POST' && name === 'reset') {
          tenants.delete(tenantName);
          return send(res, { status: 204 });
        }
        const answer = options.control(tenant, name, body);
        return send(res, answer ?? { status: 404, body: { message: `no control ${name}` } });
      }
      const method = req.method ?? 'GET';
      const fault = tenant.faults.find(
        (f) => (!f.method || f.method === method) && (!f.path || path.includes(f.path)) && (f.times ?? 1) > 0,
      );
      if (fault) fault.times = (fault.times ?? 1) - 1;
      if (fault?.status) {
        tenant.log.push({ method, path, status: fault.status });
        return send(res, {
          status: fault.status,
          body: fault.body ?? { status: 'error', message: `injected ${fault.status}` },
          ...(fault.retryAfter ? { headers: { 'retry-after': fault.retryAfter } } : {}),
        });
      }
      const answer = await options.handle(tenant, {
        base: `http://${req.headers.host ?? '127.0.0.1'}${m ? `/t/${m[1]}` : ''}`,
        method,
        path,
        query: url.searchParams,
        headers: req.headers,
        body,
        rawBody,
      });
      tenant.log.push({ method, path, status: fault?.lostAnswer ? 0 : answer.status });
      // The CRM did the work; the caller never hears about it (a connection lost mid-answer).
      if (fault?.lostAnswer) return void req.socket.destroy();
      send(res, answer);
    } catch (err) {
      send(res, { status: 500, body: { message: `fake failed: ${String(err)}` } });
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    server,
    tenant: tenantOf,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
