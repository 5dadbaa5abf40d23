// The whole connector path, fixture-verified against the HubSpot and Dynamics 365 fakes (fakes/):
// an admin connects a deployment through the API, the sync pulls the CRM's contacts into the
// record store, a signed edge batch is ingested, the outbox (the cron) writes it into the CRM, and
// the activity shows the CRM object. Faults: a lost answer, 401 on delivery and on a pull, a
// contact deleted in the CRM. No HubSpot or Dataverse runs here: the fakes are written from their
// public documentation (docs/decisions.md).
import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { readCentralConfig } from '../../src/central/config.js';
import { drainWebhookOutbox } from '../../src/central/delivery/webhooks.js';
import worker from '../../src/central/index.js';
import { createDb } from '../../src/db/client.js';
import { fakeControl } from '../support/connector-context.js';
import { eventually } from '../support/eventually.js';
import { itemMaker, sendBatch } from './edge-batch.js';
import { api, freshRoutes, recordIdsOf as recordIdsOfDeployment } from './helpers.js';

const DEPLOYMENT = 'contoso';
const ANN = 'ann@customer.example';
const BOB = 'bob@customer.example';
const CAROL = 'carol@customer.example';
/** Every copy of one message has the same headers, whichever routed mailbox forwarded it. */
const DATE = Date.UTC(2026, 11, 7, 9, 30);
const TO = ['alice@contoso.example', 'bob-desk@contoso.example'];
/** Far enough ahead that every backed-off outbox row is due again (webhook back-off tops out in hours). */
const LATER_MS = 5 * 24 * 3600_000;

const db = () => createDb((env as unknown as { DB: D1Database }).DB);
const item = itemMaker('flow');

/** What the two fakes have in common for this flow, in each CRM's own words. */
interface Crm {
  kind: 'hubspot' | 'dynamics365';
  /** Path fragment of the request that writes an email object. */
  writePath: string;
  connector(base: string, secret?: string): { kind: string; settings: object; secrets: object };
  seedContacts(base: string, emails: string[]): Promise<string[]>;
  deleteContact(base: string, id: string): Promise<void>;
  /** The CRM's admin replaces the credential central holds (the old one is refused from now on). */
  rotateSecret(base: string, secret: string): Promise<void>;
  /** The email objects the CRM holds, with their associations as `contacts:<id>`. */
  emails(base: string): Promise<{ id: string; associations: string[] }[]>;
}

const hubspot: Crm = {
  kind: 'hubspot',
  writePath: '/crm/v3/objects/emails/batch/upsert',
  connector: (base, secret = 'fake-hubspot-token') => ({
    kind: 'hubspot',
    settings: { baseUrl: base },
    secrets: { accessToken: secret },
  }),
  async seedContacts(base, emails) {
    const ids = await fakeControl<{ contacts: string[] }>(base, 'seed', {
      contacts: emails.map((email) => ({ email })),
    });
    return ids.contacts;
  },
  async deleteContact(base, id) {
    await fakeControl(base, 'archive', { type: 'contacts', ids: [id] });
  },
  async rotateSecret(base, secret) {
    await fakeControl(base, 'settings', { token: secret });
  },
  async emails(base) {
    const state = await fakeControl<{ emails: { id: string; associations: string[] }[] }>(base, 'state');
    return state.emails.map((e) => ({
      id: e.id,
      associations: e.associations.filter((a) => a.startsWith('contacts:')),
    }));
  },
};

const dynamics: Crm = {
  kind: 'dynamics365',
  writePath: '/api/data/v9.2/emails(',
  connector: (base, secret = 'fake-client-secret') => ({
    kind: 'dynamics365',
    settings: {
      url: base,
      tenantId: 'contoso.onmicrosoft.com',
      clientId: 'fake-client-id',
      tokenUrl: `${base}/oauth2/v2.0/token`,
    },
    secrets: { clientSecret: secret },
  }),
  async seedContacts(base, emails) {
    const ids = await fakeControl<{ contacts: string[] }>(base, 'seed', {
      contacts: emails.map((e, i) => ({ fullname: `Customer ${i}`, emailaddress1: e })),
    });
    return ids.contacts;
  },
  async deleteContact(base, id) {
    await fakeControl(base, 'delete', { set: 'contacts', ids: [id] });
  },
  async rotateSecret(base, secret) {
    await fakeControl(base, 'settings', { clientSecret: secret });
    // Tokens issued for the old secret stop working too (as when the app's secret is revoked).
    await fakeControl(base, 'expire-tokens', {});
  },
  async emails(base) {
    const state = await fakeControl<{ emails: { activityid: string; parties: Record<string, unknown>[] }[] }>(
      base,
      'state',
    );
    return state.emails.map((e) => ({
      id: e.activityid,
      associations: e.parties
        .map((p) => /^\/contacts\((.+)\)$/.exec(String(p['partyid_contact@odata.bind'] ?? ''))?.[1])
        .filter((id): id is string => !!id)
        .map((id) => `contacts:${id}`)
        .sort(),
    }));
  },
};

