// Central ingestion: screen, look up, plan (plan.ts), then store everything of one batch in a
// single D1 `batch()` (one round trip, one transaction), each statement within D1's
// 100-bound-parameter limit.
import { timeOrderedId } from '../../core/time-ordered-id.js';
import type { ItemResult, Receipt } from '../../core/wire.js';
import type { Db } from '../../db/client.js';
import { deadLetterInsertStatements } from '../../db/queries/dead-letters.js';
import {
  activityUpsertStatements,
  dispositionInsertStatements,
  edgeCounterStatements,
  landedIds,
  newCopyStatements,
} from '../../db/queries/ingest.js';
import { runBatch, type Statement } from '../../db/queries/statements.js';
import { webhookDeliveryId, webhookOutboxStatements } from '../../db/queries/webhook-outbox.js';
import { getHashKey } from '../services/hash-key.js';
import type { RegionClaims } from './ingest-claims.js';
import { loadLookups } from './lookups.js';
import {
  falsePositiveReceipt,
  itemDeployment,
  lookupKeysOf,
  parseItems,
  planItems,
  screen,
  trafficCopies,
  validItems,
} from './plan.js';

export interface IngestContext {
  db: Db;
  region: string;
  now: number;
  /**
   * Resolves a receipt's mailbox hash to the routed mailbox address, when known: a map, or how to
   * get it given the region's config version that the lookups read (`claimsOf`).
   */
  mailboxByHash?: Map<string, string> | ((regionVersion: number | undefined) => Promise<Map<string, string>>);
  /** What the signing edge may claim: set (or `claimsOf`) for edge batches, whose foreign claims are rejected unstored. */
  claims?: RegionClaims;
  /** The signing edge's region: its claims are read with the batch's lookups (one read batch) and returned. */
  claimsOf?: string;
}

export interface IngestOutcome {
  results: ItemResult[];
  receiptsStored: number;
  /** Webhook outbox rows this batch committed (to kick the webhook queue with). */
  outboxIds: string[];
  /** The claims the batch was checked against. */
  claims: RegionClaims | undefined;
  /** The signing region's config version, read with the claims (`claimsOf`): undefined without it, or when the region does not exist. */
  regionVersion: number | undefined;
}

/** Statements: store receipts as dispositions (idempotent on receipt id), in the context's region. */
export function receiptStatements(
  ctx: Pick<IngestContext, 'db' | 'region'> & { mailboxByHash?: Map<string, string> },
  receipts: Receipt[],
) {
  const rows = receipts.map((r) => ({
    ...r,
    region: ctx.region,
    mailbox: (r.mailboxHash && ctx.mailboxByHash?.get(r.mailboxHash)) || null,
  }));
  return dispositionInsertStatements(ctx.db, rows);
}

function deadLetterStatements(ctx: IngestContext, letters: { item: unknown; error: string }[]) {
  const rows = letters.map(({ item, error }) => ({
    id: timeOrderedId(ctx.now),
    region: ctx.region,
    deployment: itemDeployment(item),
    item: item ?? null,
    error,
    attempts: 1,
    createdAt: ctx.now,
  }));
  return deadLetterInsertStatements(ctx.db, rows);
}

/**
 * Ingests a batch of items and receipts. Items are validated one by one: a poison item is
 * dead-lettered and answered `rejected` while the rest of its batch is stored.
 */
