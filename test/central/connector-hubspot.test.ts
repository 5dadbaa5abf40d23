// The HubSpot adapter against the stateful HubSpot fake (fakes/hubspot.ts), in workerd.
// Fixture-verified: the fake is written from HubSpot's public documentation; no HubSpot runs here.
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { CrmPullError } from '../../src/central/connectors/crm-http.js';
import {
  HUBSPOT_ACTIVITY_PROPERTY,
  HUBSPOT_SEARCH_RESULT_CAP,
  hubspotAdapter,
} from '../../src/central/connectors/hubspot.js';
import type { ConnectorContext, DeliveryInput, PullPage } from '../../src/central/connectors/types.js';
import { activity, connectorContext, fakeControl, type TestContext } from '../support/connector-context.js';

const TOKEN = 'fake-hubspot-token';

interface FakeEmail {
  id: string;
  properties: Record<string, string>;
  associations: string[];
}
interface FakeState {
  emails: FakeEmail[];
  customProperties: Record<string, string[]>;
}

let base: string;
let ctx: TestContext;

beforeEach(async () => {
  base = `${inject('hubspotFake')}/t/${crypto.randomUUID()}`;
  ctx = connectorContext({ baseUrl: base }, { accessToken: TOKEN });
});

const input = (over: Partial<DeliveryInput> = {}): DeliveryInput => ({
  deliveryId: crypto.randomUUID(),
  activity: activity(),
  content: { text: 'Hello, 40 units please.' },
  loadRaw: async () => undefined,
  ...over,
});

async function seedRecords() {
  return fakeControl<{ contacts: string[]; companies: string[]; owners: string[] }>(base, 'seed', {
    contacts: [{ email: 'ann@customer.example' }, { email: 'bob@customer.example' }],
    companies: [{ name: 'Customer Inc', domain: 'customer.example' }],
    owners: [{ email: 'rep@acme.example', firstName: 'Rita', lastName: 'Rep' }],
  });
}

async function pullAll(c: ConnectorContext, cursor?: string, maxPages = 500) {
  const pages: PullPage[] = [];
  let next = cursor;
  for (let i = 0; i < maxPages; i++) {
    const page = await hubspotAdapter.pull?.(c, next);
    if (!page) throw new Error('no pull');
    pages.push(page);
    next = page.nextCursor;
    if (page.done) return { pages, cursor: next };
  }
  throw new Error(`not done after ${maxPages} pages`);
}

