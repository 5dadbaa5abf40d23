// CRM connectors (issue 20; design §4 "CRM connectors"): the connector API, its tenant isolation
// and write-only secrets, delivery through the one outbox path (pause on 401/403, Retry-After on
// 429, refusals replayable, crmObject stored and shown, a merge as an update of the same object),
// and the record sync from a cursor. The webhook kind runs against the loopback CRM receiver
// (test/support/crm-receiver.ts); kinds whose adapters live elsewhere are stood in for by a small
// adapter handed to the services through their `adapters` parameter.
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { beforeEach, describe, expect, inject, test, vi } from 'vitest';
import { decryptSecrets } from '../../src/central/connectors/secrets.js';
import { saveConnector } from '../../src/central/connectors/service.js';
import { runConnectorSync, runDueSyncs, SYNC_INTERVAL_MS } from '../../src/central/connectors/sync.js';
import {
  type ConnectorAdapter,
  ConnectorError,
  type DeliveryInput,
  type PullPage,
} from '../../src/central/connectors/types.js';
import { webhookAdapter } from '../../src/central/connectors/webhook.js';
import { deliverOutboxRow, drainWebhookOutbox } from '../../src/central/delivery/webhooks.js';
import { ingest } from '../../src/central/ingest/ingest.js';
import { createDb } from '../../src/db/client.js';
import { findDeployment } from '../../src/db/queries/deployments.js';
import { dueOutboxIds } from '../../src/db/queries/webhook-outbox.js';
import { itemMaker } from './edge-batch.js';
import { api, freshBasics, mintToken } from './helpers.js';

const db = () => createDb((env as unknown as { DB: D1Database }).DB);
const receiver = inject('crmReceiver');
const DEV = { edgeKeySecret: 'test-edge-secret', production: false };
const item = itemMaker('connector');
const PASSWORD = 'Tryton-S3cret-pass-7731';

async function hits(): Promise<string[]> {
  return (await fetch(`${receiver}/hits`)).json();
}

const putWebhook = (path: string, token?: string) =>
  api('PUT', '/api/v1/deployments/contoso/connector', {
    ...(token ? { token } : {}),
    body: { kind: 'webhook', settings: { url: `${receiver}${path}` } },
  });

/** Ingests one message for contoso; the activity and its (first) outbox row. */
async function ingestOne(messageId: string) {
  const out = await ingest(
    { db: db(), region: 'us', now: Date.now() },
    [item({ deployment: 'contoso', messageId })],
    [],
  );
  const activityId = out.results[0]!.activityId!;
  const deliveries = (await api('GET', `/api/v1/activities/${activityId}`)).json.webhookDeliveries;
  return { activityId, deliveryId: deliveries[0]?.id as string, deliveries };
}

const outboxRow = (id: string) =>
  env.DB.prepare('select * from webhook_outbox where id = ?').bind(id).first<Record<string, unknown>>();

/** A stand-in for the CRM adapters that other modules provide: records what it was asked. */
function fakeCrm() {
  const calls: DeliveryInput[] = [];
  const pages = new Map<string, PullPage>();
  let failPullAt: string | undefined;
  let poisonAt: string | undefined;
  const adapter: ConnectorAdapter = {
    kind: 'tryton',
    async test(ctx) {
      return ctx.secrets.password === PASSWORD
        ? { ok: true, detail: 'logged in' }
        : { ok: false, detail: 'login refused for user admin' };
    },
    async deliver(_ctx, input) {
      calls.push(input);
      return {
        outcome: 'delivered',
        crmObject: input.existing ?? {
          kind: 'tryton',
          id: `att-${calls.length}`,
          url: `https://tryton.contoso.example/att/${calls.length}`,
        },
      };
    },
    async pull(_ctx, cursor) {
      const key = cursor ?? 'start';
      if (failPullAt === key) {
        failPullAt = undefined;
        throw new ConnectorError('connection reset by the CRM');
      }
      const page = pages.get(key);
      if (!page) throw new Error(`no page for cursor ${key}`);
      if (poisonAt === key) {
        poisonAt = undefined;
        // The page arrives, but applying it fails half-way (as a D1 write can): a record that
        // throws when read, ahead of the page's deletions.
        const broken = {
          type: 'contact' as const,
          id: 'p-broken',
          get emails(): string[] {
            throw new Error('D1_ERROR: simulated write failure');
          },
        };
        return { ...page, upserts: [broken, ...page.upserts] };
      }
      return page;
    },
  };
  return {
    adapter,
    adapters: { tryton: adapter },
    calls,
    pages,
    failOnce(cursor: string) {
      failPullAt = cursor;
    },
    poisonOnce(cursor: string) {
      poisonAt = cursor;
    },
  };
}

