// SMTP ingress relay: lets a mail server that cannot use Cloudflare Email Routing (Postfix or
// Exchange on premises behind a firewall, Microsoft 365 without external forwarding) deliver to a
// regional edge as a smart host or forwarding target. It classifies nothing: every message is
// streamed to the edge's `POST /api/v1/inbound` with its envelope, and the SMTP reply is the edge's
// answer — `250` only once the edge has accepted the message (it is then in the edge's queue or
// R2), so the relay never holds a message the sender believes delivered.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { BlockList, isIP, type Socket } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

/** Email Routing's limit, advertised with the SMTP `SIZE` extension (RFC 1870). */
export const RELAY_MAX_BYTES = 25 * 1024 * 1024;

/**
 * Recipients per transaction: RFC 5321 §4.5.3.1.8 makes 100 the least a server must accept; beyond
 * it `452 4.5.3` (§4.5.3.1.10) tells the client to send the rest in another transaction. The edge
 * processes a message once per recipient, so this bounds the work one DATA can cause.
 */
export const RELAY_MAX_RECIPIENTS = 100;

/**
 * Clients served at once; one more is answered `421` and may retry (RFC 5321 §3.8). Postfix's
 * smtpd runs at most 100 processes by default (`default_process_limit`).
 */
export const RELAY_MAX_CLIENTS = 100;

/**
 * Connections from one client address at once, so one host cannot take every place: Postfix's
 * `smtpd_client_connection_count_limit` default (50), above its 20 parallel deliveries to a
 * destination (`default_destination_concurrency_limit`).
 */
export const RELAY_MAX_CONNECTIONS_PER_ADDRESS = 50;

/** Messages up to this size are read whole before they are sent to the edge; larger ones stream. */
export const STREAM_THRESHOLD = 1024 * 1024;

export interface RelayOptions {
  /** The region's edge, e.g. `https://edge-eu.example.com` (its `/api/v1/inbound` is used). */
  edgeUrl: string;
  /** A relay token (`relay:<deployment>`) or the region's `INBOUND_TOKEN`. */
  token: string;
  host: string;
  port: number;
  tlsCert?: string;
  tlsKey?: string;
  /** Client networks allowed to connect (CIDR or single address). Default: loopback only. */
  allow?: string[];
  /** When set, clients must authenticate (PLAIN/LOGIN) with this user and password. */
  auth?: { user: string; pass: string };
  /** Longest a connection may stay open, whatever it does (default 10 min). */
  connectionTimeoutMs?: number;
  /** Longest from DATA to the reply, including the edge's answer (default 120 s). */
  messageTimeoutMs?: number;
  /** Idle time before the relay closes a silent connection (default 60 s). */
  idleTimeoutMs?: number;
  maxBytes?: number;
  /** Clients served at once (default {@link RELAY_MAX_CLIENTS}). */
  maxClients?: number;
  /** Connections from one client address at once (default {@link RELAY_MAX_CONNECTIONS_PER_ADDRESS}). */
  maxConnectionsPerAddress?: number;
  /** Host name in the greeting and the Received header. */
  name?: string;
  log?: (line: string) => void;
  /** Called after each message's reply: its timings (for the soak test and the bench). */
  onMessage?: (m: RelayMessageTiming) => void;
}

export interface RelayMessageTiming {
  code: number;
  bytes: number;
  /** From DATA to the SMTP reply. */
  totalMs: number;
  /** From the request to the edge to the end of its answer (includes streaming the body). */
  edgeMs: number;
}

export interface RelayStats {
  accepted: number;
  deferred: number;
  rejected: number;
}

export interface Relay {
  host: string;
  port: number;
  stats: RelayStats;
  stop(): Promise<void>;
}

/** An SMTP reply for a message, derived from the edge's HTTP answer. */
export interface SmtpReply {
  code: number;
  message: string;
}

const DEFAULT_ALLOW = ['127.0.0.0/8', '::1/128'];

/** Parses `--allow` entries into a BlockList (used as an allow list). Throws on a bad entry. */
export function allowList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [addr, bits] = entry.trim().split('/');
    const family = isIP(addr ?? '');
    if (!addr || family === 0) throw new Error(`--allow ${entry}: not an IP address or CIDR`);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else {
      const prefix = Number(bits);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32))
        throw new Error(`--allow ${entry}: bad prefix length`);
      list.addSubnet(addr, prefix, type);
    }
  }
  return list;
}

