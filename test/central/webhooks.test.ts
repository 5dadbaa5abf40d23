// The webhook outbox: the delivery row commits with the activity (ingest and promotion); its
// state shows on GET /api/v1/activities/:id. Delivery against a real HTTP target (503, 410, a
// restart of central) is in the fault suite, test/faults/faults.test.ts.
import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import {
  deliverOutboxRow,
  isPermanentWebhookStatus,
  webhookRetryDelaySeconds,
} from '../../src/central/delivery/webhooks.js';
import { ingest } from '../../src/central/ingest/ingest.js';
import { createDb } from '../../src/db/client.js';
import { signedIn } from './dashboard-browser.js';
import { itemMaker } from './edge-batch.js';
import { api, freshBasics } from './helpers.js';

const db = () => createDb((env as unknown as { DB: D1Database }).DB);
/** A development central's delivery settings (loopback receivers allowed). */
const DEV = { edgeKeySecret: 'test-edge-secret', production: false };

const anyItem = itemMaker('item');
const item = (deployment: string, messageId: string) => anyItem({ deployment, messageId });

describe('webhook outbox', () => {
  beforeEach(freshBasics);

  test('ingest writes a pending outbox row with the activity, only for deployments with a webhook URL', async () => {
    await api('PUT', '/api/v1/deployments/contoso', {
      body: { name: 'Contoso', webhookUrl: 'https://crm.invalid/hook' },
    });
    const out = await ingest(
      { db: db(), region: 'us', now: Date.now() },
      [item('contoso', 'hooked@customer.example'), item('fabrikam', 'plain@customer.example')],
      [],
    );
    const [hooked, plain] = out.results;
    const a = await api('GET', `/api/v1/activities/${hooked!.activityId}`);
    expect(a.json.webhookDeliveries).toEqual([
      expect.objectContaining({
        event: 'activity.accepted',
        state: 'pending',
        attempts: 0,
        deployment: 'contoso',
      }),
    ]);
    // Every field an Activity had before is still there.
    expect(a.json).toMatchObject({
      id: hooked!.activityId,
      deployment: 'contoso',
      bodyHeldRegionally: false,
    });
    const b = await api('GET', `/api/v1/activities/${plain!.activityId}`);
    expect(b.json.webhookDeliveries).toEqual([]);
    // A later copy (merge) is its own delivery, event activity.merged.
    await ingest(
      { db: db(), region: 'us', now: Date.now() },
      [item('contoso', 'hooked@customer.example')],
      [],
    );
    const again = await api('GET', `/api/v1/activities/${hooked!.activityId}`);
    expect(again.json.webhookDeliveries.map((d: { event: string }) => d.event).sort()).toEqual([
      'activity.accepted',
      'activity.merged',
    ]);
  });

  test('redirects, 410 and 4xx other than 408/429 are permanent; 5xx, 408 and 429 are retried with growing delays', () => {
    for (const s of [301, 302, 307, 308, 400, 401, 403, 404, 410, 422])
      expect(isPermanentWebhookStatus(s)).toBe(true);
    for (const s of [408, 429, 500, 502, 503]) expect(isPermanentWebhookStatus(s)).toBe(false);
    expect(webhookRetryDelaySeconds(1)).toBe(30);
    expect(webhookRetryDelaySeconds(2)).toBe(60);
    expect(webhookRetryDelaySeconds(50)).toBe(3600);
    // 4 days of retries: the schedule makes well over 90 attempts in that window.
    let t = 0;
    let n = 0;
    while (t < 4 * 86400) t += webhookRetryDelaySeconds(++n);
    expect(n).toBeGreaterThan(90);
  });

  test('a delivery without an answer stays pending with its error; listed as failing (API, dashboard) and replayable', async () => {
    // Port 9 on loopback refuses the connection: "no answer", retried, never dropped.
    await api('PUT', '/api/v1/deployments/contoso', {
      body: { name: 'Contoso', webhookUrl: 'http://127.0.0.1:9/hook' },
    });
    const out = await ingest(
      { db: db(), region: 'us', now: Date.now() },
      [item('contoso', 'down@crm.example')],
      [],
    );
    const activityId = out.results[0]!.activityId!;
    const [row] = (await api('GET', `/api/v1/activities/${activityId}`)).json.webhookDeliveries;
    expect(await deliverOutboxRow(db(), row.id, DEV)).toBe('retry');
    const after = (await api('GET', `/api/v1/activities/${activityId}`)).json.webhookDeliveries[0];
    expect(after).toMatchObject({
      state: 'pending',
      attempts: 1,
      lastError: expect.stringContaining('no answer'),
    });
    expect(after.nextAttemptAt).toBeGreaterThan(Date.now() + 20_000);
    // Not due yet: a second attempt right away is refused.
    expect(await deliverOutboxRow(db(), row.id, DEV)).toBe('not-due');

    const failing = await api('GET', '/api/v1/webhook-deliveries');
    expect(failing.json.items.map((d: { id: string }) => d.id)).toContain(row.id);
    const b = await signedIn(undefined, '/dead-letters');
    const page = await b.get('/dead-letters');
    expect(page.html).toContain('Failing webhook deliveries');
    expect(page.html).toContain(`/dead-letters/webhooks/${row.id}/replay`);
    const detail = await b.get(`/activities/${activityId}`);
    expect(detail.html).toContain('Onward delivery to the CRM');
    expect(detail.html).toContain('pending');
    const replay = await b.post(`/dead-letters/webhooks/${row.id}/replay`, {}, { csrfFrom: '/dead-letters' });
    expect(replay.status).toBe(303);
    const replayed = (await api('GET', `/api/v1/activities/${activityId}`)).json.webhookDeliveries[0];
    expect(replayed.attempts).toBe(2);
  });
});
