// Who forwarded (issue 19, item 10): what the customer's own servers wrote (the topmost
// Delivered-To / X-Original-To, the envelope sender) names the forwarding mailbox, and a match
// found only in headers any sender writes never raises that mailbox's filter.
import { describe, expect, test } from 'vitest';
import { classify, isRoutedMailbox } from '../../src/core/classify.js';
import { readForwardedMessages, readMessageFacts } from '../../src/core/message-facts.js';
import { buildSnapshot } from '../../src/core/snapshot.js';
import type { FilterMode } from '../../src/core/types.js';
import { contosoInput } from './contoso-snapshot.js';
import { mail } from './mail-builder.js';

const NOW = 1_710_300_000_000;
const FWD = 'crm@us.edge.localhost';

/** contoso with alice (`all`) and carol (`none`), unless told otherwise. */
function snapshot(alice: FilterMode = 'all', carol: FilterMode = 'none') {
  const input = contosoInput(alice);
  input.mailboxes.push({
    address: 'carol@contoso.example',
    deployment: 'contoso',
    userId: 'u-carol',
    filter: carol,
  });
  return buildSnapshot(input);
}

function decide(raw: Uint8Array, envelopeFrom: string) {
  const s = snapshot();
  const messages = readForwardedMessages(
    raw,
    { from: envelopeFrom, to: FWD },
    { isForwardingMailbox: (a) => isRoutedMailbox(s, a, 'contoso') },
  );
  return messages.map((facts) => classify(facts, s, { now: NOW, deployment: 'contoso' }));
}

const toCarolNamingAlice = (headers: string[] = []) =>
  mail({
    from: 'Stranger <stranger@example.net>',
    to: 'carol@contoso.example',
    headers: [...headers, 'X-Forwarded-To: alice@contoso.example'],
  });

describe('the forwarding mailbox and its filter', () => {
  test('X-Forwarded-To naming a permissive colleague does not track mail sent to a `none` mailbox', () => {
    const [d] = decide(toCarolNamingAlice(), 'stranger@example.net');
    expect(d).toMatchObject({ crmBound: false, reason: 'filter:none' });
  });

  test.each([
    ['the topmost Delivered-To', ['Delivered-To: carol@contoso.example'], 'stranger@example.net'],
    ['the topmost X-Original-To', ['X-Original-To: carol@contoso.example'], 'stranger@example.net'],
    ['the envelope sender', [], 'carol@contoso.example'],
  ])('%s names the forwarder: her filter decides, whatever the headers below claim', (_, headers, from) => {
    const [d] = decide(toCarolNamingAlice(headers), from);
    expect(d).toMatchObject({ crmBound: false, reason: 'filter:none' });
    expect(d?.targets[0]?.forwardedBy).toEqual(['carol@contoso.example']);
  });

  test('a Delivered-To the sender wrote below the MTA’s own is not the forwarder', () => {
    const raw = mail({
      from: 'stranger@example.net',
      to: 'carol@contoso.example',
      headers: ['Delivered-To: carol@contoso.example', 'Delivered-To: alice@contoso.example'],
    });
    const [d] = decide(raw, 'stranger@example.net');
    expect(d).toMatchObject({ crmBound: false, reason: 'filter:none' });
  });

  test('the forwarder decides even against a more permissive original recipient', () => {
    const raw = mail({
      from: 'stranger@example.net',
      to: 'alice@contoso.example, carol@contoso.example',
      headers: ['Delivered-To: carol@contoso.example'],
    });
    const [d] = decide(raw, 'stranger@example.net');
    expect(d).toMatchObject({ crmBound: false, reason: 'filter:none' });
    // Both stay on the message: only the filter is the forwarder's.
    expect(d?.targets[0]?.mailboxes.map((m) => m.address).sort()).toEqual([
      'alice@contoso.example',
      'carol@contoso.example',
    ]);
  });

  test("alice's own forward (Delivered-To alice) is tracked under her filter", () => {
    const raw = mail({
      from: 'stranger@example.net',
      to: 'carol@contoso.example',
      cc: 'alice@contoso.example',
      headers: ['Delivered-To: alice@contoso.example'],
    });
    const [d] = decide(raw, 'stranger@example.net');
    expect(d).toMatchObject({ crmBound: true, reason: 'tracked:all' });
    expect(d?.targets[0]?.forwardedBy).toEqual(['alice@contoso.example']);
  });

  test('a trace header alone routes Bcc’d mail as before (no recipient is routed)', () => {
    const raw = mail({
      from: 'stranger@example.net',
      to: 'someone@example.org',
      headers: ['X-Forwarded-To: alice@contoso.example'],
    });
    const [d] = decide(raw, 'stranger@example.net');
    expect(d).toMatchObject({ crmBound: true, reason: 'tracked:all' });
  });

  test('the envelope sender alone never routes: it only confirms a mailbox the headers name', () => {
    const raw = mail({ from: 'alice@contoso.example', to: 'customer@example.org' });
    const [d] = decide(raw, 'alice@contoso.example');
    expect(d).toMatchObject({ crmBound: false, reason: 'no-route' });
  });
});

describe('forward-as-attachment needs more than an outer From', () => {
  const wrapper = (from: string, extra: string[] = []) =>
    new TextEncoder().encode(
      [
        ...extra,
        `From: ${from}`,
        'To: carol@contoso.example',
        'Subject: FW: order',
        'Message-ID: <fw-1@contoso.example>',
        'Content-Type: multipart/mixed; boundary="b"',
        '',
        '--b',
        'Content-Type: message/rfc822',
        '',
        'From: buyer@customer.example',
        'To: alice@contoso.example',
        'Subject: Order',
        'Message-ID: <order-1@customer.example>',
        '',
        'Ship it.',
        '--b--',
        '',
      ].join('\r\n'),
    );

  test("an outsider's wrapper with alice's From, forwarded by carol, is carol's mail, not alice's forward", () => {
    for (const [extra, envelopeFrom] of [
      [[], 'stranger@example.net'],
      [['Delivered-To: carol@contoso.example'], 'alice@contoso.example'],
    ] as const) {
      const facts = readMessageFacts(
        wrapper('alice@contoso.example', [...extra]),
        { from: envelopeFrom, to: FWD },
        { isForwardingMailbox: (a) => a === 'alice@contoso.example' || a === 'carol@contoso.example' },
      );
      expect(facts.forwardedAsAttachment).toBe(false);
      const [d] = decide(wrapper('alice@contoso.example', [...extra]), envelopeFrom);
      expect(d).toMatchObject({ crmBound: false, reason: 'filter:none' });
    }
  });

  test('the wrapper alice sent herself (envelope sender alice) forwards the wrapped message under her filter', () => {
    const [d, ...rest] = decide(wrapper('Alice <alice@contoso.example>'), 'alice@contoso.example');
    expect(rest).toEqual([]);
    expect(d).toMatchObject({ crmBound: true, reason: 'tracked:all' });
    expect(d?.targets[0]?.forwardedBy).toEqual(['alice@contoso.example']);
  });
});
