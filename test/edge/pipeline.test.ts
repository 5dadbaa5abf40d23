import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import { buildSnapshot, encodeSnapshot, type SnapshotInput } from '../../src/core/snapshot.js';
import type { IngestItem, Receipt } from '../../src/core/wire.js';
import { type EdgeBindings, readEdgeConfig } from '../../src/edge/config.js';
import worker from '../../src/edge/index.js';
import { PLATFORM_MAX_BYTES, processMessage } from '../../src/edge/pipeline.js';
import { forgetHeldSnapshot } from '../../src/edge/snapshot-store.js';
import appleMailForward from '../fixtures/emails/apple-mail-forward-as-attachment.eml?raw';
import gmailTwoForwards from '../fixtures/emails/gmail-two-forwarded-as-attachments.eml?raw';
import outlookTwoForwards from '../fixtures/emails/outlook-two-forwarded-as-attachments.eml?raw';
import thunderbirdTypedSubject from '../fixtures/emails/thunderbird-forward-as-attachment-typed-subject.eml?raw';

const edgeEnv = env as unknown as EdgeBindings;
const HASH_KEY = '000102030405060708090a0b0c0d0e0f';

function snapshotInput(over: Partial<SnapshotInput> = {}): SnapshotInput {
  return {
    region: 'us',
    version: 7,
    builtAt: 1,
    hashKey: HASH_KEY,
    rulesEnabled: true,
    egress: 'full',
    mailboxes: [
      { address: 'alice@contoso.example', deployment: 'contoso', userId: 'u-alice', filter: 'all' },
      { address: 'carol@contoso.example', deployment: 'contoso', userId: 'u-carol', filter: 'records' },
    ],
    deployments: [
      {
        id: 'contoso',
        token: { prefix: 'CRM:', deploymentBase: 0, userDigits: 3, counterDigits: 3 },
        maxMessageBytes: 2000,
        attachmentPolicy: 'regional',
        smartMatch: false,
        suppressions: ['@spam.example'],
        records: [{ address: 'buyer@customer.example', type: 'contact', emailEnabled: true }],
        outbound: [],
      },
    ],
    ...over,
  };
}

async function installSnapshot(input: SnapshotInput) {
  forgetHeldSnapshot();
  const snapshot = buildSnapshot(input);
  await edgeEnv.SNAPSHOTS.put('snapshot:current', encodeSnapshot(snapshot), {
    metadata: { etag: `"${snapshot.etag}"`, checkedAt: Date.now() },
  });
}

/** The real bindings, with the queue producer recording what the edge enqueues. */
function capturingEnv() {
  const sent: (IngestItem | Receipt)[] = [];
  const outbox = {
    send: async (body: IngestItem | Receipt) => {
      sent.push(body);
    },
    sendBatch: async (msgs: Iterable<{ body: IngestItem | Receipt }>) => {
      for (const m of msgs) sent.push(m.body);
    },
  };
  const bindings = { ...(env as unknown as EdgeBindings), OUTBOX: outbox as unknown as Queue };
  return { bindings, sent };
}

function mail(headers: Record<string, string>, body = 'Hello there.') {
  const lines = Object.entries({
    'Message-ID': `<m-${Math.random().toString(36).slice(2)}@customer.example>`,
    ...headers,
  }).map(([k, v]) => `${k}: ${v}`);
  return new TextEncoder().encode(`${lines.join('\r\n')}\r\n\r\n${body}\r\n`);
}

const waitUntil = (p: Promise<unknown>) => void p.catch(() => {});

