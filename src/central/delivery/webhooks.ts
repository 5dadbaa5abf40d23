// Onward delivery of activities to each deployment's CRM connector, through the webhook outbox
// (`webhook_outbox`): ingestion writes the row in the same D1 transaction as the activity, the
// webhook queue makes the first attempt right away, and the cron retries what is due with
// exponential backoff (30 s doubling to 1 h) for 4 days. One delivery path, several targets: the
// row is handed to its deployment's connector (src/central/connectors: the signed webhook, HubSpot,
// Dynamics 365, Tryton), whose adapter speaks the CRM's protocol and classifies its answer:
// delivered; `unauthorized` (401/403) pauses the connector, its rows wait unattempted until a PUT
// or a passing test resumes it; `rate-limited` waits the CRM's Retry-After; `retry` backs off;
// `refused` fails the row with the CRM's reason (never a secret), replayable. A row is claimed with
// a lease so that the queue and the cron never deliver it concurrently.
import type { Db } from '../../db/client.js';
import { findActivity } from '../../db/queries/activities.js';
import { earlierPendingDelivery, setActivityCrmObject } from '../../db/queries/connectors.js';
import { findDeployment } from '../../db/queries/deployments.js';
import {
  claimOutboxRow,
  dueOutboxIds,
  finishOutboxRow,
  rearmDelivery,
} from '../../db/queries/webhook-outbox.js';
import type { AdapterRegistry } from '../connectors/registry.js';
import { adapterFor } from '../connectors/registry.js';
import {
  adapterFailure,
  type ConnectorConfig,
  connectorContext,
  loadConnector,
  noteConnectorState,
  settingsUrlProblem,
} from '../connectors/service.js';
import type { ConnectorContext, DeliveryInput, DeliveryResult } from '../connectors/types.js';
import type { CentralBindings } from '../context.js';
import { serializeActivity } from '../contract/serializers.js';
import { mintRawLink } from '../ingest/raw-links.js';

export {
  deliveriesOfActivity,
  findDelivery,
  listFailingDeliveries,
} from '../../db/queries/webhook-outbox.js';

/** Queue message of the webhook queue: the outbox row to attempt. */
export interface WebhookKick {
  outboxId: string;
}

export { isPermanentWebhookStatus, webhookSecret } from '../connectors/webhook.js';

/** Retries stop this long after the activity was committed (the row is then `failed`). */
export const WEBHOOK_RETRY_WINDOW_MS = 4 * 24 * 60 * 60 * 1000;
/** Longer than any one attempt (an adapter's token fetch plus its CRM call, 15 s each). */
const LEASE_MS = 60_000;
/** A later copy waiting for the first delivery of its activity looks again this much later. */
const MERGE_WAIT_MS = 5_000;
/** A raw message fetched from its region for a CRM waits this long for the edge. */
const RAW_FETCH_TIMEOUT_MS = 15_000;
/** Messages per `sendBatch` (Cloudflare Queues: at most 100 messages per batch). */
const QUEUE_SEND_BATCH = 100;

/** What a delivery needs of central's configuration (a CentralConfig is one). */
export type DeliveryConfig = ConnectorConfig;

/** What a delivery may use beyond D1: the bindings (raw copies in the regions) and the adapters. */
export interface DeliveryDeps {
  env?: CentralBindings;
  /** The connector registry (tests may pass their own; production uses the default). */
  adapters?: AdapterRegistry;
}

/**
 * After a commit: asks the webhook queue to attempt these new outbox rows (as ingest wrote them)
 * now. Losing this kick (a crash, a restart, a queue failure) delays delivery to the next cron
 * run; the row in D1 is what guarantees it.
 */
export async function enqueueWebhook(env: CentralBindings, outboxIds: readonly string[]): Promise<void> {
  try {
    for (let i = 0; i < outboxIds.length; i += QUEUE_SEND_BATCH)
      await env.WEBHOOKS.sendBatch(
        outboxIds.slice(i, i + QUEUE_SEND_BATCH).map((outboxId) => ({ body: { outboxId } })),
      );
  } catch (err) {
    console.error('webhook kick failed; the cron will deliver', err);
  }
}

