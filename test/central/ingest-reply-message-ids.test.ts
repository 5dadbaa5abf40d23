// Central's exact re-check of a reply matched at the edge by In-Reply-To / References: the ids are
// compared as src/core's normaliseMessageId defines them (no whitespace, no angle brackets, lower
// case), whatever form a sender of the batch gave them in.
import { beforeEach, describe, expect, test } from 'vitest';
import { itemMaker, sendBatch } from './edge-batch.js';
import { api, seedBasics } from './helpers.js';

const reply = itemMaker('reply', () => ({
  contentHash: 'b'.repeat(64),
  receivedAt: Date.now() - 50,
  sizeBytes: 900,
  reason: 'tracked:in-reply-to',
  correlation: { method: 'in-reply-to', detail: 'In-Reply-To matches a registered outbound message' },
  from: { address: 'someone@elsewhere.example' },
  to: [{ address: 'alice@contoso.example' }],
  subject: 'RE: Quote',
}));

describe('a reply re-checked at central against registered outbound Message-IDs', () => {
  let outboundId: string;
  beforeEach(async () => {
    await seedBasics();
    await api('PUT', '/api/v1/mailboxes/alice@contoso.example', {
      body: { region: 'us', deployment: 'contoso', userId: 'u-alice', filter: 'all' },
    });
    outboundId = `Out-${crypto.randomUUID()}@Contoso.Example`;
    const reg = await api('POST', '/api/v1/deployments/contoso/outbound', {
      body: {
        messageId: `<${outboundId}>`,
        userId: 'u-alice',
        subject: 'Quote',
        regarding: { type: 'opportunity', id: 'opp-9' },
      },
    });
    expect(reg.status).toBe(201);
  });

  test.each([
    ['In-Reply-To as the edge sends it (normalised)', (id: string) => ({ inReplyTo: [id.toLowerCase()] })],
    ['In-Reply-To in upper case', (id: string) => ({ inReplyTo: [id.toUpperCase()] })],
    ['In-Reply-To in angle brackets', (id: string) => ({ inReplyTo: [`<${id}>`] })],
    ['In-Reply-To with folding whitespace', (id: string) => ({ inReplyTo: [` <${id}>\r\n `] })],
    [
      'References only, bracketed and mixed case',
      (id: string) => ({ references: ['<a@b.example>', `<${id}>`] }),
    ],
  ])('%s is accepted and names the outbound message’s regarding record', async (_name, ids) => {
    const it = reply(ids(outboundId));
    const res = await sendBatch({ items: [it] });
    expect(res.status).toBe(200);
    expect(res.json.results).toEqual([{ id: it.id, status: 'accepted', activityId: expect.any(String) }]);
    const found = await api('GET', `/api/v1/activities?messageId=${encodeURIComponent(it.messageId!)}`);
    expect(found.json.items).toHaveLength(1);
    expect(found.json.items[0].regarding).toEqual({ type: 'opportunity', id: 'opp-9' });
  });
});
