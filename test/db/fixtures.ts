// Rows for the query-function tests (test/db): written with drizzle straight into the migrated D1,
// so each test states the exact table contents its query runs against.
import { env } from 'cloudflare:test';
import { test } from 'vitest';
import { createDb, type Db } from '../../src/db/client.js';
import type { ActivityInsert } from '../../src/db/queries/ingest.js';
import { activities, deployments, regions } from '../../src/db/schema.js';
import { resetDatabase } from '../central/helpers.js';

/** A clean database with regions us and eu and deployments contoso (webhook set) and fabrikam. */
export async function freshDb(): Promise<Db> {
  await resetDatabase();
  const db = createDb(env.DB);
  await db.insert(regions).values([
    { id: 'us', name: 'US' },
    { id: 'eu', name: 'EU' },
  ]);
  await db.insert(deployments).values([
    { id: 'contoso', name: 'Contoso', tokenBase: 1, webhookUrl: 'https://crm.contoso.test/hook' },
    { id: 'fabrikam', name: 'Fabrikam', tokenBase: 2 },
  ]);
  return db;
}

/** An activity row with every required column; `over` sets what the test is about. */
export function activityRow(over: Partial<ActivityInsert> & { id: string }): ActivityInsert {
  return {
    deployment: 'contoso',
    dedupeKey: `<${over.id}@test>`,
    parties: [],
    reason: 'tracked',
    correlationMethod: 'sender-record',
    correlationDetail: '',
    mailboxes: [],
    regions: ['us'],
    egress: 'full',
    sizeBytes: 100,
    receivedAt: 1_000,
    ingestedAt: 1_000,
    updatedAt: 1_000,
    ...over,
  };
}

let seq = 0;
/** Inserts activities directly (with a fresh seq each). */
export async function insertActivities(db: Db, rows: ActivityInsert[]) {
  for (const row of rows) await db.insert(activities).values({ ...row, seq: ++seq + 1_000_000 });
}

/** `n` distinct ids with a prefix, more than D1's 100 bound parameters when n > 100. */
export const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** `test` with a `db` fixture: each test gets {@link freshDb}. */
export const dbTest = test.extend<{ db: Db }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads the fixture's dependencies from this pattern.
  db: async ({}, use) => use(await freshDb()),
});
