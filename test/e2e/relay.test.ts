// The SMTP ingress relay against the real local network's edges (nodemailer as the sending
// server): 250 only on the edge's 2xx, 451 4.3.0 when the edge fails, times out or cannot be
// reached, 552 5.3.4 for oversize, --allow, --auth, STARTTLS and the time limits. Postfix, swaks
// and the deferral/re-delivery path are in the interop suite (npm run test:interop).
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, describe, expect, test } from 'vitest';
import { freePort, LOCAL_INBOUND_TOKEN, ROOT } from '../../scripts/network.js';
import { parseRelayArgs } from '../../src/relay/cli.js';
import {
  RELAY_MAX_RECIPIENTS,
  type Relay,
  type RelayOptions,
  replyForEdge,
  startRelay,
} from '../../src/relay/relay.js';
import { central, edgeUrl, eventually, rawMessage, uniqueMessageId } from './helpers.js';

const CERT = join(ROOT, 'test/fixtures/tls/relay-test.crt');
const KEY = join(ROOT, 'test/fixtures/tls/relay-test.key');
const MAILBOX = 'alice@contoso.example'; // us, filter "all"

const relays: Relay[] = [];
const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(relays.map((r) => r.stop()));
  for (const s of servers) s.close();
});

async function relay(over: Partial<RelayOptions> = {}): Promise<Relay> {
  const r = await startRelay({
    edgeUrl: edgeUrl('us'),
    token: LOCAL_INBOUND_TOKEN,
    host: '127.0.0.1',
    port: 0,
    log: () => {},
    ...over,
  });
  relays.push(r);
  return r;
}

async function forwarding(region: 'us' | 'eu' | 'apac', deployment = 'contoso'): Promise<string> {
  const res = await central('GET', `/api/v1/deployments/${deployment}`);
  return (
    (res.json as { forwardingAddresses?: Record<string, string> }).forwardingAddresses?.[region] ??
    `crm@${region}.edge.localhost`
  );
}

type SendResult = { ok: true; response: string } | { ok: false; code?: number; response: string };

async function send(
  r: Relay,
  opts: {
    to?: string[];
    raw?: string;
    auth?: { user: string; pass: string };
    tls?: boolean;
  } = {},
): Promise<SendResult> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: r.port,
    secure: false,
    ...(opts.tls
      ? { requireTLS: true, tls: { ca: readFileSync(CERT), servername: 'localhost' } }
      : { ignoreTLS: true }),
    ...(opts.auth ? { auth: opts.auth } : {}),
  });
  const messageId = uniqueMessageId('relay');
  const raw =
    opts.raw ??
    rawMessage({
      from: 'alice.smith@northwind.example',
      to: MAILBOX,
      subject: 'Relay test',
      messageId,
      extra: { 'X-Forwarded-To': MAILBOX },
    });
  try {
    const info = await transport.sendMail({
      envelope: { from: 'alice.smith@northwind.example', to: opts.to ?? [await forwarding('us')] },
      raw,
    });
    return { ok: true, response: info.response };
  } catch (err) {
    const e = err as { responseCode?: number; response?: string; message: string };
    return { ok: false, code: e.responseCode, response: e.response ?? e.message };
  } finally {
    transport.close();
  }
}

/** A stand-in for an edge that fails in ways the real one cannot be made to on demand. */
async function fakeEdge(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const srv = createServer(handler);
  servers.push(srv);
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', () => res()));
  const address = srv.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

/** A fake edge that tracks everything and records the `to`s of the last request. */
async function recordingEdge() {
  const seen = { to: [] as string[] };
  const edge = await fakeEdge((req, res) => {
    seen.to = new URL(req.url ?? '/', 'http://x').searchParams.getAll('to');
    req.resume();
    req.on('end', () => {
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'tracked', reason: 'tracked:all', recipients: [] }));
    });
  });
  return { edge, seen };
}

