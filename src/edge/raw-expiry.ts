// Per-deployment retention of the regional copies (issue 13 item 4): central prunes activities and
// dispositions older than a deployment's `retentionDays` (services/retention.ts) and tells the
// edges the same number in the snapshot; this cron step deletes the deployment's raw messages,
// attachments and held bodies under `raw/<deployment>/<YYYY-MM-DD>/` (ingest-item.ts) once the
// whole day is older than that. Bounded per run; the next tick goes on where this one stopped.
import type { RoutingSnapshot } from '../core/snapshot.js';

const DAY_MS = 24 * 3600 * 1000;
/** Objects deleted per cron run (at most one R2 delete call per listing of 1000). */
export const EXPIRY_DELETES_PER_RUN = 5000;
/** R2 list calls per cron run. */
export const EXPIRY_LISTS_PER_RUN = 20;

export interface ExpiryResult {
  deleted: number;
  /** Per deployment, the day prefixes found expired (whole or in part deleted this run). */
  days: Record<string, string[]>;
  /** True when the budget ran out before every expired day was emptied. */
  more: boolean;
}

/**
 * Deletes every object of `raw/<deployment>/<day>/` for the snapshot's deployments whose day ended
 * more than `retentionDays` before `now`. A deployment without retention, or not in the snapshot
 * (no longer served here), keeps its copies; so does `raw/_shared/`.
 */
export async function expireRawCopies(
  bucket: R2Bucket,
  snapshot: RoutingSnapshot,
  now: number,
  opts: { deletes?: number; lists?: number } = {},
): Promise<ExpiryResult> {
  let deletes = opts.deletes ?? EXPIRY_DELETES_PER_RUN;
  let lists = opts.lists ?? EXPIRY_LISTS_PER_RUN;
  const result: ExpiryResult = { deleted: 0, days: {}, more: false };
  for (const [deployment, d] of Object.entries(snapshot.deployments)) {
    if (!d.retentionDays) continue;
    // A day `YYYY-MM-DD` is expired when its last millisecond is older than the retention.
    const cutoff = now - d.retentionDays * DAY_MS;
    const expiredDays: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      if (lists-- <= 0) return { ...result, more: true };
      const page = await bucket.list({
        prefix: `raw/${deployment}/`,
        delimiter: '/',
        limit: 1000,
        ...(cursor ? { cursor } : {}),
      });
      const days = page.delimitedPrefixes.filter((p) => {
        const day = Date.parse(`${p.slice(-11, -1)}T00:00:00Z`);
        return Number.isFinite(day) && day + DAY_MS <= cutoff;
      });
      expiredDays.push(...days);
      // Day prefixes come in key order, i.e. oldest first: the first young one ends the search.
      if (days.length < page.delimitedPrefixes.length || !page.truncated) break;
      cursor = page.cursor;
    }
    if (expiredDays.length) result.days[deployment] = expiredDays;
    for (const prefix of expiredDays) {
      for (;;) {
        if (deletes <= 0 || lists-- <= 0) return { ...result, more: true };
        const page = await bucket.list({ prefix, limit: Math.min(1000, deletes) });
        const keys = page.objects.map((o) => o.key);
        if (keys.length) await bucket.delete(keys);
        result.deleted += keys.length;
        deletes -= keys.length;
        if (!page.truncated) break;
      }
    }
  }
  return result;
}
