import { eq, inArray, like, or } from 'drizzle-orm';
import type { Db } from '../client.js';
import { deploymentDomains } from '../schema.js';

/** A domain and each of its parent domains, most specific first (`a.x.com`, `x.com`). */
export function domainAndParents(domain: string): string[] {
  const labels = domain.toLowerCase().split('.');
  const out: string[] = [];
  for (let i = 0; i < labels.length - 1; i++) out.push(labels.slice(i).join('.'));
  return out;
}

export async function listDeploymentDomains(db: Db, deployment: string): Promise<string[]> {
  const rows = await db
    .select({ domain: deploymentDomains.domain })
    .from(deploymentDomains)
    .where(eq(deploymentDomains.deployment, deployment))
    .orderBy(deploymentDomains.domain)
    .all();
  return rows.map((r) => r.domain);
}

/** Every deployment's domains (or one deployment's), sorted, for the dashboard's deployment cards. */
export async function domainsByDeployment(db: Db, deployment?: string): Promise<Map<string, string[]>> {
  const rows = await db
    .select()
    .from(deploymentDomains)
    .where(deployment === undefined ? undefined : eq(deploymentDomains.deployment, deployment))
    .orderBy(deploymentDomains.domain)
    .all();
  const out = new Map<string, string[]>();
  for (const r of rows) out.set(r.deployment, [...(out.get(r.deployment) ?? []), r.domain]);
  return out;
}

/**
 * Owners of the given domains: for each domain, the deployment owning it or its nearest parent
 * (the most specific owned domain wins). Domains nobody owns are absent from the map.
 */
export async function domainOwners(db: Db, domains: string[]): Promise<Map<string, string>> {
  const candidates = [...new Set(domains.flatMap(domainAndParents))];
  const owned = new Map<string, string>();
  for (let i = 0; i < candidates.length; i += 90) {
    const rows = await db
      .select()
      .from(deploymentDomains)
      .where(inArray(deploymentDomains.domain, candidates.slice(i, i + 90)))
      .all();
    for (const r of rows) owned.set(r.domain, r.deployment);
  }
  const out = new Map<string, string>();
  for (const d of domains) {
    const owner = domainAndParents(d)
      .map((c) => owned.get(c))
      .find((x) => x !== undefined);
    if (owner) out.set(d, owner);
  }
  return out;
}

/** Domains of other deployments equal to, inside, or around the given domains: `{ domain, deployment }`. */
export async function overlappingDomains(db: Db, deployment: string, domains: string[]) {
  const rows: Array<typeof deploymentDomains.$inferSelect> = [];
  for (const d of domains)
    rows.push(
      ...(await db
        .select()
        .from(deploymentDomains)
        .where(
          or(
            inArray(deploymentDomains.domain, domainAndParents(d).slice(0, 90)),
            like(deploymentDomains.domain, `%.${d}`),
          ),
        )
        .all()),
    );
  return rows.filter((r) => r.deployment !== deployment);
}

/** Replaces a deployment's domains (one transaction). */
export async function replaceDeploymentDomains(db: Db, deployment: string, domains: string[]) {
  await db.batch([
    db.delete(deploymentDomains).where(eq(deploymentDomains.deployment, deployment)),
    ...(domains.length
      ? [db.insert(deploymentDomains).values(domains.map((domain) => ({ domain, deployment })))]
      : []),
  ]);
}