describe('SMTP ingress relay', () => {
  test('answers 250 only once the edge has accepted the message, and the activity appears at central', async () => {
    const r = await relay();
    const messageId = uniqueMessageId('relay-ok');
    const res = await send(r, {
      raw: rawMessage({
        from: 'alice.smith@northwind.example',
        to: MAILBOX,
        subject: 'Relayed quote',
        messageId,
        extra: { 'X-Forwarded-To': MAILBOX },
      }),
    });
    expect(res).toMatchObject({ ok: true });
    expect(res.response).toMatch(/^250 2\.0\.0 Accepted by edge us \(tracked: tracked:all\)/);
    const activity = await eventually(async () => {
      const page = await central('GET', `/api/v1/activities?messageId=${encodeURIComponent(messageId)}`);
      return (page.json as { items: Array<{ mailboxes: string[]; regions: string[] }> }).items[0];
    });
    expect(activity.mailboxes).toEqual([MAILBOX]);
    expect(activity.regions).toEqual(['us']);
  });

  test('passes every RCPT TO to the edge, which answers per recipient', async () => {
    const { edge, seen } = await recordingEdge();
    const r = await relay({ edgeUrl: edge });
    const res = await send(r, { to: ['one@us.edge.localhost', 'two@us.edge.localhost'] });
    expect(res.ok).toBe(true);
    expect(seen.to).toEqual(['one@us.edge.localhost', 'two@us.edge.localhost']);
  });

  test('answers 451 4.3.0 when the edge cannot be reached', async () => {
    const r = await relay({ edgeUrl: `http://127.0.0.1:${await freePort()}` });
    const res = await send(r);
    expect(res).toMatchObject({ ok: false, code: 451 });
    expect(res.response).toMatch(/451 4\.3\.0 .*unreachable/);
    expect(r.stats).toMatchObject({ accepted: 0, deferred: 1 });
  });

  test('answers 451 4.3.0 when the edge answers 5xx', async () => {
    const edge = await fakeEdge((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'unavailable', message: 'temporary failure' } }));
      });
    });
    const res = await send(await relay({ edgeUrl: edge }));
    expect(res).toMatchObject({ ok: false, code: 451 });
    expect(res.response).toMatch(/4\.3\.0 .*503 \(unavailable\)/);
  });

  test('answers 451 4.3.0 when the edge does not answer within the message time limit', async () => {
    const edge = await fakeEdge(() => {
      /* never answers */
    });
    const r = await relay({ edgeUrl: edge, messageTimeoutMs: 1500 });
    const res = await send(r);
    expect(res).toMatchObject({ ok: false, code: 451 });
    expect(res.response).toMatch(/did not answer within 1500 ms/);
  });

  test('maps the edge’s oversize answer to 552 5.3.4 and unknown-recipient to 550 5.1.1', () => {
    expect(replyForEdge(413, { reason: 'oversize' }).code).toBe(552);
    expect(replyForEdge(413, { reason: 'oversize' }).message).toMatch(/^5\.3\.4 /);
    expect(replyForEdge(400, { reason: 'unknown-recipient' })).toMatchObject({ code: 550 });
    expect(replyForEdge(400, { reason: 'unknown-recipient' }).message).toMatch(/^5\.1\.1 /);
    expect(replyForEdge(401, { error: { code: 'unauthorized' } }).code).toBe(451);
    expect(replyForEdge(202, { status: 'tossed', reason: 'no-route' }).code).toBe(250);
  });

  test('the edge’s real oversize answer (deployment size limit) becomes 552 5.3.4', async () => {
    const dep = `relaysize${Date.now().toString(36)}`;
    expect(
      (await central('PUT', `/api/v1/deployments/${dep}`, { name: 'Relay size', maxMessageBytes: 2000 }))
        .status,
    ).toBe(200);
    const mailbox = `big@${dep}.example`;
    expect(
      (
        await central('PUT', `/api/v1/mailboxes/${encodeURIComponent(mailbox)}`, {
          region: 'us',
          deployment: dep,
          userId: 'u-big',
          filter: 'all',
        })
      ).status,
    ).toBe(200);
    const to = await forwarding('us', dep);
    const r = await relay();
    const raw = rawMessage({
      from: 'alice.smith@northwind.example',
      to: mailbox,
      subject: 'Large attachment',
      messageId: uniqueMessageId('relay-big'),
      extra: { 'X-Forwarded-To': mailbox },
      body: 'x'.repeat(5000),
    });
    // The edge picks the new route and the new deployment's forwarding address up with its next
    // snapshot refresh; until then the address is unknown to it (550 5.1.1).
    const res = await eventually(
      async () => {
        const out = await send(r, { to: [to], raw });
        return out.ok || out.code === 550 ? undefined : out;
      },
      60_000,
      2000,
    );
    expect(res.code).toBe(552);
    expect(res.response).toMatch(/552 5\.3\.4 /);
  });

  test('refuses a message larger than its SIZE limit with 552 5.3.4, streaming without buffering it', async () => {
    const r = await relay({ maxBytes: 64 * 1024 });
    const raw = rawMessage({
      from: 'alice.smith@northwind.example',
      to: MAILBOX,
      subject: 'Too big',
      messageId: uniqueMessageId('relay-huge'),
      body: 'y'.repeat(200 * 1024),
    });
    const res = await send(r, { raw });
    expect(res).toMatchObject({ ok: false, code: 552 });
    expect(res.response).toMatch(/5\.3\.4/);
  });

  test('advertises SIZE 25 MiB and refuses MAIL FROM with a larger declared SIZE', async () => {
    const r = await relay();
    const transcript = await new Promise<string>((res, rej) => {
      const sock = connect(r.port, '127.0.0.1');
      let out = '';
      const steps = [
        'EHLO client.test\r\n',
        `MAIL FROM:<a@northwind.example> SIZE=${26 * 1024 * 1024}\r\n`,
        'QUIT\r\n',
      ];
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => {
        out += d;
        if (/^(220|250|552|221) /m.test(d.split('\r\n').filter(Boolean).at(-1) ?? '') && steps.length)
          sock.write(steps.shift()!);
      });
      sock.on('close', () => res(out));
      sock.on('error', rej);
    });
    expect(transcript).toMatch(/^250[- ]SIZE 26214400\r?$/m);
    expect(transcript).toMatch(/^552 /m);
  });

  test('refuses connections from outside --allow', async () => {
    const r = await relay({ allow: ['10.0.0.0/8'] });
    const res = await send(r);
    expect(res).toMatchObject({ ok: false, code: 554 });
    expect(res.response).toMatch(/5\.7\.1/);
  });

  test('with --auth, refuses mail without valid credentials', async () => {
    const r = await relay({ auth: { user: 'exchange', pass: 's3cret' } });
    const none = await send(r);
    expect(none).toMatchObject({ ok: false, code: 530 });
    const wrong = await send(r, { auth: { user: 'exchange', pass: 'nope' } });
    expect(wrong).toMatchObject({ ok: false, code: 535 });
    const right = await send(r, { auth: { user: 'exchange', pass: 's3cret' } });
    expect(right).toMatchObject({ ok: true });
  });

  test('offers STARTTLS when given a certificate and relays over TLS with AUTH', async () => {
    const r = await relay({ tlsCert: CERT, tlsKey: KEY, auth: { user: 'exchange', pass: 's3cret' } });
    const res = await send(r, { tls: true, auth: { user: 'exchange', pass: 's3cret' } });
    expect(res).toMatchObject({ ok: true });
    expect(res.response).toMatch(/^250 2\.0\.0 Accepted by edge us/);
  });

  test('refuses --auth without TLS on a non-loopback address', async () => {
    await expect(
      startRelay({
        edgeUrl: edgeUrl('us'),
        token: 't',
        host: '0.0.0.0',
        port: 0,
        auth: { user: 'u', pass: 'p' },
      }),
    ).rejects.toThrow(/loopback/);
  });

  test('closes a connection at the per-connection time limit, however active it is', async () => {
    const r = await relay({ connectionTimeoutMs: 1000 });
    const closed = await new Promise<boolean>((res) => {
      const sock = connect(r.port, '127.0.0.1');
      // Keep the idle timer happy: a NOOP every 200 ms.
      const t = setInterval(() => sock.write('NOOP\r\n'), 200);
      sock.on('close', () => {
        clearInterval(t);
        res(true);
      });
      sock.on('error', () => {});
      setTimeout(() => {
        clearInterval(t);
        sock.destroy();
        res(false);
      }, 20_000).unref();
    });
    expect(closed).toBe(true);
  });

  test('the smtp command parses its arguments', () => {
    expect(
      parseRelayArgs([
        '--edge',
        'http://127.0.0.1:8789',
        '--token',
        'tok',
        '--listen',
        '127.0.0.1:2526',
        '--allow',
        '10.0.0.0/8,192.168.1.0/24',
        '--allow',
        '::1',
        '--auth',
        'exchange:pa:ss',
      ]),
    ).toMatchObject({
      edgeUrl: 'http://127.0.0.1:8789',
      token: 'tok',
      host: '127.0.0.1',
      port: 2526,
      allow: ['10.0.0.0/8', '192.168.1.0/24', '::1'],
      auth: { user: 'exchange', pass: 'pa:ss' },
    });
    expect(() => parseRelayArgs(['--edge', 'x', '--token', 't', '--listen', 'nope'])).toThrow(/host:port/);
  });
});

