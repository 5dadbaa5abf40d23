// Fixed-window rate limits kept in D1 (no rate-limiting binding exists locally; one row per key).
import type { Context } from 'hono';
import type { Db } from '../../db/client.js';
import { countInWindow, findRateLimit } from '../../db/queries/rate-limits.js';

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
  const row = await findRateLimit(db, key);
  if (!row || row.windowStart + rule.windowMs <= now || row.count < rule.limit) return 0;
  return Math.max(1, Math.ceil((row.windowStart + rule.windowMs - now) / 1000));
}

/** Counts one event for the key (a new window starts when the old one is over). */
export async function countEvent(db: Db, key: string, rule: RateLimit, now = Date.now()): Promise<void> {
  await countInWindow(db, key, rule.windowMs, now);
}