describe('HubSpot connector (fixture-verified against fakes/hubspot.ts)', () => {
  it('logs an incoming email with headers and body, associated with the matched contact and company', async () => {
    const ids = await seedRecords();
    const a = activity({
      parties: [
        {
          role: 'from',
          address: 'ann@customer.example',
          name: 'Ann Customer',
          recordType: 'contact',
          recordId: ids.contacts[0],
        },
        { role: 'to', address: 'sales@acme.example' },
        { role: 'cc', address: 'boss@customer.example', recordType: 'account', recordId: ids.companies[0] },
      ],
    });
    const result = await hubspotAdapter.deliver(
      ctx,
      input({ activity: a, content: { text: 'plain', html: '<p>rich</p>' } }),
    );
    expect(result).toMatchObject({ outcome: 'delivered', crmObject: { kind: 'hubspot' } });
    const state = await fakeControl<FakeState>(base, 'state');
    expect(state.customProperties.emails).toEqual([HUBSPOT_ACTIVITY_PROPERTY]);
    expect(state.emails).toHaveLength(1);
    const email = state.emails[0] as FakeEmail;
    expect(result).toMatchObject({ crmObject: { id: email.id } });
    expect(email.properties).toMatchObject({
      hs_email_direction: 'INCOMING_EMAIL',
      hs_email_subject: 'Quote for 40 units',
      hs_email_text: 'plain',
      hs_email_html: '<p>rich</p>',
      hs_timestamp: new Date(a.receivedAt).toISOString(),
      [HUBSPOT_ACTIVITY_PROPERTY]: `acme/${a.id}`,
    });
    expect(JSON.parse(email.properties.hs_email_headers as string)).toEqual({
      from: { email: 'ann@customer.example', firstName: 'Ann', lastName: 'Customer' },
      sender: { email: 'ann@customer.example', firstName: 'Ann', lastName: 'Customer' },
      to: [{ email: 'sales@acme.example', firstName: '', lastName: '' }],
      cc: [{ email: 'boss@customer.example', firstName: '', lastName: '' }],
      bcc: [],
    });
    expect(email.associations).toEqual([`companies:${ids.companies[0]}`, `contacts:${ids.contacts[0]}`]);
  });

  it('a body the egress policy did not keep is not sent', async () => {
    await hubspotAdapter.deliver(ctx, input({ content: {} }));
    const [email] = (await fakeControl<FakeState>(base, 'state')).emails;
    expect(email?.properties.hs_email_text).toBeUndefined();
    expect(email?.properties.hs_email_html).toBeUndefined();
  });

  it('a duplicate delivery after a lost answer makes no second object', async () => {
    const ids = await seedRecords();
    const a = activity({
      parties: [
        { role: 'from', address: 'ann@customer.example', recordType: 'contact', recordId: ids.contacts[0] },
      ],
    });
    await fakeControl(base, 'faults', {
      rules: [{ method: 'POST', path: '/batch/upsert', lostAnswer: true }],
    });
    const lost = await hubspotAdapter.deliver(ctx, input({ activity: a }));
    expect(lost.outcome).toBe('retry');
    expect((await fakeControl<FakeState>(base, 'state')).emails).toHaveLength(1);
    // The outbox redelivers (same activity, a new attempt); and once more after success.
    const again = await hubspotAdapter.deliver(ctx, input({ activity: a }));
    const third = await hubspotAdapter.deliver(ctx, input({ activity: a }));
    expect(again).toMatchObject({ outcome: 'delivered' });
    expect(third).toEqual(again);
    const state = await fakeControl<FakeState>(base, 'state');
    expect(state.emails).toHaveLength(1);
    expect(state.emails[0]?.associations).toEqual([`contacts:${ids.contacts[0]}`]);
  });

  it('a later copy that added parties adds their associations to the same object', async () => {
    const ids = await seedRecords();
    const first = activity({
      parties: [
        { role: 'from', address: 'ann@customer.example', recordType: 'contact', recordId: ids.contacts[0] },
      ],
    });
    const made = await hubspotAdapter.deliver(ctx, input({ activity: first }));
    if (made.outcome !== 'delivered' || !made.crmObject) throw new Error(JSON.stringify(made));
    const later = {
      ...first,
      parties: [
        ...first.parties,
        {
          role: 'to' as const,
          address: 'bob@customer.example',
          recordType: 'contact',
          recordId: ids.contacts[1],
        },
      ],
    };
    const updated = await hubspotAdapter.deliver(ctx, input({ activity: later, existing: made.crmObject }));
    expect(updated).toEqual(made);
    const state = await fakeControl<FakeState>(base, 'state');
    expect(state.emails).toHaveLength(1);
    expect(state.emails[0]?.associations).toEqual(
      [`contacts:${ids.contacts[0]}`, `contacts:${ids.contacts[1]}`].sort(),
    );
  });

  it('an association to a record HubSpot does not know is a permanent refusal with its reason', async () => {
    const a = activity({
      parties: [{ role: 'from', address: 'x@y.example', recordType: 'contact', recordId: '999999' }],
    });
    const result = await hubspotAdapter.deliver(ctx, input({ activity: a }));
    expect(result).toMatchObject({ outcome: 'refused', status: 207 });
    expect(result.outcome === 'refused' && result.detail).toContain('contacts 999999 was not found');
  });

  it('401 is unauthorized (the connector pauses) and test() says the token was refused', async () => {
    const bad = connectorContext({ baseUrl: base }, { accessToken: 'pat-na1-wrong' });
    const result = await hubspotAdapter.deliver(bad, input());
    expect(result).toMatchObject({ outcome: 'unauthorized', status: 401 });
    expect(result.outcome === 'unauthorized' && result.detail).toContain(
      'Authentication credentials not found',
    );
    const t = await hubspotAdapter.test(bad);
    expect(t.ok).toBe(false);
    expect(t.detail).toMatch(/^the access token was refused \(401\)/);
    expect((await fakeControl<FakeState>(base, 'state')).emails).toHaveLength(0);
  });

  it('test() tells a missing scope and an unreachable HubSpot apart from a good connection', async () => {
    expect(await hubspotAdapter.test(ctx)).toEqual({
      ok: true,
      detail: `connected to ${base}: contacts are readable with this token`,
    });
    await fakeControl(base, 'settings', { missingScopes: ['crm.objects.contacts.read'] });
    const scope = await hubspotAdapter.test(ctx);
    expect(scope.ok).toBe(false);
    expect(scope.detail).toMatch(/^the token lacks a scope \(403/);
    expect(scope.detail).toContain('Missing: crm.objects.contacts.read');
    const down = await hubspotAdapter.test(
      connectorContext({ baseUrl: 'http://127.0.0.1:9' }, { accessToken: TOKEN }),
    );
    expect(down.ok).toBe(false);
    expect(down.detail).toMatch(/^http:\/\/127\.0\.0\.1:9 unreachable/);
  });

  it('429 honours Retry-After (seconds and HTTP-date) and makes nothing', async () => {
    await fakeControl(base, 'faults', {
      rules: [
        {
          path: '/batch/upsert',
          status: 429,
          retryAfter: '7',
          body: {
            status: 'error',
            message: 'You have reached your secondly limit.',
            category: 'RATE_LIMITS',
          },
        },
      ],
    });
    const limited = await hubspotAdapter.deliver(ctx, input());
    expect(limited).toEqual({
      outcome: 'rate-limited',
      retryAfterMs: 7000,
      detail: 'HubSpot answered 429: You have reached your secondly limit.',
    });
    await fakeControl(base, 'faults', {
      rules: [
        { path: '/batch/upsert', status: 429, retryAfter: new Date(ctx.clock.now + 30_000).toUTCString() },
      ],
    });
    const dated = await hubspotAdapter.deliver(ctx, input());
    expect(dated.outcome === 'rate-limited' && dated.retryAfterMs).toBeGreaterThan(28_000);
    expect(dated.outcome === 'rate-limited' && dated.retryAfterMs).toBeLessThanOrEqual(30_000);
    expect((await fakeControl<FakeState>(base, 'state')).emails).toHaveLength(0);
  });

  it('a 5xx storm is retried until HubSpot recovers, then exactly one object exists', async () => {
    await fakeControl(base, 'faults', { rules: [{ path: '/batch/upsert', status: 503, times: 4 }] });
    const a = activity();
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++)
      outcomes.push((await hubspotAdapter.deliver(ctx, input({ activity: a }))).outcome);
    expect(outcomes).toEqual(['retry', 'retry', 'retry', 'retry', 'delivered']);
    expect((await fakeControl<FakeState>(base, 'state')).emails).toHaveLength(1);
  });

  it('a refusal from HubSpot (a 4xx) is permanent and carries its message', async () => {
    await fakeControl(base, 'faults', {
      rules: [
        {
          path: '/batch/upsert',
          status: 400,
          body: { status: 'error', message: 'Property values were not valid', category: 'VALIDATION_ERROR' },
        },
      ],
    });
    expect(await hubspotAdapter.deliver(ctx, input())).toEqual({
      outcome: 'refused',
      status: 400,
      detail: 'HubSpot answered 400: Property values were not valid',
    });
  });

  it('pull reads contacts, companies and owners, then only changes; archived objects are deleted', async () => {
    const t0 = Date.now() - 2 * 3_600_000;
    const ids = await fakeControl<{ contacts: string[]; companies: string[]; owners: string[] }>(
      base,
      'seed',
      {
        contacts: [
          { email: 'Ann@Customer.example', additionalEmails: ['ann.private@home.example'], modifiedAt: t0 },
          { email: 'bob@customer.example', modifiedAt: t0 },
        ],
        companies: [{ name: 'Customer Inc', modifiedAt: t0 }],
        owners: [{ email: 'rep@acme.example', updatedAt: t0 }],
      },
    );
    // The first run ends an hour ago; everything after that is the next run's.
    ctx.clock.now = Date.now() - 3_600_000;
    const first = await pullAll(ctx);
    const upserts = first.pages.flatMap((p) => p.upserts);
    expect(upserts).toEqual(
      expect.arrayContaining([
        {
          type: 'contact',
          id: ids.contacts[0],
          emails: ['ann@customer.example', 'ann.private@home.example'],
        },
        { type: 'contact', id: ids.contacts[1], emails: ['bob@customer.example'] },
        { type: 'account', id: ids.companies[0], emails: [] },
        { type: 'user', id: ids.owners[0], emails: ['rep@acme.example'] },
      ]),
    );
    expect(upserts).toHaveLength(4);
    expect(first.pages.flatMap((p) => p.deleted)).toEqual([]);

    // Later: one contact changes, one is archived; the next run sees only that.
    await fakeControl(base, 'touch', {
      type: 'contacts',
      ids: [ids.contacts[1]],
      properties: { email: 'bob@new.example' },
    });
    await fakeControl(base, 'archive', { type: 'contacts', ids: [ids.contacts[0]] });
    const later = connectorContext({ baseUrl: base }, { accessToken: TOKEN });
    later.clock.now = Date.now() + 1000;
    const second = await pullAll(later, first.cursor);
    const changed = second.pages.flatMap((p) => p.upserts);
    expect(changed).toContainEqual({ type: 'contact', id: ids.contacts[1], emails: ['bob@new.example'] });
    expect(changed.map((r) => r.id)).not.toContain(ids.companies[0]);
    expect(second.pages.flatMap((p) => p.deleted)).toEqual([{ type: 'contact', id: ids.contacts[0] }]);
  });

  it(`pull splits a window holding more than ${HUBSPOT_SEARCH_RESULT_CAP} changes and reads every contact once`, async () => {
    const count = HUBSPOT_SEARCH_RESULT_CAP + 2_345;
    const to = Date.now() - 60 * 60_000;
    await fakeControl(base, 'seed', { bulkContacts: { count, from: to - 3 * 86_400_000, to } });
    const { pages } = await pullAll(ctx);
    const seen = new Map<string, number>();
    for (const r of pages.flatMap((p) => p.upserts)) seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
    expect(seen.size).toBe(count);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    // No query ever paged past the cap (the fake answers 400 there).
    const log = await fakeControl<{ path: string; status: number }[]>(base, 'log');
    expect(log.filter((l) => l.status >= 400)).toEqual([]);
    expect(pages.at(-1)?.progress?.done).toBe(count);
    // The first window [0, runTo) held them all: it was halved before any of it was read.
    const after = JSON.parse(pages[0]?.nextCursor ?? '{}') as {
      window?: { from: number; to: number };
      runTo: number;
    };
    expect(after.window).toBeDefined();
    expect([after.window?.from, after.window?.to]).not.toEqual([0, after.runTo]);
  }, 180_000);

  it('contacts modified while a window is paged shift no unread contact past the reader', async () => {
    const t0 = Date.now() - 86_400_000;
    await fakeControl(base, 'seed', { bulkContacts: { count: 450, from: t0, to: t0 + 450_000 } });
    ctx.clock.now = Date.now() - 3_600_000;
    const one = await hubspotAdapter.pull?.(ctx, undefined);
    if (!one) throw new Error('no pull');
    expect(one.upserts).toHaveLength(200);
    // Ten contacts of the first page change now: they leave the window being paged (and belong to the next run).
    await fakeControl(base, 'touch', { type: 'contacts', ids: one.upserts.slice(0, 10).map((r) => r.id) });
    const rest = await pullAll(ctx, one.nextCursor);
    const seen = new Set([...one.upserts, ...rest.pages.flatMap((p) => p.upserts)].map((r) => r.id));
    expect(seen.size).toBe(450);
  });

  it('outgoing emails with a Message-ID are registered as outbound; incoming ones are not', async () => {
    const ids = await seedRecords();
    await fakeControl(base, 'seed', {
      emails: [
        {
          hs_timestamp: '2026-12-06T10:00:00Z',
          hs_email_direction: 'EMAIL',
          hs_email_message_id: '<out-1@acme.example>',
          hs_email_subject: 'Your quote',
          hs_email_headers: JSON.stringify({
            from: { email: 'rep@acme.example' },
            to: [{ email: 'ann@customer.example' }],
          }),
          hubspot_owner_id: ids.owners[0],
        },
        {
          hs_timestamp: '2026-12-06T10:05:00Z',
          hs_email_direction: 'INCOMING_EMAIL',
          hs_email_message_id: '<in-1@customer.example>',
        },
        {
          hs_timestamp: '2026-12-06T10:06:00Z',
          hs_email_direction: 'EMAIL',
          hubspot_owner_id: ids.owners[0],
        },
      ],
    });
    ctx.clock.now = Date.now() + 1000;
    const { pages } = await pullAll(ctx);
    expect(pages.flatMap((p) => p.outbound)).toEqual([
      {
        messageId: '<out-1@acme.example>',
        userId: ids.owners[0],
        subject: 'Your quote',
        to: ['ann@customer.example'],
      },
    ]);
  });

  it('a token revoked mid-sync stops the pull as unauthorized; the stored cursor resumes it', async () => {
    await fakeControl(base, 'seed', {
      bulkContacts: { count: 450, from: Date.now() - 86_400_000, to: Date.now() - 3_600_000 },
    });
    const one = await hubspotAdapter.pull?.(ctx, undefined);
    if (!one) throw new Error('no pull');
    expect(one.upserts).toHaveLength(200);
    await fakeControl(base, 'settings', { token: 'rotated' });
    const error = await hubspotAdapter.pull?.(ctx, one.nextCursor).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CrmPullError);
    expect((error as CrmPullError).result).toMatchObject({ outcome: 'unauthorized', status: 401 });
    const resumed = connectorContext({ baseUrl: base }, { accessToken: 'rotated' });
    resumed.clock.now = ctx.clock.now;
    const rest = await pullAll(resumed, one.nextCursor);
    const ids = new Set([...one.upserts, ...rest.pages.flatMap((p) => p.upserts)].map((r) => r.id));
    expect(ids.size).toBe(450);
  });
});