const cron = () => worker.scheduled({} as ScheduledController, env as never);

const connectorView = async () => (await api('GET', `/api/v1/deployments/${DEPLOYMENT}/connector`)).json;

const recordIdsOf = (address: string) => recordIdsOfDeployment(DEPLOYMENT, address);

/** `POST …/connector/sync`, then the cron until the sync under way completes. */
async function sync() {
  const res = await api('POST', `/api/v1/deployments/${DEPLOYMENT}/connector/sync`);
  expect(res.status).toBe(202);
  await eventually(async () => {
    const view = await connectorView();
    if (view.status.sync) {
      await cron();
      return undefined;
    }
    return view.status.lastSyncAt ? true : undefined;
  });
}

/** Ingests a copy of a message through a signed edge batch; its activity id. */
async function ingestCopy(messageId: string, mailbox: string) {
  const res = await sendBatch({
    items: [
      item({
        messageId,
        mailboxes: [mailbox],
        from: { address: ANN, name: 'Ann Customer' },
        to: TO.map((address) => ({ address })),
        cc: [{ address: CAROL }],
        date: DATE,
        subject: 'Quote for 40 units',
        text: 'Hello, 40 units please.',
      }),
    ],
  });
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  const id = res.json.results[0]?.activityId as string | undefined;
  expect(id, JSON.stringify(res.json)).toBeTruthy();
  return id as string;
}

/** Runs the cron until the activity carries its CRM object; the activity. */
async function deliveredActivity(activityId: string) {
  return eventually(async () => {
    await cron();
    const a = (await api('GET', `/api/v1/activities/${activityId}`)).json;
    return a?.crmObject && a.webhookDeliveries.every((d: { state: string }) => d.state === 'delivered')
      ? a
      : undefined;
  });
}

