// src/central/ingest/plan.ts without D1: what a batch looks up, and what each item becomes given
// what the lookups found (rejection, record-false-positive, or the activity row and its key).
import { describe, expect, test } from 'vitest';
import {
  contentFingerprint,
  dedupeKeyOf,
  type Lookups,
  lookupKeysOf,
  planItems,
  type RecordMatch,
  resolveParties,
  scoped,
  screen,
} from '../../src/central/ingest/plan.js';
import type { IngestItem } from '../../src/core/wire.js';
import { itemMaker } from './edge-batch.js';

const item = itemMaker('plan', () => ({
  from: { address: 'buyer@customer.example', name: 'Buyer' },
  to: [{ address: 'alice@contoso.example' }],
  date: 1_700_000_000_000,
}));

function lookups(over: Partial<Lookups> = {}): Lookups {
  return {
    knownDeployments: new Set(['contoso']),
    matches: new Map(),
    outbound: new Map(),
    tokens: new Map(),
    fingerprints: new Map(),
    ...over,
  };
}

const match = (type: string, recordId: string): RecordMatch => ({ type, recordId, emailEnabled: true });
let ids = 0;
const plan = (items: IngestItem[], found: Lookups) =>
  planItems(items, found, { now: 5, newId: () => `new-${++ids}` });