/** Backoff after the n-th failed attempt: 30 s, 60 s, 2 min, … capped at 1 hour. */
export function webhookRetryDelaySeconds(attempts: number): number {
  return Math.min(3600, 30 * 2 ** Math.min(Math.max(0, attempts - 1), 10));
}

export type DeliveryOutcome = 'delivered' | 'failed' | 'retry' | 'not-due';

/**
 * What the egress policy under which the activity was stored lets leave for the CRM: the body text
 * only under `full`; the raw message only under `full`, fetched from the region that holds it.
 */
function deliveryContent(
  activity: NonNullable<Awaited<ReturnType<typeof findActivity>>>,
  deps: DeliveryDeps,
  db: Db,
): Pick<DeliveryInput, 'content' | 'loadRaw'> {
  const full = activity.egress === 'full';
  const copies = (Array.isArray(activity.content) ? activity.content : []) as {
    region?: unknown;
    key?: unknown;
  }[];
  const stored = copies.find((c) => typeof c?.region === 'string' && typeof c?.key === 'string');
  return {
    content: full && activity.bodyText ? { text: activity.bodyText } : {},
    async loadRaw() {
      if (!full || !stored || !deps.env) return undefined;
      const link = await mintRawLink(deps.env, db, stored.region as string, stored.key as string);
      if (!link) return undefined;
      try {
        const res = await fetch(link.url, { signal: AbortSignal.timeout(RAW_FETCH_TIMEOUT_MS) });
        if (!res.ok) {
          await res.body?.cancel();
          return undefined;
        }
        return new Uint8Array(await res.arrayBuffer());
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * Claims one outbox row (pending, due, lease free) and hands it to its deployment's connector. The
 * adapter gets the outbox row id as its idempotency key and, for a later copy of an activity that
 * is already in the CRM, the CRM object to update (`existing`).
 */
export async function deliverOutboxRow(
  db: Db,
  id: string,
  config: DeliveryConfig,
  now = Date.now(),
  deps: DeliveryDeps = {},
): Promise<DeliveryOutcome> {
  const row = await claimOutboxRow(db, id, now, LEASE_MS);
  if (!row) return 'not-due';
  const deployment = await findDeployment(db, row.deployment);
  const activity = await findActivity(db, row.activityId);
  const attempts = row.attempts + 1;
  const finish = async (
    state: 'delivered' | 'failed' | 'pending',
    fields: { lastStatus?: number | null; lastError?: string | null; lastOutcome?: string | null },
    nextAttemptAt?: number,
  ) => {
    const at = Date.now();
    await finishOutboxRow(db, id, {
      state,
      attempts,
      updatedAt: at,
      ...fields,
      ...(state === 'delivered' ? { deliveredAt: at } : {}),
      ...(state === 'pending'
        ? { nextAttemptAt: nextAttemptAt ?? at + webhookRetryDelaySeconds(attempts) * 1000 }
        : {}),
    });
  };
  /** Gives the row back untouched (not an attempt): it is due again at `at`. */
  const release = (at: number) =>
    finishOutboxRow(db, id, {
      state: row.state,
      attempts: row.attempts,
      updatedAt: row.updatedAt,
      nextAttemptAt: at,
    });
  const connector = deployment && (await loadConnector(db, deployment));
  if (!activity || !connector || (connector.kind === 'webhook' && !connector.settings.url)) {
    await finish('failed', {
      lastError: !activity ? 'activity no longer exists' : 'webhook URL removed',
      lastOutcome: 'config',
    });
    return 'failed';
  }
  if (connector.row?.state === 'paused') {
    await release(row.nextAttemptAt);
    return 'not-due';
  }
  const adapter = adapterFor(connector.kind, deps.adapters);
  if (!adapter) {
    await finish('failed', {
      lastError: `no adapter for the connector kind ${connector.kind} in this central`,
      lastOutcome: 'config',
    });
    return 'failed';
  }
  // Checked again here: a URL stored under an older rule (or by a development central) is not called.
  const refused = settingsUrlProblem(connector.kind, connector.settings, config);
  if (refused) {
    await finish('failed', {
      lastStatus: null,
      lastError:
        connector.kind === 'webhook'
          ? `webhook URL refused: ${refused.replace(/^settings\.url: /, '')}`
          : `${refused} (central does not call it)`,
      lastOutcome: 'config',
    });
    return 'failed';
  }
  // A later copy updates the object the first delivery makes: it waits for that delivery rather
  // than racing it into a second object. The webhook kind sends both (its receiver dedupes).
  if (connector.kind !== 'webhook' && !activity.crmObject) {
    const earlier = await earlierPendingDelivery(db, row);
    if (earlier !== undefined) {
      await release(Math.max(earlier, now) + MERGE_WAIT_MS);
      return 'not-due';
    }
  }
  let ctx: ConnectorContext;
  let result: DeliveryResult;
  try {
    ctx = await connectorContext(db, config, connector);
  } catch (err) {
    // The stored secrets no longer decrypt: every delivery would fail the same way until they are set again.
    const detail = adapterFailure(adapter, err);
    await noteConnectorState(db, connector, { state: 'paused', error: detail });
    await finish('pending', { lastError: detail, lastOutcome: 'unauthorized' }, Date.now());
    return 'retry';
  }
  try {
    result = await adapter.deliver(ctx, {
      deliveryId: row.id,
      event: row.event === 'activity.merged' ? 'activity.merged' : 'activity.accepted',
      activity: serializeActivity(activity),
      ...deliveryContent(activity, deps, db),
      ...(activity.crmObject ? { existing: activity.crmObject as DeliveryInput['existing'] } : {}),
    });
  } catch (err) {
    console.error(
      `connector ${connector.kind} of ${row.deployment}: delivery ${row.id} threw`,
      (err as Error)?.name,
    );
    result = { outcome: 'retry', detail: adapterFailure(adapter, err) };
  }
  const status = 'status' in result ? (result.status ?? null) : null;
  switch (result.outcome) {
    case 'delivered':
      if (result.crmObject) await setActivityCrmObject(db, activity.id, result.crmObject);
      await finish('delivered', { lastStatus: status, lastError: null, lastOutcome: 'delivered' });
      if (connector.row?.state === 'failing') await noteConnectorState(db, connector, { state: 'ok' });
      return 'delivered';
    case 'unauthorized':
      // No endless retries: the connector pauses (visible on its status) and its rows wait, due,
      // for the PUT or passing test that resumes it. This row stays due at once.
      await noteConnectorState(db, connector, {
        state: 'paused',
        error: `the CRM refused the credentials (HTTP ${result.status}): ${result.detail}`,
      });
      await finish(
        'pending',
        { lastStatus: status, lastError: result.detail, lastOutcome: 'unauthorized' },
        Date.now(),
      );
      return 'retry';
    case 'refused':
      await finish('failed', { lastStatus: status, lastError: result.detail, lastOutcome: 'refused' });
      return 'failed';
    case 'rate-limited':
    case 'retry': {
      if (Date.now() - row.createdAt > WEBHOOK_RETRY_WINDOW_MS) {
        await finish('failed', {
          lastStatus: status,
          lastError: `gave up after 4 days: ${result.detail}`,
          lastOutcome: result.outcome,
        });
        return 'failed';
      }
      await noteConnectorState(db, connector, { state: 'failing', error: result.detail });
      await finish(
        'pending',
        { lastStatus: status, lastError: result.detail, lastOutcome: result.outcome },
        result.outcome === 'rate-limited' ? Date.now() + result.retryAfterMs : undefined,
      );
      return 'retry';
    }
  }
}

/** Cron: attempts every due pending row (bounded per run), a few at a time. */
export async function drainWebhookOutbox(
  db: Db,
  config: DeliveryConfig,
  now = Date.now(),
  limit = 100,
  deps: DeliveryDeps = {},
) {
  const due = await dueOutboxIds(db, now, limit);
  const outcomes: DeliveryOutcome[] = [];
  for (let i = 0; i < due.length; i += 5)
    outcomes.push(
      ...(await Promise.all(
        due.slice(i, i + 5).map((outboxId) => deliverOutboxRow(db, outboxId, config, now, deps)),
      )),
    );
  return outcomes;
}

/** Replay: a failed (or retrying) delivery becomes due now; the next attempt is made right away. */
export async function replayDelivery(
  db: Db,
  id: string,
  config: DeliveryConfig,
  now = Date.now(),
  deps: DeliveryDeps = {},
) {
  if (!(await rearmDelivery(db, id, now))) return undefined;
  return deliverOutboxRow(db, id, config, now, deps);
}
