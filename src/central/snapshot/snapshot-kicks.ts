// Snapshot kicks (docs/decisions.md, "Snapshot push"). Builds used to happen only when an edge
// fetched its snapshot, so an idle edge saw a change at its next poll. Now every snapshot-relevant
// change (config-changed.ts, called by the use case that writes it) sends a kick to the `SNAPSHOT_KICKS` queue, delayed past
// the debounce's quiet period. The consumer rebuilds the parts the debounce lets through,
// reassembles every region whose version moved, and sends those regions' edges a signed notice
// (edge-notice.ts). With the push on, an edge's poll never builds (it is answered with what is
// published), so builds run here, off the request path, and nowhere else but central's cron.
import type { Db } from '../../db/client.js';
import { deploymentsRoutedIn } from '../../db/queries/mailboxes.js';
import { listRegions } from '../../db/queries/regions.js';
import { partRowsOf } from '../../db/queries/snapshot-build.js';
import type { CentralBindings } from '../context.js';
import { type NoticeOutcome, noticeEdges, snapshotPushEnabled } from './edge-notice.js';
import {
  getRegionSnapshot,
  publisherContext,
  readPublishedManifest,
  snapshotTuning,
} from './snapshot-publisher.js';

export interface SnapshotKick {
  kind: 'snapshot-kick';
  at: number;
  /** What changed (config-changed.ts); absent on a consumer's re-kick. */
  what?: string;
}

/** Queue's own limit on a message delay. */
const MAX_DELAY_SECONDS = 12 * 60 * 60;

/** A kick's delay: just past the quiet period, so the change it follows is buildable when it runs. */
export function kickDelaySeconds(env: Pick<CentralBindings, 'SNAPSHOT_QUIET_MS' | 'SNAPSHOT_MAX_STALE_MS'>) {
  return Math.min(MAX_DELAY_SECONDS, Math.ceil(snapshotTuning(env).quietMs / 1000) + 1);
}

/** Sends a kick (never throws: a lost kick only means the edges see the change at their next poll). */
export async function sendSnapshotKick(
  env: CentralBindings,
  delaySeconds = kickDelaySeconds(env),
  what?: string,
) {
  if (!snapshotPushEnabled(env)) return;
  const kick: SnapshotKick = { kind: 'snapshot-kick', at: Date.now(), ...(what ? { what } : {}) };
  try {
    await env.SNAPSHOT_KICKS.send(kick, { delaySeconds: Math.max(0, Math.round(delaySeconds)) });
  } catch (err) {
    console.error('snapshot kick could not be queued', err);
  }
}

export interface KickRun {
  /** Regions whose published snapshot moved on in this run, and what their edges answered. */
  notices: NoticeOutcome[];
  /** Seconds until the next kick this run queued (a part still inside its quiet period), if any. */
  rekickSeconds?: number;
}

/**
 * One consumer run: publish every region (each publish rebuilds the dirty parts the debounce lets
 * through, then reassembles when the region's version moved), notice the edges of the regions
 * whose published version changed, and, if a routed part is still inside its quiet period (a kick
 * that ran early), queue one more kick for when it is not.
 */
export async function runSnapshotKick(
  env: CentralBindings,
  db: Db,
  now = () => Date.now(),
): Promise<KickRun> {
  const ctx = publisherContext(env, db);
  const before = new Map((await listRegions(db)).map((r) => [r.id, r.publishedVersion]));
  const routed = new Set<string>();
  for (const id of before.keys()) {
    for (const d of await deploymentsRoutedIn(db, id)) routed.add(d);
    const published = await getRegionSnapshot(ctx, id);
    // Split into manifest and parts here, off the request path, so that the edge the notice
    // wakes is answered from R2 (docs/decisions.md, "Snapshots by content hash").
    if (published && published.version !== before.get(id)) await readPublishedManifest(ctx, published);
  }
  const moved = (await listRegions(db))
    .filter((r) => r.publishedVersion !== null && r.publishedVersion !== before.get(r.id))
    .map((r) => r.id);
  const notices = moved.length ? await noticeEdges(env, db, moved) : [];

  const t = now();
  const waiting = (await partRowsOf(db, [...routed]))
    .filter((p) => p.builtVersion < p.dataVersion && t - p.changedAt < ctx.tuning.quietMs)
    .map((p) => p.changedAt + ctx.tuning.quietMs - t);
  if (!waiting.length) return { notices };
  const rekickSeconds = Math.max(1, Math.ceil(Math.min(...waiting) / 1000));
  await sendSnapshotKick(env, rekickSeconds);
  return { notices, rekickSeconds };
}

export function isSnapshotKick(body: unknown): body is SnapshotKick {
  return typeof body === 'object' && body !== null && (body as { kind?: unknown }).kind === 'snapshot-kick';
}
