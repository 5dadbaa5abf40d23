// Intra-tenant privacy of regional raw copies (issue 19, item 9): a user token gets links only to
// the copies its own mailboxes forwarded; admin and deployment tokens get every copy of the
// deployment's activity.
import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import type { CentralBindings } from '../../src/central/context.js';
import { mintRawLink } from '../../src/central/ingest/raw-links.js';
import { rawLinkProblem } from '../../src/core/raw-link.js';
import { deriveEdgeCredentials } from '../../src/core/request-signature.js';
import { createDb } from '../../src/db/client.js';
import { recordHeartbeat } from '../../src/db/queries/regions.js';
import { itemMaker, sendBatch } from './edge-batch.js';
import { api, freshRoutes, mintToken } from './helpers.js';

const db = () => createDb((env as unknown as CentralBindings).DB);
const item = itemMaker('raw-access');

interface ContentLink {
  kind: string;
  url: string | null;
}

/** One message forwarded twice (ann's copy, then bob's): both mailboxes are on the activity. */
async function twoForwardedCopies() {
  const messageId = `shared-${crypto.randomUUID()}@customer.example`;
  const common = {
    messageId,
    from: { address: 'buyer@customer.example' },
    to: [{ address: 'ann@contoso.example' }, { address: 'bob@contoso.example' }],
    mailboxes: ['ann@contoso.example', 'bob@contoso.example'],
  };
  const ann = item({
    ...common,
    forwardedBy: ['ann@contoso.example'],
    raw: { region: 'us', key: 'raw/contoso/2026-01-01/ann-copy.eml', size: 100 },
  });
  const bob = item({
    ...common,
    forwardedBy: ['bob@contoso.example'],
    raw: { region: 'us', key: 'raw/contoso/2026-01-01/bob-copy.eml', size: 100 },
  });
  const sent = await sendBatch({ items: [ann] });
  expect(sent.json.results[0].status).toBe('accepted');
  const merged = await sendBatch({ items: [bob] });
  expect(merged.json.results[0].status).toBe('merged');
  return sent.json.results[0].activityId as string;
}

const rawKeysIn = (links: ContentLink[]) =>
  links
    .filter((l) => l.kind === 'raw')
    .map((l) => decodeURIComponent(new URL(l.url ?? 'http://x/').pathname).replace(/^\/raw\//, ''))
    .sort();

describe('raw copies of an activity, per principal', () => {
  beforeEach(async () => {
    await freshRoutes(
      ['ann@contoso.example', 'us', 'contoso', 'u-ann'],
      ['bob@contoso.example', 'us', 'contoso', 'u-bob'],
    );
    await recordHeartbeat(db(), 'us', { at: Date.now(), edgeUrl: 'http://edge-us.test' });
  });

  test("a user token gets links to its own mailboxes' copies only, never another user's", async () => {
    const id = await twoForwardedCopies();
    const bob = await mintToken('user:contoso/u-bob');
    const res = await api('GET', `/api/v1/activities/${id}/content`, { token: bob });
    expect(res.status).toBe(200);
    expect(rawKeysIn(res.json.items)).toEqual(['raw/contoso/2026-01-01/bob-copy.eml']);
    // Nor does the activity itself name ann's copy to bob.
    const detail = await api('GET', `/api/v1/activities/${id}`, { token: bob });
    expect(detail.status).toBe(200);
    expect(JSON.stringify(detail.json.content)).not.toContain('ann-copy');
    const list = await api('GET', '/api/v1/activities', { token: bob });
    expect(JSON.stringify(list.json.items)).not.toContain('ann-copy');
  });

  test('admin and deployment tokens get every copy of the activity', async () => {
    const id = await twoForwardedCopies();
    const both = ['raw/contoso/2026-01-01/ann-copy.eml', 'raw/contoso/2026-01-01/bob-copy.eml'];
    const admin = await api('GET', `/api/v1/activities/${id}/content`);
    expect(rawKeysIn(admin.json.items)).toEqual(both);
    const deployment = await mintToken('deployment:contoso');
    const scoped = await api('GET', `/api/v1/activities/${id}/content`, { token: deployment });
    expect(rawKeysIn(scoped.json.items)).toEqual(both);
  });

  test('a copy stored without the forwarding mailbox (before this rule) is not shown to user tokens', async () => {
    const legacy = item({
      mailboxes: ['ann@contoso.example'],
      raw: { region: 'us', key: 'raw/contoso/2026-01-01/legacy.eml', size: 100 },
    });
    const sent = await sendBatch({ items: [legacy] });
    const id = sent.json.results[0].activityId as string;
    // What central stored before `forwardedBy` existed: a copy naming no forwarder.
    await env.DB.prepare(
      `update activities set content = json('[{"region":"us","raw":{"region":"us","key":"raw/contoso/2026-01-01/legacy.eml","size":100},"attachments":[]}]') where id = ?`,
    )
      .bind(id)
      .run();
    const ann = await mintToken('user:contoso/u-ann');
    const res = await api('GET', `/api/v1/activities/${id}/content`, { token: ann });
    expect(res.status).toBe(200);
    expect(res.json.items).toEqual([]);
    expect(rawKeysIn((await api('GET', `/api/v1/activities/${id}/content`)).json.items)).toEqual([
      'raw/contoso/2026-01-01/legacy.eml',
    ]);
  });
});

describe('raw links central mints', () => {
  beforeEach(() => freshRoutes());

  test("are signed with the region's key by the one rule the edge checks (src/core/raw-link.ts)", async () => {
    await recordHeartbeat(db(), 'us', { at: Date.now(), edgeUrl: 'http://edge-us.test/' });
    const key = 'raw/contoso/2026-01-01/a b#1.eml';
    const link = await mintRawLink(env as unknown as CentralBindings, db(), 'us', key, 60_000, 1_000);
    expect(link?.expiresAt).toBe(61_000);
    const url = new URL(link!.url);
    expect(`${url.origin}${url.pathname}`).toBe(
      'http://edge-us.test/raw/raw/contoso/2026-01-01/a%20b%231.eml',
    );
    const { signingKey } = await deriveEdgeCredentials('test-edge-secret', 'us');
    const request = { key, exp: Number(url.searchParams.get('exp')), sig: url.searchParams.get('sig') ?? '' };
    expect(await rawLinkProblem({ signingKey, ...request }, 1_000)).toBeUndefined();
    const eu = await deriveEdgeCredentials('test-edge-secret', 'eu');
    expect(await rawLinkProblem({ signingKey: eu.signingKey, ...request }, 1_000)).toBe('bad-signature');
  });
});