/** Opens a connection (from `localAddress`, any of 127.0.0.0/8) and resolves with the server's first reply line. */
function greeting(
  port: number,
  localAddress = '127.0.0.1',
): Promise<{ line: string; sock: import('node:net').Socket }> {
  return new Promise((res, rej) => {
    const sock = connect({ port, host: '127.0.0.1', localAddress });
    let out = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      out += d;
      const i = out.indexOf('\r\n');
      if (i >= 0) res({ line: out.slice(0, i), sock });
    });
    sock.on('error', rej);
    sock.on('close', () => res({ line: out.trim(), sock }));
  });
}

describe('SMTP ingress relay: limits a hostile or broken client cannot pass', () => {
  test('takes 100 RCPT TO per transaction (RFC 5321 §4.5.3.1.8) and answers 452 4.5.3 beyond; the message goes to the 100', async () => {
    const { edge, seen } = await recordingEdge();
    const r = await relay({ edgeUrl: edge });
    const to = Array.from({ length: 150 }, (_, i) => `r${i}@us.edge.localhost`);
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: r.port,
      secure: false,
      ignoreTLS: true,
    });
    try {
      const info = await transport.sendMail({
        envelope: { from: 'alice.smith@northwind.example', to },
        raw: rawMessage({
          from: 'alice.smith@northwind.example',
          to: MAILBOX,
          subject: 'Many recipients',
          messageId: uniqueMessageId('relay-rcpt'),
        }),
      });
      expect(info.accepted).toHaveLength(RELAY_MAX_RECIPIENTS);
      expect(info.rejected).toEqual(to.slice(RELAY_MAX_RECIPIENTS));
      const errors = (info as unknown as { rejectedErrors: Array<{ response: string }> }).rejectedErrors;
      expect(errors[0]?.response).toMatch(/^452 4\.5\.3 /);
      expect(info.response).toMatch(/^250 /);
    } finally {
      transport.close();
    }
    expect(seen.to).toEqual(to.slice(0, RELAY_MAX_RECIPIENTS));
  });

  test('answers 421 to a client beyond maxClients, and serves again once one leaves', async () => {
    const r = await relay({ maxClients: 3, maxConnectionsPerAddress: 10 });
    const open = [];
    for (const from of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) open.push(await greeting(r.port, from));
    expect(open.map((o) => o.line.slice(0, 4))).toEqual(['220 ', '220 ', '220 ']);
    const refused = await greeting(r.port, '127.0.0.5');
    expect(refused.line).toMatch(/^421 /);
    refused.sock.destroy();
    open[0]?.sock.destroy();
    const again = await eventually(async () => {
      const g = await greeting(r.port, '127.0.0.5');
      g.sock.destroy();
      return g.line.startsWith('220 ') ? g.line : undefined;
    });
    expect(again).toMatch(/^220 /);
    for (const o of open) o.sock.destroy();
  });

  test('answers 421 4.7.0 to a client address over its connection cap; other addresses are served', async () => {
    const r = await relay({ maxConnectionsPerAddress: 2 });
    const first = await greeting(r.port, '127.0.0.2');
    const second = await greeting(r.port, '127.0.0.2');
    expect([first.line, second.line].map((l) => l.slice(0, 4))).toEqual(['220 ', '220 ']);
    const third = await greeting(r.port, '127.0.0.2');
    expect(third.line).toMatch(/^421 4\.7\.0 /);
    third.sock.destroy();
    const other = await greeting(r.port, '127.0.0.3');
    expect(other.line).toMatch(/^220 /);
    other.sock.destroy();
    // A connection that ends frees its place.
    first.sock.destroy();
    const later = await eventually(async () => {
      const g = await greeting(r.port, '127.0.0.2');
      g.sock.destroy();
      return g.line.startsWith('220 ') ? g.line : undefined;
    });
    expect(later).toMatch(/^220 /);
    second.sock.destroy();
  });

  test('--max-clients and --max-per-address set the connection caps', () => {
    const base = ['--edge', 'http://127.0.0.1:8789', '--token', 't', '--listen', '127.0.0.1:2526'];
    expect(parseRelayArgs([...base, '--max-clients', '10', '--max-per-address', '5'])).toMatchObject({
      maxClients: 10,
      maxConnectionsPerAddress: 5,
    });
    expect(() => parseRelayArgs([...base, '--max-clients', '0'])).toThrow(/--max-clients/);
    expect(() => parseRelayArgs([...base, '--max-per-address', '2.5'])).toThrow(/--max-per-address/);
  });

  test('AUTH accepts exactly the configured credentials (compared in constant time)', async () => {
    const r = await relay({ auth: { user: 'exchange', pass: 'pässwörd-🔑' } });
    for (const wrong of [
      { user: 'exchange', pass: 'pässwörd-' },
      { user: 'exchange', pass: 'pässwörd-🔑x' },
      { user: 'exchangE', pass: 'pässwörd-🔑' },
      { user: 'exchange', pass: 'pässwörd-🔐' },
    ])
      expect(await send(r, { auth: wrong }), JSON.stringify(wrong)).toMatchObject({ ok: false, code: 535 });
    expect(await send(r, { auth: { user: 'exchange', pass: 'pässwörd-🔑' } })).toMatchObject({ ok: true });
  });
});