async function connectTryton(crm: ReturnType<typeof fakeCrm>) {
  const deployment = (await findDeployment(db(), 'contoso'))!;
  return saveConnector(
    db(),
    DEV,
    deployment,
    {
      kind: 'tryton',
      settings: { url: 'https://tryton.contoso.example', database: 'crm' },
      secrets: { username: 'admin', password: PASSWORD },
    },
    crm.adapters,
  );
}

describe('connector API', () => {
  beforeEach(freshBasics);

  test('a deployment with only a webhookUrl has the kind webhook; PUT sets the URL on the deployment', async () => {
    expect((await api('GET', '/api/v1/deployments/contoso/connector')).status).toBe(404);
    await api('PUT', '/api/v1/deployments/contoso', {
      body: { name: 'Contoso', webhookUrl: `${receiver}/ok` },
    });
    const legacy = await api('GET', '/api/v1/deployments/contoso/connector');
    expect(legacy.status).toBe(200);
    expect(legacy.json).toMatchObject({
      kind: 'webhook',
      settings: { url: `${receiver}/ok` },
      secrets: {},
      status: { state: 'ok', backlog: 0, errors: {} },
    });
    const put = await putWebhook('/ok?v=2');
    expect(put.status).toBe(200);
    expect(put.json.settings).toEqual({ url: `${receiver}/ok?v=2` });
    expect((await api('GET', '/api/v1/deployments/contoso')).json.webhookUrl).toBe(`${receiver}/ok?v=2`);
  });

  test('settings are validated per kind: URLs by the webhook URL policy, unknown fields and secrets named', async () => {
    const bad = await api('PUT', '/api/v1/deployments/contoso/connector', {
      body: { kind: 'webhook', settings: { url: 'http://10.0.0.7/hook' } },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/^settings\.url: must be an https URL/);
    const extra = await api('PUT', '/api/v1/deployments/contoso/connector', {
      body: { kind: 'webhook', settings: { url: `${receiver}/ok`, token: 'x' } },
    });
    expect(extra.status).toBe(400);
    expect(extra.json.error.message).toMatch(/^settings: .*token/);
    const secret = await api('PUT', '/api/v1/deployments/contoso/connector', {
      body: { kind: 'webhook', settings: { url: `${receiver}/ok` }, secrets: { password: 'x' } },
    });
    expect(secret.status).toBe(400);
    expect(secret.json.error.message).toBe(
      'secrets.password: not a secret of the kind webhook (it has none)',
    );
    const kind = await api('PUT', '/api/v1/deployments/contoso/connector', {
      body: { kind: 'salesforce', settings: {} },
    });
    expect(kind.status).toBe(400);
  });

  test('a deployment token of another tenant cannot read, set, test or sync the connector; user tokens see no errors nor settings', async () => {
    await putWebhook('/unauthorized');
    const { deliveryId } = await ingestOne('paused-visible@customer.example');
    await deliverOutboxRow(db(), deliveryId, DEV);
    const fabrikam = await mintToken('deployment:fabrikam');
    for (const [method, path] of [
      ['GET', '/api/v1/deployments/contoso/connector'],
      ['PUT', '/api/v1/deployments/contoso/connector'],
      ['POST', '/api/v1/deployments/contoso/connector/test'],
      ['POST', '/api/v1/deployments/contoso/connector/sync'],
    ] as const) {
      const res = await api(method, path, {
        token: fabrikam,
        ...(method === 'PUT' ? { body: { kind: 'webhook', settings: { url: `${receiver}/ok` } } } : {}),
      });
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    expect((await api('GET', '/api/v1/deployments/contoso')).json.webhookUrl).toBe(
      `${receiver}/unauthorized`,
    );
    const admin = await api('GET', '/api/v1/deployments/contoso/connector');
    expect(admin.json.status).toMatchObject({
      state: 'paused',
      pauseReason: expect.stringContaining('HTTP 401'),
    });
    const user = await api('GET', '/api/v1/deployments/contoso/connector', {
      token: await mintToken('user:contoso/u-ann'),
    });
    expect(user.status).toBe(200);
    expect(user.json.status.state).toBe('paused');
    expect(user.json.settings).toBeUndefined();
    expect(user.json.status.pauseReason).toBeUndefined();
    expect(user.json.status.lastError).toBeUndefined();
    expect(user.text).not.toContain('401');
  });

  test('secrets are encrypted at rest, bound to their deployment, never returned; a PUT keeps the ones it leaves out', async () => {
    const crm = fakeCrm();
    await connectTryton(crm);
    const row = await env.DB.prepare('select * from connectors where deployment = ?')
      .bind('contoso')
      .first<Record<string, string>>();
    expect(JSON.stringify(row)).not.toContain(PASSWORD);
    expect(JSON.stringify(row)).not.toContain('"admin"');
    expect(row!.secrets).toMatch(/^v1\./);
    expect(await decryptSecrets('test-edge-secret', 'contoso', row!.secrets)).toEqual({
      username: 'admin',
      password: PASSWORD,
    });
    // Copied onto another deployment's row, or under another master secret, it does not decrypt.
    await expect(decryptSecrets('test-edge-secret', 'fabrikam', row!.secrets)).rejects.toThrow();
    await expect(decryptSecrets('another-secret', 'contoso', row!.secrets)).rejects.toThrow();
    const shown = await api('GET', '/api/v1/deployments/contoso/connector');
    expect(shown.json).toMatchObject({
      kind: 'tryton',
      settings: { url: 'https://tryton.contoso.example', database: 'crm' },
      secrets: { username: 'set', password: 'set' },
    });
    expect(shown.text).not.toContain(PASSWORD);
    // A PUT of the same kind without secrets keeps them.
    const deployment = (await findDeployment(db(), 'contoso'))!;
    await saveConnector(
      db(),
      DEV,
      deployment,
      { kind: 'tryton', settings: { url: 'https://tryton.contoso.example', database: 'crm2' } },
      crm.adapters,
    );
    const again = await env.DB.prepare('select secrets from connectors where deployment = ?')
      .bind('contoso')
      .first<{ secrets: string }>();
    expect((await decryptSecrets('test-edge-secret', 'contoso', again!.secrets)).password).toBe(PASSWORD);
    // Without an adapter for the kind in this central, it is refused (the API's 400) rather than
    // stored as a dead target. An empty registry: every kind may have its adapter in the default one.
    const refused = await saveConnector(
      db(),
      DEV,
      deployment,
      {
        kind: 'tryton',
        settings: { url: 'https://tryton.contoso.example', database: 'crm' },
        secrets: { username: 'admin', password: PASSWORD },
      },
      {},
    ).catch((err: Error) => err);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toMatch(/kind: "tryton" has no adapter in this central/);
    expect((refused as Error).message).not.toContain(PASSWORD);
  });

  test('Test connection says what failed, in words, without the CRM answer body', async () => {
    await putWebhook('/forbidden');
    const res = await api('POST', '/api/v1/deployments/contoso/connector/test');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      ok: false,
      detail:
        'the CRM answered HTTP 403: it refused the signature (is it verifying with the current webhook secret?)',
    });
    await putWebhook('/ok');
    expect((await api('POST', '/api/v1/deployments/contoso/connector/test')).json).toEqual({
      ok: true,
      detail: 'the endpoint answered HTTP 200',
    });
    const sync = await api('POST', '/api/v1/deployments/contoso/connector/sync');
    expect(sync.status).toBe(409);
  });
});

