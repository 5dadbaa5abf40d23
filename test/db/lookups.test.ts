// Deployment, mailbox and region lookups used by ingestion claims, routing and forwarding
// (src/db/queries/deployments.ts, mailboxes.ts, regions.ts) against a migrated D1.
import { eq } from 'drizzle-orm';
import { describe, expect } from 'vitest';
import * as Deployments from '../../src/db/queries/deployments.js';
import * as Mailboxes from '../../src/db/queries/mailboxes.js';
import { allRegionIds, listRegionIds } from '../../src/db/queries/regions.js';
import { deployments } from '../../src/db/schema.js';
import { ids, dbTest as test } from './fixtures.js';

const route = (address: string, region: string, deployment: string, filter = 'email-enabled') => ({
  address,
  region,
  deployment,
  userId: 'u1',
  filter,
});

describe('lookup queries', () => {
  test('existingDeploymentIds picks the existing ones out of more than 100 ids', async ({ db }) => {
    expect(
      [...(await Deployments.existingDeploymentIds(db, [...ids('nope', 150), 'fabrikam', 'contoso']))].sort(),
    ).toEqual(['contoso', 'fabrikam']);
    expect(await Deployments.existingDeploymentIds(db, [])).toEqual(new Set());
    expect(await Deployments.allDeploymentIds(db)).toEqual(new Set(['contoso', 'fabrikam']));
    expect(await listRegionIds(db)).toEqual(['eu', 'us']);
    expect(await allRegionIds(db)).toEqual(new Set(['eu', 'us']));
  });

  test('generation bumps move one deployment on and stamp the time; an unknown id is undefined', async ({
    db,
  }) => {
    const f = await Deployments.bumpForwardingGeneration(db, 'contoso', 77);
    expect([f?.forwardingGeneration, f?.forwardingRotatedAt, f?.updatedAt]).toEqual([1, 77, 77]);
    expect((await Deployments.bumpForwardingGeneration(db, 'contoso', 78))?.forwardingGeneration).toBe(2);
    const w = await Deployments.bumpWebhookSecretGeneration(db, 'contoso', 79);
    expect([w?.webhookSecretGeneration, w?.forwardingGeneration]).toEqual([1, 2]);
    expect((await Deployments.findDeployment(db, 'fabrikam'))?.forwardingGeneration).toBe(0);
    expect(await Deployments.bumpForwardingGeneration(db, 'nobody', 1)).toBeUndefined();
    expect(await Deployments.bumpWebhookSecretGeneration(db, 'nobody', 1)).toBeUndefined();
  });

  test('deploymentsWithRetention lists only deployments with a retention period', async ({ db }) => {
    await db.update(deployments).set({ retentionDays: 30 }).where(eq(deployments.id, 'fabrikam'));
    expect(await Deployments.deploymentsWithRetention(db)).toEqual([{ id: 'fabrikam', days: 30 }]);
  });

  test('upsertRoutes writes 450 routes in one batch and moves existing ones; region lookups follow', async ({
    db,
  }) => {
    const many = ids('m', 450).map((x, i) => route(`${x}@contoso.test`, i % 2 ? 'us' : 'eu', 'contoso'));
    await Mailboxes.upsertRoutes(db, many, 10);
    await Mailboxes.upsertRoutes(
      db,
      [route('m0@contoso.test', 'us', 'fabrikam', 'all'), route('solo@f.test', 'us', 'fabrikam')],
      20,
    );
    const moved = await Mailboxes.findMailbox(db, 'm0@contoso.test');
    expect([moved?.region, moved?.deployment, moved?.filter, moved?.createdAt, moved?.updatedAt]).toEqual([
      'us',
      'fabrikam',
      'all',
      10,
      20,
    ]);
    expect(
      await Mailboxes.findMailboxes(
        db,
        many.map((m) => m.address),
      ),
    ).toHaveLength(450);
    expect((await Mailboxes.mailboxesInRegion(db, 'eu')).length).toBe(224);
    expect((await Mailboxes.deploymentsRoutedIn(db, 'us')).sort()).toEqual(['contoso', 'fabrikam']);
    expect(await Mailboxes.deploymentsRoutedIn(db, 'eu')).toEqual(['contoso']);
    await Mailboxes.upsertRoutes(db, [], 30);
  });
});
