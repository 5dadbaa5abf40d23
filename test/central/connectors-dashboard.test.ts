// The connector on the dashboard (issue 20): its health on the Overview and Deployments pages, the
// one form (kind, settings, write-only secrets shown only as "set" / "not set"), the "Test
// connection" answer, and "open in CRM" on the activity page. Secrets never reach a page.
import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, inject, test } from 'vitest';
import { saveConnector } from '../../src/central/connectors/service.js';
import type { ConnectorAdapter } from '../../src/central/connectors/types.js';
import { deliverOutboxRow } from '../../src/central/delivery/webhooks.js';
import { ingest } from '../../src/central/ingest/ingest.js';
import { createDb } from '../../src/db/client.js';
import { findDeployment } from '../../src/db/queries/deployments.js';
import { signedIn } from './dashboard-browser.js';
import { itemMaker } from './edge-batch.js';
import { api, freshBasics, mintToken } from './helpers.js';

const db = () => createDb((env as unknown as { DB: D1Database }).DB);
const receiver = inject('crmReceiver');
const DEV = { edgeKeySecret: 'test-edge-secret', production: false };
const item = itemMaker('connector-page');
const PASSWORD = 'Page-S3cret-pass-4410';

/** Stands in for the Tryton adapter (another module): delivers as a CRM object with a link. */
const tryton: ConnectorAdapter = {
  kind: 'tryton',
  async test() {
    return { ok: true, detail: 'logged in' };
  },
  async deliver() {
    return {
      outcome: 'delivered',
      crmObject: { kind: 'tryton', id: 'att-9', url: 'https://tryton.contoso.example/#attachment/9' },
    };
  },
};

describe('connector pages', () => {
  beforeEach(freshBasics);

  test('the form sets a webhook connector; Test connection says what failed; status on Deployments and Overview', async () => {
    const b = await signedIn(undefined, '/deployments/contoso/connector');
    const empty = await b.get('/deployments/contoso/connector');
    expect(empty.status).toBe(200);
    expect(empty.html).toContain('No connector');
    const saved = await b.post('/deployments/contoso/connector', {
      kind: 'webhook',
      'webhook.url': `${receiver}/forbidden`,
    });
    expect(saved.status).toBe(303);
    expect((await api('GET', '/api/v1/deployments/contoso')).json.webhookUrl).toBe(`${receiver}/forbidden`);
    const tested = await b.post('/deployments/contoso/connector/test', {});
    expect(tested.status).toBe(200);
    expect(tested.html).toContain(
      'Connection failed: the CRM answered HTTP 403: it refused the signature (is it verifying with the current webhook secret?)',
    );
    // A refused form says why, on the form.
    const refused = await b.post('/deployments/contoso/connector', {
      kind: 'webhook',
      'webhook.url': 'http://10.0.0.7/<hook>',
    });
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('settings.url: must be an https URL');
    expect(refused.html).not.toContain('<hook>');

    const out = await ingest(
      { db: db(), region: 'us', now: Date.now() },
      [item({ deployment: 'contoso', messageId: 'page-paused@customer.example' })],
      [],
    );
    const [row] = (await api('GET', `/api/v1/activities/${out.results[0]!.activityId}`)).json
      .webhookDeliveries;
    await deliverOutboxRow(db(), row.id, DEV);
    const deployments = await b.get('/deployments');
    expect(deployments.html).toContain('/deployments/contoso/connector');
    expect(deployments.html).toContain('paused — the CRM refused the credentials');
    const overview = await b.get('/');
    expect(overview.html).toContain('CRM connectors');
    expect(overview.html).toMatch(/<a href="\/deployments\/contoso\/connector">contoso<\/a>/);
    expect(overview.html).toContain('1 unauthorized');
  });

  test('secrets show as set / not set, never their values; another tenant cannot open the page', async () => {
    const deployment = (await findDeployment(db(), 'contoso'))!;
    await saveConnector(
      db(),
      DEV,
      deployment,
      {
        kind: 'tryton',
        settings: { url: 'https://tryton.contoso.example', database: 'crm' },
        secrets: { username: 'router', password: PASSWORD },
      },
      { tryton },
    );
    const b = await signedIn(await mintToken('deployment:contoso'), '/deployments/contoso/connector');
    const page = await b.get('/deployments/contoso/connector');
    expect(page.status).toBe(200);
    expect(page.html).toContain('password (secret: set)');
    expect(page.html).toContain('https://tryton.contoso.example');
    expect(page.html).not.toContain(PASSWORD);
    expect(page.html).not.toContain('router"');
    for (const path of ['/', '/deployments']) expect((await b.get(path)).html).not.toContain(PASSWORD);
    const other = await signedIn(await mintToken('deployment:fabrikam'), '/deployments');
    expect((await other.get('/deployments/contoso/connector')).status).toBe(403);
  });

  test('an activity delivered to a CRM links to its object ("open in CRM")', async () => {
    const deployment = (await findDeployment(db(), 'contoso'))!;
    await saveConnector(
      db(),
      DEV,
      deployment,
      {
        kind: 'tryton',
        settings: { url: 'https://tryton.contoso.example', database: 'crm' },
        secrets: { username: 'router', password: PASSWORD },
      },
      { tryton },
    );
    const out = await ingest(
      { db: db(), region: 'us', now: Date.now() },
      [item({ deployment: 'contoso', messageId: 'open-in-crm@customer.example' })],
      [],
    );
    const activityId = out.results[0]!.activityId!;
    const [row] = (await api('GET', `/api/v1/activities/${activityId}`)).json.webhookDeliveries;
    expect(await deliverOutboxRow(db(), row.id, DEV, Date.now(), { adapters: { tryton } })).toBe('delivered');
    expect((await api('GET', `/api/v1/activities/${activityId}`)).json.crmObject).toEqual({
      kind: 'tryton',
      id: 'att-9',
      url: 'https://tryton.contoso.example/#attachment/9',
    });
    const b = await signedIn();
    const page = await b.get(`/activities/${activityId}`);
    expect(page.html).toContain('<a href="https://tryton.contoso.example/#attachment/9"');
    expect(page.html).toContain('open in CRM');
  });
});
