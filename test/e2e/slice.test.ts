import { describe, expect, test } from 'vitest';
import { demoMailbox } from '../../scripts/demo-data.js';
import {
  central,
  centralUrl,
  edgeUrl,
  eventually,
  rawMessage,
  sendMail,
  uniqueMessageId,
} from './helpers.js';

describe('the local network', () => {
  test('every worker answers /health with its role and region', async () => {
    const c = await (await fetch(`${centralUrl()}/health`)).json();
    expect(c).toMatchObject({ ok: true, role: 'central', region: 'us' });
    for (const region of ['us', 'eu', 'apac'] as const) {
      const e = await (await fetch(`${edgeUrl(region)}/health`)).json();
      expect(e).toMatchObject({ ok: true, role: 'edge', region });
    }
  });

  test('demo data is seeded: two deployments and 30 routed mailboxes', async () => {
    const deployments = await central('GET', '/api/v1/deployments');
    const ids = deployments.json.items.map((d: { id: string }) => d.id);
    expect(ids).toEqual(expect.arrayContaining(['contoso', 'fabrikam']));
    const routes = await central('GET', '/api/v1/mailboxes?limit=5000');
    const demo = routes.json.items.filter((m: { address: string }) =>
      /@(contoso|fabrikam)\.example$/.test(m.address),
    );
    expect(demo).toHaveLength(30);
    expect(new Set(demo.map((m: { filter: string }) => m.filter))).toEqual(
      new Set(['all', 'responses', 'records', 'email-enabled', 'none']),
    );
    expect(new Set(demo.map((m: { region: string }) => m.region))).toEqual(new Set(['us', 'eu', 'apac']));
  });

  test('a message forwarded by an all-filter mailbox becomes an activity within 10 s', async () => {
    const mailbox = demoMailbox({ region: 'eu', filter: 'all' });
    const messageId = uniqueMessageId('slice');
    const raw = rawMessage({
      from: 'Customer <someone@unknown-customer.example>',
      to: mailbox.address,
      subject: 'Quote request',
      messageId,
      extra: { 'X-Forwarded-To': mailbox.address },
    });
    const sent = await sendMail('eu', raw, {
      from: 'someone@unknown-customer.example',
      to: 'crm@eu.edge.localhost',
    });
    expect(sent.status).toBeLessThan(300);
    const activity = await eventually(async () => {
      const res = await central('GET', `/api/v1/activities?messageId=${encodeURIComponent(messageId)}`);
      return res.json.items[0];
    }, 10_000);
    expect(activity).toMatchObject({
      deployment: mailbox.deployment,
      messageId: messageId.slice(1, -1).toLowerCase(),
      subject: 'Quote request',
      mailboxes: [mailbox.address],
      regions: ['eu'],
      correlation: { method: 'all' },
    });
  });

  test('a message for an unknown mailbox leaves a no-route disposition', async () => {
    const messageId = uniqueMessageId('noroute');
    const raw = rawMessage({
      from: 'someone@unknown-customer.example',
      to: 'nobody@not-routed.example',
      subject: 'Private',
      messageId,
    });
    const sent = await sendMail('apac', raw, {
      from: 'someone@unknown-customer.example',
      to: 'crm@apac.edge.localhost',
    });
    expect(sent.status).toBeLessThan(300);
    const receipt = await eventually(async () => {
      const res = await central('GET', `/api/v1/dispositions?messageId=${encodeURIComponent(messageId)}`);
      return res.json.items[0];
    }, 10_000);
    expect(receipt).toMatchObject({ region: 'apac', reason: 'no-route', mailbox: null });
    expect(JSON.stringify(receipt)).not.toContain('Private');
    expect(JSON.stringify(receipt)).not.toContain('unknown-customer');
    const activities = await central('GET', `/api/v1/activities?messageId=${encodeURIComponent(messageId)}`);
    expect(activities.json.items).toEqual([]);
  });
});

describe('snapshot publication', () => {
  test('a route change reaches the region edge (its /health snapshotVersion) within 60 s', async () => {
    const before = await (await fetch(`${edgeUrl('eu')}/health`)).json();
    const route = await central('PUT', '/api/v1/mailboxes/newcomer@contoso.example', {
      region: 'eu',
      deployment: 'contoso',
      userId: 'u-newcomer',
      filter: 'records',
    });
    expect(route.status).toBe(200);
    const region = await central('GET', '/api/v1/regions/eu');
    const target = region.json.snapshotVersion as number;
    expect(target).toBeGreaterThan(before.snapshotVersion ?? 0);
    const seen = await eventually(
      async () => {
        const h = await (await fetch(`${edgeUrl('eu')}/health`)).json();
        return h.snapshotVersion >= target ? h.snapshotVersion : undefined;
      },
      60_000,
      1000,
    );
    expect(seen).toBeGreaterThanOrEqual(target);
    await central('DELETE', '/api/v1/mailboxes/newcomer@contoso.example');
  });
});
