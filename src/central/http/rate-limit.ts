// Fixed-window rate limits kept in D1 (no rate-limiting binding exists locally; one row per key).
import { eq, sql } from 'drizzle-orm';
import type { Context } from 'hono';
import type { Db } from '../../db/client.js';
import { rateLimits } from '../../db/schema.js';

export interface RateLimit {
  limit: number;
  windowMs: number;
}

/** Failed sign-ins per client: 10 per 15 minutes, then 429 until the window ends. */
export const SIGN_IN_FAILURES: RateLimit = { limit: 10, windowMs: 15 * 60 * 1000 };

/** The client a request comes from: Cloudflare's connecting IP, or `local` without one (wrangler dev, tests). */
export function clientKey(c: Context): string {
  return c.req.header('cf-connecting-ip') ?? 'local';
}

/** Seconds until the key may try again, or 0 when it is under its limit. */
export async function retryAfterSeconds(
  db: Db,
  key: string,
  rule: RateLimit,
  now = Date.now(),
): Promise<number> {
  const row = await db.select().from(rateLimits).where(eq(rateLimits.key, key)).get();
  if (!row || row.windowStart + rule.windowMs <= now || row.count < rule.limit) return 0;
  return Math.max(1, Math.ceil((row.windowStart + rule.windowMs - now) / 1000));
}

/** Counts one event for the key (a new window starts when the old one is over). */
export async function countEvent(db: Db, key: string, rule: RateLimit, now = Date.now()): Promise<void> {
  const expired = sql`${rateLimits.windowStart} + ${rule.windowMs} <= ${now}`;
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
