// A tenant's webhook URL is the one outbound request a tenant steers (issue 19, item 8): only https
// to public names (loopback receivers only in local development), never a redirect followed, and
// never the CRM's answer body stored or shown (user tokens see the delivery state, not its error).
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { beforeEach, describe, expect, inject, test } from 'vitest';
import type { CentralBindings } from '../../src/central/context.js';
import { webhookUrlProblem } from '../../src/central/delivery/webhook-url.js';
import { deliverOutboxRow } from '../../src/central/delivery/webhooks.js';
import worker from '../../src/central/index.js';
import { ingest } from '../../src/central/ingest/ingest.js';
import { createDb } from '../../src/db/client.js';
import { CRM_ANSWER_SECRET, INTERNAL_SECRET } from '../support/crm-answers.js';
import { signedIn } from './dashboard-browser.js';
import { itemMaker } from './edge-batch.js';
import { api, freshBasics, mintToken } from './helpers.js';

const db = () => createDb((env as unknown as { DB: D1Database }).DB);
const receiver = inject('crmReceiver');
const DEV = { edgeKeySecret: 'test-edge-secret', production: false };
const item = itemMaker('hook');

async function hits(): Promise<string[]> {
  return (await fetch(`${receiver}/hits`)).json();
}

/** A deployment whose webhook is `url` (stored as it is, past the PUT check) and one fresh delivery row. */
async function deliveryTo(url: string, messageId: string) {
  await env.DB.prepare('update deployments set webhook_url = ? where id = ?').bind(url, 'contoso').run();
  const out = await ingest(
    { db: db(), region: 'us', now: Date.now() },
    [item({ deployment: 'contoso', messageId })],
    [],
  );
  const activityId = out.results[0]!.activityId!;
  const [row] = (await api('GET', `/api/v1/activities/${activityId}`)).json.webhookDeliveries;
  return { activityId, deliveryId: row.id as string };
}

const REFUSED: [string, RegExp][] = [
  ['file:///etc/passwd', /https/],
  ['gopher://crm.contoso.example:70/_x', /https/],
  ['javascript:alert(1)', /https/],
  ['ftp://crm.contoso.example/in', /https/],
  ['http://crm.contoso.example/hook', /https/],
  ['http://169.254.169.254/latest/meta-data/', /https|IP/],
  ['https://169.254.169.254/latest/meta-data/', /IP address/],
  ['https://10.1.2.3/hook', /IP address/],
  ['https://0xa.1/hook', /IP address/],
  ['https://[fd00::1]/hook', /IP address/],
  ['https://[::ffff:127.0.0.1]/hook', /IP address/],
  ['https://printer.local/hook', /local/],
  ['https://metadata.google.internal/computeMetadata/v1/', /local/],
  ['https://router.home.arpa/', /local/],
  ['https://intranet/hook', /public domain name/],
  ['https://crm.contoso.example./hook', /trailing dot/],
];

