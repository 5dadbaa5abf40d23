// The regional spool: what central could not take (unreachable, timeout, 5xx, 429, any non-answer)
// is written to the region's R2 under `spool/<ms, zero-padded>-<uuid>.json` and drained oldest-first
// once central answers again (every cron tick, and after any successful delivery). An object is
// deleted only after central answered for what it holds, so an outage of any length — and an edge
// restart, since local R2 is persisted under the state folder — loses nothing. Central deduplicates
// items (deployment + Message-ID) and receipts (receipt id), so a re-sent object never doubles.
import type { IngestItem, Receipt } from '../core/wire.js';
import { CENTRAL_BATCH_LIMITS, isUnavailable, postBatch } from './central-batch.js';
import type { EdgeBindings, EdgeConfig } from './config.js';
import { packBySize } from './queue-messages.js';

export const SPOOL_PREFIX = 'spool/';

export interface SpoolEntry {
  spooledAt: number;
  items: IngestItem[];
  receipts: Receipt[];
}

/** Whether this isolate may have spooled objects waiting (unknown after start ⇒ true). */
let maybePending = true;
/**
 * One drain at a time per isolate, as a time lock rather than a shared promise: a promise belongs
 * to the request that created it and never settles if that request's context ends first (a
 * waitUntil cut short), which would block every later drain. A stale lock simply expires.
 */
let drainingUntil = 0;

export function spoolKey(now: number): string {
  return `${SPOOL_PREFIX}${String(now).padStart(15, '0')}-${crypto.randomUUID()}.json`;
}

/** Writes one spool object; throws when R2 fails (the caller then retries its queue messages). */
export async function spool(env: EdgeBindings, items: IngestItem[], receipts: Receipt[]): Promise<string> {
  const now = Date.now();
  const key = spoolKey(now);
  const entry: SpoolEntry = { spooledAt: now, items, receipts };
  await env.RAW.put(key, JSON.stringify(entry), {
    httpMetadata: { contentType: 'application/json' },
    customMetadata: { items: String(items.length), receipts: String(receipts.length) },
  });
  maybePending = true;
  return key;
}

export interface DrainResult {
  /** Spool objects delivered and deleted in this run. */
  objects: number;
  items: number;
  receipts: number;
  /** True when the run stopped because central did not answer (the rest waits for the next run). */
  centralDown: boolean;
  /** True when objects remain (work bound reached, or central down). */
  remaining: boolean;
}

/**
 * Drains the spool oldest-first, combining objects into batches within `CENTRAL_BATCH_LIMITS`,
 * until it is empty, central stops answering, or the run's bound (`maxMs`, `maxPosts`) is reached.
 * One drain at a time per isolate; a concurrent caller returns at once (`remaining: true`).
 */
export async function drainSpool(
  env: EdgeBindings,
  cfg: EdgeConfig,
  opts: { maxMs?: number; maxPosts?: number; onlyIfPending?: boolean } = {},
): Promise<DrainResult> {
  const idle = { objects: 0, items: 0, receipts: 0, centralDown: false, remaining: false };
  if (opts.onlyIfPending && !maybePending) return idle;
  const now = Date.now();
  if (now < drainingUntil) return { ...idle, remaining: true };
  const maxMs = opts.maxMs ?? 20_000;
  drainingUntil = now + maxMs + cfg.centralTimeoutMs + 5_000;
  try {
    return await runDrain(env, cfg, maxMs, opts.maxPosts ?? 20);
  } finally {
    drainingUntil = 0;
  }
}

/** A count from object metadata, or `whenUnknown` for a missing or unreadable one. */
function countOr(value: string | undefined, whenUnknown: number): number {
  const n = Number(value);
  return value !== undefined && Number.isSafeInteger(n) && n >= 0 ? n : whenUnknown;
}

async function runDrain(env: EdgeBindings, cfg: EdgeConfig, maxMs: number, maxPosts: number) {
  const started = Date.now();
  const result: DrainResult = { objects: 0, items: 0, receipts: 0, centralDown: false, remaining: false };
  const skipped = new Set<string>();
  let posts = 0;
  let cursor: string | undefined;
  while (Date.now() - started < maxMs && posts < maxPosts) {
    const listing = await env.RAW.list({
      prefix: SPOOL_PREFIX,
      limit: 200,
      include: ['customMetadata'],
      ...(cursor ? { cursor } : {}),
    });
    const waiting = listing.objects.filter((o) => !skipped.has(o.key));
    if (waiting.length === 0) {
      if (listing.truncated && 'cursor' in listing) {
        cursor = listing.cursor;
        continue;
      }
      if (skipped.size === 0) maybePending = false;
      return result;
    }
    // The oldest objects that fit one batch, sized by their listing (bytes, and the item and
    // receipt counts `spool()` wrote as metadata; an object without them goes alone).
    const [first = []] = packBySize(waiting, CENTRAL_BATCH_LIMITS, (o) => ({
      bytes: o.size,
      items: countOr(o.customMetadata?.items, CENTRAL_BATCH_LIMITS.items),
      receipts: countOr(o.customMetadata?.receipts, CENTRAL_BATCH_LIMITS.receipts),
    }));
    const group: { key: string; entry: SpoolEntry }[] = [];
    for (const { key } of first) {
      const object = await env.RAW.get(key);
      if (!object) continue; // deleted by a concurrent drain in another isolate
      try {
        group.push({ key, entry: (await object.json()) as SpoolEntry });
      } catch {
        // Unreadable object: keep it for an operator (never delete what was not delivered).
        console.error(`spool ${cfg.region}: ${key} is not valid JSON; left in place`);
        skipped.add(key);
      }
    }
    if (group.length === 0) continue;
    posts++;
    const items = group.flatMap((g) => g.entry.items);
    const receipts = group.flatMap((g) => g.entry.receipts);
    try {
      const answer = await postBatch(cfg, { items, receipts }, 'spool');
      const answered = new Set(answer.results.map((r) => r.id));
      const unanswered = items.filter((i) => !answered.has(i.id));
      // Central answers every item; should it not, those items go back to the spool (never dropped).
      if (unanswered.length) await spool(env, unanswered, []);
      await env.RAW.delete(group.map((g) => g.key));
      result.objects += group.length;
      result.items += items.length - unanswered.length;
      result.receipts += receipts.length;
    } catch (err) {
      if (isUnavailable(err)) {
        console.error(`spool ${cfg.region}: central unavailable, ${group.length}+ objects wait`, err);
        result.centralDown = true;
        result.remaining = true;
        return result;
      }
      // A permanent refusal of this request (4xx): leave its objects for an operator, go on.
      console.error(`spool ${cfg.region}: central refused a drain request; objects left in place`, err);
      for (const g of group) skipped.add(g.key);
    }
  }
  result.remaining = true;
  return result;
}

/** How many objects under `prefix` (bounded listing: stops counting past `max`). */
export async function countObjects(bucket: R2Bucket, prefix: string, max = 1000): Promise<number> {
  let n = 0;
  let cursor: string | undefined;
  do {
    const listing = await bucket.list({ prefix, limit: 1000, ...(cursor ? { cursor } : {}) });
    n += listing.objects.length;
    cursor = listing.truncated && 'cursor' in listing ? listing.cursor : undefined;
  } while (cursor && n < max);
  return n;
}

/** How many spool objects wait (for health and tests). */
export const spoolDepth = (env: EdgeBindings, max = 1000) => countObjects(env.RAW, SPOOL_PREFIX, max);