describe('edge pipeline', () => {
  beforeEach(() => installSnapshot(snapshotInput()));

  test('mail forwarded by an all-filter mailbox is enqueued as an item and its raw copy stays in R2', async () => {
    const { bindings, sent } = capturingEnv();
    const cfg = readEdgeConfig(bindings);
    const raw = mail({
      From: 'Buyer <buyer@customer.example>',
      To: 'alice@contoso.example',
      Subject: 'Order 42',
      'X-Forwarded-To': 'alice@contoso.example',
    });
    const result = await processMessage(
      bindings,
      cfg,
      raw,
      { from: 'buyer@customer.example', to: 'crm@us.edge.localhost' },
      waitUntil,
    );
    expect(result).toMatchObject({ status: 'tracked', reason: 'tracked:all' });
    expect(sent).toHaveLength(1);
    const item = sent[0] as IngestItem;
    expect(item).toMatchObject({
      kind: 'item',
      region: 'us',
      deployment: 'contoso',
      mailboxes: ['alice@contoso.example'],
      subject: 'Order 42',
      from: { address: 'buyer@customer.example', name: 'Buyer' },
      egress: 'full',
      reason: 'tracked:all',
    });
    expect(item.text).toContain('Hello there.');
    const stored = await edgeEnv.RAW.get(item.raw!.key);
    expect(stored).not.toBeNull();
    expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(raw);
  });

  test('attachments of CRM-bound mail are stored in the region and referenced, not shipped', async () => {
    const { bindings, sent } = capturingEnv();
    const pdf = 'JVBERi0xLjQKJcfsj6IK'.repeat(40);
    const raw = new TextEncoder().encode(
      [
        'From: buyer@customer.example',
        'To: alice@contoso.example',
        'X-Forwarded-To: alice@contoso.example',
        'Subject: Signed contract',
        'Message-ID: <att-1@customer.example>',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="b1"',
        '',
        '--b1',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'Please find the contract attached.',
        '--b1',
        'Content-Type: application/pdf; name="contract.pdf"',
        'Content-Disposition: attachment; filename="contract.pdf"',
        'Content-Transfer-Encoding: base64',
        '',
        pdf,
        '--b1--',
        '',
      ].join('\r\n'),
    );
    await installSnapshot(
      snapshotInput({ deployments: [{ ...snapshotInput().deployments[0]!, maxMessageBytes: 1_000_000 }] }),
    );
    const result = await processMessage(bindings, readEdgeConfig(bindings), raw, {}, waitUntil);
    expect(result.status).toBe('tracked');
    const item = sent[0] as IngestItem;
    expect(item.attachments).toHaveLength(1);
    const [att] = item.attachments;
    expect(att).toMatchObject({
      filename: 'contract.pdf',
      contentType: 'application/pdf',
      ref: { region: 'us' },
    });
    expect(att!.contentBase64).toBeUndefined();
    const stored = await edgeEnv.RAW.get(att!.ref!.key);
    expect(stored?.size).toBe(att!.size);
    expect(JSON.stringify(item)).not.toContain(pdf.slice(0, 40));
  });

  test('tossed mail leaves only a content-free receipt', async () => {
    const { bindings, sent } = capturingEnv();
    const cfg = readEdgeConfig(bindings);
    const raw = mail({
      From: 'friend@private.example',
      To: 'carol@contoso.example',
      Subject: 'Secret dinner plans',
      'X-Forwarded-To': 'carol@contoso.example',
    });
    const result = await processMessage(
      bindings,
      cfg,
      raw,
      { from: 'friend@private.example', to: 'crm@us.edge.localhost' },
      waitUntil,
    );
    expect(result).toMatchObject({ status: 'tossed', reason: 'filter:no-record-match' });
    expect(sent).toHaveLength(1);
    const receipt = sent[0] as Receipt;
    expect(receipt).toMatchObject({
      kind: 'receipt',
      region: 'us',
      reason: 'filter:no-record-match',
      deployment: 'contoso',
      sizeBytes: raw.byteLength,
    });
    const text = JSON.stringify(receipt);
    for (const secret of ['Secret', 'dinner', 'friend@private.example', 'carol@contoso.example'])
      expect(text).not.toContain(secret);
    expect(receipt.messageIdHash).toMatch(/^[0-9a-f]{16}$/);
  });

  test('mail for a mailbox not routed here is a no-route receipt', async () => {
    const { bindings, sent } = capturingEnv();
    const raw = mail({ From: 'x@customer.example', To: 'stranger@elsewhere.example', Subject: 'hi' });
    const result = await processMessage(
      bindings,
      readEdgeConfig(bindings),
      raw,
      { from: 'x@customer.example', to: 'crm@us.edge.localhost' },
      waitUntil,
    );
    expect(result.reason).toBe('no-route');
    expect((sent[0] as Receipt).reason).toBe('no-route');
  });

  test('a message above the deployment size limit is rejected permanently as oversize', async () => {
    const { bindings, sent } = capturingEnv();
    const raw = mail(
      {
        From: 'buyer@customer.example',
        To: 'alice@contoso.example',
        Subject: 'big',
        'X-Forwarded-To': 'alice@contoso.example',
      },
      'x'.repeat(5000),
    );
    const result = await processMessage(
      bindings,
      readEdgeConfig(bindings),
      raw,
      { from: 'buyer@customer.example', to: 'crm@us.edge.localhost' },
      waitUntil,
    );
    expect(result.reason).toBe('oversize');
    expect(result.reject).toMatch(/oversize/);
    expect((sent[0] as Receipt).reason).toBe('oversize');
  });

  test('garbage bytes get a malformed decision instead of a crash', async () => {
    const { bindings, sent } = capturingEnv();
    const raw = new Uint8Array(4096).map((_, i) => (i * 7919) % 256);
    const result = await processMessage(
      bindings,
      readEdgeConfig(bindings),
      raw,
      { from: 'a@b.example', to: 'crm@us.edge.localhost' },
      waitUntil,
    );
    expect(result.status).toBe('tossed');
    expect(['malformed', 'no-route']).toContain(result.reason);
    expect(sent).toHaveLength(1);
  });

  test('with region rules disabled everything is tossed as region-rules-disabled', async () => {
    await installSnapshot(snapshotInput({ rulesEnabled: false, version: 8 }));
    const { bindings, sent } = capturingEnv();
    const raw = mail({
      From: 'buyer@customer.example',
      To: 'alice@contoso.example',
      Subject: 'x',
      'X-Forwarded-To': 'alice@contoso.example',
    });
    const result = await processMessage(bindings, readEdgeConfig(bindings), raw, {}, waitUntil);
    expect(result.reason).toBe('region-rules-disabled');
    expect((sent[0] as Receipt).reason).toBe('region-rules-disabled');
  });
});

