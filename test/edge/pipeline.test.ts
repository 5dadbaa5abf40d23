import { beforeEach, describe, expect, test } from 'vitest';
import type { SnapshotInput } from '../../src/core/snapshot.js';
import type { IngestItem, Receipt } from '../../src/core/wire.js';
import { readEdgeConfig } from '../../src/edge/config.js';
import worker from '../../src/edge/index.js';
import { JOURNAL_PREFIX } from '../../src/edge/journal.js';
import { PLATFORM_MAX_BYTES, processMessage } from '../../src/edge/pipeline.js';
import type { ItemRef } from '../../src/edge/queue-messages.js';
import appleMailForward from '../fixtures/emails/apple-mail-forward-as-attachment.eml?raw';
import gmailTwoForwards from '../fixtures/emails/gmail-two-forwarded-as-attachments.eml?raw';
import outlookTwoForwards from '../fixtures/emails/outlook-two-forwarded-as-attachments.eml?raw';
import thunderbirdTypedSubject from '../fixtures/emails/thunderbird-forward-as-attachment-typed-subject.eml?raw';
import { capturingEnv, ctx, edgeEnv, emailMessage, postInbound } from './helpers.js';
import { deploymentInput, installSnapshot, removeSnapshot, usSnapshotInput } from './snapshot-input.js';

/** contoso's forwarding address in region us (the envelope recipient of every test message). */
const FWD = 'crm-0123456789abcdef01234567@us.edge.crm-router.example';
/** A second forwarding address of contoso (e.g. the previous one, within its grace period). */
const FWD2 = 'crm-89abcdef0123456789abcdef@us.edge.crm-router.example';

function snapshotInput(over: Partial<SnapshotInput> = {}): SnapshotInput {
  return usSnapshotInput({
    version: 7,
    mailboxes: [
      { address: 'alice@contoso.example', deployment: 'contoso', userId: 'u-alice', filter: 'all' },
      { address: 'carol@contoso.example', deployment: 'contoso', userId: 'u-carol', filter: 'records' },
    ],
    forwarding: [
      { address: FWD, deployment: 'contoso' },
      { address: FWD2, deployment: 'contoso' },
    ],
    deployments: [
      deploymentInput('contoso', {
        maxMessageBytes: 2000,
        suppressions: ['@spam.example'],
        records: [{ address: 'buyer@customer.example', type: 'contact', emailEnabled: true }],
      }),
    ],
    ...over,
  });
}

/** `mail` of a message to `mailbox` that the mailbox's rule forwarded (X-Forwarded-To). */
function forwardedBy(mailbox: string, headers: Record<string, string>, body?: string) {
  return mail({ ...headers, To: mailbox, 'X-Forwarded-To': mailbox }, body);
}

function mail(headers: Record<string, string>, body = 'Hello there.') {
  const lines = Object.entries({
    'Message-ID': `<m-${Math.random().toString(36).slice(2)}@customer.example>`,
    ...headers,
  }).map(([k, v]) => `${k}: ${v}`);
  return new TextEncoder().encode(`${lines.join('\r\n')}\r\n\r\n${body}\r\n`);
}

const waitUntil = (p: Promise<unknown>) => void p.catch(() => {});

/** One message through processMessage with recording bindings, sent to contoso's forwarding address. */
async function run(raw: Uint8Array, from?: string) {
  const { bindings, sent } = capturingEnv();
  const envelope = from ? { from, to: FWD } : { to: FWD };
  const result = await processMessage(bindings, readEdgeConfig(bindings), raw, envelope, waitUntil);
  return { result, sent };
}

