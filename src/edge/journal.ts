// The accept journal: what makes an accepted item survive an edge restart where the queue itself
// does not. Cloudflare Queues are durable, but the local queue of `wrangler dev` (what `npm start`
// runs) lives in the process's memory: a restart — and `wrangler dev` restarts on every source
// change — drops whatever was accepted and not yet taken by the consumer. So, wherever the queue
// is not durable (every environment but production, unless ACCEPT_JOURNAL = "off"), each CRM-bound
// item is also written to the region's R2 under `journal/<item id>.json` before the sender is
// answered. The consumer deletes an item's entry once central has answered for it or it is in the
// spool; the cron hands entries that no live consumer will settle to the spool:
//  - entries written by an earlier process (another boot id) and older than a few seconds;
//  - any entry older than `STUCK_MS` (its queue message is stuck or gone).
// A handed-over item that was delivered after all is merged by central (items are idempotent:
// deployment + Message-ID), so the journal can double a delivery attempt, never an activity.
import type { IngestItem } from '../core/wire.js';
import { batchShare, CENTRAL_BATCH_LIMITS } from './central-batch.js';
import type { EdgeBindings, EdgeConfig } from './config.js';
import { packBySize } from './queue-messages.js';
import { countObjects, spool } from './spool.js';

export const JOURNAL_PREFIX = 'journal/';
/** An entry of another boot younger than this may still be settled by the consumer that took it. */
export const OTHER_BOOT_GRACE_MS = 5_000;
/** Longer than any healthy queue round trip: an entry this old is handed to the spool. */
export const STUCK_MS = 10 * 60 * 1000;
/** Entries handed over per run: one batch's worth of items keeps a cron run short. */
const RECOVER_MAX = 500;

let boot: string | undefined;
/** One id per isolate lifetime (random values are not available at module load in Workers). */
function bootId(): string {
  boot ??= crypto.randomUUID();
  return boot;
}

export const journalKey = (itemId: string) => `${JOURNAL_PREFIX}${itemId}.json`;

/** Writes one entry per item; throws when R2 fails (the sender then gets a temporary failure). */
export async function journalItems(env: EdgeBindings, cfg: EdgeConfig, items: IngestItem[]): Promise<void> {
  if (!cfg.acceptJournal || items.length === 0) return;
  const b = bootId();
  await Promise.all(
    items.map((item) =>
      env.RAW.put(journalKey(item.id), JSON.stringify(item), {
        httpMetadata: { contentType: 'application/json' },
        customMetadata: { boot: b },
      }),
    ),
  );
}

/**
 * Removes the entries of items central answered for or the spool now holds, or that were never
 * accepted (their enqueue failed: the sender retries). Best effort: an entry left behind is handed
 * to the spool later and merged by central into its activity.
 */
export async function settleJournal(env: EdgeBindings, cfg: EdgeConfig, itemIds: string[]): Promise<void> {
  if (!cfg.acceptJournal || itemIds.length === 0) return;
  for (let i = 0; i < itemIds.length; i += 1000)
    await env.RAW.delete(itemIds.slice(i, i + 1000).map(journalKey)).catch((err) => {
      console.error(`journal ${cfg.region}: could not remove settled entries (they will be merged)`, err);
    });
}

/**
 * Hands entries no live consumer will settle to the spool (bounded per run), oldest first within
 * a listing page. Returns how many items moved.
 */
export async function recoverJournal(env: EdgeBindings, cfg: EdgeConfig, now = Date.now()): Promise<number> {
  if (!cfg.acceptJournal) return 0;
  const me = bootId();
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const listing = await env.RAW.list({
      prefix: JOURNAL_PREFIX,
      limit: 1000,
      include: ['customMetadata'],
      ...(cursor ? { cursor } : {}),
    });
    for (const o of listing.objects) {
      const age = now - o.uploaded.getTime();
      const orphan = o.customMetadata?.boot !== me && age > OTHER_BOOT_GRACE_MS;
      if (orphan || age > STUCK_MS) keys.push(o.key);
      if (keys.length >= RECOVER_MAX) break;
    }
    cursor = listing.truncated && 'cursor' in listing ? listing.cursor : undefined;
  } while (cursor && keys.length < RECOVER_MAX);
  if (keys.length === 0) return 0;
  const items: IngestItem[] = [];
  const found: string[] = [];
  for (const key of keys) {
    const object = await env.RAW.get(key);
    if (!object) continue; // settled meanwhile
    try {
      items.push((await object.json()) as IngestItem);
      found.push(key);
    } catch {
      console.error(`journal ${cfg.region}: ${key} is not valid JSON; left in place`);
    }
  }
  if (items.length === 0) return 0;
  // Throws on failure: the entries stay for the next run.
  for (const group of packBySize(items, CENTRAL_BATCH_LIMITS, batchShare)) await spool(env, group, []);
  await env.RAW.delete(found);
  console.log(
    `journal ${cfg.region}: ${items.length} accepted item(s) of an earlier process handed to the spool`,
  );
  return items.length;
}

/** How many entries wait (for health and tests); bounded listing. */
export const journalDepth = (env: EdgeBindings, max = 1000) => countObjects(env.RAW, JOURNAL_PREFIX, max);
