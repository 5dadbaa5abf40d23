import { describe, expect, test } from 'vitest';
import { demoMailbox } from '../../scripts/demo-data.js';
import {
  central,
  centralUrl,
  edgeHealth,
  edgeHolds,
  eventually,
  firstListed,
  forwardingAddress,
  forwardMail,
  listedFor,
  rawMessage,
  sendMail,
  uniqueMessageId,
} from './helpers.js';

describe('the local network', () => {
  test('every worker answers /health with its role and region', async () => {
    const c = await (await fetch(`${centralUrl()}/health`)).json();
    expect(c).toMatchObject({ ok: true, role: 'central', region: 'us' });
    for (const region of ['us', 'eu', 'apac'] as const) {
      expect(await edgeHealth(region)).toMatchObject({ ok: true, role: 'edge', region });
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
    const sent = await forwardMail('eu', mailbox, {
      from: 'Customer <someone@unknown-customer.example>',
      subject: 'Quote request',
      messageId,
    });
    expect(sent.status).toBeLessThan(300);
    const activity = await firstListed('activities', messageId);
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
      to: await forwardingAddress('apac'),
    });
    expect(sent.status).toBeLessThan(300);
    const receipt = await firstListed('dispositions', messageId);
    expect(receipt).toMatchObject({ region: 'apac', reason: 'no-route', mailbox: null });
    expect(JSON.stringify(receipt)).not.toContain('Private');
    expect(JSON.stringify(receipt)).not.toContain('unknown-customer');
    expect(await listedFor('activities', messageId)).toEqual([]);
  });
});

describe('snapshot publication', () => {
  test('a route change reaches the region edge (its /health snapshotVersion) within 60 s', async () => {
    const before = await edgeHealth('eu');
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
    const seen = await edgeHolds('eu', target);
    expect(seen).toBeGreaterThanOrEqual(target);
    await central('DELETE', '/api/v1/mailboxes/newcomer@contoso.example');
  });
});

describe('forwarding addresses at the edge (issue 11, boundary 2)', () => {
  test('a forged forward to anything but a forwarding address is refused and leaves no activity', async () => {
    const mailbox = demoMailbox({ region: 'eu', filter: 'all' });
    const messageId = uniqueMessageId('forged');
    const raw = rawMessage({
      from: 'attacker@evil.example',
      to: mailbox.address,
      subject: 'Forged forward',
      messageId,
      extra: { 'X-Forwarded-To': mailbox.address, 'Delivered-To': mailbox.address },
    });
    const since = Date.now();
    // The old shared address, the mailbox itself, and another region's forwarding address.
    for (const to of [
      'crm@eu.edge.localhost',
      mailbox.address,
      await forwardingAddress('us', mailbox.deployment),
    ]) {
      const sent = await sendMail('eu', raw, { from: 'attacker@evil.example', to });
      expect(sent.status).toBe(400);
      expect(sent.text).toMatch(/unknown-recipient/);
    }
    // The receipts of these three refusals: a receipt names no Message-ID, so they are told from
    // other tests' refusals by this message's size and the time it was sent.
    const size = new TextEncoder().encode(raw).byteLength;
    const receipts = await eventually(async () => {
      const res = await central('GET', '/api/v1/dispositions?reason=unknown-recipient&region=eu');
      const ours = (res.json.items as { sizeBytes: number; at: number; deployment?: string | null }[]).filter(
        (d) => d.sizeBytes === size && d.at >= since,
      );
      return ours.length >= 3 ? ours : undefined;
    }, 10_000);
    expect(receipts).toHaveLength(3);
    for (const receipt of receipts) expect(receipt.deployment ?? null).toBeNull();
    expect(await listedFor('activities', messageId)).toEqual([]);
  });
});