describe('delivery through the connector', () => {
  beforeEach(freshBasics);

  test('the webhook kind delivers through the outbox; the status shows last delivery, lag and no backlog', async () => {
    await putWebhook('/ok');
    const { deliveryId } = await ingestOne('hello@customer.example');
    expect(await deliverOutboxRow(db(), deliveryId, DEV)).toBe('delivered');
    const { status } = (await api('GET', '/api/v1/deployments/contoso/connector')).json;
    expect(status).toMatchObject({ state: 'ok', backlog: 0, errors: {} });
    expect(status.lastDeliveryAt).toBeGreaterThan(Date.now() - 60_000);
    expect(status.lagMsP50).toBeGreaterThanOrEqual(0);
    expect(status.lagMsP99).toBeGreaterThanOrEqual(status.lagMsP50);
    const stats = await api('GET', '/api/v1/stats');
    expect(stats.json.connectors.contoso).toMatchObject({ kind: 'webhook', state: 'ok', backlog: 0 });
  });

  test('401 pauses the connector: its rows wait unattempted, nothing is lost; a PUT resumes and they deliver', async () => {
    await putWebhook('/unauthorized');
    const first = await ingestOne('paused-1@customer.example');
    const second = await ingestOne('paused-2@customer.example');
    const before = (await hits()).length;
    expect(await deliverOutboxRow(db(), first.deliveryId, DEV)).toBe('retry');
    expect((await hits()).length).toBe(before + 1);
    const paused = (await api('GET', '/api/v1/deployments/contoso/connector')).json.status;
    expect(paused).toMatchObject({
      state: 'paused',
      backlog: 2,
      errors: { unauthorized: 1 },
      pauseReason: 'the CRM refused the credentials (HTTP 401): the CRM answered HTTP 401',
    });
    expect(await outboxRow(first.deliveryId)).toMatchObject({
      state: 'pending',
      last_outcome: 'unauthorized',
    });
    // No endless retries: neither the cron nor a queue kick attempts a paused connector's rows.
    expect(await dueOutboxIds(db(), Date.now() + 3600_000, 100)).toEqual([]);
    expect(await deliverOutboxRow(db(), second.deliveryId, DEV)).toBe('not-due');
    await drainWebhookOutbox(db(), DEV, Date.now() + 3600_000);
    expect((await hits()).length).toBe(before + 1);
    // The tenant fixes its endpoint; the PUT resumes the connector and the waiting rows go out.
    await putWebhook('/ok');
    expect((await api('GET', '/api/v1/deployments/contoso/connector')).json.status.state).toBe('ok');
    const outcomes = await drainWebhookOutbox(db(), DEV);
    expect(outcomes.sort()).toEqual(['delivered', 'delivered']);
    expect((await outboxRow(first.deliveryId))!.state).toBe('delivered');
    expect((await api('GET', '/api/v1/deployments/contoso/connector')).json.status.backlog).toBe(0);
  });

  test('403 pauses too; a passing connection test resumes', async () => {
    await putWebhook('/forbidden');
    const { deliveryId } = await ingestOne('forbidden@customer.example');
    expect(await deliverOutboxRow(db(), deliveryId, DEV)).toBe('retry');
    expect((await api('GET', '/api/v1/deployments/contoso/connector')).json.status.state).toBe('paused');
    // The URL is fixed on the deployment itself (not through the connector): the test resumes it.
    await env.DB.prepare('update deployments set webhook_url = ? where id = ?')
      .bind(`${receiver}/ok`, 'contoso')
      .run();
    expect((await api('POST', '/api/v1/deployments/contoso/connector/test')).json.ok).toBe(true);
    expect((await api('GET', '/api/v1/deployments/contoso/connector')).json.status.state).toBe('ok');
    expect(await drainWebhookOutbox(db(), DEV)).toEqual(['delivered']);
  });

  test("429 waits the CRM's Retry-After, not the outbox's backoff", async () => {
    await putWebhook('/rate-limited');
    const { deliveryId } = await ingestOne('slow-down@customer.example');
    const at = Date.now();
    expect(await deliverOutboxRow(db(), deliveryId, DEV)).toBe('retry');
    const row = (await outboxRow(deliveryId))!;
    expect(row).toMatchObject({ state: 'pending', last_status: null, last_outcome: 'rate-limited' });
    // Retry-After: 120 (the backoff after a first failure would be 30 s).
    expect(row.next_attempt_at as number).toBeGreaterThanOrEqual(at + 120_000);
    expect(row.next_attempt_at as number).toBeLessThan(Date.now() + 121_000);
    const { status } = (await api('GET', '/api/v1/deployments/contoso/connector')).json;
    expect(status).toMatchObject({
      state: 'failing',
      errors: { 'rate-limited': 1 },
      lastError: 'the CRM answered HTTP 429',
    });
  });

  test('a refusal is a failed delivery whose reason an admin reads and replays after fixing the target', async () => {
    await putWebhook('/unprocessable');
    const { activityId, deliveryId } = await ingestOne('refused@customer.example');
    expect(await deliverOutboxRow(db(), deliveryId, DEV)).toBe('failed');
    const failing = await api('GET', '/api/v1/webhook-deliveries');
    expect(failing.json.items).toEqual([
      expect.objectContaining({
        id: deliveryId,
        state: 'failed',
        lastStatus: 422,
        lastError: 'the CRM answered HTTP 422',
      }),
    ]);
    expect((await api('GET', '/api/v1/deployments/contoso/connector')).json.status.errors).toEqual({
      refused: 1,
    });
    await putWebhook('/ok');
    const replay = await api('POST', `/api/v1/webhook-deliveries/${deliveryId}/replay`);
    expect(replay.json).toMatchObject({ outcome: 'delivered', delivery: { state: 'delivered' } });
    expect((await api('GET', `/api/v1/activities/${activityId}`)).json.webhookDeliveries[0].state).toBe(
      'delivered',
    );
  });

  test('an adapter that fails with a secret in its error leaks it into no log line, row or answer', async () => {
    const crm = fakeCrm();
    await connectTryton(crm);
    crm.adapter.deliver = async (ctx) => {
      throw new Error(`login failed for ${ctx.secrets.username} with ${ctx.secrets.password}`);
    };
    const logged: unknown[] = [];
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) =>
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        logged.push(...args);
      }),
    );
    try {
      const { activityId, deliveryId } = await ingestOne('leaky@customer.example');
      expect(await deliverOutboxRow(db(), deliveryId, DEV, Date.now(), { adapters: crm.adapters })).toBe(
        'retry',
      );
      const answers = [
        await api('GET', `/api/v1/activities/${activityId}`),
        await api('GET', '/api/v1/deployments/contoso/connector'),
        await api('GET', '/api/v1/webhook-deliveries'),
        await api('GET', '/api/v1/stats'),
      ];
      for (const a of answers) expect(a.text).not.toContain(PASSWORD);
      expect(answers[1]!.json.status.lastError).toBe(
        "the tryton connector failed inside central (Error); see central's log",
      );
      const rows = await env.DB.prepare('select * from webhook_outbox').all();
      expect(JSON.stringify(rows.results)).not.toContain(PASSWORD);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(logged.length).toBeGreaterThan(0);
    expect(
      logged.map((a) => (a instanceof Error ? `${a.message} ${a.stack}` : String(a))).join('\n'),
    ).not.toContain(PASSWORD);
  });

  test('crmObject is stored on the activity and shown; a later copy updates the same object', async () => {
    const crm = fakeCrm();
    await connectTryton(crm);
    // No webhookUrl: the connector alone makes ingest write the outbox row.
    const { activityId, deliveryId } = await ingestOne('to-tryton@customer.example');
    expect(deliveryId).toBeDefined();
    // A later copy arrives before the first delivery went out: it waits for it.
    await ingestOne('to-tryton@customer.example');
    const rows = (await api('GET', `/api/v1/activities/${activityId}`)).json.webhookDeliveries as {
      id: string;
      event: string;
    }[];
    const merged = rows.find((r) => r.event === 'activity.merged')!;
    expect(await deliverOutboxRow(db(), merged.id, DEV, Date.now(), { adapters: crm.adapters })).toBe(
      'not-due',
    );
    expect(crm.calls).toEqual([]);
    expect(await deliverOutboxRow(db(), deliveryId, DEV, Date.now(), { adapters: crm.adapters })).toBe(
      'delivered',
    );
    const activity = (await api('GET', `/api/v1/activities/${activityId}`)).json;
    expect(activity.crmObject).toEqual({
      kind: 'tryton',
      id: 'att-1',
      url: 'https://tryton.contoso.example/att/1',
    });
    expect(crm.calls[0]).toMatchObject({
      deliveryId,
      event: 'activity.accepted',
      activity: { id: activityId },
    });
    expect(crm.calls[0]!.existing).toBeUndefined();
    // The merge becomes due after the first delivery and reaches the CRM as an update of att-1.
    expect(
      await deliverOutboxRow(db(), merged.id, DEV, Date.now() + 10_000, { adapters: crm.adapters }),
    ).toBe('delivered');
    expect(crm.calls[1]).toMatchObject({
      deliveryId: merged.id,
      event: 'activity.merged',
      existing: { kind: 'tryton', id: 'att-1' },
    });
    expect((await api('GET', `/api/v1/activities/${activityId}`)).json.crmObject.id).toBe('att-1');
  });
});

