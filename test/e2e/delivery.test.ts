import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { demoMailbox } from '../../scripts/demo-data.js';
import { deriveEdgeCredentials, freePort, LOCAL_EDGE_KEY_SECRET } from '../../scripts/network.js';
import { central, edgeUrl, eventually, firstListed, forwardMail, uniqueMessageId } from './helpers.js';

interface Hook {
  headers: IncomingMessage['headers'];
  body: string;
}

describe('onward delivery to a CRM webhook', () => {
  const received: Hook[] = [];
  let server: Server;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  });

  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  test('a new activity is POSTed to the webhook, signed with the deployment webhook secret', async () => {
    const dep = await central('PUT', '/api/v1/deployments/hooked', {
      name: 'Hooked Corp',
      webhookUrl: `http://127.0.0.1:${port}/crm/hook`,
    });
    expect(dep.status).toBe(200);
    const hank = { address: 'hank@hooked.example', deployment: 'hooked' };
    await central('PUT', `/api/v1/mailboxes/${hank.address}`, {
      region: 'us',
      deployment: 'hooked',
      userId: 'u-hank',
      filter: 'all',
    });
    // The edge picks up the new route with its next snapshot refresh (≤ 30 s + cron tick).
    const messageId = uniqueMessageId('hook');
    const probes: string[] = [];
    await eventually(
      async () => {
        const id = uniqueMessageId('hook-probe');
        probes.push(id);
        await forwardMail('us', hank, { from: 'x@customer.example', subject: 'probe', messageId: id });
        const res = await central('GET', '/api/v1/activities?deployment=hooked');
        return res.json.items[0];
      },
      70_000,
      3000,
    );
    await forwardMail('us', hank, {
      from: 'Buyer <buyer@customer.example>',
      subject: 'Webhook me',
      messageId,
    });
    const hook = await eventually(async () => received.find((h) => h.body.includes('Webhook me')), 20_000);
    const payload = JSON.parse(hook.body);
    expect(payload).toMatchObject({
      event: 'activity.accepted',
      activity: { deployment: 'hooked', subject: 'Webhook me', mailboxes: ['hank@hooked.example'] },
    });
    const timestamp = hook.headers['x-crm-router-timestamp'] as string;
    // The secret is shown once, when the webhook URL is first set (else rotate for a new one).
    const secret: string =
      dep.json.webhookSecret ??
      (await central('POST', '/api/v1/deployments/hooked/webhook-secret/rotate')).json.webhookSecret;
    const expected = createHmac('sha256', secret).update(`${timestamp}.${hook.body}`).digest('hex');
    expect(hook.headers['x-crm-router-signature']).toBe(expected);
  });
});

describe('egress policy metadata', () => {
  beforeAll(async () => {
    await central('PUT', '/api/v1/regions/apac', {
      name: 'Asia-Pacific',
      rulesEnabled: true,
      egress: 'metadata',
    });
  });
  afterAll(async () => {
    await central('PUT', '/api/v1/regions/apac', {
      name: 'Asia-Pacific',
      rulesEnabled: true,
      egress: 'metadata+subject',
    });
  });

  test('central holds no subject and no body; the raw message is reachable only through an expiring signed edge link', async () => {
    const mailbox = demoMailbox({ region: 'apac', filter: 'all' });
    const secretSubject = `Confidential merger ${Date.now()}`;
    let messageId = '';
    // Wait until the apac edge classifies with the metadata policy (snapshot refresh).
    const activity = await eventually(
      async () => {
        messageId = uniqueMessageId('meta');
        await forwardMail('apac', mailbox, {
          from: 'buyer@customer.example',
          subject: secretSubject,
          messageId,
          body: 'The body stays in the region.',
        });
        const found = await firstListed('activities', messageId);
        return found.egress === 'metadata' ? found : undefined;
      },
      90_000,
      2000,
    );
    expect(activity.subject).toBeNull();
    expect(JSON.stringify(activity)).not.toContain('Confidential');
    expect(JSON.stringify(activity)).not.toContain('stays in the region');
    const search = await central('GET', `/api/v1/activities?q=${encodeURIComponent(secretSubject)}`);
    expect(search.json.items.map((a: { id: string }) => a.id)).not.toContain(activity.id);

    const content = await central('GET', `/api/v1/activities/${activity.id}/content?ttlSeconds=60`);
    const raw = content.json.items.find((i: { kind: string }) => i.kind === 'raw');
    expect(raw).toMatchObject({ region: 'apac', contentType: 'message/rfc822' });
    expect(raw.url.startsWith(edgeUrl('apac'))).toBe(true);
    const fetched = await fetch(raw.url);
    expect(fetched.status).toBe(200);
    expect(await fetched.text()).toContain(secretSubject);

    // Without a signature, with a tampered one, or past its expiry, the edge refuses.
    const url = new URL(raw.url);
    const unsigned = new URL(url);
    unsigned.search = '';
    expect((await fetch(unsigned)).status).toBe(401);
    const tampered = new URL(url);
    tampered.searchParams.set('sig', '0'.repeat(64));
    expect((await fetch(tampered)).status).toBe(403);
    const key = decodeURIComponent(url.pathname.slice('/raw/'.length));
    const past = Date.now() - 1000;
    const { signingKey } = await deriveEdgeCredentials(LOCAL_EDGE_KEY_SECRET, 'apac');
    const expired = new URL(url);
    expired.searchParams.set('exp', String(past));
    expired.searchParams.set(
      'sig',
      createHmac('sha256', signingKey).update(`raw:${key}:${past}`).digest('hex'),
    );
    const res = await fetch(expired);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('expired');
  });
});
