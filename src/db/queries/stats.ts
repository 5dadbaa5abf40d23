// The reads behind the per-region measures (src/central/stats.ts aggregates them).
import { and, desc, eq, gte, sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { activities, dispositions, edgeCounters, latencySamples } from '../schema.js';

/** The edges' per-minute counters from `sinceMinute` (minutes since the epoch) on. */
export function edgeCountersSince(db: Db, sinceMinute: number) {
  return db.select().from(edgeCounters).where(gte(edgeCounters.minute, sinceMinute)).all();
}

/**
 * One deployment's activities received since `since`, counted per region they came through and
 * minute (aggregated in SQL: the rows grow with regions × minutes, not with mail).
 */
export function deploymentActivityTraffic(db: Db, deployment: string, since: number) {
  return db.all<{ region: string; minute: number; n: number; bytes: number }>(sql`
    select r.value as region, ${activities.receivedAt} / 60000 as minute, count(*) as n,
           sum(${activities.sizeBytes}) as bytes
    from ${activities}, json_each(${activities.regions}) r
    where ${activities.deployment} = ${deployment} and ${activities.receivedAt} >= ${since}
    group by region, minute`);
}

/** One deployment's dispositions since `since`, counted per region, reason and minute. */
export function deploymentDispositionTraffic(db: Db, deployment: string, since: number) {
  return db
    .select({
      region: dispositions.region,
      reason: dispositions.reason,
      minute: sql<number>`${dispositions.at} / 60000`,
      n: sql<number>`count(*)`,
      bytes: sql<number>`sum(${dispositions.sizeBytes})`,
    })
    .from(dispositions)
    .where(and(eq(dispositions.deployment, deployment), gte(dispositions.at, since)))
    .groupBy(dispositions.region, dispositions.reason, sql`${dispositions.at} / 60000`)
    .all();
}

/** The most recent `limit` receipt→commit latencies since `since` (of one deployment, when given), newest first. */
export function recentLatencies(db: Db, q: { since: number; deployment?: string; limit: number }) {
  return db
    .select({ region: latencySamples.region, ms: latencySamples.ms })
    .from(latencySamples)
    .where(
      and(
        gte(latencySamples.at, q.since),
        q.deployment ? eq(latencySamples.deployment, q.deployment) : undefined,
      ),
    )
    .orderBy(desc(latencySamples.at))
    .limit(q.limit)
    .all();
}
