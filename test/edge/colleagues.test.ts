// Colleagues and headers (issue 19, items 9 and 10), through the edge's real pipeline: the raw copy
// of a forward-as-attachment is the wrapped message (never the forwarder's cover note), each copy
// names the mailbox that forwarded it, and headers an outsider writes never choose a more
// permissive mailbox than the one that actually forwarded.
import { beforeEach, describe, expect, test } from 'vitest';
import type { SnapshotInput } from '../../src/core/snapshot.js';
import type { IngestItem, Receipt } from '../../src/core/wire.js';
import { readEdgeConfig } from '../../src/edge/config.js';
import { processMessage } from '../../src/edge/pipeline.js';
import { capturingEnv, edgeEnv } from './helpers.js';
import { deploymentInput, installSnapshot, usSnapshotInput } from './snapshot-input.js';

const FWD = 'crm-0123456789abcdef01234567@us.edge.crm-router.example';
const enc = new TextEncoder();

function snapshotInput(): SnapshotInput {
  return usSnapshotInput({
    mailboxes: [
      { address: 'alice@contoso.example', deployment: 'contoso', userId: 'u-alice', filter: 'all' },
      { address: 'carol@contoso.example', deployment: 'contoso', userId: 'u-carol', filter: 'none' },
    ],
    forwarding: [{ address: FWD, deployment: 'contoso' }],
    deployments: [deploymentInput('contoso')],
  });
}

const waitUntil = (p: Promise<unknown>) => void p.catch(() => {});

async function run(raw: Uint8Array, from: string) {
  const { bindings, sent } = capturingEnv();
  const result = await processMessage(bindings, readEdgeConfig(bindings), raw, { from, to: FWD }, waitUntil);
  return {
    result,
    items: sent.filter((m): m is IngestItem => m.kind === 'item'),
    receipts: sent.filter((m): m is Receipt => m.kind === 'receipt'),
  };
}

const crlf = (lines: string[]) => lines.join('\r\n');

/** A wrapped message (as a forwarded .eml carries it). */
const wrappedMessage = (n: number) =>
  crlf([
    'From: Buyer <buyer@customer.example>',
    'To: alice@contoso.example',
    `Subject: Order ${n}`,
    `Message-ID: <order-${n}-${crypto.randomUUID()}@customer.example>`,
    '',
    `Please ship order ${n}.`,
  ]);

/** A forward-as-attachment from `from` with a cover note and the given wrapped parts. */
function forwardAsAttachment(
  from: string,
  parts: Array<{ body: string; base64?: boolean }>,
  extra: string[] = [],
) {
  const lines = [
    ...extra,
    `From: ${from}`,
    'To: carol@contoso.example',
    'Subject: FW: orders',
    `Message-ID: <fw-${crypto.randomUUID()}@contoso.example>`,
    'Content-Type: multipart/mixed; boundary="fw-boundary"',
    '',
    '--fw-boundary',
    'Content-Type: text/plain',
    '',
    'COVER NOTE: private remarks about this customer, for the CRM only.',
  ];
  for (const p of parts) {
    lines.push('--fw-boundary', 'Content-Type: message/rfc822');
    if (p.base64) lines.push('Content-Transfer-Encoding: base64');
    lines.push('', p.base64 ? btoa(p.body).replace(/.{76}/g, '$&\r\n') : p.body);
  }
  lines.push('--fw-boundary--', '');
  return enc.encode(crlf(lines));
}

async function stored(item: IngestItem): Promise<string> {
  const object = await edgeEnv.RAW.get(item.raw!.key);
  expect(object).not.toBeNull();
  return new TextDecoder().decode(await object!.arrayBuffer());
}

describe('item 9: the raw copy of a forward-as-attachment', () => {
  beforeEach(() => installSnapshot(snapshotInput()));

  test("is each wrapped message's own bytes, never the forwarder's wrapper with its cover note", async () => {
    const first = wrappedMessage(1);
    const second = wrappedMessage(2);
    const raw = forwardAsAttachment('Alice <alice@contoso.example>', [{ body: first }, { body: second }]);
    const { result, items } = await run(raw, 'alice@contoso.example');
    expect(result.status, JSON.stringify(result.decision)).toBe('tracked');
    expect(items).toHaveLength(2);
    expect(await stored(items[0]!)).toBe(first);
    expect(await stored(items[1]!)).toBe(second);
    expect(items[0]!.raw!.key).not.toBe(items[1]!.raw!.key);
    expect(items[0]!.raw!.size).toBe(enc.encode(first).byteLength);
  });

  test('a base64-encoded wrapped part is stored decoded, as the message it is', async () => {
    const inner = wrappedMessage(3);
    const raw = forwardAsAttachment('alice@contoso.example', [{ body: inner, base64: true }]);
    const { items } = await run(raw, 'alice@contoso.example');
    expect(items).toHaveLength(1);
    const copy = await stored(items[0]!);
    expect(copy.trimEnd()).toBe(inner);
    expect(copy).not.toContain('COVER NOTE');
  });

  test('every item names the mailbox that forwarded its copy', async () => {
    const raw = forwardAsAttachment('alice@contoso.example', [{ body: wrappedMessage(4) }]);
    const { items } = await run(raw, 'alice@contoso.example');
    expect(items[0]!.forwardedBy).toEqual(['alice@contoso.example']);
  });
});

describe('item 10: headers an outsider writes do not choose the mailbox or raise its filter', () => {
  beforeEach(() => installSnapshot(snapshotInput()));

  const spoof = (extra: string[] = []) =>
    enc.encode(
      crlf([
        ...extra,
        'From: Stranger <stranger@example.net>',
        'To: carol@contoso.example',
        'X-Forwarded-To: alice@contoso.example',
        'Subject: Private matter',
        `Message-ID: <spoof-${crypto.randomUUID()}@example.net>`,
        '',
        'For carol only.',
        '',
      ]),
    );

  test("mail to carol (filter none) naming alice (filter all) in X-Forwarded-To is not tracked under alice's filter", async () => {
    const { result, items } = await run(spoof(), 'stranger@example.net');
    expect(items).toEqual([]);
    expect(result).toMatchObject({ status: 'tossed', reason: 'filter:none' });
  });

  test("with carol's MTA's Delivered-To on top, carol is the forwarder and her filter applies", async () => {
    const { result, items } = await run(
      spoof(['Delivered-To: carol@contoso.example']),
      'carol@contoso.example',
    );
    expect(items).toEqual([]);
    expect(result).toMatchObject({ status: 'tossed', reason: 'filter:none' });
    expect(result.detail).not.toMatch(/alice/);
  });

  test("an outsider's forward-as-attachment claiming alice's From, forwarded by carol, does not get alice's filter", async () => {
    const raw = forwardAsAttachment('Alice <alice@contoso.example>', [{ body: wrappedMessage(5) }]);
    const { result, items } = await run(raw, 'stranger@example.net');
    expect(items).toEqual([]);
    expect(result).toMatchObject({ status: 'tossed', reason: 'filter:none' });
  });

  test('the same forward submitted by alice herself (envelope sender alice) is a forward-as-attachment', async () => {
    const raw = forwardAsAttachment('Alice <alice@contoso.example>', [{ body: wrappedMessage(6) }]);
    const { result, items } = await run(raw, 'alice@contoso.example');
    expect(result).toMatchObject({ status: 'tracked', reason: 'tracked:all' });
    expect(items.map((i) => i.subject)).toEqual(['Order 6']);
  });
});