describe('record sync', () => {
  beforeEach(freshBasics);

  const site = () => {
    const ctx = createExecutionContext();
    return { site: { env: env as never, ctx }, ctx };
  };

  test('pulls pages from the stored cursor: an interrupted sync resumes there and deletes only what a page confirmed', async () => {
    const crm = fakeCrm();
    await connectTryton(crm);
    await api('POST', '/api/v1/deployments/contoso/records', {
      body: {
        records: [
          { type: 'contact', id: 'old-1', emails: ['old1@customer.example'] },
          { type: 'contact', id: 'old-2', emails: ['old2@customer.example'] },
        ],
      },
    });
    crm.pages.set('start', {
      upserts: [
        { type: 'contact', id: 'p-1', emails: ['ann@customer.example'] },
        { type: 'contact', id: 'p-bad', emails: ['not an address'] },
      ],
      deleted: [],
      outbound: [],
      nextCursor: 'c1',
      done: false,
      progress: { done: 2, total: 4 },
    });
    crm.pages.set('c1', {
      upserts: [{ type: 'account', id: 'p-2', emails: ['bob@customer.example'] }],
      deleted: [{ type: 'contact', id: 'old-1' }],
      outbound: [{ messageId: '<sent-from-crm@tryton.contoso.example>', userId: 'u-ann', subject: 'Quote' }],
      nextCursor: 'c2',
      done: true,
      progress: { done: 4, total: 4 },
    });
    // First run: one page only (bounded work), then stop: progress shows, old records untouched.
    const a = site();
    const first = await runConnectorSync(db(), a.site, DEV, 'contoso', {
      adapters: crm.adapters,
      maxPages: 1,
    });
    await waitOnExecutionContext(a.ctx);
    expect(first).toMatchObject({ pages: 1, upserted: 1, rejected: 1, done: false });
    const syncing = (await api('GET', '/api/v1/deployments/contoso/connector')).json.status;
    expect(syncing).toMatchObject({ state: 'syncing', sync: { done: 2, total: 4 } });
    expect(syncing.lastError).toMatch(/^sync: 1 record\(s\) from the CRM refused: contact p-bad, emails\.0/);
    // The next page fails mid-flight: the cursor stays, nothing is deleted.
    crm.failOnce('c1');
    const b = site();
    const failed = await runConnectorSync(db(), b.site, DEV, 'contoso', { adapters: crm.adapters });
    await waitOnExecutionContext(b.ctx);
    expect(failed).toMatchObject({ pages: 0, error: 'sync: connection reset by the CRM' });
    const ids = async () =>
      ((await api('GET', '/api/v1/deployments/contoso/records')).json.items as { id: string }[])
        .map((r) => r.id)
        .sort();
    expect(await ids()).toEqual(['old-1', 'old-2', 'p-1']);
    // The page comes but fails to apply: its deletion is not made and the cursor does not move.
    crm.poisonOnce('c1');
    const d = site();
    const broken = await runConnectorSync(db(), d.site, DEV, 'contoso', { adapters: crm.adapters });
    await waitOnExecutionContext(d.ctx);
    expect(broken).toMatchObject({ pages: 0, deleted: 0 });
    expect(broken.error).toMatch(/^sync: the tryton connector failed inside central/);
    expect(await ids()).toEqual(['old-1', 'old-2', 'p-1']);
    const cursor = await env.DB.prepare('select sync_cursor from connectors where deployment = ?')
      .bind('contoso')
      .first<{ sync_cursor: string }>();
    expect(cursor!.sync_cursor).toBe('c1');
    // Resumed from c1 (not from the start): p-2 lands, old-1 (confirmed deleted) goes, old-2 stays.
    const c = site();
    const resumed = await runConnectorSync(db(), c.site, DEV, 'contoso', { adapters: crm.adapters });
    await waitOnExecutionContext(c.ctx);
    expect(resumed).toMatchObject({ pages: 1, upserted: 1, deleted: 1, outbound: 1, done: true });
    expect(await ids()).toEqual(['old-2', 'p-1', 'p-2']);
    const done = (await api('GET', '/api/v1/deployments/contoso/connector')).json.status;
    expect(done.state).toBe('ok');
    expect(done.sync).toBeUndefined();
    expect(done.lastSyncAt).toBeGreaterThan(Date.now() - 60_000);
    const row = await env.DB.prepare('select sync_cursor from connectors where deployment = ?')
      .bind('contoso')
      .first<{ sync_cursor: string }>();
    expect(row!.sync_cursor).toBe('c2');
    // Mail sent from the CRM is registered as outbound: a reply to it will correlate.
    const outbound = await env.DB.prepare(
      'select user_id from outbound where deployment = ? and message_id = ?',
    )
      .bind('contoso', 'sent-from-crm@tryton.contoso.example')
      .first<{ user_id: string }>();
    expect(outbound?.user_id).toBe('u-ann');
  });
});

