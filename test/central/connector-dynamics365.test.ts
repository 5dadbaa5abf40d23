// The Dynamics 365 / Dataverse adapter against the stateful fake (fakes/dynamics365.ts), whose
// validator checks every request against a CSDL fixture written from Microsoft's documented entity
// references (fakes/dynamics-csdl.xml). Fixture-verified: no Dataverse runs here.
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { CrmPullError } from '../../src/central/connectors/crm-http.js';
import { dynamics365Adapter, dynamicsActivityId } from '../../src/central/connectors/dynamics365.js';
import type { ConnectorContext, DeliveryInput, PullPage } from '../../src/central/connectors/types.js';
import { activity, connectorContext, fakeControl, type TestContext } from '../support/connector-context.js';

const CLIENT_ID = 'fake-client-id';
const CLIENT_SECRET = 'fake-client-secret';

interface FakeEmail extends Record<string, unknown> {
  activityid: string;
  parties: Record<string, unknown>[];
}
interface FakeState {
  tokensIssued: number;
  emails: FakeEmail[];
}

let base: string;
let ctx: TestContext;

function contextFor(secret = CLIENT_SECRET): TestContext {
  return connectorContext(
    {
      url: base,
      tenantId: 'contoso.onmicrosoft.com',
      clientId: CLIENT_ID,
      tokenUrl: `${base}/oauth2/v2.0/token`,
    },
    { clientSecret: secret },
  );
}

beforeEach(() => {
  base = `${inject('dynamicsFake')}/t/${crypto.randomUUID()}`;
  ctx = contextFor();
});

const input = (over: Partial<DeliveryInput> = {}): DeliveryInput => ({
  deliveryId: crypto.randomUUID(),
  activity: activity(),
  content: { text: 'Hello, 40 units please.' },
  loadRaw: async () => undefined,
  ...over,
});

async function seed() {
  return fakeControl<Record<'contacts' | 'accounts' | 'systemusers', string[]>>(base, 'seed', {
    contacts: [
      { fullname: 'Ann Customer', emailaddress1: 'ann@customer.example' },
      { fullname: 'Bob Customer', emailaddress1: 'bob@customer.example', emailaddress2: 'Bob@Home.example' },
    ],
    accounts: [{ name: 'Customer Inc', emailaddress1: 'info@customer.example' }],
    systemusers: [{ fullname: 'Rita Rep', internalemailaddress: 'rep@acme.example', isdisabled: false }],
  });
}

const emails = async () => (await fakeControl<FakeState>(base, 'state')).emails;

async function pullAll(c: ConnectorContext, cursor?: string) {
  const pages: PullPage[] = [];
  let next = cursor;
  for (let i = 0; i < 200; i++) {
    const page = await dynamics365Adapter.pull?.(c, next);
    if (!page) throw new Error('no pull');
    pages.push(page);
    next = page.nextCursor;
    if (page.done) return { pages, cursor: next };
  }
  throw new Error('not done after 200 pages');
}