export async function ingest(
  ctx: IngestContext,
  rawItems: unknown[],
  rawReceipts: Receipt[],
  opts: {
    bytesSent?: number;
    deadLetterRejected?: boolean;
    /** False for copies that did not come through an edge (manual promotion, replays): no traffic counters, no latency sample. */
    edgeTraffic?: boolean;
    /** Committed in the same transaction, before the items (the edge batch's id claim). */
    commitFirst?: Statement[];
    /** Committed in the same transaction, after the items (the edge's heartbeat). */
    commitLast?: Statement[];
  } = {},
): Promise<IngestOutcome> {
  const { db, now, region } = ctx;
  const parsed = parseItems(rawItems);
  // Read for every valid item, claims not yet checked: what a rejected claim's keys find is unused.
  const read = await loadLookups(db, lookupKeysOf(validItems(parsed)), ctx.claims ? undefined : ctx.claimsOf);
  const { lookups, regionVersion } = read;
  const claims = ctx.claims ?? read.claims;
  const { items, receipts, rejected } = screen({ parsed }, rawReceipts, claims);
  const plans = planItems(items, lookups, { now, newId: () => timeOrderedId(now) });

  const results: ItemResult[] = [];
  const deadLetters: { item: unknown; error: string }[] = [];
  const falsePositives: Receipt[] = [];
  for (const r of rejected) {
    results.push({ id: r.id, status: 'rejected', reason: r.reason });
    if (r.deadLetter !== undefined) deadLetters.push({ item: r.deadLetter, error: r.reason });
  }
  for (const p of plans)
    if (p.kind === 'rejected') {
      results.push({ id: p.item.id, status: 'rejected', reason: p.reason });
      deadLetters.push({ item: p.item, error: p.reason });
    } else if (p.kind === 'false-positive') {
      results.push({ id: p.item.id, status: 'rejected', reason: `record-false-positive: ${p.problem}` });
      falsePositives.push(falsePositiveReceipt(p.item, p.problem, await getHashKey(db)));
    }
  const stored = plans.flatMap((p) => (p.kind === 'store' ? [p] : []));
  const committed = stored.map((p) => p.item);
  const allReceipts = [...receipts, ...falsePositives];
  // Only receipts name a mailbox: a batch of items alone never needs the map.
  const mailboxByHash =
    typeof ctx.mailboxByHash === 'function'
      ? allReceipts.length
        ? await ctx.mailboxByHash(regionVersion)
        : undefined
      : ctx.mailboxByHash;
  const edgeTraffic = opts.edgeTraffic !== false;

  const head = [
    ...(opts.commitFirst ?? []),
    ...(opts.deadLetterRejected === false ? [] : deadLetterStatements(ctx, deadLetters)),
  ];
  const upserts = activityUpsertStatements(
    db,
    stored.map((p) => p.row),
  );
  // The webhook outbox rows commit with their activities (src/central/delivery/webhooks.ts).
  const outbox = webhookOutboxStatements(
    db,
    stored.map(({ item, row }) => ({
      // Derived from the copy: a copy delivered again meets its own row (no second delivery).
      id: webhookDeliveryId(item),
      deployment: row.deployment,
      dedupeKey: row.dedupeKey,
      newActivityId: row.id,
    })),
    now,
  );
  const bytesSent = opts.bytesSent ?? 0;
  const statements: Statement[] = [
    ...head,
    ...upserts,
    ...outbox,
    // Before the receipts' dispositions: a copy delivered again is counted once (newCopyStatements).
    ...(edgeTraffic ? newCopyStatements(db, region, now, trafficCopies(now, committed, allReceipts)) : []),
    ...receiptStatements({ db, region, mailboxByHash }, allReceipts),
    // The bytes of every POST count, a repeated one too: they crossed the network again.
    ...(edgeTraffic && bytesSent > 0
      ? edgeCounterStatements(db, [{ region, minute: Math.floor(now / 60000), bytesSent, tossed: {} }])
      : []),
    ...(opts.commitLast ?? []),
  ];
  const out = await runBatch(db, statements);
  const landed = landedIds(out.slice(head.length, head.length + upserts.length));
  const written = out.slice(head.length + upserts.length, head.length + upserts.length + outbox.length);
  stored.forEach(({ item, row }, i) => {
    const activityId = landed[i];
    results.push({ id: item.id, status: activityId === row.id ? 'accepted' : 'merged', activityId });
  });
  return {
    results,
    receiptsStored: allReceipts.length,
    outboxIds: (written as { id: string }[][]).flat().map((r) => r.id),
    claims,
    regionVersion,
  };
}