describe('SMTP ingress relay with a relay token (relay:<deployment>)', () => {
  test("delivers for its deployment's forwarding address while active, not for another's, and stops once revoked", async () => {
    const minted = await central('POST', '/api/v1/tokens', { scope: 'relay:contoso', label: 'e2e relay' });
    expect(minted.status).toBe(201);
    const { id, token } = minted.json as { id: string; token: string };
    const r = await relay({ token });
    // The edge knows the token once its snapshot carries it (central's push, or the next poll).
    const accepted = await eventually(
      async () => {
        const res = await send(r);
        return res.ok ? res : undefined;
      },
      60_000,
      1000,
    );
    expect(accepted.response).toMatch(/^250 2\.0\.0 Accepted by edge us/);
    // Another deployment's forwarding address: the edge refuses the token for it (403 → 451, mail waits).
    const foreign = await send(r, { to: [await forwarding('us', 'fabrikam')] });
    expect(foreign).toMatchObject({ ok: false, code: 451 });
    expect(foreign.response).toMatch(/403 \(forbidden\)/);

    expect((await central('DELETE', `/api/v1/tokens/${id}`)).status).toBe(200);
    const refused = await eventually(
      async () => {
        const res = await send(r);
        return res.ok ? undefined : res;
      },
      60_000,
      1000,
    );
    expect(refused).toMatchObject({ ok: false, code: 451 });
    expect(refused.response).toMatch(/401 \(unauthorized\)/);
  });
});