describe('ingest plan', () => {
  test('the dedupe key is the normalised Message-ID, or the content hash without one', () => {
    expect(dedupeKeyOf(item({ messageId: '<Abc@Example.COM>' }))).toBe(
      dedupeKeyOf(item({ messageId: 'abc@example.com' })),
    );
    expect(dedupeKeyOf(item({ messageId: undefined, contentHash: 'c'.repeat(64) }))).toBe(
      `sha256:${'c'.repeat(64)}`,
    );
  });

  test('the fingerprint ignores address case and recipient order, and changes with the Date', () => {
    const a = item({ to: [{ address: 'X@a.example' }, { address: 'y@a.example' }] });
    const b = item({ to: [{ address: 'y@a.example' }, { address: 'x@A.example' }] });
    expect(contentFingerprint(a)).toBe(contentFingerprint(b));
    expect(contentFingerprint({ ...a, date: 1 })).not.toBe(contentFingerprint(a));
  });

  test('lookup keys are gathered per deployment: addresses, normalised references, lower-cased tokens, dedupe keys', () => {
    const keys = lookupKeysOf([
      item({ inReplyTo: ['<Out-1@crm.example>'], trackingToken: 'TOK123' }),
      item({ deployment: 'fabrikam', cc: [{ address: 'cc@x.example' }] }),
    ]);
    expect([...keys.deployments].sort()).toEqual(['contoso', 'fabrikam']);
    expect([...(keys.addresses.get('contoso') ?? [])].sort()).toEqual([
      'alice@contoso.example',
      'buyer@customer.example',
    ]);
    expect([...(keys.addresses.get('fabrikam') ?? [])]).toContain('cc@x.example');
    expect([...(keys.outboundIds.get('contoso') ?? [])]).toEqual(['out-1@crm.example']);
    expect([...(keys.tokens.get('contoso') ?? [])]).toEqual(['tok123']);
    expect(keys.dedupeKeys.get('fabrikam')?.size).toBe(1);
  });

  test('From takes the first match in the order user, contact, account, lead; To and Cc list every match', () => {
    const it = item({ cc: [{ address: 'nobody@x.example' }] });
    const matches = new Map([
      [scoped('contoso', 'buyer@customer.example'), [match('lead', 'l1'), match('contact', 'c1')]],
      [scoped('contoso', 'alice@contoso.example'), [match('account', 'a1'), match('user', 'u1')]],
    ]);
    expect(resolveParties(it, matches)).toEqual([
      {
        role: 'from',
        address: 'buyer@customer.example',
        name: 'Buyer',
        recordType: 'contact',
        recordId: 'c1',
      },
      { role: 'to', address: 'alice@contoso.example', recordType: 'user', recordId: 'u1' },
      { role: 'to', address: 'alice@contoso.example', recordType: 'account', recordId: 'a1' },
      { role: 'cc', address: 'nobody@x.example' },
    ]);
  });

  test('an unknown deployment is rejected; a sender-record item whose sender is no record is a false positive', () => {
    const [unknown, falsePositive, stored] = plan(
      [
        item({ deployment: 'nowhere' }),
        item({ correlation: { method: 'sender-record', detail: 'filter' } }),
        item({ correlation: { method: 'sender-record', detail: 'filter' } }),
      ].map((it, i) => (i === 2 ? { ...it, from: { address: 'known@customer.example' } } : it)),
      lookups({
        matches: new Map([[scoped('contoso', 'known@customer.example'), [match('contact', 'c9')]]]),
      }),
    );
    expect(unknown).toMatchObject({ kind: 'rejected', reason: 'unknown deployment nowhere' });
    expect(falsePositive).toMatchObject({
      kind: 'false-positive',
      problem: expect.stringMatching(/sender is not a CRM record/),
    });
    expect(stored).toMatchObject({
      kind: 'store',
      row: { parties: expect.arrayContaining([expect.objectContaining({ role: 'from', recordId: 'c9' })]) },
    });
  });

  test('a reply takes the regarding record of the outbound message it answers, else of its tracking token', () => {
    const found = lookups({
      outbound: new Map([
        [scoped('contoso', 'out-1@crm.example'), [{ regardingType: 'account', regardingId: 'a1' }]],
      ]),
      tokens: new Map([[scoped('contoso', 'tok'), [{ regardingType: 'lead', regardingId: 'l1' }]]]),
    });
    const [byReply, byToken] = plan(
      [item({ inReplyTo: ['<OUT-1@crm.example>'], trackingToken: 'TOK' }), item({ trackingToken: 'Tok' })],
      found,
    );
    expect(byReply).toMatchObject({ row: { regardingType: 'account', regardingId: 'a1' } });
    expect(byToken).toMatchObject({ row: { regardingType: 'lead', regardingId: 'l1' } });
  });

  test('a copy keeps the Message-ID key when its fingerprint matches; another message reusing it is keyed by content hash', () => {
    const first = item({ messageId: 'same@x.example' });
    const copy = { ...first, id: 'copy', mailboxes: ['bob@contoso.example'] };
    const impostor = { ...first, id: 'impostor', date: 42, contentHash: 'd'.repeat(64) };
    const plans = plan([first, copy, impostor], lookups());
    expect(plans.map((p) => (p.kind === 'store' ? p.row.dedupeKey : p.kind))).toEqual([
      'same@x.example',
      'same@x.example',
      `sha256:${'d'.repeat(64)}`,
    ]);
    // Against a stored activity with another fingerprint, even the first copy is keyed by its content.
    const stored = lookups({ fingerprints: new Map([[scoped('contoso', 'same@x.example'), 'other']]) });
    expect(plan([first], stored)[0]).toMatchObject({ row: { dedupeKey: `sha256:${first.contentHash}` } });
  });

  test('screen: a malformed item is rejected for dead-lettering, a foreign claim is rejected unstored', () => {
    const claims = {
      region: 'us',
      routedDeployments: new Set(['contoso']),
      knownDeployments: new Set(['contoso']),
    };
    const good = item();
    const out = screen(
      [good, { kind: 'item', id: 'broken' }, item({ id: 'eu-item-1', region: 'eu' })],
      [],
      claims,
    );
    expect(out.items.map((i) => i.id)).toEqual([good.id]);
    expect(out.rejected).toEqual([
      {
        id: 'broken',
        reason: expect.stringMatching(/^malformed/),
        deadLetter: { kind: 'item', id: 'broken' },
      },
      { id: 'eu-item-1', reason: expect.stringMatching(/^claim: the item names region eu/) },
    ]);
  });
});