describe('edge pipeline', () => {
  beforeEach(() => installSnapshot(snapshotInput()));

  test('mail forwarded by an all-filter mailbox is enqueued as an item and its raw copy stays in R2', async () => {
    const raw = forwardedBy('alice@contoso.example', {
      From: 'Buyer <buyer@customer.example>',
      Subject: 'Order 42',
    });
    const { result, sent } = await run(raw, 'buyer@customer.example');
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
    const { result, sent } = await run(raw);
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

  test('a failed enqueue leaves no accept-journal entry behind: nothing was accepted, the sender retries', async () => {
    // Before: the entries of a refused attempt stayed, and the cron handed them to the spool ten
    // minutes later: central got copies the sender had been told were not taken (a second
    // delivery to the CRM per failed attempt). A stub producer: a local queue cannot be made to fail.
    const failing = {
      send: async () => Promise.reject(new Error('injected: queue send failed')),
      sendBatch: async () => Promise.reject(new Error('injected: queue sendBatch failed')),
    } as unknown as Queue;
    const journalKeys = async () =>
      (await edgeEnv.RAW.list({ prefix: JOURNAL_PREFIX, limit: 1000 })).objects.map((o) => o.key);
    const before = new Set(await journalKeys());
    const raw = forwardedBy('alice@contoso.example', { From: 'buyer@customer.example', Subject: 'Refused' });
    const env2 = { ...edgeEnv, OUTBOX: failing };
    await expect(processMessage(env2, readEdgeConfig(env2), raw, { to: FWD }, waitUntil)).rejects.toThrow(
      /injected/,
    );
    // Only the consumer removes entries meanwhile (it never adds one): any new key is this attempt's.
    expect((await journalKeys()).filter((k) => !before.has(k))).toEqual([]);
  });

  test('retries after a failed enqueue are not counted as a loop: the 4th try is tracked, once', async () => {
    // Fault: the queue's sendBatch fails for the first three tries of the sender (30 s apart).
    const { bindings, sent } = capturingEnv();
    let failures = 3;
    const outbox = bindings.OUTBOX;
    const flaky = {
      send: outbox.send,
      sendBatch: async (msgs: Iterable<MessageSendRequest<IngestItem | Receipt>>) => {
        if (failures > 0) {
          failures--;
          throw new Error('injected: queue sendBatch failed');
        }
        return outbox.sendBatch(msgs);
      },
    } as unknown as Queue;
    const env2 = { ...bindings, OUTBOX: flaky };
    const raw = forwardedBy('alice@contoso.example', {
      From: 'buyer@customer.example',
      Subject: 'Retried delivery',
    });
    const start = Date.now();
    for (let attempt = 0; attempt < 3; attempt++)
      await expect(
        processMessage(env2, readEdgeConfig(env2), raw, { to: FWD }, waitUntil, {
          receivedAt: start + attempt * 30_000,
        }),
      ).rejects.toThrow(/injected/);
    const result = await processMessage(env2, readEdgeConfig(env2), raw, { to: FWD }, waitUntil, {
      receivedAt: start + 90_000,
    });
    expect(result).toMatchObject({ status: 'tracked', reason: 'tracked:all' });
    expect(sent.filter((m) => m.kind === 'item')).toHaveLength(1);
  });

  test('tossed mail leaves only a content-free receipt', async () => {
    const raw = forwardedBy('carol@contoso.example', {
      From: 'friend@private.example',
      Subject: 'Secret dinner plans',
    });
    const { result, sent } = await run(raw, 'friend@private.example');
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

  test('copy and receipt ids are time-ordered (UUIDv7 of the time they were made)', async () => {
    const v7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const msOf = (id: string) => Number.parseInt(id.replace('-', '').slice(0, 12), 16);
    const before = Date.now();
    const tracked = await run(
      forwardedBy('alice@contoso.example', { From: 'buyer@customer.example', Subject: 'Id order' }),
      'buyer@customer.example',
    );
    const tossed = await run(
      forwardedBy('carol@contoso.example', { From: 'friend@private.example', Subject: 'Id order' }),
      'friend@private.example',
    );
    const after = Date.now();
    const item = tracked.sent[0] as IngestItem;
    const receipt = tossed.sent[0] as Receipt;
    expect(receipt.kind).toBe('receipt');
    for (const id of [item.id, receipt.id]) {
      expect(id).toMatch(v7);
      expect(msOf(id)).toBeGreaterThanOrEqual(before);
      expect(msOf(id)).toBeLessThanOrEqual(after);
    }
  });

  test('mail for a mailbox not routed here is a no-route receipt', async () => {
    const raw = mail({ From: 'x@customer.example', To: 'stranger@elsewhere.example', Subject: 'hi' });
    const { result, sent } = await run(raw, 'x@customer.example');
    expect(result.reason).toBe('no-route');
    expect((sent[0] as Receipt).reason).toBe('no-route');
  });

  test('a message above the deployment size limit is rejected permanently as oversize', async () => {
    const raw = forwardedBy(
      'alice@contoso.example',
      { From: 'buyer@customer.example', Subject: 'big' },
      'x'.repeat(5000),
    );
    const { result, sent } = await run(raw, 'buyer@customer.example');
    expect(result.reason).toBe('oversize');
    expect(result.reject).toMatch(/oversize/);
    expect((sent[0] as Receipt).reason).toBe('oversize');
  });

  test('garbage bytes get a malformed decision instead of a crash', async () => {
    const raw = new Uint8Array(4096).map((_, i) => (i * 7919) % 256);
    const { result, sent } = await run(raw, 'a@b.example');
    expect(result.status).toBe('tossed');
    expect(['malformed', 'no-route']).toContain(result.reason);
    expect(sent).toHaveLength(1);
  });

  test('with region rules disabled everything is tossed as region-rules-disabled', async () => {
    await installSnapshot(snapshotInput({ rulesEnabled: false, version: 8 }));
    const raw = forwardedBy('alice@contoso.example', {
      From: 'buyer@customer.example',
      Subject: 'x',
    });
    const { result, sent } = await run(raw);
    expect(result.reason).toBe('region-rules-disabled');
    expect((sent[0] as Receipt).reason).toBe('region-rules-disabled');
  });
});

describe('email() handler', () => {
  test('without any snapshot and with central unreachable it throws, so the sender retries', async () => {
    await removeSnapshot();
    const raw = mail({ From: 'a@customer.example', To: 'alice@contoso.example', Subject: 'x' });
    const { message, out } = emailMessage('a@customer.example', FWD, raw);
    await expect(worker.email!(message, edgeEnv, ctx)).rejects.toThrow(/snapshot/);
    expect(out.rejected).toBeUndefined();
  });

  test('a message over the 25 MiB platform limit is rejected before it is read', async () => {
    await installSnapshot(snapshotInput());
    let rejected: string | undefined;
    let pulled = false;
    const message = {
      from: 'a@customer.example',
      to: FWD,
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
    const { bindings, sent } = capturingEnv();
    await worker.email!(message, bindings, ctx);
    expect(rejected).toMatch(/oversize/);
    expect(pulled).toBe(false);
    expect((sent[0] as Receipt).reason).toBe('oversize');
  });

  describe('POST /api/v1/inbound', () => {
    const inbound = postInbound;

    test('the ?from=&to= form processes the message once for its one recipient', async () => {
      const { bindings, sent } = capturingEnv();
      const raw = forwardedBy('alice@contoso.example', {
        From: 'buyer@customer.example',
        Subject: 'One recipient',
      });
      const res = await inbound(`from=buyer@customer.example&to=${encodeURIComponent(FWD)}`, raw, bindings);
      expect(res.status).toBe(202);
      const body = (await res.json()) as { status: string; items: string[]; recipients?: unknown };
      expect(body.status).toBe('tracked');
      expect(body.items).toHaveLength(1);
      expect(body.recipients).toBeUndefined();
      expect(sent.filter((m) => m.kind === 'item')).toHaveLength(1);
    });

    test('every RCPT TO passed as a repeated ?to= is processed and answered per recipient', async () => {
      const { bindings, sent } = capturingEnv();
      const raw = forwardedBy('alice@contoso.example', {
        From: 'buyer@customer.example',
        Subject: 'Two recipients',
      });
      const res = await inbound(
        `from=buyer@customer.example&to=${encodeURIComponent(FWD)}&to=${encodeURIComponent(FWD2)}&to=${encodeURIComponent(FWD)}`,
        raw,
        bindings,
      );
      expect(res.status).toBe(202);
      const body = (await res.json()) as {
        status: string;
        recipients: { to: string; status: string; items: string[] }[];
      };
      expect(body.status).toBe('tracked');
      expect(body.recipients.map((r) => r.to)).toEqual([FWD, FWD2]);
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
      const raw = new TextEncoder().encode(eml);
      const { result, sent } = await run(raw, 'alice@contoso.example');
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
      // Each its own stored copy (the wrapped message, not the forward) and its own content hash.
      expect(items[0]!.raw!.key).not.toBe(items[1]!.raw!.key);
      expect(await edgeEnv.RAW.head(items[0]!.raw!.key)).not.toBeNull();
      expect(items[0]!.contentHash).not.toBe(items[1]!.contentHash);
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

describe('queue limits by construction (128 KB a message, 100 messages / 256 KB a sendBatch)', () => {
  beforeEach(() => installSnapshot(snapshotInput({ deployments: [bigDeployment('contoso')] })));

  function bigDeployment(id: string) {
    return { ...snapshotInput().deployments[0]!, id, maxMessageBytes: 30 * 1024 * 1024 };
  }

  const japanese = (chars: number) => '日本語のテキストです。'.repeat(Math.ceil(chars / 11)).slice(0, chars);

  test('45,000 Japanese characters under full egress: enqueued on the real queue, the item complete (an R2 reference)', async () => {
    const body = japanese(45_000);
    const raw = forwardedBy(
      'alice@contoso.example',
      {
        From: 'buyer@customer.example',
        Subject: '見積もり',
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Transfer-Encoding': '8bit',
      },
      body,
    );
    // The real local queue enforces the platform limits: before, this sendBatch threw every time.
    const result = await processMessage(edgeEnv, readEdgeConfig(edgeEnv), raw, { to: FWD }, waitUntil);
    expect(result.status).toBe('tracked');
    const { sent } = await run(raw);
    const ref = sent[0] as unknown as ItemRef;
    expect(ref.kind).toBe('item-ref');
    const item = (await (await edgeEnv.RAW.get(ref.ref.key))!.json()) as IngestItem;
    expect(item.text?.trim()).toBe(body);
    expect(item.textRef).toBeUndefined();
  });

  test('a body over the inline budget is held regionally whole, with its beginning inline and a reference', async () => {
    const body = japanese(120_000); // ~360 KB of UTF-8
    const raw = forwardedBy('alice@contoso.example', { From: 'buyer@customer.example' }, body);
    const { sent } = await run(raw);
    const ref = sent[0] as unknown as ItemRef;
    const item = (await (await edgeEnv.RAW.get(ref.ref.key))!.json()) as IngestItem;
    expect(item.textRef).toBeDefined();
    expect(new TextEncoder().encode(item.text).byteLength).toBeLessThanOrEqual(256 * 1024);
    expect(body.startsWith(item.text!)).toBe(true);
    const whole = await (await edgeEnv.RAW.get(item.textRef!.key))!.text();
    expect(whole.trim()).toBe(body);
  });

  test('500 Cc recipients: all in the item; 1,200 To recipients: the whole list held regionally and flagged', async () => {
    const cc = Array.from({ length: 500 }, (_, i) => `person${i}@customer.example`).join(', ');
    const raw = forwardedBy('alice@contoso.example', {
      From: 'buyer@customer.example',
      Cc: cc,
    });
    const result = await processMessage(edgeEnv, readEdgeConfig(edgeEnv), raw, { to: FWD }, waitUntil);
    expect(result.status).toBe('tracked');
    const { sent } = await run(raw);
    const item = sent[0] as IngestItem;
    expect(item.cc).toHaveLength(500);
    expect(item.partiesRef).toBeUndefined();

    const to = Array.from({ length: 1200 }, (_, i) => `to${i}@customer.example`).join(', ');
    const many = mail({
      From: 'buyer@customer.example',
      To: `alice@contoso.example, ${to}`,
      'X-Forwarded-To': 'alice@contoso.example',
    });
    const second = capturingEnv();
    await processMessage(second.bindings, readEdgeConfig(second.bindings), many, { to: FWD }, waitUntil);
    const first = second.sent[0]!;
    const full =
      first.kind === 'item'
        ? first
        : ((await (await edgeEnv.RAW.get((first as unknown as ItemRef).ref.key))!.json()) as IngestItem);
    expect(full.to).toHaveLength(1000);
    const stored = (await (await edgeEnv.RAW.get(full.partiesRef!.key))!.json()) as { to: unknown[] };
    expect(stored.to).toHaveLength(1201);
  });

  test('one message bound for 5 deployments with large bodies: split into sendBatch calls within the limits', async () => {
    // A message binds to the deployment of its forwarding address; one sent to the addresses of 5
    // deployments at once (5 RCPT TO) is processed per address, each copy within the limits.
    const ids = ['d1', 'd2', 'd3', 'd4', 'd5'];
    const fwd = (d: string) => `crm-${d}000000000000000000000@us.edge.crm-router.example`;
    await installSnapshot(
      snapshotInput({
        mailboxes: ids.map((d) => ({
          address: `m@${d}.example`,
          deployment: d,
          userId: 'u',
          filter: 'all' as const,
        })),
        forwarding: ids.map((d) => ({ address: fwd(d), deployment: d })),
        deployments: ids.map(bigDeployment),
      }),
    );
    const raw = mail(
      {
        From: 'buyer@customer.example',
        To: ids.map((d) => `m@${d}.example`).join(', '),
        'X-Forwarded-To': 'm@d1.example',
      },
      japanese(30_000), // ~90 KB per item: 5 items would be ~450 KB in one sendBatch
    );
    const batches: number[][] = [];
    const { bindings } = capturingEnv();
    const real = edgeEnv.OUTBOX;
    const recording = {
      send: real.send.bind(real),
      sendBatch: async (msgs: Iterable<MessageSendRequest>) => {
        const list = [...msgs];
        batches.push(list.map((m) => new TextEncoder().encode(JSON.stringify(m.body)).byteLength));
        return real.sendBatch(list);
      },
    } as unknown as Queue;
    const itemIds: string[] = [];
    for (const d of ids) {
      const result = await processMessage(
        { ...bindings, OUTBOX: recording },
        readEdgeConfig(bindings),
        raw,
        { to: fwd(d) },
        waitUntil,
      );
      itemIds.push(...result.itemIds);
    }
    expect(itemIds.length).toBeGreaterThanOrEqual(5);
    for (const b of batches) {
      expect(b.length).toBeLessThanOrEqual(100);
      expect(b.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(256 * 1000);
      for (const size of b) expect(size).toBeLessThanOrEqual(128 * 1000);
    }
  });
});
