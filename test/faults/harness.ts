// The fault suite's network: the real central and the real us edge (`wrangler dev`, started by
// scripts/network.ts like `npm start`), real local queues/R2/KV/D1, with three fault points:
//  - a TCP-level proxy between the edge and central that passes, answers 500, hangs (the edge's
//    CENTRAL_TIMEOUT_MS is 2 s here) or resets every connection (central unreachable);
//  - the edge's fault-injection wrappers around its R2 and queue bindings (`POST /__faults`,
//    FAULT_INJECTION=on, refused in production);
//  - stopping and starting central and the edge processes themselves.
// The edge runs a generated copy of wrangler.edge.toml whose queue retry budget is 2 (instead of
// 100), so "longer than the retry budget" takes seconds.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { demoMailbox } from '../../scripts/demo-data.js';
import { freePort, LOCAL_ADMIN_TOKEN, ROOT, startCentral, startEdges } from '../../scripts/network.js';
import { seedDemoData } from '../../scripts/seed.js';
import { eventually as poll } from '../support/eventually.js';

export type ProxyMode = 'pass' | '500' | 'hang' | 'reset';

interface Proc {
  url: string;
  stop: () => Promise<void>;
}

export const FAULT_RETRY_BUDGET = 2;

function faultsConfig(): string {
  const dir = join(ROOT, '.wrangler', 'faults');
  mkdirSync(dir, { recursive: true });
  const toml = readFileSync(join(ROOT, 'wrangler.edge.toml'), 'utf8')
    .replace(/^main = "src\//m, 'main = "../../src/')
    .replace(/^max_retries = 100$/gm, `max_retries = ${FAULT_RETRY_BUDGET}`);
  if (!toml.includes(`max_retries = ${FAULT_RETRY_BUDGET}`)) throw new Error('could not lower max_retries');
  const path = join(dir, 'wrangler.edge.toml');
  writeFileSync(path, toml);
  return path;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A webhook receiver (the CRM): per path, answers the statuses it is told, recording each request. */
export class WebhookTarget {
  server!: Server;
  url = '';
  requests: { path: string; delivery: string; event: string; activityId: string; answer: number | 'hang' }[] =
    [];
  /** Per path: answers to give in turn (the last one repeats); 'hang' never answers. */
  scripts = new Map<string, (number | 'hang')[]>();
  private hung: ServerResponse[] = [];

  async start() {
    this.server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
      const body = JSON.parse((await readBody(req)).toString('utf8') || '{}');
      const path = req.url ?? '/';
      const script = this.scripts.get(path) ?? [200];
      const answer = script.length > 1 ? script.shift()! : script[0]!;
      this.requests.push({
        path,
        delivery: String(req.headers['x-crm-router-delivery'] ?? ''),
        event: body.event,
        activityId: body.activity?.id,
        answer,
      });
      if (answer === 'hang') return void this.hung.push(res);
      res.writeHead(answer, { 'content-type': 'application/json' }).end('{}');
    });
    const port = await freePort();
    await new Promise<void>((r) => this.server.listen(port, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${port}`;
  }

  forActivity(id: string) {
    return this.requests.filter((r) => r.activityId === id);
  }

  close() {
    for (const res of this.hung.splice(0)) res.socket?.destroy();
    return new Promise((r) => this.server.close(r));
  }
}

export class FaultNetwork {
  stateDir = mkdtempSync(join(tmpdir(), 'crm-faults-'));
  log: string[] = [];
  ports = { central: 0, proxy: 0, us: 0 };
  central: Proc | undefined;
  edges: { edges: Proc[]; stop: () => Promise<void> } | undefined;
  proxy!: Server;
  mode: ProxyMode = 'pass';
  /** Edge → central batches (`POST /api/v1/ingest`) the proxy refused, hung or failed: each one a
   * try of the edge's during an outage, what a test waits for instead of a fixed time. */
  refusedBatches = 0;
  configPath = faultsConfig();
  forwardTo = 'crm@us.edge.localhost';
  webhook = new WebhookTarget();
  private held: ServerResponse[] = [];

  get edgeUrl() {
    return this.edges!.edges[0]!.url;
  }
  get centralUrl() {
    return `http://127.0.0.1:${this.ports.central}`;
  }

  async start() {
    this.ports = { central: await freePort(), proxy: await freePort(), us: await freePort() };
    await this.startProxy();
    await this.webhook.start();
    const logger = (l: string) => this.log.push(l);
    [this.central] = await Promise.all([
      startCentral({ port: this.ports.central, stateDir: this.stateDir, log: logger }),
      this.startEdge(),
    ]);
    await seedDemoData(this.centralUrl, LOCAL_ADMIN_TOKEN, logger);
    const mailbox = demoMailbox({ region: 'us', filter: 'all' });
    const dep = await this.api('GET', `/api/v1/deployments/${mailbox.deployment}`);
    this.forwardTo = dep.json?.forwardingAddresses?.us ?? this.forwardTo;
  }

  async startEdge() {
    this.edges = await startEdges({
      ports: { us: this.ports.us },
      centralUrl: `http://127.0.0.1:${this.ports.proxy}`,
      stateDir: this.stateDir,
      log: (l: string) => this.log.push(l),
      regions: ['us'],
      configPath: this.configPath,
      vars: { FAULT_INJECTION: 'on', CENTRAL_TIMEOUT_MS: '2000' },
    });
  }

  async restartEdge() {
    await this.edges?.stop();
    await this.startEdge();
  }

  async stopCentral() {
    await this.central?.stop();
    this.central = undefined;
  }

  async startCentralAgain() {
    this.central = await startCentral({
      port: this.ports.central,
      stateDir: this.stateDir,
      log: (l: string) => this.log.push(l),
    });
  }

  /** SQL against central's local D1 (central must be stopped): an operator's direct change. */
  async d1(sqlText: string) {
    await promisify(execFile)(
      join(ROOT, 'node_modules', '.bin', 'wrangler'),
      [
        'd1',
        'execute',
        'DB',
        '--local',
        '--persist-to',
        join(this.stateDir, 'central'),
        '-c',
        'wrangler.toml',
        '--command',
        sqlText,
      ],
      {
        cwd: ROOT,
        env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
      },
    );
  }

  setProxy(mode: ProxyMode) {
    this.mode = mode;
    if (mode !== 'hang') for (const res of this.held.splice(0)) res.socket?.destroy();
  }

  private async startProxy() {
    this.proxy = createServer(async (req, res) => {
      const body = await readBody(req);
      if (this.mode !== 'pass' && req.method === 'POST' && req.url === '/api/v1/ingest')
        this.refusedBatches++;
      if (this.mode === 'reset') return void req.socket.destroy();
      if (this.mode === 'hang') return void this.held.push(res);
      if (this.mode === '500')
        return void res
          .writeHead(500, { 'content-type': 'application/json' })
          .end('{"error":{"code":"internal","message":"injected 500","requestId":"fault"}}');
      try {
        const headers = Object.fromEntries(
          Object.entries(req.headers).filter(
            ([k]) =>
              ![
                'host',
                'connection',
                'content-length',
                'transfer-encoding',
                'keep-alive',
                'expect',
                'upgrade',
              ].includes(k),
          ),
        ) as Record<string, string>;
        const upstream = await fetch(`${this.centralUrl}${req.url}`, {
          method: req.method,
          headers,
          body: req.method === 'GET' || req.method === 'HEAD' ? undefined : new Uint8Array(body),
        });
        const out = Buffer.from(await upstream.arrayBuffer());
        const h: Record<string, string> = {};
        upstream.headers.forEach((v, k) => {
          if (!['content-encoding', 'content-length', 'transfer-encoding', 'connection'].includes(k))
            h[k] = v;
        });
        res.writeHead(upstream.status, h).end(out);
      } catch {
        req.socket.destroy(); // central itself is down: the edge sees a lost connection
      }
    });
    await new Promise<void>((r) => this.proxy.listen(this.ports.proxy, '127.0.0.1', () => r()));
  }

  async api(method: string, path: string, body?: unknown) {
    const res = await fetch(`${this.centralUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${LOCAL_ADMIN_TOKEN}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  }

  async fault(body: { fault: 'r2-put' | 'queue-send'; count?: number; prefix?: string } | 'clear') {
    const res = await fetch(`${this.edgeUrl}/__faults`, {
      method: body === 'clear' ? 'DELETE' : 'POST',
      headers: { 'content-type': 'application/json' },
      body: body === 'clear' ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`/__faults: ${res.status} ${await res.text()}`);
  }

  /** The sender: POST /api/v1/inbound (the HTTP ingress) — its answer is what a mail server sees. */
  async send(raw: string | Uint8Array<ArrayBuffer>, to = this.forwardTo) {
    const res = await fetch(
      `${this.edgeUrl}/api/v1/inbound?from=customer%40faults.example&to=${encodeURIComponent(to)}`,
      { method: 'POST', headers: { authorization: 'Bearer local-inbound-token' }, body: raw },
    );
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  }

  async spooled(): Promise<number> {
    return (await this.health()).spooled;
  }

  /** Accepted items the edge's accept journal still holds (not yet handed to central or the spool). */
  async journaled(): Promise<number> {
    return (await this.health()).journaled ?? Number.NaN;
  }

  private async health() {
    const res = await fetch(`${this.edgeUrl}/health`);
    return (await res.json()) as { spooled: number; journaled?: number };
  }

  /** Activities whose Message-ID is one of `ids` (normalised), one entry per stored activity. */
  async activities(messageId: string) {
    const q = new URLSearchParams({ messageId, limit: '100' });
    const res = await this.api('GET', `/api/v1/activities?${q}`);
    return (res.json?.items ?? []) as { id: string; messageId: string }[];
  }

  async deadLettersFor(messageIdPrefix: string) {
    const res = await this.api('GET', '/api/v1/dead-letters?limit=1000');
    return ((res.json?.items ?? []) as { id: string; messageId: string | null; error: string }[]).filter(
      (d) => d.messageId?.startsWith(messageIdPrefix),
    );
  }

  async stop() {
    this.setProxy('pass');
    await Promise.all([this.edges?.stop(), this.central?.stop()]);
    await new Promise((r) => this.proxy.close(r));
    await this.webhook.close();
    mkdirSync(join(ROOT, 'test-output'), { recursive: true });
    writeFileSync(join(ROOT, 'test-output', 'faults-network.log'), this.log.join('\n'));
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

export function mail(h: {
  messageId: string;
  to: string;
  subject: string;
  body?: string;
  headers?: string[];
}) {
  return [
    'From: Customer <customer@faults.example>',
    `To: ${h.to}`,
    `Subject: ${h.subject}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${h.messageId}>`,
    `X-Forwarded-To: ${h.to}`,
    ...(h.headers ?? []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    h.body ?? 'Hello from the fault suite.',
    '',
  ].join('\r\n');
}

/** {@link poll} with the fault suite's patience: a minute, every half second. */
export function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 500) {
  return poll(check, timeoutMs, everyMs);
}

export { demoMailbox };
