// Records and outbound mail follow the CRM: a connector whose adapter can `pull` is asked for what
// changed since its stored cursor, page by page. Each page goes through the same validation
// (`recordInput`) and record store (`upsertRecordChunk`, `removeManyRecords`) as the CSV import,
// and its outbound mail through the outbound registration; the cursor is stored after the page is
// applied, so an interrupted sync resumes where it stopped and nothing is deleted that a page did
// not confirm. Work is bounded per invocation (Workers allow 50 subrequests per invocation on the
// free plan, 1,000 on paid, and 30 s of CPU by default): a pass that leaves the sync under way
// sends a continuation to the connector-sync queue, whose consumer runs the next pass at once, so
// a first full sync does not wait for the next cron minute. A lease on the connector row (one
// conditional UPDATE) lets only one pass at a time apply a connector's pages: the cron's, the API's
// and the queue's could otherwise apply pages twice or move the cursor backwards.

import type { Db } from '../../db/client.js';
import {
  claimSyncLease,
  connectorsOfKinds,
  findConnector,
  releaseSyncLease,
  updateConnector,
  updateConnectorUnderLease,
} from '../../db/queries/connectors.js';
import { findDeployment } from '../../db/queries/deployments.js';
import { type RecordInput, upsertRecordChunk } from '../../db/queries/records.js';
import { RECORD_CHUNK, recordInput } from '../contract/schemas.js';
import { getHashKey } from '../services/hash-key.js';
import { registerOutbound } from '../services/outbound.js';
import { removeManyRecords } from '../services/records.js';
import { type ChangeSite, configChanged } from '../snapshot/config-changed.js';
import { CrmPullError } from './crm-http.js';
import { type AdapterRegistry, adapterFor, connectorAdapters } from './registry.js';
import {
  adapterFailure,
  type ConnectorConfig,
  connectorContext,
  loadConnector,
  noteConnectorState,
} from './service.js';
import type { PullPage } from './types.js';

/**
 * Pages one invocation applies per connector (each page: a few CRM calls and a few D1 batches). At
 * least the steps of an incremental run with nothing new (HubSpot's six: contacts, companies,
 * emails, two archived lists, owners; Dynamics' five), so such a run completes in the cron run that
 * starts it instead of spilling into the next minute's.
 */
export const SYNC_PAGES_PER_RUN = 8;
/**
 * Pages one connector-sync queue invocation applies. A page costs at most about ten subrequests
 * (HubSpot: one search call, Dynamics: one call plus a token refresh; D1: the chunk's read and
 * write batches, the cursor write), so 50 pages stay near half of the 1,000 subrequests a paid
 * Workers invocation may make, and their CPU (validation and statement building for 200 records a
 * page) far inside the default 30 s. The consumer takes one message per batch (wrangler.toml) so
 * the bound is per invocation, not per message.
 */
export const SYNC_PAGES_PER_QUEUE_RUN = 50;
/**
 * How long a pass's lease on its connector lasts; renewed with every page's cursor write, so it must
 * outlast one page: a few CRM calls of up to CRM_REQUEST_TIMEOUT_MS (15 s) each and its D1 writes.
 * A pass that died is taken over this long after its last page, at the next cron tick or message.
 */
export const SYNC_LEASE_MS = 2 * 60_000;
/** Connectors one cron run syncs: the rest wait for the next minute. */
export const SYNC_CONNECTORS_PER_RUN = 10;
/** A connector with nothing under way pulls again this long after its last completed sync (one cron tick). */
export const SYNC_INTERVAL_MS = 60_000;
/**
 * How much earlier than {@link SYNC_INTERVAL_MS} a connector is due: a sync completes seconds after
 * the tick that ran it (and a tick may start late), so the next tick finds it less than a full
 * interval old; without this slack it would skip that tick and sync every other minute. Half a
 * tick, so a sync completed just before a tick (the API's) still waits for the next one.
 */
export const SYNC_INTERVAL_SLACK_MS = SYNC_INTERVAL_MS / 2;

export function pullingKinds(registry: AdapterRegistry = connectorAdapters): string[] {
  return Object.values(registry)
    .filter((a) => a?.pull)
    .map((a) => a!.kind);
}

/** Starts a sync (or answers the one under way): its id, shown as `status.sync` until it completes. */
export async function startConnectorSync(db: Db, deployment: string, now = Date.now()): Promise<string> {
  const row = await findConnector(db, deployment);
  if (row?.syncId) return row.syncId;
  const syncId = crypto.randomUUID();
  await updateConnector(db, deployment, {
    syncId,
    syncDone: 0,
    syncTotal: null,
    syncStartedAt: now,
    updatedAt: now,
  });
  return syncId;
}

export interface SyncRunResult {
  pages: number;
  upserted: number;
  deleted: number;
  rejected: number;
  outbound: number;
  /** True when the CRM said there is nothing more now (the sync completed). */
  done: boolean;
  /** Another pass holds the connector's lease: this one did nothing (the holder continues). */
  skipped?: true;
  /** Another pass took the lease over mid-run (this one's had run out): this one stopped. */
  leaseLost?: true;
  /** The sync this pass worked on. */
  syncId?: string;
  error?: string;
}

