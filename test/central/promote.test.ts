import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import { classify } from '../../src/core/classify.js';
import { readMessageFacts } from '../../src/core/message-facts.js';
import { buildSnapshot } from '../../src/core/snapshot.js';
import { DEFAULT_TOKEN_FORMAT } from '../../src/core/tracking-token.js';
import { api, freshBasics, mintToken } from './helpers.js';

function message(opts: { from?: string; messageId?: string; subject?: string; body?: string } = {}): string {
  return [
    `From: ${opts.from ?? 'Buyer <buyer@customer.example>'}`,
    'To: Ann <ann@contoso.example>',
    'Cc: bob@contoso.example',
    `Subject: ${opts.subject ?? 'Order 42'}`,
    'Date: Thu, 26 Nov 2026 10:00:00 +0000',
    `Message-ID: ${opts.messageId ?? '<order-42@customer.example>'}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    opts.body ?? 'Please send the quote.',
    '',
  ].join('\r\n');
}

const promote = (
  raw: BodyInit,
  opts: { mailbox?: string; token?: string; deployment?: string; type?: string } = {},
) =>
  api(
    'POST',
    `/api/v1/deployments/${opts.deployment ?? 'contoso'}/promote?mailbox=${encodeURIComponent(opts.mailbox ?? 'ann@contoso.example')}`,
    {
      raw,
      headers: { 'content-type': opts.type ?? 'message/rfc822' },
      ...(opts.token ? { token: opts.token } : {}),
    },
  );

async function activityCount(): Promise<number> {
  return (await env.DB.prepare('select count(*) as n from activities').first<{ n: number }>())?.n ?? 0;
}

describe('POST /api/v1/deployments/:id/promote', () => {
  beforeEach(async () => {
    await freshBasics();
    await api('PUT', '/api/v1/mailboxes/ann@contoso.example', {
      body: { region: 'us', deployment: 'contoso', userId: 'u-ann', filter: 'none' },
    });
    await api('PUT', '/api/v1/mailboxes/bob@contoso.example', {
      body: { region: 'eu', deployment: 'contoso', userId: 'u-bob' },
    });
    await api('PUT', '/api/v1/mailboxes/fay@fabrikam.example', {
      body: { region: 'us', deployment: 'fabrikam', userId: 'u-fay' },
    });
    await api('POST', '/api/v1/deployments/contoso/records', {
      body: { records: [{ type: 'contact', id: 'c-buyer', emails: ['buyer@customer.example'] }] },
    });
  });

  test('a promoted message becomes an activity (201), even for a mailbox whose filter is none', async () => {
    const res = await promote(message());
    expect(res.status).toBe(201);
    expect(res.json).toEqual({
      id: expect.any(String),
      deployment: 'contoso',
      messageId: 'order-42@customer.example',
      subject: 'Order 42',
      from: 'buyer@customer.example',
      fromName: 'Buyer',
      parties: [
        {
          role: 'from',
          address: 'buyer@customer.example',
          name: 'Buyer',
          recordType: 'contact',
          recordId: 'c-buyer',
        },
        { role: 'to', address: 'ann@contoso.example', name: 'Ann' },
        { role: 'cc', address: 'bob@contoso.example' },
      ],
      regarding: null,
      correlation: { method: 'promoted', detail: 'promoted by admin' },
      reason: 'tracked:promoted',
      mailboxes: ['ann@contoso.example'],
      regions: ['us'],
      egress: 'full',
      sizeBytes: message().length,
      content: [],
      bodyHeldRegionally: false,
      partiesHeldRegionally: false,
      receivedAt: expect.any(Number),
      ingestedAt: expect.any(Number),
      updatedAt: expect.any(Number),
    });
    const text = await env.DB.prepare('select body_text from activities where id = ?')
      .bind(res.json.id)
      .first<{ body_text: string }>();
    expect(text?.body_text).toContain('Please send the quote.');
  });

  test('promoting the same message twice gives one activity (201, then 200) that names both mailboxes', async () => {
    const first = await promote(message());
    const second = await promote(message(), { mailbox: 'bob@contoso.example' });
    expect(second.status).toBe(200);
    expect(second.json.id).toBe(first.json.id);
    expect(second.json.mailboxes).toEqual(['ann@contoso.example', 'bob@contoso.example']);
    expect(second.json.regions.sort()).toEqual(['eu', 'us']);
    expect(await activityCount()).toBe(1);
  });

  test("the region's egress policy decides what is kept: metadata keeps neither subject nor text", async () => {
    await api('PUT', '/api/v1/regions/eu', { body: { name: 'EU', rulesEnabled: false, egress: 'metadata' } });
    const res = await promote(message(), { mailbox: 'bob@contoso.example' });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ subject: null, egress: 'metadata', regions: ['eu'] });
    const text = await env.DB.prepare('select body_text from activities where id = ?')
      .bind(res.json.id)
      .first<{ body_text: string | null }>();
    expect(text?.body_text).toBeNull();
  });

  test('a suppressed sender is refused with 409 suppressed, no activity, and a disposition receipt', async () => {
    await api('POST', '/api/v1/deployments/contoso/suppressions', {
      body: { entries: ['@customer.example'] },
    });
    const res = await promote(message({ from: 'x@mail.customer.example' }));
    expect(res.status).toBe(409);
    expect(res.json).toEqual({
      error: {
        code: 'suppressed',
        message:
          'the sender matches @customer.example on the suppression list of contoso: suppressed mail is never tracked, not even by hand',
        requestId: expect.any(String),
      },
    });
    expect(await activityCount()).toBe(0);
    const receipts = await api('GET', '/api/v1/dispositions?messageId=%3Corder-42@customer.example%3E');
    expect(receipts.json.items).toEqual([
      {
        id: expect.any(String),
        region: 'us',
        reason: 'suppressed',
        detail: 'promotion refused: the sender is on the deployment suppression list',
        mailbox: 'ann@contoso.example',
        deployment: 'contoso',
        sizeBytes: expect.any(Number),
        at: expect.any(Number),
      },
    ]);
  });

  test('an entry the edge reads as the sender address (trailing dot) refuses promotion as well', async () => {
    // The edge's snapshot normalises the entry to buyer@customer.example and suppresses the
    // sender; promotion must apply the same rule, not a second lookup of its own.
    const entry = 'buyer@customer.example.';
    const snapshot = buildSnapshot({
      region: 'us',
      version: 1,
      builtAt: 0,
      hashKey: '0123456789abcdef0123456789abcdef',
      rulesEnabled: true,
      egress: 'full',
      mailboxes: [{ address: 'ann@contoso.example', deployment: 'contoso', userId: 'u-ann', filter: 'all' }],
      deployments: [
        {
          id: 'contoso',
          token: DEFAULT_TOKEN_FORMAT,
          maxMessageBytes: 1 << 20,
          attachmentPolicy: 'regional',
          smartMatch: false,
          suppressions: [entry],
          records: [],
          outbound: [],
        },
      ],
    });
    const facts = readMessageFacts(new TextEncoder().encode(message()), { to: 'ann@contoso.example' });
    expect(classify(facts, snapshot, { now: 0, deployment: 'contoso' }).reason).toBe('suppressed');

    await api('POST', '/api/v1/deployments/contoso/suppressions', { body: { entries: [entry] } });
    const res = await promote(message());
    expect(res.status).toBe(409);
    expect(res.json.error).toMatchObject({
      code: 'suppressed',
      message: `the sender matches ${entry} on the suppression list of contoso: suppressed mail is never tracked, not even by hand`,
    });
    expect(await activityCount()).toBe(0);
  });

  test('a forward-as-attachment wrapped as message/global promotes the wrapped message with its own body', async () => {
    const raw = [
      'From: Ann <ann@contoso.example>',
      'To: ann@contoso.example',
      'Subject: FW: Order 42',
      'Message-ID: <fw-42@contoso.example>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Forwarder note, not the message.',
      '--b1',
      'Content-Type: message/global',
      'Content-Disposition: attachment; filename="order.eml"',
      '',
      message().trimEnd(),
      '--b1--',
      '',
    ].join('\r\n');
    const res = await promote(raw);
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      messageId: 'order-42@customer.example',
      from: 'buyer@customer.example',
    });
    const text = await env.DB.prepare('select body_text from activities where id = ?')
      .bind(res.json.id)
      .first<{ body_text: string }>();
    expect(text?.body_text).toContain('Please send the quote.');
    expect(text?.body_text).not.toContain('Forwarder note');
  });

  test('mail from the routed mailbox itself is not suppressed by its own domain', async () => {
    await api('POST', '/api/v1/deployments/contoso/suppressions', {
      body: { entries: ['@contoso.example'] },
    });
    const res = await promote(message({ from: 'ann@contoso.example', messageId: '<sent@contoso.example>' }));
    expect(res.status).toBe(201);
  });

  test('a promoted reply keeps the correlation the classifier finds (In-Reply-To) and names the promoter', async () => {
    const sent = await api('POST', '/api/v1/deployments/contoso/outbound', {
      body: { messageId: '<quote-7@contoso.example>', userId: 'u-ann', subject: 'Quote' },
    });
    expect(sent.status).toBeLessThan(300);
    const reply = message({ messageId: '<reply-7@customer.example>', subject: 'RE: Quote' }).replace(
      'MIME-Version: 1.0',
      'In-Reply-To: <quote-7@contoso.example>\r\nMIME-Version: 1.0',
    );
    const res = await promote(reply);
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      reason: 'tracked:promoted',
      correlation: {
        method: 'in-reply-to',
        detail: 'In-Reply-To matches a registered outbound message; promoted by admin',
      },
    });
  });

  test('a tracking token in the subject is kept with the item', async () => {
    const res = await promote(message({ subject: 'RE: Quote  CRM:0001001', messageId: '<tok@x.example>' }));
    expect(res.status).toBe(201);
    expect(res.json.subject).toBe('RE: Quote  CRM:0001001');
  });

  test('a mailbox that is not routed to the deployment is a 404', async () => {
    const other = await promote(message(), { mailbox: 'fay@fabrikam.example' });
    expect(other.status).toBe(404);
    expect(other.json.error.message).toBe(
      'fay@fabrikam.example is not a routed mailbox of deployment contoso',
    );
    expect((await promote(message(), { mailbox: 'nobody@contoso.example' })).status).toBe(404);
  });

  test('an unknown deployment is a 404', async () => {
    expect((await promote(message(), { deployment: 'nowhere' })).status).toBe(404);
  });

  test('a missing or invalid mailbox parameter is a 400 naming mailbox', async () => {
    const res = await api('POST', '/api/v1/deployments/contoso/promote', {
      raw: message(),
      headers: { 'content-type': 'message/rfc822' },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/^mailbox: /);
    const bad = await promote(message(), { mailbox: 'not-an-address' });
    expect(bad.json.error.message).toMatch(/^mailbox: /);
  });

  test('a message over 25 MiB is a 413 and nothing is stored', async () => {
    const big = new Uint8Array(25 * 1024 * 1024 + 1).fill(97);
    const res = await promote(big);
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe('payload_too_large');
    expect(await activityCount()).toBe(0);
  });

  test("a message over the deployment's maxMessageBytes is a 413", async () => {
    await api('PUT', '/api/v1/deployments/contoso', { body: { name: 'Contoso', maxMessageBytes: 1024 } });
    const res = await promote(message({ body: 'x'.repeat(2000) }));
    expect(res.status).toBe(413);
  });

  test('an empty or unreadable body is a 400 naming body', async () => {
    const empty = await promote('');
    expect(empty.status).toBe(400);
    expect(empty.json.error.message).toBe('body: the message is empty');
    const binary = await promote(new Uint8Array([0, 1, 2, 3, 255, 254, 0, 0, 13, 10]));
    expect(binary.status).toBe(400);
    expect(binary.json.error.message).toMatch(/^body: the message cannot be read/);
  });

  test('a MIME boundary over 70 characters (RFC 2046 §5.1.1) is a 400 naming body, and nothing is stored', async () => {
    const boundary = '-'.repeat(3000);
    const raw = message({ body: '-'.repeat(400_000) }).replace(
      'Content-Type: text/plain; charset=utf-8',
      `Content-Type: multipart/mixed; boundary="${boundary}"`,
    );
    const res = await promote(raw);
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe(
      'body: the message cannot be read (MIME boundary of 3000 characters (RFC 2046 allows 70))',
    );
    expect(await activityCount()).toBe(0);
  });

  test('a JSON body is a 415', async () => {
    const res = await promote('{"a":1}', { type: 'application/json' });
    expect(res.status).toBe(415);
  });

  test('a user token promotes for its own mailbox and the activity names the user', async () => {
    const token = await mintToken('user:contoso/u-ann');
    const res = await promote(message(), { token });
    expect(res.status).toBe(201);
    expect(res.json.correlation).toEqual({ method: 'promoted', detail: 'promoted by user:contoso/u-ann' });
  });

  test("a user token may not promote for another user's mailbox (403) and nothing is stored", async () => {
    const token = await mintToken('user:contoso/u-ann');
    const res = await promote(message(), { token, mailbox: 'bob@contoso.example' });
    expect(res.status).toBe(403);
    expect(await activityCount()).toBe(0);
  });

  test("another deployment's token gets 403 and nothing is stored", async () => {
    const token = await mintToken('deployment:fabrikam');
    const res = await promote(message(), { token });
    expect(res.status).toBe(403);
    expect(await activityCount()).toBe(0);
  });
});