describe('webhook URL', () => {
  beforeEach(freshBasics);

  test.each(REFUSED)('PUT refuses %s with a 400 naming webhookUrl', async (url, why) => {
    const res = await api('PUT', '/api/v1/deployments/contoso', {
      body: { name: 'Contoso', webhookUrl: url },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('validation_failed');
    expect(res.json.error.message).toMatch(/^webhookUrl: /);
    expect(res.json.error.message).toMatch(why);
  });

  test('https to a public name is taken; loopback http only by a development central', async () => {
    for (const url of ['https://crm.contoso.example/hook', 'https://crm.contoso.example:8443/in?x=1'])
      expect(
        (await api('PUT', '/api/v1/deployments/contoso', { body: { name: 'Contoso', webhookUrl: url } }))
          .status,
      ).toBe(200);
    const local = { name: 'Contoso', webhookUrl: 'http://127.0.0.1:9/hook' };
    for (const webhookUrl of [
      'http://127.0.0.1:9/hook',
      'https://localhost/hook',
      'http://crm.localhost:8080/',
    ])
      expect(
        (await api('PUT', '/api/v1/deployments/contoso', { body: { name: 'Contoso', webhookUrl } })).status,
      ).toBe(200);
    for (const webhookUrl of [
      'http://127.0.0.1:9/hook',
      'https://localhost/hook',
      'https://crm.localhost/',
      'https://[::1]/',
    ])
      expect({ webhookUrl, problem: webhookUrlProblem(webhookUrl, { production: true }) }).toEqual({
        webhookUrl,
        problem: expect.stringMatching(/https|IP address|local/),
      });

    const production = {
      ...env,
      ENVIRONMENT: 'production',
      ADMIN_TOKEN: 'a-real-admin-secret',
      EDGE_KEY_SECRET: 'test-edge-secret',
    } as unknown as CentralBindings;
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request('https://central.example.com/api/v1/deployments/contoso', {
        method: 'PUT',
        headers: { authorization: 'Bearer a-real-admin-secret', 'content-type': 'application/json' },
        body: JSON.stringify(local),
      }),
      production,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /^webhookUrl: .*https/,
    );
  });

  test('a URL stored before the rule is refused at delivery time too, without a request', async () => {
    const before = (await hits()).length;
    const { activityId, deliveryId } = await deliveryTo(
      `http://10.0.0.7/hook`,
      'stored-internal@customer.example',
    );
    expect(await deliverOutboxRow(db(), deliveryId, DEV)).toBe('failed');
    expect((await api('GET', `/api/v1/activities/${activityId}`)).json.webhookDeliveries[0]).toMatchObject({
      state: 'failed',
      lastStatus: null,
      lastError: expect.stringMatching(/^webhook URL refused: /),
    });
    expect((await hits()).length).toBe(before);
  });
});

describe('webhook delivery answers', () => {
  beforeEach(freshBasics);

  test('a tenant endpoint answering 302 to an internal URL is not followed: a failed delivery that says so', async () => {
    const { activityId, deliveryId } = await deliveryTo(`${receiver}/redirect`, 'redirect@customer.example');
    expect(await deliverOutboxRow(db(), deliveryId, DEV)).toBe('failed');
    const delivery = (await api('GET', `/api/v1/activities/${activityId}`)).json.webhookDeliveries[0];
    expect(delivery).toMatchObject({
      state: 'failed',
      lastStatus: 302,
      lastError: 'the CRM answered with a redirect (HTTP 302); redirects are not followed',
    });
    const seen = await hits();
    expect(seen).toContain('/redirect');
    expect(seen).not.toContain('/internal');
  });

  test('the CRM answer body is never stored nor shown: API, dashboard, user tokens', async () => {
    const failing = await deliveryTo(`${receiver}/error`, 'error@customer.example');
    expect(await deliverOutboxRow(db(), failing.deliveryId, DEV)).toBe('retry');
    const gone = await deliveryTo(`${receiver}/gone`, 'gone@customer.example');
    expect(await deliverOutboxRow(db(), gone.deliveryId, DEV)).toBe('failed');
    const redirected = await deliveryTo(`${receiver}/redirect`, 'redirect-2@customer.example');
    expect(await deliverOutboxRow(db(), redirected.deliveryId, DEV)).toBe('failed');

    const stored = await env.DB.prepare('select last_error as e from webhook_outbox').all<{
      e: string | null;
    }>();
    expect(stored.results.map((r) => r.e).sort()).toEqual([
      'the CRM answered HTTP 410',
      'the CRM answered HTTP 500',
      'the CRM answered with a redirect (HTTP 302); redirects are not followed',
    ]);

    const admin = await signedIn(undefined, '/dead-letters');
    const answers = [
      (await api('GET', `/api/v1/activities/${failing.activityId}`)).text,
      (await api('GET', `/api/v1/activities/${gone.activityId}`)).text,
      (await api('GET', '/api/v1/webhook-deliveries')).text,
      (await admin.get('/dead-letters')).html,
      (await admin.get(`/activities/${failing.activityId}`)).html,
      (await admin.get(`/activities/${redirected.activityId}`)).html,
    ];
    for (const text of answers) {
      expect(text).not.toContain('hunter2');
      expect(text).not.toContain(INTERNAL_SECRET);
      expect(text).not.toContain(CRM_ANSWER_SECRET);
    }
    expect(answers[0]).toContain('the CRM answered HTTP 500');

    // A user token of the deployment sees the state of the delivery, never its error text.
    await api('PUT', '/api/v1/mailboxes/ann@contoso.example', {
      body: { region: 'us', deployment: 'contoso', userId: 'ann', filter: 'all' },
    });
    await env.DB.prepare(`update activities set mailboxes = '["ann@contoso.example"]' where id = ?`)
      .bind(failing.activityId)
      .run();
    const user = await mintToken('user:contoso/ann');
    const seen = await api('GET', `/api/v1/activities/${failing.activityId}`, { token: user });
    expect(seen.status).toBe(200);
    expect(seen.json.webhookDeliveries).toEqual([
      expect.objectContaining({ state: 'pending', attempts: 1, lastStatus: 500 }),
    ]);
    expect(seen.json.webhookDeliveries[0]).not.toHaveProperty('lastError');
  });
});