/** A connector-sync queue message: run the next pass of this sync, if it is still under way. */
export interface SyncContinuation {
  deployment: string;
  syncId: string;
}

export function isSyncContinuation(body: unknown): body is SyncContinuation {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as Partial<Record<keyof SyncContinuation, unknown>>;
  return typeof b.deployment === 'string' && typeof b.syncId === 'string';
}

/**
 * Applies up to `maxPages` pages of a deployment's connector from its stored cursor. Invalid records
 * are skipped and counted (the rest of the page lands); a page that fails to apply stops the run
 * without moving the cursor, so the next run asks for the same page again.
 */
export async function runConnectorSync(
  db: Db,
  site: ChangeSite,
  config: ConnectorConfig,
  deploymentId: string,
  { adapters, maxPages = SYNC_PAGES_PER_RUN }: { adapters?: AdapterRegistry; maxPages?: number } = {},
): Promise<SyncRunResult> {
  const result: SyncRunResult = { pages: 0, upserted: 0, deleted: 0, rejected: 0, outbound: 0, done: false };
  const deployment = await findDeployment(db, deploymentId);
  const connector = deployment && (await loadConnector(db, deployment));
  const adapter = connector && adapterFor(connector.kind, adapters);
  if (!deployment || !connector?.row || !adapter?.pull) return { ...result, done: true };
  const holder = crypto.randomUUID();
  const claimedAt = Date.now();
  if (!(await claimSyncLease(db, deploymentId, holder, claimedAt, claimedAt + SYNC_LEASE_MS)))
    return { ...result, skipped: true };
  let recordsChanged = false;
  let outboundChanged = false;
  try {
    // Read again under the lease: the previous holder may have moved the cursor since.
    let row = (await findConnector(db, deploymentId)) ?? connector.row;
    const syncId = row.syncId ?? (await startConnectorSync(db, deploymentId));
    result.syncId = syncId;
    const ctx = await connectorContext(db, config, connector);
    const hashKey = await getHashKey(db);
    let next: Promise<PullPage> | undefined = adapter.pull(ctx, row.syncCursor ?? undefined);
    for (let i = 0; i < maxPages && next; i++) {
      const page: PullPage = await next;
      // The next page is fetched while this one is written (its cursor is known already), so the
      // CRM's time and D1's overlap; it is applied only after this one landed, and dropped (its
      // failure too) if this pass stops first.
      next = !page.done && i + 1 < maxPages ? adapter.pull(ctx, page.nextCursor) : undefined;
      next?.catch(() => {});
      const applied = await applyPage(db, site, deployment, page, hashKey);
      // Deletions record their change themselves (removeManyRecords).
      recordsChanged ||= applied.upserted > 0;
      outboundChanged ||= applied.outbound > 0;
      result.pages++;
      result.upserted += applied.upserted;
      result.deleted += applied.deleted;
      result.rejected += applied.rejected;
      result.outbound += applied.outbound;
      const now = Date.now();
      const done = page.progress?.done ?? row.syncDone + page.upserts.length + page.deleted.length;
      // The cursor moves only now, after the page's writes landed.
      const fields = {
        syncLeaseUntil: now + SYNC_LEASE_MS,
        syncCursor: page.nextCursor,
        syncDone: done,
        syncTotal: page.progress?.total ?? row.syncTotal,
        updatedAt: now,
        ...(page.done ? { syncId: null, lastSyncAt: now } : { syncId }),
        ...(applied.rejected
          ? {
              lastError: `sync: ${applied.rejected} record(s) from the CRM refused: ${applied.firstProblem}`,
              lastErrorAt: now,
            }
          : {}),
      };
      if (!(await updateConnectorUnderLease(db, deploymentId, holder, fields))) {
        // Taken over: the new holder applies this page again from the cursor it read (idempotent).
        result.leaseLost = true;
        break;
      }
      row = { ...row, ...fields };
      if (page.done) {
        result.done = true;
        break;
      }
    }
  } catch (err) {
    result.error = `sync: ${adapterFailureOrDetail(adapter, err)}`;
    if (err instanceof CrmPullError && err.result.outcome === 'unauthorized')
      // As a delivery does: the CRM refused the credentials, so every pull would fail the same way
      // until an admin sets them again (PUT or a passing test resumes; the cursor is kept).
      await noteConnectorState(db, connector, { state: 'paused', error: result.error });
    else
      await updateConnector(db, deploymentId, {
        lastError: result.error,
        lastErrorAt: Date.now(),
        updatedAt: Date.now(),
      });
  } finally {
    await releaseSyncLease(db, deploymentId, holder);
    if (recordsChanged) configChanged(site, 'records');
    if (outboundChanged) configChanged(site, 'outbound');
  }
  return result;
}