describe('email() handler', () => {
  test('without any snapshot and with central unreachable it throws, so the sender retries', async () => {
    forgetHeldSnapshot();
    await edgeEnv.SNAPSHOTS.delete('snapshot:current');
    const raw = mail({ From: 'a@customer.example', To: 'alice@contoso.example', Subject: 'x' });
    let rejected: string | undefined;
    const message = {
      from: 'a@customer.example',
      to: 'crm@us.edge.localhost',
      raw: new Blob([raw]).stream(),
      rawSize: raw.byteLength,
      headers: new Headers(),
      setReject: (r: string) => {
        rejected = r;
      },
      forward: async () => ({ messageId: '' }),
      reply: async () => ({ messageId: '' }),
    } as unknown as ForwardableEmailMessage;
    const ctx = { waitUntil: () => {}, passThroughOnException: () => {} } as unknown as ExecutionContext;
    await expect(worker.email!(message, env as unknown as EdgeBindings, ctx)).rejects.toThrow(/snapshot/);
    expect(rejected).toBeUndefined();
  });

  test('a message over the 25 MiB platform limit is rejected before it is read', async () => {
    await installSnapshot(snapshotInput());
    let rejected: string | undefined;
    let pulled = false;
    const message = {
      from: 'a@customer.example',
      to: 'crm@us.edge.localhost',
      raw: new ReadableStream(
        {
          pull() {
            pulled = true;
          },
        },
        { highWaterMark: 0 },
      ),
      rawSize: PLATFORM_MAX_BYTES + 1,
      headers: new Headers(),
      setReject: (r: string) => {
        rejected = r;
      },
    } as unknown as ForwardableEmailMessage;
    const ctx = { waitUntil: () => {}, passThroughOnException: () => {} } as unknown as ExecutionContext;
    const { bindings, sent } = capturingEnv();
    await worker.email!(message, bindings, ctx);
    expect(rejected).toMatch(/oversize/);
    expect(pulled).toBe(false);
    expect((sent[0] as Receipt).reason).toBe('oversize');
  });

  describe('POST /api/v1/inbound', () => {
    const ctx = { waitUntil: () => {}, passThroughOnException: () => {} } as unknown as ExecutionContext;
    const inbound = (query: string, body: Uint8Array, bindings: EdgeBindings) =>
      worker.fetch!(
        new Request(`http://edge.test/api/v1/inbound?${query}`, {
          method: 'POST',
          headers: { authorization: 'Bearer local-inbound-token' },
          body,
        }) as unknown as Request<unknown, IncomingRequestCfProperties>,
        bindings,
        ctx,
      );

    test('the ?from=&to= form processes the message once for its one recipient', async () => {
      const { bindings, sent } = capturingEnv();
      const raw = mail({
        From: 'buyer@customer.example',
        To: 'alice@contoso.example',
        'X-Forwarded-To': 'alice@contoso.example',
        Subject: 'One recipient',
      });
      const res = await inbound('from=buyer@customer.example&to=crm@us.edge.localhost', raw, bindings);
      expect(res.status).toBe(202);
      const body = (await res.json()) as { status: string; items: string[]; recipients?: unknown };
      expect(body.status).toBe('tracked');
      expect(body.items).toHaveLength(1);
      expect(body.recipients).toBeUndefined();
      expect(sent.filter((m) => m.kind === 'item')).toHaveLength(1);
    });

    test('every RCPT TO passed as a repeated ?to= is processed and answered per recipient', async () => {
      const { bindings, sent } = capturingEnv();
      const raw = mail({
        From: 'buyer@customer.example',
        To: 'alice@contoso.example',
        'X-Forwarded-To': 'alice@contoso.example',
        Subject: 'Two recipients',
      });
      const res = await inbound(
        'from=buyer@customer.example&to=crm@us.edge.localhost&to=copy@us.edge.localhost&to=crm@us.edge.localhost',
        raw,
        bindings,
      );
      expect(res.status).toBe(202);
      const body = (await res.json()) as {
        status: string;
        recipients: { to: string; status: string; items: string[] }[];
      };
      expect(body.status).toBe('tracked');
      expect(body.recipients.map((r) => r.to)).toEqual(['crm@us.edge.localhost', 'copy@us.edge.localhost']);
      expect(body.recipients.every((r) => r.status === 'tracked' && r.items.length === 1)).toBe(true);
      expect(sent.filter((m) => m.kind === 'item')).toHaveLength(2);
    });
  });

  describe('what mail clients send when forwarding as attachment', () => {
    beforeEach(() =>
      installSnapshot(
        snapshotInput({
          deployments: snapshotInput().deployments.map((d) => ({ ...d, maxMessageBytes: 1024 * 1024 })),
        }),
      ),
    );
    const forwarded = async (eml: string) => {
      const { bindings, sent } = capturingEnv();
      const cfg = readEdgeConfig(bindings);
      const raw = new TextEncoder().encode(eml);
      const result = await processMessage(
        bindings,
        cfg,
        raw,
        { from: 'alice@contoso.example', to: 'crm@us.edge.localhost' },
        waitUntil,
      );
      const items = sent.filter((m): m is IngestItem => m.kind === 'item');
      return { result, items };
    };

    test('Outlook: two messages forwarded as attachments are both tracked, each as its own message', async () => {
      const { result, items } = await forwarded(outlookTwoForwards);
      expect(result.status, JSON.stringify(result.decision)).toBe('tracked');
      expect(items.map((i) => i.messageId)).toEqual([
        'po-4711@mail.example.org',
        'delivery-q@mta.example.net',
      ]);
      expect(items.map((i) => i.subject)).toEqual(['Purchase order 4711', 'Question about delivery dates']);
      expect(items.map((i) => i.from?.address)).toEqual(['carol@example.org', 'dave@example.net']);
      expect(items.every((i) => i.mailboxes.join() === 'alice@contoso.example')).toBe(true);
      expect(items[1]!.text).toMatch(/second batch/);
      expect(items[0]!.text).not.toMatch(/second batch/);
    });

    test('Gmail: two conversations forwarded as attachments are both tracked', async () => {
      const { items } = await forwarded(gmailTwoForwards);
      expect(items.map((i) => i.messageId)).toEqual([
        'invoice-2024-031@billing.example.org',
        're-site-visit@mta.example.net',
      ]);
      expect(items[1]!.text).toMatch(/Tuesday at 10/);
    });

    test('Thunderbird: a forward-as-attachment with a typed subject ("please log this") is a forward', async () => {
      const { items } = await forwarded(thunderbirdTypedSubject);
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({
        messageId: 'renewal-terms-2024@mail.example.org',
        subject: 'Renewal terms',
        mailboxes: ['alice@contoso.example'],
      });
    });

    test('Apple Mail: Forward as Attachment with a typed subject tracks the wrapped message', async () => {
      const { items } = await forwarded(appleMailForward);
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({
        messageId: 're-delivery-schedule@mta.example.net',
        subject: 'Re: Delivery schedule',
        from: { address: 'dave@example.net' },
      });
    });
  });
});
