// The demo data, written through the public API on a central that holds no deployment yet. It
// never writes over data it did not create: on a central that already has deployments it leaves
// everything as it is, and it names no tracking base number (central assigns the next free one),
// so a deployment a user created first can never collide with it.
import { type CentralClient, createCentralClient } from './central-client.js';
import { DEPLOYMENTS, demoRecords, MAILBOXES, REGION_SETTINGS, SUPPRESSIONS } from './demo-data.js';

export type SeedOutcome =
  /** The demo data was written now. */
  | { status: 'seeded'; summary: string }
  /** Written on an earlier start (the demo deployments are there). */
  | { status: 'present' }
  /** Central holds other deployments: nothing was written. */
  | { status: 'skipped'; reason: string };

/** Seeds the demo data once; see {@link SeedOutcome}. Throws when central refuses a write. */
export async function seedDemoData(
  base: string | CentralClient,
  token: string,
  log: (line: string) => void = console.log,
): Promise<SeedOutcome> {
  const api = typeof base === 'string' ? createCentralClient({ baseUrl: base, token }) : base;
  const existing = (await api.deployments.list()).items.map((d) => d.id);
  if (existing.length > 0) {
    if (DEPLOYMENTS.every((d) => existing.includes(d.id))) return { status: 'present' };
    const reason = `central already holds deployments (${existing.join(', ')}): demo data not written`;
    log(`[seed] ${reason}`);
    return { status: 'skipped', reason };
  }
  await writeDemoRegions(api);
  let records = 0;
  for (const d of DEPLOYMENTS) records += await writeDemoDeployment(api, d.id);
  const summary = `seeded demo data: ${DEPLOYMENTS.length} deployments, ${REGION_SETTINGS.length} regions, ${MAILBOXES.length} mailboxes, ${records} records`;
  log(summary);
  return { status: 'seeded', summary };
}

/** The demo regions' settings (puts: writing them again changes nothing). */
export async function writeDemoRegions(api: CentralClient): Promise<void> {
  for (const r of REGION_SETTINGS) await api.regions.put(r.id, r);
}

/**
 * One demo deployment with its mailboxes, records and suppressions (puts and upserting imports:
 * writing it again changes nothing). The bench seeds contoso alone this way on a central that
 * holds other data. Returns how many records it imported.
 */
export async function writeDemoDeployment(api: CentralClient, id: string): Promise<number> {
  const deployment = DEPLOYMENTS.find((d) => d.id === id);
  if (!deployment) throw new Error(`the demo data has no deployment ${id}`);
  await api.deployments.put(deployment.id, deployment);
  for (const m of MAILBOXES.filter((x) => x.deployment === id))
    await api.mailboxes.put(m.address, {
      region: m.region,
      deployment: m.deployment,
      userId: m.userId,
      filter: m.filter,
    });
  const list = demoRecords(id);
  await api.records.import(id, list);
  await api.suppressions.add(id, SUPPRESSIONS[id] ?? []);
  return list.length;
}
