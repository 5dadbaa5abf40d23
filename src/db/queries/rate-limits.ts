// Fixed-window counters, one row per key (src/central/rate-limit.ts holds the rules).
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../client.js';
import { rateLimits } from '../schema.js';

export function findRateLimit(db: Db, key: string) {
  return db.select().from(rateLimits).where(eq(rateLimits.key, key)).get();
}

/**
 * Counts one event for the key in its current window of `windowMs`; a window that is over is
 * replaced by one starting `now` with a count of 1 (in the same statement, so racing events count).
 */
export async function countInWindow(db: Db, key: string, windowMs: number, now: number): Promise<void> {
  const expired = sql`${rateLimits.windowStart} + ${windowMs} <= ${now}`;
  await db
    .insert(rateLimits)
    .values({ key, windowStart: now, count: 1 })
    .onConflictDoUpdate({
      target: rateLimits.key,
      set: {
        count: sql`case when ${expired} then 1 else ${rateLimits.count} + 1 end`,
        windowStart: sql`case when ${expired} then ${now} else ${rateLimits.windowStart} end`,
      },
    });
}