describe('record sync on the cron', () => {
  beforeEach(freshBasics);

  test('the cron continues a sync under way, then starts the next incremental one a minute after it completed', async () => {
    const crm = fakeCrm();
    await connectTryton(crm);
    crm.pages.set('start', {
      upserts: [{ type: 'contact', id: 'cron-1', emails: ['cron1@customer.example'] }],
      deleted: [],
      outbound: [],
      nextCursor: 'k1',
      done: true,
    });
    crm.pages.set('k1', {
      upserts: [{ type: 'lead', id: 'cron-2', emails: ['cron2@customer.example'] }],
      deleted: [],
      outbound: [],
      nextCursor: 'k2',
      done: true,
    });
    const run = async (now: number) => {
      const ctx = createExecutionContext();
      const results = await runDueSyncs(db(), { env: env as never, ctx }, DEV, {
        adapters: crm.adapters,
        now,
      });
      await waitOnExecutionContext(ctx);
      return results;
    };
    expect(await run(Date.now())).toEqual([expect.objectContaining({ pages: 1, upserted: 1, done: true })]);
    // Within the interval nothing is due; after it, the sync goes on from the stored cursor.
    expect(await run(Date.now())).toEqual([]);
    expect(await run(Date.now() + SYNC_INTERVAL_MS + 1000)).toEqual([
      expect.objectContaining({ pages: 1, upserted: 1, done: true }),
    ]);
    const records = (await api('GET', '/api/v1/deployments/contoso/records')).json.items as { id: string }[];
    expect(records.map((r) => r.id).sort()).toEqual(['cron-1', 'cron-2']);
  });
});

test('the webhook adapter is the kind webhook', () => {
  expect(webhookAdapter.kind).toBe('webhook');
  expect(webhookAdapter.pull).toBeUndefined();
});
