// Issue 19 at the edge: one message is processed once per forwarding address, however its envelope
// recipient is spelt (item 4); everything the edge enqueues passes the wire schema central validates
// with (item 5); a CRM-bound message the full parse refuses is a headers-only item, and a message
// with more attachments than the invocation's subrequests stays within them (item 6).
import { beforeEach, describe, expect, test } from 'vitest';
import { type IngestItem, ingestItem } from '../../src/core/wire.js';
import { type EdgeBindings, readEdgeConfig } from '../../src/edge/config.js';
import worker from '../../src/edge/index.js';
import { MAX_RECIPIENTS_PER_MESSAGE, processMessage } from '../../src/edge/pipeline.js';
import { capturingEnv, ctx, edgeEnv, itemsOf, postInbound } from './helpers.js';
import { deploymentInput, installSnapshot, usSnapshotInput } from './snapshot-input.js';

const FWD = 'crm-0123456789abcdef01234567@us.edge.crm-router.example';
const colleagues = Array.from({ length: 101 }, (_, i) => `colleague-${i}@contoso.example`);

function install() {
  return installSnapshot(
    usSnapshotInput({
      version: 3,
      mailboxes: [
        { address: 'alice@contoso.example', deployment: 'contoso', userId: 'u-alice', filter: 'all' },
        ...colleagues.map((address, i) => ({
          address,
          deployment: 'contoso',
          userId: `u-c${i}`,
          filter: 'all' as const,
        })),
      ],
      forwarding: [{ address: FWD, deployment: 'contoso' }],
      deployments: [deploymentInput('contoso', { maxMessageBytes: 20 * 1024 * 1024 })],
    }),
  );
}

let sequence = 0;

/** A message alice's rule forwarded; each one unique (the edge's loop check counts identical ones). */
function message(headers: Record<string, string>, body = 'Hello there.') {
  sequence++;
  const lines = Object.entries({
    'Message-ID': `<m-${Math.random().toString(36).slice(2)}@customer.example>`,
    Date: new Date(Date.UTC(2026, 0, 1, 0, 0, sequence)).toUTCString(),
    From: 'buyer@customer.example',
    To: 'alice@contoso.example',
    'X-Forwarded-To': 'alice@contoso.example',
    Subject: `Hello ${sequence}`,
    ...headers,
  }).map(([k, v]) => `${k}: ${v}`);
  return new TextEncoder().encode(`${lines.join('\r\n')}\r\n\r\n${body}\r\n`);
}

const waitUntil = (p: Promise<unknown>) => void p.catch(() => {});

async function run(raw: Uint8Array, bindings?: EdgeBindings) {
  const captured = capturingEnv();
  const env = bindings ? { ...bindings, OUTBOX: captured.bindings.OUTBOX } : captured.bindings;
  const result = await processMessage(env, readEdgeConfig(env), raw, { to: FWD }, waitUntil);
  return { result, items: await itemsOf(captured.sent), sent: captured.sent };
}

