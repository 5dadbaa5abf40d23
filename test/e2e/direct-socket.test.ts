// The benches' way past wrangler dev's proxy worker (scripts/network.ts `directUrl`): each edge's own
// workerd socket is found from its process group, answers as that edge, and carries mail all the
// way to central like the public port does.
import { describe, expect, inject, test } from 'vitest';
import { demoMailbox } from '../../scripts/demo-data.js';
import { LOCAL_INBOUND_TOKEN } from '../../scripts/network.js';
import { edgeUrl, firstListed, forwardingAddress, uniqueMessageId } from './helpers.js';

const REGIONS = ['us', 'eu', 'apac'] as const;

describe("an edge's own workerd socket (directUrl)", () => {
  test('is found for every edge, is not the public port, and answers as that edge', async () => {
    const direct = inject('edgeDirectUrls');
    for (const region of REGIONS) {
      const url = direct[region];
      expect(url, region).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(url).not.toBe(edgeUrl(region));
      const health = (await (await fetch(`${url}/health`)).json()) as { role: string; region: string };
      expect(health).toMatchObject({ role: 'edge', region });
    }
  });

  test('takes a forwarded message that central then lists, and refuses one without the token', async () => {
    const url = inject('edgeDirectUrls').eu as string;
    const mailbox = demoMailbox({ region: 'eu', filter: 'all' });
    const to = await forwardingAddress('eu', mailbox.deployment);
    const messageId = uniqueMessageId('direct-socket');
    const raw = [
      'From: Customer <customer@unknown-customer.example>',
      `To: ${mailbox.address}`,
      'Subject: past the proxy',
      `Message-ID: ${messageId}`,
      'Content-Type: text/plain; charset=utf-8',
      `X-Forwarded-To: ${mailbox.address}`,
      '',
      'Hello.',
      '',
    ].join('\r\n');
    const path = `/api/v1/inbound?from=customer%40unknown-customer.example&to=${encodeURIComponent(to)}`;
    const refused = await fetch(`${url}${path}`, { method: 'POST', body: raw });
    expect(refused.status).toBe(401);
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${LOCAL_INBOUND_TOKEN}` },
      body: raw,
    });
    expect(res.status, await res.text()).toBe(202);
    const listed = await firstListed('activities', messageId, 30_000);
    expect(listed.id).toBeTruthy();
  }, 60_000);
});