/**
 * One pass ({@link runConnectorSync}), then, when it leaves its sync under way (more pages to pull,
 * no error, lease held to the end), a continuation to the connector-sync queue for the next pass.
 * A pass that skipped or failed sends none: the lease holder continues, a failure waits for the cron.
 */
export async function runSyncPass(
  db: Db,
  site: ChangeSite,
  config: ConnectorConfig,
  deploymentId: string,
  options: { adapters?: AdapterRegistry; maxPages?: number } = {},
): Promise<SyncRunResult> {
  const result = await runConnectorSync(db, site, config, deploymentId, options);
  if (result.syncId && !result.done && !result.error && !result.skipped && !result.leaseLost) {
    const next: SyncContinuation = { deployment: deploymentId, syncId: result.syncId };
    // A lost send only means the cron's next tick continues the sync.
    await site.env.CONNECTOR_SYNCS.send(next).catch((err) =>
      console.error(`connector sync continuation of ${deploymentId} not sent`, (err as Error)?.name),
    );
  }
  return result;
}

/**
 * The queue consumer's pass: the next {@link SYNC_PAGES_PER_QUEUE_RUN} pages of the sync the message
 * names, if it is still the one under way (a completed or replaced sync's message is dropped) and
 * the connector is not paused. Undefined when there was nothing to continue.
 */
export async function continueConnectorSync(
  db: Db,
  site: ChangeSite,
  config: ConnectorConfig,
  message: SyncContinuation,
  { adapters }: { adapters?: AdapterRegistry } = {},
): Promise<SyncRunResult | undefined> {
  const row = await findConnector(db, message.deployment);
  if (!row || row.syncId !== message.syncId || row.state === 'paused') return undefined;
  return runSyncPass(db, site, config, message.deployment, { adapters, maxPages: SYNC_PAGES_PER_QUEUE_RUN });
}

/** An adapter's {@link ConnectorError} in its own words; any other error by the generic phrase. */
function adapterFailureOrDetail(adapter: Parameters<typeof adapterFailure>[0], err: unknown): string {
  if (err instanceof Error && err.name === 'ConnectorError') return err.message;
  return adapterFailure(adapter, err);
}

async function applyPage(
  db: Db,
  site: ChangeSite,
  deployment: NonNullable<Awaited<ReturnType<typeof findDeployment>>>,
  page: PullPage,
  hashKey: string,
) {
  const valid: RecordInput[] = [];
  let rejected = 0;
  let firstProblem = '';
  for (const r of page.upserts) {
    const parsed = recordInput.safeParse(r);
    if (parsed.success) valid.push(parsed.data);
    else {
      rejected++;
      const issue = parsed.error.issues[0]!;
      firstProblem ||= `${r.type} ${r.id}, ${issue.path.join('.') || 'record'}: ${issue.message}`;
    }
  }
  let upserted = 0;
  for (let i = 0; i < valid.length; i += RECORD_CHUNK) {
    const counts = await upsertRecordChunk(db, deployment.id, valid.slice(i, i + RECORD_CHUNK), hashKey);
    upserted += counts.created + counts.updated;
  }
  let deleted = 0;
  if (page.deleted.length)
    deleted = (await removeManyRecords(db, site, deployment.id, page.deleted, { chunk: RECORD_CHUNK }))
      .removed;
  let outbound = 0;
  for (const o of page.outbound) {
    try {
      if ((await registerOutbound(db, deployment, o)).created) outbound++;
    } catch {
      // A Message-ID registered for another user, or no free user number: the mail stays untracked.
      rejected++;
      firstProblem ||= `outbound ${o.messageId}: not registered`;
    }
  }
  return { upserted, deleted, rejected, outbound, firstProblem };
}

/**
 * Cron: continues every sync under way and starts the next incremental one of each pulling
 * connector whose last sync is older than {@link SYNC_INTERVAL_MS} (less
 * {@link SYNC_INTERVAL_SLACK_MS}: at the per-minute cron, every tick); at most
 * {@link SYNC_CONNECTORS_PER_RUN} connectors per run, those waiting longest first.
 */
export async function runDueSyncs(
  db: Db,
  site: ChangeSite,
  config: ConnectorConfig,
  { adapters, now = Date.now() }: { adapters?: AdapterRegistry; now?: number } = {},
) {
  const rows = await connectorsOfKinds(db, pullingKinds(adapters));
  const due = rows
    .filter(
      (r) =>
        r.state !== 'paused' &&
        (r.syncId || !r.lastSyncAt || now - r.lastSyncAt >= SYNC_INTERVAL_MS - SYNC_INTERVAL_SLACK_MS),
    )
    .sort((a, b) => (a.lastSyncAt ?? 0) - (b.lastSyncAt ?? 0))
    .slice(0, SYNC_CONNECTORS_PER_RUN);
  const results: SyncRunResult[] = [];
  for (const r of due) results.push(await runSyncPass(db, site, config, r.deployment, { adapters }));
  return results;
}
