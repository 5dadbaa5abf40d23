// The D1 reads of central ingest: what `plan.ts` asked for (`lookupKeysOf`), per deployment.
import type { Db } from '../../db/client.js';
import { existingDeploymentIds } from '../../db/queries/deployments.js';
import {
  activityFingerprints,
  outboundByMessageIds,
  outboundByTrackingTokens,
  recordMatches,
} from '../../db/queries/ingest.js';
import { type LookupKeys, type Lookups, scoped } from './plan.js';

/** Runs a per-deployment lookup for each deployment's keys; rows keyed `scoped(deployment, key)`. */
async function byDeployment<R>(
  keys: Map<string, Set<string>>,
  query: (deployment: string, keys: string[]) => Promise<R[]>,
  keyOf: (row: R) => string,
): Promise<Map<string, R[]>> {
  const found = new Map<string, R[]>();
  for (const [deployment, set] of keys) {
    if (!set.size) continue;
    for (const row of await query(deployment, [...set])) {
      const key = scoped(deployment, keyOf(row));
      found.set(key, [...(found.get(key) ?? []), row]);
    }
  }
  return found;
}

export async function loadLookups(db: Db, keys: LookupKeys): Promise<Lookups> {
  const fingerprints = await byDeployment(
    keys.dedupeKeys,
    (d, k) => activityFingerprints(db, d, k),
    (r) => r.dedupeKey,
  );
  return {
    knownDeployments: await existingDeploymentIds(db, [...keys.deployments]),
    matches: await byDeployment(
      keys.addresses,
      (d, k) => recordMatches(db, d, k),
      (r) => r.address,
    ),
    outbound: await byDeployment(
      keys.outboundIds,
      (d, k) => outboundByMessageIds(db, d, k),
      (r) => r.messageId,
    ),
    // Compared case-insensitively, as the edge matches tracking tokens.
    tokens: await byDeployment(
      keys.tokens,
      (d, k) => outboundByTrackingTokens(db, d, k),
      (r) => r.token.toLowerCase(),
    ),
    fingerprints: new Map([...fingerprints].map(([key, [first]]) => [key, first?.fingerprint ?? null])),
  };
}
