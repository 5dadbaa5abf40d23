// The D1 reads of central ingest: what `plan.ts` asked for (`lookupKeysOf`), for every deployment
// of the batch at once, with an edge batch's claims, in ONE read `batch()`: a round trip to D1 costs more than any of these
// indexed reads (issue 21: five sequential lookups, each chunked per deployment, were a tenth of a
// batch's time at 1 M stored activities).
import type { Db } from '../../db/client.js';
import {
  activityFingerprintQueries,
  existingDeploymentQuery,
  outboundByMessageIdQueries,
  outboundByTrackingTokenQueries,
  recordMatchQueries,
  regionClaimQueries,
  type ScopedKey,
} from '../../db/queries/ingest.js';
import { regionVersionQuery } from '../../db/queries/snapshot-build.js';
import { type RegionClaims, regionClaimsOf } from './ingest-claims.js';
import { type LookupKeys, type Lookups, type RecordMatch, type Regarding, scoped } from './plan.js';

const pairsOf = (keys: Map<string, Set<string>>): ScopedKey[] =>
  [...keys].flatMap(([deployment, set]) => [...set].map((key): ScopedKey => [deployment, key]));

/** Rows grouped under `scoped(deployment, key)`. */
function groupScoped<R extends { deployment: string }>(rows: R[], keyOf: (row: R) => string) {
  const found = new Map<string, R[]>();
  for (const row of rows) {
    const key = scoped(row.deployment, keyOf(row));
    const list = found.get(key);
    if (list) list.push(row);
    else found.set(key, [row]);
  }
  return found;
}

/**
 * Reads the lookups of `keys` and, for an edge batch (`claimsOf`: the signing region), the
 * region's claims and its config version (what the batch was checked against: the snapshot
 * version its answer names, and the key of the region's cached mailbox names), all in one read
 * `batch()`.
 */
export async function loadLookups(
  db: Db,
  keys: LookupKeys,
  claimsOf?: string,
): Promise<{ lookups: Lookups; claims: RegionClaims | undefined; regionVersion: number | undefined }> {
  const claimQueries =
    claimsOf === undefined
      ? []
      : ([...regionClaimQueries(db, claimsOf), regionVersionQuery(db, claimsOf)] as const);
  const deployments = existingDeploymentQuery(db, [...keys.deployments]);
  const fingerprints = activityFingerprintQueries(db, pairsOf(keys.dedupeKeys));
  const matches = recordMatchQueries(db, pairsOf(keys.addresses));
  const outbound = outboundByMessageIdQueries(db, pairsOf(keys.outboundIds));
  const tokens = outboundByTrackingTokenQueries(db, pairsOf(keys.tokens));
  const results = (await db.batch([
    deployments,
    ...claimQueries,
    ...fingerprints,
    ...matches,
    ...outbound,
    ...tokens,
  ])) as unknown[][];
  let at = 1 + claimQueries.length;
  const take = <R>(n: number) => {
    const rows = results.slice(at, at + n).flat() as R[];
    at += n;
    return rows;
  };
  const fingerprintRows = take<{ deployment: string; dedupeKey: string; fingerprint: string | null }>(
    fingerprints.length,
  );
  const matchRows = take<RecordMatch & { deployment: string; address: string }>(matches.length);
  const outboundRows = take<Regarding & { deployment: string; messageId: string }>(outbound.length);
  const tokenRows = take<Regarding & { deployment: string; token: string }>(tokens.length);
  const claims =
    claimsOf === undefined
      ? undefined
      : regionClaimsOf(claimsOf, [results[1] as { id: string }[], results[2] as { id: string }[]]);
  const regionVersion = claimsOf === undefined ? undefined : (results[3] as { v: number }[])[0]?.v;
  const lookups = {
    knownDeployments: new Set((results[0] as { id: string }[]).map((r) => r.id)),
    matches: groupScoped(matchRows, (r) => r.address),
    outbound: groupScoped(outboundRows, (r) => r.messageId),
    // Compared case-insensitively, as the edge matches tracking tokens.
    tokens: groupScoped(tokenRows, (r) => r.token.toLowerCase()),
    fingerprints: new Map(
      fingerprintRows.map((r) => [scoped(r.deployment, r.dedupeKey), r.fingerprint] as const),
    ),
  };
  return { lookups, claims, regionVersion };
}