/** Whether a client address is in the allow list (IPv4-mapped IPv6 counts as IPv4). */
export function isAllowed(list: BlockList, address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return list.check(mapped, 'ipv4');
  const family = isIP(address);
  if (family === 0) return false;
  return list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

interface EdgeAnswer {
  reason?: string;
  status?: string;
  error?: { code?: string; message?: string };
  recipients?: Array<{ to: string; status?: string; reason?: string }>;
}

/**
 * Maps the edge's answer to the SMTP reply: 2xx ⇒ 250; 413 ⇒ 552 5.3.4; `unknown-recipient` ⇒
 * 550 5.1.1; anything else (5xx, other 4xx such as a wrong token, which an operator must fix
 * without losing mail) ⇒ 451 4.3.0 so the sending server keeps the message and retries.
 */
export function replyForEdge(status: number, body: EdgeAnswer | undefined, region = 'edge'): SmtpReply {
  const reason = body?.reason ?? body?.error?.code;
  if (status >= 200 && status < 300) {
    const unknown = (body?.recipients ?? []).filter((r) => r.reason === 'unknown-recipient');
    const all = body?.recipients?.length ?? 0;
    if (all > 0 && unknown.length === all)
      return {
        code: 550,
        message: '5.1.1 Recipient address rejected: not a forwarding address (unknown-recipient)',
      };
    return {
      code: 250,
      message: `2.0.0 Accepted by ${region} (${body?.status ?? 'accepted'}${body?.reason ? `: ${body.reason}` : ''})`,
    };
  }
  if (reason === 'unknown-recipient')
    return {
      code: 550,
      message: '5.1.1 Recipient address rejected: not a forwarding address (unknown-recipient)',
    };
  if (status === 413 || reason === 'oversize' || reason === 'payload_too_large')
    return { code: 552, message: '5.3.4 Message too big for the CRM router (oversize)' };
  return {
    code: 451,
    message: `4.3.0 ${region} answered ${status}${reason ? ` (${reason})` : ''}; try again later`,
  };
}

/**
 * The reason of a failed request: a socket error's code (node:http), or the cause fetch wraps
 * socket errors in (`fetch failed`).
 */
function failureCode(err: unknown): string {
  const e = err as {
    code?: string;
    cause?: { code?: string; errors?: { code?: string }[]; message?: string };
  };
  return e?.code ?? e?.cause?.code ?? e?.cause?.errors?.[0]?.code ?? e?.cause?.message ?? String(err);
}

/**
 * POSTs a whole message to the edge over a kept-alive connection (node:http): for the messages
 * read whole (up to STREAM_THRESHOLD, nearly all mail) it costs the relay a fraction of the CPU of
 * `fetch`, whose streams and per-request objects were most of the relay's own time per message
 * (issue 21: the relay's throughput, `relay.msgPerSec`).
 */
function postWhole(
  url: URL,
  agent: HttpAgent,
  headers: Record<string, string>,
  body: Buffer,
  signal: AbortSignal,
): Promise<{ status: number; text: string }> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        signal,
        headers: { ...headers, 'content-length': String(body.length) },
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function smtpError(reply: SmtpReply): Error & { responseCode: number } {
  return Object.assign(new Error(reply.message), { responseCode: reply.code });
}

/**
 * Whether `given` equals `expected` in time that does not depend on where they differ or on their
 * lengths: both are hashed to 32 bytes first (`timingSafeEqual` needs equal lengths).
 */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** The Received trace field this relay adds (RFC 5321 §4.4). */
function receivedHeader(session: SMTPServerSession, name: string): string {
  const helo = (session.hostNameAppearsAs || 'unknown').replace(/[^\w.:[\]-]/g, '');
  const proto = session.secure ? 'ESMTPS' : 'ESMTP';
  return `Received: from ${helo} ([${session.remoteAddress}])\r\n\tby ${name} (crm-router smtp) with ${proto} id ${session.id};\r\n\t${new Date().toUTCString().replace('GMT', '+0000')}\r\n`;
}

/** Starts the relay; resolves once it listens. */
export async function startRelay(opts: RelayOptions): Promise<Relay> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const maxBytes = opts.maxBytes ?? RELAY_MAX_BYTES;
  const messageTimeoutMs = opts.messageTimeoutMs ?? 120_000;
  const connectionTimeoutMs = opts.connectionTimeoutMs ?? 10 * 60_000;
  const allowed = allowList(opts.allow?.length ? opts.allow : DEFAULT_ALLOW);
  const edge = new URL('/api/v1/inbound', opts.edgeUrl);
  const name = opts.name ?? 'crm-router-relay';
  const tls = opts.tlsCert && opts.tlsKey;
  if ((opts.tlsCert && !opts.tlsKey) || (!opts.tlsCert && opts.tlsKey))
    throw new Error('--tls-cert and --tls-key go together');
  const loopback = opts.host === 'localhost' || /^127\./.test(opts.host) || opts.host === '::1';
  if (opts.auth && !tls && !loopback)
    throw new Error('--auth without --tls-cert/--tls-key is only allowed on a loopback address');
  const stats: RelayStats = { accepted: 0, deferred: 0, rejected: 0 };
  // Connections to the edge, kept open between messages: one per client served at once at most.
  const agentOptions = { keepAlive: true, maxSockets: opts.maxClients ?? RELAY_MAX_CLIENTS };
  const agent = edge.protocol === 'https:' ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  const maxPerAddress = opts.maxConnectionsPerAddress ?? RELAY_MAX_CONNECTIONS_PER_ADDRESS;
  /** Session ids of the connections each client address has open (past `onConnect`). */
  const byAddress = new Map<string, Set<string>>();
  let region = 'edge';
  try {
    const health = (await (
      await fetch(new URL('/health', opts.edgeUrl), { signal: AbortSignal.timeout(3000) })
    ).json()) as {
      region?: string;
    };
    if (health.region) region = `edge ${health.region}`;
  } catch {
    // The edge may be down at start; the relay answers 4xx until it is back.
  }

  const server = new SMTPServer({
    name,
    banner: 'crm-router SMTP ingress',
    size: maxBytes,
    ...(tls
      ? { key: readFileSync(opts.tlsKey!), cert: readFileSync(opts.tlsCert!) }
      : { hideSTARTTLS: true }),
    // Credentials only over TLS when TLS is configured; without a certificate, only on loopback
    // (the startup refuses --auth on another interface without TLS).
    allowInsecureAuth: !tls,
    authOptional: !opts.auth,
    authMethods: ['PLAIN', 'LOGIN'],
    disabledCommands: opts.auth ? [] : ['AUTH'],
    maxClients: opts.maxClients ?? RELAY_MAX_CLIENTS,
    socketTimeout: opts.idleTimeoutMs ?? 60_000,
    closeTimeout: 5_000,
    logger: false,
    onConnect(session, cb) {
      if (!isAllowed(allowed, session.remoteAddress)) {
        log(`[relay] refused connection from ${session.remoteAddress} (not in --allow)`);
        return cb(smtpError({ code: 554, message: '5.7.1 Client host not allowed to use this relay' }));
      }
      const open = byAddress.get(session.remoteAddress) ?? new Set<string>();
      if (open.size >= maxPerAddress) {
        log(`[relay] refused connection from ${session.remoteAddress} (${open.size} already open)`);
        return cb(
          smtpError({
            code: 421,
            message: `4.7.0 Too many connections from ${session.remoteAddress}; try again later`,
          }),
        );
      }
      open.add(session.id);
      byAddress.set(session.remoteAddress, open);
      cb();
    },
    onClose(session) {
      const open = byAddress.get(session.remoteAddress);
      if (!open?.delete(session.id)) return;
      if (open.size === 0) byAddress.delete(session.remoteAddress);
    },
    onAuth(auth, _session, cb) {
      // Both halves are always compared (no early exit on a wrong user name), in constant time.
      const userOk = sameSecret(auth.username ?? '', opts.auth?.user ?? '');
      const passOk = sameSecret(auth.password ?? '', opts.auth?.pass ?? '');
      const ok = opts.auth && (auth.method === 'PLAIN' || auth.method === 'LOGIN') && userOk && passOk;
      if (!ok) return cb(smtpError({ code: 535, message: '5.7.8 Authentication credentials invalid' }));
      cb(null, { user: auth.username });
    },
    onMailFrom(_address, session, cb) {
      if (opts.auth && !session.user)
        return cb(smtpError({ code: 530, message: '5.7.0 Authentication required' }));
      cb();
    },
    onRcptTo(address, session, cb) {
      // smtp-server's own `maxRecipients` answers without the enhanced code (it hides them unless
      // every reply carries one), so the cap is here. A repeated address replaces its entry.
      const rcpts = session.envelope.rcptTo;
      const key = address.address.toLowerCase();
      if (rcpts.length >= RELAY_MAX_RECIPIENTS && !rcpts.some((r) => r.address.toLowerCase() === key))
        return cb(smtpError({ code: 452, message: '4.5.3 Too many recipients' }));
      cb();
    },
    onData(stream, session, cb) {
      relayMessage(stream, session).then(
        (reply) => {
          if (reply.code === 250) {
            stats.accepted++;
            cb(null, reply.message);
          } else {
            if (reply.code >= 500) stats.rejected++;
            else stats.deferred++;
            cb(smtpError(reply));
          }
        },
        (err) => {
          stats.deferred++;
          cb(smtpError({ code: 451, message: `4.3.0 relay failure (${String(err)}); try again later` }));
        },
      );
    },
  });

  async function relayMessage(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<SmtpReply> {
    const url = new URL(edge);
    const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    url.searchParams.set('from', from);
    for (const r of session.envelope.rcptTo) url.searchParams.append('to', r.address);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error('message time limit')), messageTimeoutMs);
    let bytes = 0;
    let oversize = false;
    const trace = Buffer.from(receivedHeader(session, name));
    // destroyOnReturn: false — stopping early must not destroy smtp-server's DATA stream.
    const chunks = (stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>)[
      Symbol.asyncIterator
    ]();
    const count = (chunk: Buffer): Buffer => {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        oversize = true;
        throw new Error('oversize');
      }
      return chunk;
    };
    // A message up to STREAM_THRESHOLD is read first and sent with its length (the edge sizes its
    // buffer once, and a fixed-length request is cheaper for the edge than a chunked one); a
    // larger one is streamed as it arrives, so the relay never holds it whole.
    const head: Buffer[] = [trace];
    let headBytes = trace.length;
    let ended = false;
    async function* rest() {
      yield* head;
      for (;;) {
        const next = await chunks.next();
        if (next.done) return;
        yield count(next.value);
      }
    }
    const drained = new Promise<void>((res) => {
      if (stream.readableEnded) res();
      else stream.once('end', () => res());
    });
    const started = performance.now();
    let edgeMs = 0;
    let reply: SmtpReply;
    try {
      while (headBytes <= STREAM_THRESHOLD) {
        const next = await chunks.next();
        if (next.done) {
          ended = true;
          break;
        }
        head.push(count(next.value));
        headBytes += next.value.length;
      }
      const headers = { authorization: `Bearer ${opts.token}`, 'content-type': 'message/rfc822' };
      let res: { status: number; text: string };
      if (ended) res = await postWhole(url, agent, headers, Buffer.concat(head, headBytes), abort.signal);
      else {
        const streamed = await fetch(url, {
          method: 'POST',
          headers,
          body: rest() as unknown as BodyInit,
          duplex: 'half',
          signal: abort.signal,
        } as RequestInit);
        res = { status: streamed.status, text: await streamed.text() };
      }
      const text = res.text;
      edgeMs = performance.now() - started;
      let parsed: EdgeAnswer | undefined;
      try {
        parsed = text ? (JSON.parse(text) as EdgeAnswer) : undefined;
      } catch {
        parsed = undefined;
      }
      reply = replyForEdge(res.status, parsed, region);
    } catch (err) {
      if (oversize || stream.sizeExceeded)
        reply = { code: 552, message: `5.3.4 Message exceeds the ${maxBytes}-byte limit (oversize)` };
      else if (abort.signal.aborted)
        reply = {
          code: 451,
          message: `4.3.0 ${region} did not answer within ${messageTimeoutMs} ms; try again later`,
        };
      else
        reply = {
          code: 451,
          message: `4.3.0 ${region} unreachable (${failureCode(err)}); try again later`,
        };
    } finally {
      clearTimeout(timer);
    }
    // smtp-server needs the DATA stream read to its end before it sends the reply: release the
    // iterator (it does not destroy the stream) and let the rest flow away.
    await chunks.return?.();
    stream.resume();
    await drained;
    if (reply.code === 250 && stream.sizeExceeded)
      reply = { code: 552, message: `5.3.4 Message exceeds the ${maxBytes}-byte limit (oversize)` };
    const totalMs = performance.now() - started;
    opts.onMessage?.({ code: reply.code, bytes, totalMs, edgeMs });
    log(
      `[relay] ${session.id} from=<${from}> to=${session.envelope.rcptTo.map((r) => `<${r.address}>`).join(',')} size=${bytes} ${Math.round(totalMs)}ms → ${reply.code} ${reply.message}`,
    );
    return reply;
  }

  // Absolute per-connection limit, whatever the client does (a slow-drip client keeps the idle
  // timer happy forever).
  const netServer = (server as unknown as { server: import('node:net').Server }).server;
  netServer.on('connection', (socket: Socket) => {
    // SMTP is a dialogue of short lines: no Nagle delay on the replies.
    socket.setNoDelay(true);
    const t = setTimeout(() => socket.destroy(), connectionTimeoutMs);
    t.unref();
    socket.once('close', () => clearTimeout(t));
  });

  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(opts.port, opts.host, () => {
      server.off('error', rej);
      res();
    });
  });
  server.on('error', (err) => log(`[relay] ${String(err)}`));
  const address = netServer.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return {
    host: opts.host,
    port,
    stats,
    stop: () =>
      new Promise<void>((res) =>
        server.close(() => {
          agent.destroy();
          res();
        }),
      ),
  };
}