/** The wire schema's verdict on an item, as central gives it. */
function wireProblems(item: IngestItem) {
  const parsed = ingestItem.safeParse(item);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

function multipart(boundary: string, parts: string[]) {
  return `${parts.map((p) => `--${boundary}\r\n${p}`).join('\r\n')}\r\n--${boundary}--`;
}

describe('envelope recipients (issue 19, item 4)', () => {
  beforeEach(install);

  const inbound = postInbound;

  test('five spellings of one forwarding address are one recipient: one stored, queued copy and no loop sighting', async () => {
    const { bindings, sent } = capturingEnv();
    const spellings = [FWD, FWD.toUpperCase(), `<${FWD}>`, ` ${FWD} `, `mailto:${FWD}`];
    const res = await inbound(
      `from=buyer@customer.example&${spellings.map((s) => `to=${encodeURIComponent(s)}`).join('&')}`,
      message({}),
      bindings,
    );
    expect(res.status).toBe(202);
    const body = (await res.json()) as { status: string; items: string[]; recipients?: unknown[] };
    expect(body.status).toBe('tracked');
    expect(body.items).toHaveLength(1);
    expect(sent.filter((m) => m.kind === 'item')).toHaveLength(1);
    expect(sent.filter((m) => m.kind === 'receipt' && m.reason === 'loop')).toHaveLength(0);
  });

  test(`more than ${MAX_RECIPIENTS_PER_MESSAGE} distinct recipients is a 400 too_many_recipients, and nothing is processed`, async () => {
    expect(MAX_RECIPIENTS_PER_MESSAGE).toBe(100);
    const { bindings, sent } = capturingEnv();
    const recipients = [
      FWD,
      ...Array.from({ length: 100 }, (_, i) => `other-${i}@us.edge.crm-router.example`),
    ];
    const res = await inbound(
      `from=buyer@customer.example&${recipients.map((s) => `to=${encodeURIComponent(s)}`).join('&')}`,
      message({}),
      bindings,
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('too_many_recipients');
    expect(body.error.message).toMatch(/at most 100 recipients/);
    expect(sent).toHaveLength(0);
    // 100 distinct (and any number of spellings of them) are processed.
    const ok = await inbound(
      `${[...recipients.slice(0, 100), FWD.toUpperCase()].map((s) => `to=${encodeURIComponent(s)}`).join('&')}`,
      message({}),
      bindings,
    );
    expect(ok.status).toBe(202);
  });

  test('the recipient cap is checked before the body is read', async () => {
    const { bindings, sent } = capturingEnv();
    let pulled = false;
    // A body that fails the request if anything reads it (no high-water mark: nothing pulls ahead).
    const body = new ReadableStream<Uint8Array>(
      {
        pull() {
          pulled = true;
          throw new Error('the body was read');
        },
      },
      { highWaterMark: 0 },
    );
    const to = Array.from({ length: 101 }, (_, i) => `to=other-${i}%40us.edge.crm-router.example`).join('&');
    const res = await worker.fetch!(
      new Request(`http://edge.localhost/api/v1/inbound?${to}`, {
        method: 'POST',
        headers: { authorization: 'Bearer local-inbound-token' },
        body,
        duplex: 'half',
      } as RequestInit) as unknown as Request<unknown, IncomingRequestCfProperties>,
      bindings,
      ctx,
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('too_many_recipients');
    expect(pulled).toBe(false);
    expect(sent).toHaveLength(0);
  });
});

describe('every item the edge enqueues passes the wire schema (issue 19, item 5)', () => {
  beforeEach(install);

  test('display names over 500 characters are cut (with an ellipsis and a note); addresses over 320 are left out', async () => {
    const long = `${'x'.repeat(330)}@customer.example`;
    const { result, items } = await run(
      message({
        From: `"${'F'.repeat(600)}" <buyer@customer.example>`,
        To: `"${'T'.repeat(700)}" <alice@contoso.example>, ${long}`,
        Cc: `"${'C'.repeat(501)}" <c@customer.example>`,
      }),
    );
    expect(result.status).toBe('tracked');
    const [item] = items;
    expect(wireProblems(item!)).toEqual([]);
    expect(item!.from).toEqual({ address: 'buyer@customer.example', name: `${'F'.repeat(499)}…` });
    expect(item!.to).toEqual([{ address: 'alice@contoso.example', name: `${'T'.repeat(499)}…` }]);
    expect(item!.cc[0]!.name).toHaveLength(500);
    expect(item!.notes).toEqual(
      expect.arrayContaining([
        '3 display names cut to 500 characters',
        '1 address over 320 characters left out (RFC 5321 §4.5.3.1: no mailbox is that long); the raw copy has it',
      ]),
    );
  });

  test('a sender address over 320 characters: the item has no From and says so', async () => {
    const { items } = await run(message({ From: `${'y'.repeat(400)}@customer.example` }));
    expect(wireProblems(items[0]!)).toEqual([]);
    expect(items[0]!.from).toBeUndefined();
    expect(items[0]!.notes?.join()).toMatch(/1 address over 320 characters left out/);
  });

  test('101 routed mailboxes on one message: the first 100 (the forwarder first) in the item, all 101 held in the region', async () => {
    const { items } = await run(message({ To: colleagues.join(', '), 'X-Forwarded-To': colleagues[100]! }));
    const [item] = items;
    expect(wireProblems(item!)).toEqual([]);
    expect(item!.mailboxes).toHaveLength(100);
    expect(item!.mailboxes[0]).toBe(colleagues[100]);
    expect(item!.partiesRef).toBeDefined();
    const held = (await (await edgeEnv.RAW.get(item!.partiesRef!.key))!.json()) as {
      to: unknown[];
      mailboxes: string[];
    };
    expect(held.to).toHaveLength(101);
    expect(held.mailboxes).toHaveLength(101);
    expect(item!.notes).toContain('101 routed mailboxes: the first 100 listed, every one held in the region');
  });

  test('Message-IDs over 998 characters in In-Reply-To / References are left out, not shipped to be refused', async () => {
    const longId = `<${'i'.repeat(1000)}@customer.example>`;
    const { items } = await run(
      message({ 'In-Reply-To': longId, References: `<ok@customer.example> ${longId}` }),
    );
    expect(wireProblems(items[0]!)).toEqual([]);
    expect(items[0]!.references).toEqual(['ok@customer.example']);
  });

  test('501 attachments: 500 listed and stored, the one beyond the cap only in the raw copy and counted', async () => {
    const parts = [
      'Content-Type: text/plain\r\n\r\nSee attached.',
      ...Array.from(
        { length: 501 },
        (_, i) =>
          `Content-Type: text/plain\r\nContent-Disposition: attachment; filename="n-${i}.txt"\r\n\r\nattachment ${i}`,
      ),
    ];
    const { items } = await run(
      message({ 'Content-Type': 'multipart/mixed; boundary="b"' }, multipart('b', parts)),
    );
    const [item] = items;
    expect(wireProblems(item!)).toEqual([]);
    expect(item!.attachments).toHaveLength(500);
    expect(item!.attachmentsLeftOut).toBe(1);
    expect(item!.raw).toBeDefined();
    expect(item!.notes?.join()).toMatch(/1 attachment beyond 500 only in the raw copy/);
  });
});

describe('what the full parse refuses, and the subrequest budget (issue 19, item 6)', () => {
  beforeEach(install);

  test('MIME nesting deeper than postal-mime allows: a headers-only item with the reason, the raw copy kept', async () => {
    const depth = 300;
    const open = Array.from(
      { length: depth },
      (_, i) => `--n${i}\r\nContent-Type: multipart/mixed; boundary="n${i + 1}"\r\n\r\n`,
    ).join('');
    const close = Array.from({ length: depth }, (_, i) => `--n${depth - i}--\r\n`).join('');
    const raw = message(
      { Subject: 'Deep', 'Content-Type': 'multipart/mixed; boundary="n0"' },
      `${open}--n${depth}\r\nContent-Type: text/plain\r\n\r\ndeep\r\n${close}--n0--`,
    );
    const { result, items } = await run(raw);
    expect(result.status).toBe('tracked');
    const [item] = items;
    expect(wireProblems(item!)).toEqual([]);
    expect(item).toMatchObject({
      subject: 'Deep',
      from: { address: 'buyer@customer.example' },
      attachments: [],
    });
    expect(item!.bodyUnparsed).toMatch(/nesting depth/);
    expect(item!.text).toBeUndefined();
    const stored = await edgeEnv.RAW.get(item!.raw!.key);
    expect(stored?.size).toBe(raw.byteLength);
  });

  test('1,200 attachments: at most the budget of R2 puts per invocation, the rest only in the raw copy', async () => {
    let puts = 0;
    const counting = {
      ...edgeEnv,
      RAW: new Proxy(edgeEnv.RAW, {
        get(target, prop) {
          if (prop === 'put')
            return (...args: Parameters<R2Bucket['put']>) => {
              puts++;
              return target.put(...args);
            };
          const v = Reflect.get(target, prop);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      }),
    } as EdgeBindings;
    const parts = Array.from(
      { length: 1200 },
      (_, i) =>
        `Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="a${i}"\r\n\r\n${i}`,
    );
    const { result, items } = await run(
      message({ 'Content-Type': 'multipart/mixed; boundary="b"' }, multipart('b', parts)),
      counting,
    );
    expect(result.status).toBe('tracked');
    const [item] = items;
    expect(wireProblems(item!)).toEqual([]);
    const stored = item!.attachments.filter((a) => a.ref).length;
    expect(item!.attachments).toHaveLength(500);
    expect(item!.attachmentsLeftOut).toBe(700);
    // Raw copy, stored attachments, the item's own R2 copy (an item-ref): nothing else.
    expect(puts).toBeLessThanOrEqual(stored + 3);
    expect(stored).toBeLessThanOrEqual(500);
  });
});