describe('Dynamics 365 connector (fixture-verified against fakes/dynamics365.ts and its CSDL)', () => {
  it('writes an incoming email with deep-inserted parties and regarding, then marks it received', async () => {
    const ids = await seed();
    const a = activity({
      parties: [
        { role: 'from', address: 'ann@customer.example', recordType: 'contact', recordId: ids.contacts[0] },
        { role: 'to', address: 'rep@acme.example', recordType: 'user', recordId: ids.systemusers[0] },
        { role: 'to', address: 'sales@acme.example' },
        { role: 'cc', address: 'info@customer.example', recordType: 'account', recordId: ids.accounts[0] },
      ],
      regarding: { type: 'account', id: ids.accounts[0] as string },
    });
    const result = await dynamics365Adapter.deliver(
      ctx,
      input({ activity: a, content: { text: 'plain', html: '<p>rich</p>' } }),
    );
    const id = await dynamicsActivityId('acme', a.id);
    expect(result).toEqual({
      outcome: 'delivered',
      crmObject: {
        kind: 'dynamics365',
        id,
        url: `${base}/main.aspx?pagetype=entityrecord&etn=email&id=${id}`,
      },
    });
    const [email, ...more] = await emails();
    expect(more).toEqual([]);
    expect(email).toMatchObject({
      activityid: id,
      directioncode: false,
      messageid: a.messageId,
      subject: 'Quote for 40 units',
      description: '<p>rich</p>',
      sender: 'ann@customer.example',
      torecipients: 'rep@acme.example;sales@acme.example',
      _regardingobjectid_value: ids.accounts[0],
      regardingobjectid_type: 'account',
      statecode: 1,
      statuscode: 4,
    });
    expect(email?.parties).toEqual([
      { participationtypemask: 1, 'partyid_contact@odata.bind': `/contacts(${ids.contacts[0]})` },
      { participationtypemask: 2, 'partyid_systemuser@odata.bind': `/systemusers(${ids.systemusers[0]})` },
      { participationtypemask: 2, addressused: 'sales@acme.example' },
      { participationtypemask: 3, 'partyid_account@odata.bind': `/accounts(${ids.accounts[0]})` },
    ]);
  });

  it('a duplicate delivery after a lost answer makes no second email', async () => {
    await fakeControl(base, 'faults', { rules: [{ method: 'PATCH', lostAnswer: true }] });
    const a = activity();
    expect((await dynamics365Adapter.deliver(ctx, input({ activity: a }))).outcome).toBe('retry');
    expect(await emails()).toHaveLength(1);
    const again = await dynamics365Adapter.deliver(ctx, input({ activity: a }));
    expect(again).toMatchObject({ outcome: 'delivered' });
    expect(await dynamics365Adapter.deliver(ctx, input({ activity: a }))).toEqual(again);
    const all = await emails();
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ statecode: 1, statuscode: 4 });
  });

  it('a later copy that added parties reopens, extends the party list and closes the same email', async () => {
    const ids = await seed();
    const first = activity({
      parties: [
        { role: 'from', address: 'ann@customer.example', recordType: 'contact', recordId: ids.contacts[0] },
      ],
    });
    const made = await dynamics365Adapter.deliver(ctx, input({ activity: first }));
    if (made.outcome !== 'delivered' || !made.crmObject) throw new Error(JSON.stringify(made));
    const later = {
      ...first,
      parties: [
        ...first.parties,
        {
          role: 'cc' as const,
          address: 'bob@customer.example',
          recordType: 'contact',
          recordId: ids.contacts[1],
        },
      ],
    };
    expect(
      await dynamics365Adapter.deliver(ctx, input({ activity: later, existing: made.crmObject })),
    ).toEqual(made);
    const all = await emails();
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ statecode: 1, statuscode: 4 });
    expect(all[0]?.parties).toEqual([
      { participationtypemask: 1, 'partyid_contact@odata.bind': `/contacts(${ids.contacts[0]})` },
      { participationtypemask: 3, 'partyid_contact@odata.bind': `/contacts(${ids.contacts[1]})` },
    ]);
  });

  it('a party bound to a record Dataverse does not have is refused with its reason', async () => {
    const missing = crypto.randomUUID();
    const a = activity({
      parties: [{ role: 'from', address: 'x@y.example', recordType: 'lead', recordId: missing }],
    });
    const result = await dynamics365Adapter.deliver(ctx, input({ activity: a }));
    expect(result).toEqual({
      outcome: 'refused',
      status: 400,
      detail: `Dynamics 365 answered 400: lead With Id = ${missing} Does Not Exist`,
    });
    expect(await emails()).toEqual([]);
  });

  it('the validator refuses what the CSDL does not allow (a sanity check of the fixture itself)', async () => {
    const token = (await (
      await fetch(`${base}/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          scope: `${base}/.default`,
        }),
      })
    ).json()) as { access_token: string };
    const patch = async (body: unknown) => {
      const res = await fetch(`${base}/api/data/v9.2/emails(${crypto.randomUUID()})`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return {
        status: res.status,
        message: ((await res.json()) as { error: { message: string } }).error.message,
      };
    };
    expect(await patch({ directioncode: 'no' })).toMatchObject({
      status: 400,
      message: expect.stringContaining('boolean'),
    });
    expect(await patch({ subjectline: 'x' })).toMatchObject({
      status: 400,
      message: expect.stringContaining("Invalid property 'subjectline'"),
    });
    expect(
      await patch({ email_activity_parties: [{ participationtypemask: 9, addressused: 'a@b.example' }] }),
    ).toMatchObject({
      status: 400,
      message: expect.stringContaining('9 is not a valid value'),
    });
    expect(
      await patch({ 'regardingobjectid_contact_email@odata.bind': `/accounts(${crypto.randomUUID()})` }),
    ).toMatchObject({
      status: 400,
      message: expect.stringContaining('binds a contact'),
    });
    expect(await patch({ statecode: 1, statuscode: 1 })).toMatchObject({
      status: 400,
      message: expect.stringContaining('not a valid status code'),
    });
  });

  it('the token is cached until expiry, then renewed', async () => {
    await dynamics365Adapter.deliver(ctx, input());
    await dynamics365Adapter.deliver(ctx, input());
    expect((await fakeControl<FakeState>(base, 'state')).tokensIssued).toBe(1);
    ctx.clock.now += 3600_000;
    await dynamics365Adapter.deliver(ctx, input());
    expect((await fakeControl<FakeState>(base, 'state')).tokensIssued).toBe(2);
  });

  it('a token that expires mid-run is refreshed once; a refused fresh token is unauthorized', async () => {
    await dynamics365Adapter.deliver(ctx, input());
    await fakeControl(base, 'expire-tokens', {});
    expect(await dynamics365Adapter.deliver(ctx, input())).toMatchObject({ outcome: 'delivered' });
    expect((await fakeControl<FakeState>(base, 'state')).tokensIssued).toBe(2);
    // Every token is refused (an application user removed from the environment): one refresh, then pause.
    await fakeControl(base, 'faults', { rules: [{ path: '/api/data', status: 401, times: 2 }] });
    const result = await dynamics365Adapter.deliver(ctx, input());
    expect(result).toMatchObject({ outcome: 'unauthorized', status: 401 });
    expect((await fakeControl<FakeState>(base, 'state')).tokensIssued).toBe(3);
  });

  it('a wrong client secret is unauthorized, and test() says it was the token endpoint', async () => {
    const bad = contextFor('wrong');
    const result = await dynamics365Adapter.deliver(bad, input());
    expect(result).toMatchObject({ outcome: 'unauthorized', status: 401 });
    expect(result.outcome === 'unauthorized' && result.detail).toContain('AADSTS7000215');
    const t = await dynamics365Adapter.test(bad);
    expect(t.ok).toBe(false);
    expect(t.detail).toMatch(/^the token endpoint refused the client id or secret: .*AADSTS7000215/);
    expect(await dynamics365Adapter.test(ctx)).toEqual({
      ok: true,
      detail: `connected to ${base} as application user 00000000-0000-0000-0000-0000000000aa`,
    });
    const down = connectorContext(
      {
        url: 'http://127.0.0.1:9',
        tenantId: 't',
        clientId: CLIENT_ID,
        tokenUrl: `${base}/oauth2/v2.0/token`,
      },
      { clientSecret: CLIENT_SECRET },
    );
    expect((await dynamics365Adapter.test(down)).detail).toMatch(/^http:\/\/127\.0\.0\.1:9 unreachable/);
  });

  it('429 honours Retry-After; a 5xx storm is retried until one email exists', async () => {
    await fakeControl(base, 'faults', {
      rules: [
        {
          path: '/emails',
          status: 429,
          retryAfter: '12',
          body: {
            error: {
              code: '0x80072322',
              message: 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.',
            },
          },
        },
      ],
    });
    const a = activity();
    expect(await dynamics365Adapter.deliver(ctx, input({ activity: a }))).toEqual({
      outcome: 'rate-limited',
      retryAfterMs: 12_000,
      detail:
        'Dynamics 365 answered 429: Number of requests exceeded the limit of 6000 over time window of 300 seconds.',
    });
    await fakeControl(base, 'faults', { rules: [{ path: '/emails', status: 502, times: 3 }] });
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++)
      outcomes.push((await dynamics365Adapter.deliver(ctx, input({ activity: a }))).outcome);
    expect(outcomes).toEqual(['retry', 'retry', 'retry', 'delivered']);
    expect(await emails()).toHaveLength(1);
  });

  it('pull follows change tracking per table: pages, delta links, deletions', async () => {
    const ids = await seed();
    await fakeControl(base, 'seed', {
      leads: Array.from({ length: 1_203 }, (_, i) => ({
        fullname: `Lead ${i}`,
        emailaddress1: `lead${i}@prospect.example`,
      })),
    });
    const first = await pullAll(ctx);
    const upserts = first.pages.flatMap((p) => p.upserts);
    expect(upserts.filter((r) => r.type === 'lead')).toHaveLength(1_203);
    expect(first.pages.length).toBeGreaterThan(4); // the leads came in pages of 500
    expect(upserts).toEqual(
      expect.arrayContaining([
        { type: 'contact', id: ids.contacts[1], emails: ['bob@customer.example', 'bob@home.example'] },
        { type: 'account', id: ids.accounts[0], emails: ['info@customer.example'] },
        { type: 'user', id: ids.systemusers[0], emails: ['rep@acme.example'], emailEnabled: true },
      ]),
    );
    await fakeControl(base, 'update', {
      set: 'contacts',
      id: ids.contacts[0],
      fields: { emailaddress1: 'ann@new.example' },
    });
    await fakeControl(base, 'delete', { set: 'contacts', ids: [ids.contacts[1]] });
    const second = await pullAll(ctx, first.cursor);
    expect(second.pages.flatMap((p) => p.upserts)).toEqual([
      { type: 'contact', id: ids.contacts[0], emails: ['ann@new.example'] },
    ]);
    expect(second.pages.flatMap((p) => p.deleted)).toEqual([{ type: 'contact', id: ids.contacts[1] }]);
    const third = await pullAll(ctx, second.cursor);
    expect(third.pages.flatMap((p) => [...p.upserts, ...p.deleted])).toEqual([]);
  });

  it('a token expiring mid-pull is refreshed and the pull goes on; a refused secret stops it as unauthorized', async () => {
    await fakeControl(base, 'seed', {
      contacts: Array.from({ length: 700 }, (_, i) => ({ emailaddress1: `c${i}@customer.example` })),
    });
    const one = await dynamics365Adapter.pull?.(ctx, undefined);
    if (!one) throw new Error('no pull');
    await fakeControl(base, 'expire-tokens', {});
    const two = await dynamics365Adapter.pull?.(ctx, one.nextCursor);
    expect(two?.upserts.length).toBe(200);
    await fakeControl(base, 'settings', { clientSecret: 'rotated' });
    await fakeControl(base, 'expire-tokens', {});
    const error = await dynamics365Adapter.pull?.(ctx, two?.nextCursor).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CrmPullError);
    expect((error as CrmPullError).result.outcome).toBe('unauthorized');
  });

  it('outgoing emails with a messageid are registered as outbound', async () => {
    const ids = await seed();
    const owner = ids.systemusers[0] as string;
    await fakeControl(base, 'seed', {
      emails: [
        {
          directioncode: true,
          messageid: '<out-1@acme.example>',
          subject: 'Your quote',
          torecipients: 'ann@customer.example',
          _ownerid_value: owner,
          statecode: 1,
          statuscode: 3,
        },
        {
          directioncode: false,
          messageid: '<in-1@customer.example>',
          _ownerid_value: owner,
          statecode: 1,
          statuscode: 4,
        },
        {
          directioncode: true,
          subject: 'draft, never sent',
          _ownerid_value: owner,
          statecode: 0,
          statuscode: 1,
        },
      ],
    });
    const { pages, cursor } = await pullAll(ctx);
    expect(pages.flatMap((p) => p.outbound)).toEqual([
      {
        messageId: '<out-1@acme.example>',
        userId: owner,
        subject: 'Your quote',
        to: ['ann@customer.example'],
      },
    ]);
    expect(JSON.parse(cursor).outboundSince).toBeDefined();
  });
});