describe.each([hubspot, dynamics])('$kind connector end to end (fixture-verified)', (crm) => {
  let base: string;
  let contacts: string[];

  async function connect(secret?: string) {
    const put = await api('PUT', `/api/v1/deployments/${DEPLOYMENT}/connector`, {
      body: crm.connector(base, secret),
    });
    expect(put.status, put.text).toBe(200);
    return put;
  }

  beforeEach(async () => {
    await freshRoutes(
      ['alice@contoso.example', 'us', DEPLOYMENT, 'u-alice', 'all'],
      ['bob-desk@contoso.example', 'us', DEPLOYMENT, 'u-bob', 'all'],
    );
    base = `${inject(crm.kind === 'hubspot' ? 'hubspotFake' : 'dynamicsFake')}/t/${crypto.randomUUID()}`;
    contacts = await crm.seedContacts(base, [ANN, BOB]);
    const put = await connect();
    expect(put.json).toMatchObject({ kind: crm.kind });
    expect(JSON.stringify(put.json)).not.toContain(Object.values(crm.connector(base).secrets)[0]);
    const test = await api('POST', `/api/v1/deployments/${DEPLOYMENT}/connector/test`);
    expect(test.json).toMatchObject({ ok: true });
    await sync();
    expect(await recordIdsOf(ANN)).toEqual([contacts[0]]);
    expect(await recordIdsOf(BOB)).toEqual([contacts[1]]);
  });

  it('a message from a synced contact lands as one CRM object; a later copy updates it', async () => {
    const messageId = `flow-${crypto.randomUUID()}@customer.example`;
    const activityId = await ingestCopy(messageId, 'alice@contoso.example');
    const first = await deliveredActivity(activityId);
    const held = await crm.emails(base);
    expect(held).toEqual([{ id: first.crmObject.id, associations: [`contacts:${contacts[0]}`] }]);
    expect(first.crmObject).toMatchObject({ kind: crm.kind, id: held[0]?.id });

    // Carol (on Cc) becomes a contact in the CRM; the next sync brings her, and the copy another
    // mailbox forwarded afterwards merges: the same object gains Carol, no second object.
    const [carol] = await crm.seedContacts(base, [CAROL]);
    await sync();
    expect(await recordIdsOf(CAROL)).toEqual([carol]);
    expect(await ingestCopy(messageId, 'bob-desk@contoso.example')).toBe(activityId);
    await eventually(async () => {
      await drainWebhookOutbox(db(), readCentralConfig(env as never), Date.now() + LATER_MS);
      const a = (await api('GET', `/api/v1/activities/${activityId}`)).json;
      return a.webhookDeliveries.length === 2 &&
        a.webhookDeliveries.every((d: { state: string }) => d.state === 'delivered')
        ? true
        : undefined;
    });
    expect(await crm.emails(base)).toEqual([
      { id: first.crmObject.id, associations: [`contacts:${contacts[0]}`, `contacts:${carol}`].sort() },
    ]);
    expect((await api('GET', `/api/v1/activities/${activityId}`)).json.crmObject).toEqual(first.crmObject);
  });

  it('a lost answer, then redelivery, leaves exactly one object', async () => {
    await fakeControl(base, 'faults', { rules: [{ path: crm.writePath, lostAnswer: true }] });
    const activityId = await ingestCopy(
      `lost-${crypto.randomUUID()}@customer.example`,
      'alice@contoso.example',
    );
    await eventually(async () => {
      await cron();
      const log = await fakeControl<{ path: string; status: number }[]>(base, 'log');
      return log.some((l) => l.path.includes(crm.writePath) && l.status === 0) ? true : undefined;
    });
    // The CRM made the object; central never heard, so it redelivers after its back-off.
    expect(await crm.emails(base)).toHaveLength(1);
    expect(
      (await api('GET', `/api/v1/activities/${activityId}`)).json.crmObject ?? undefined,
    ).toBeUndefined();
    await eventually(async () => {
      await drainWebhookOutbox(db(), readCentralConfig(env as never), Date.now() + LATER_MS);
      return (await api('GET', `/api/v1/activities/${activityId}`)).json.crmObject ?? undefined;
    });
    const held = await crm.emails(base);
    expect(held).toHaveLength(1);
    expect((await api('GET', `/api/v1/activities/${activityId}`)).json.crmObject.id).toBe(held[0]?.id);
  });

  it('401 on delivery pauses the connector and loses nothing; PUT again delivers', async () => {
    await crm.rotateSecret(base, 'rotated-secret');
    const activityId = await ingestCopy(
      `auth-${crypto.randomUUID()}@customer.example`,
      'alice@contoso.example',
    );
    const paused = await eventually(async () => {
      await cron();
      const view = await connectorView();
      return view.status.state === 'paused' ? view : undefined;
    });
    expect(paused.status.lastError).toContain('401');
    // Paused: more cron runs do not call the CRM again, and the delivery waits.
    const log = () => fakeControl<unknown[]>(base, 'log');
    const tries = (await log()).length;
    await cron();
    expect(await log()).toHaveLength(tries);
    const waiting = (await api('GET', `/api/v1/activities/${activityId}`)).json;
    expect(waiting.crmObject ?? undefined).toBeUndefined();
    expect(waiting.webhookDeliveries).toMatchObject([{ state: 'pending' }]);
    expect(await crm.emails(base)).toHaveLength(0);

    await connect('rotated-secret');
    expect((await connectorView()).status.state).not.toBe('paused');
    const done = await deliveredActivity(activityId);
    expect(await crm.emails(base)).toEqual([
      { id: done.crmObject.id, associations: [`contacts:${contacts[0]}`] },
    ]);
  });

  it('401 during a pull pauses the connector with a readable lastError', async () => {
    await crm.rotateSecret(base, 'rotated-secret');
    const res = await api('POST', `/api/v1/deployments/${DEPLOYMENT}/connector/sync`);
    expect(res.status).toBe(202);
    const view = await eventually(async () => {
      await cron();
      const v = await connectorView();
      return v.status.state === 'paused' ? v : undefined;
    });
    expect(view.status.lastError).toMatch(/^sync: .*401/);
    expect(view.status.lastError).not.toContain(Object.values(crm.connector(base).secrets)[0]);
    // The records the earlier sync brought stay; the cron leaves a paused connector alone.
    expect(await recordIdsOf(ANN)).toEqual([contacts[0]]);
    const calls = (await fakeControl<unknown[]>(base, 'log')).length;
    await cron();
    expect(await fakeControl<unknown[]>(base, 'log')).toHaveLength(calls);
    // The admin sets the new secret: the connector resumes and syncs again.
    await connect('rotated-secret');
    await crm.deleteContact(base, contacts[1] as string);
    await sync();
    expect((await connectorView()).status.state).toBe('ok');
    expect(await recordIdsOf(BOB)).toEqual([]);
  });

  it('a contact deleted in the CRM leaves the record store after the next sync', async () => {
    await crm.deleteContact(base, contacts[0] as string);
    await sync();
    expect(await recordIdsOf(ANN)).toEqual([]);
    expect(await recordIdsOf(BOB)).toEqual([contacts[1]]);
  });
});
