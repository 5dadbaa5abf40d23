import { createDb } from '../db/client.js';
import { runSearchBackfill } from '../db/queries/search-backfill.js';
import { createApp } from './app.js';
import { readCentralConfig } from './config.js';
import { runDueSyncs } from './connectors/sync.js';
import type { CentralBindings } from './context.js';
import { drainWebhookOutbox } from './delivery/webhooks.js';
import { consumeQueue } from './queues.js';
import { pruneBookkeeping, pruneRetention } from './services/retention.js';
import { snapshotPushEnabled } from './snapshot/edge-notice.js';
import { runSnapshotKick } from './snapshot/snapshot-kicks.js';

const app = createApp();

/** The cron's share of each minute for the search index's backfill (its steps are ~150 ms each). */
const SEARCH_BACKFILL_BUDGET_MS = 10_000;

export default {
  fetch: app.fetch,

  /**
   * Three queues, told apart by name (queue-names.ts): snapshot kicks, onward webhook delivery and
   * connector sync continuations.
   */
  async queue(batch, env, ctx?: ExecutionContext) {
    await consumeQueue(batch, env, createDb(env.DB), ctx);
  },

  /**
   * Cron: prune bookkeeping rows (latency samples, seen batch ids, traffic counters); retry due deliveries; continue
   * and start connector record syncs (src/central/connectors/sync.ts); one snapshot-kick run, which catches a kick that was lost and the once-per-max-stale
   * rebuild of a deployment whose import never goes quiet; and up to 10 s of the search index's backfill.
   */
  async scheduled(_controller, env, ctx?: ExecutionContext) {
    const db = createDb(env.DB);
    if (snapshotPushEnabled(env))
      await runSnapshotKick(env, db).catch((err) => console.error('snapshot kick run (cron) failed', err));
    await pruneBookkeeping(db, Date.now());
    await pruneRetention(db, env.ARCHIVE, Date.now());
    const config = readCentralConfig(env);
    await drainWebhookOutbox(db, config, Date.now(), undefined, { env });
    // Tests call scheduled() without a context: the snapshot kicks then run inline.
    const waitUntil = ctx
      ? (p: Promise<unknown>) => ctx.waitUntil(p)
      : (p: Promise<unknown>) => void p.catch(() => {});
    await runDueSyncs(db, { env, ctx: { waitUntil } }, config).catch((err) =>
      console.error('connector sync run (cron) failed', (err as Error)?.name),
    );
    // Activities stored before the search index was rebuilt (migration 0014), newest first.
    const left = await runSearchBackfill(db, { budgetMs: SEARCH_BACKFILL_BUDGET_MS }).catch((err) => {
      console.error('search index backfill (cron) failed', err);
      return undefined;
    });
    if (left) console.log(`search index backfill: activities below seq ${left.belowSeq} still to index`);
  },
} satisfies ExportedHandler<CentralBindings>;
