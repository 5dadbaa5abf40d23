// Write side of snapshot parts: statements that record what changed (src/central/snapshot/snapshot-publisher.ts
// rebuilds from them).
import { keyedHash64, normaliseAddress } from '../../core/keyed-hash.js';
import type { Db } from '../client.js';

/** Hash buckets of the dirty set: the top 12 bits of an address hash (4,096 buckets). */
export const BUCKET_BITS = 12;

/** The hash words and dirty bucket of a (normalised) record address. */
export function addressHash(hashKey: string, address: string): { hi: number; lo: number; bucket: number } {
  const [hi, lo] = keyedHash64(hashKey, normaliseAddress(address));
  return { hi, lo, bucket: hi >>> (32 - BUCKET_BITS) };
}

/** Statement: a deployment's part changed (bumps its data version, restarts the quiet period). */
export function partChangedStatement(d1: D1Database, deployment: string, now: number): D1PreparedStatement {
  return d1
    .prepare(
      `insert into snapshot_parts (deployment, data_version, changed_at) values (?1, 1, ?2)
       on conflict (deployment) do update set data_version = data_version + 1, changed_at = ?2`,
    )
    .bind(deployment, now);
}

/**
 * Statement: mark the hash buckets of the record_emails rows selected by `where` (SQL over the
 * table aliased `re`, parameters from ?2 on; ?1 is the deployment) dirty at the part's current
 * data version. Run it after {@link partChangedStatement} in the same batch.
 */
export function dirtyBucketsStatement(
  d1: D1Database,
  deployment: string,
  where: string,
  ...params: unknown[]
): D1PreparedStatement {
  return d1
    .prepare(
      `insert into snapshot_dirty (deployment, bucket, version)
       select distinct ?1, coalesce(re.hash_hi >> ${32 - BUCKET_BITS}, -1),
         (select data_version from snapshot_parts where deployment = ?1)
       from record_emails re where re.deployment = ?1 and (${where}) and true
       on conflict (deployment, bucket) do update set version = excluded.version`,
    )
    .bind(deployment, ...params);
}

/** A change to a deployment's part other than records (suppressions, outbound mail, settings). */
export async function markPartChanged(db: Db, deployment: string, now = Date.now()) {
  await partChangedStatement(db.$client, deployment, now).run();
}
