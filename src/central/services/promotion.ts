// Promotion ("Track in CRM"): a message a user hands in by hand goes through the edge's own rules
// once — classify over the snapshot the mailbox's region carries (suppression is never bypassed:
// a suppressed sender gets a refusal receipt and a 409), build the item as the edge would, ingest
// it like any edge copy, queue its webhook — for POST /api/v1/deployments/:id/promote.

import { classify } from '../../core/classify.js';
import { buildItems } from '../../core/ingest-item.js';
import { readMessageFacts } from '../../core/message-facts.js';
import { suppressingEntry } from '../../core/suppression.js';
import { timeOrderedId } from '../../core/time-ordered-id.js';
import type { IngestItem, Receipt } from '../../core/wire.js';
import type { Db } from '../../db/client.js';
import { findActivity } from '../../db/queries/activities.js';
import { findMailbox } from '../../db/queries/mailboxes.js';
import { listSuppressions } from '../../db/queries/records.js';
import { findRegion } from '../../db/queries/regions.js';
import type { CentralBindings, Principal } from '../context.js';
import { enqueueWebhook } from '../delivery/webhooks.js';
import { MAX_PROMOTE_BYTES } from '../http/body-limits.js';
import { ApiError, forbidden, notFound, validationFailed } from '../http/errors.js';
import { ingest, receiptStatements } from '../ingest/ingest.js';
import { principalMailboxes } from '../ingest/raw-links.js';
import { promotionSnapshot } from '../snapshot/snapshot-publisher.js';
import { requireDeployment } from './deployment-admin.js';

/** What a promotion needs of its request: the worker's bindings and a way to outlive the answer. */
export interface PromotionSite {
  db: Db;
  env: CentralBindings;
  waitUntil: (promise: Promise<unknown>) => void;
}

type ActivityRow = NonNullable<Awaited<ReturnType<typeof findActivity>>>;

export interface Promotion {
  activity: ActivityRow;
  /** The principal's own mailboxes (user tokens): a merged activity may hold other users' copies. */
  own: ReadonlySet<string> | undefined;
  /** `accepted`: a new activity; otherwise merged into the one that already tracks the message. */
  status: string;
}

function describePrincipal(p: Principal): string {
  switch (p.kind) {
    case 'admin':
      return 'admin';
    case 'deployment':
      return `deployment:${p.deployment}`;
    case 'user':
      return `user:${p.deployment}/${p.userId}`;
    case 'edge':
      return `edge:${p.region}`;
  }
}

type MailboxRow = NonNullable<Awaited<ReturnType<typeof findMailbox>>>;
type DeploymentRow = Awaited<ReturnType<typeof requireDeployment>>;
type Decision = ReturnType<typeof classify>;
type Target = Decision['targets'][number];
type Facts = ReturnType<typeof readMessageFacts>;

/**
 * Promotes a message for `address`, a routed mailbox of deployment `deploymentId` (the caller has
 * checked the principal may act for the deployment). `readMessage` reads the raw message within a
 * byte limit; it is called once the mailbox is known, so an unknown mailbox is refused unread.
 */
export async function promoteMessage(
  site: PromotionSite,
  principal: Principal,
  deploymentId: string,
  address: string,
  readMessage: (limit: number) => Promise<Uint8Array>,
): Promise<Promotion> {
  const { db } = site;
  const { deployment, mailbox } = await promotingMailbox(db, principal, deploymentId, address);
  const raw = await readMessage(Math.min(MAX_PROMOTE_BYTES, deployment.maxMessageBytes));
  if (raw.byteLength === 0) throw validationFailed('body: the message is empty');
  const facts = promotedFacts(raw, mailbox);

  // The edge's rules, once: the classifier decides (suppression, correlation, tracking token) over
  // the snapshot the mailbox's region carries for this deployment, and the edge's item builder
  // builds the item (without a regional store: central keeps no raw copy of a promoted message).
  const now = Date.now();
  const region = await findRegion(db, mailbox.region);
  const snapshot = await promotionSnapshot(db, deployment, mailbox, region, now);
  const decision = classify(facts, snapshot, { now, promoted: true, deployment: deploymentId });
  if (decision.reason === 'suppressed') await refuseSuppressed(db, mailbox, decision, facts, raw, now);
  const target = decision.targets.find((t) => t.crmBound);
  if (!target)
    throw validationFailed(`body: the message could not be tracked (${decision.reason}: ${decision.detail})`);
  const [built] = await buildItems({
    region: mailbox.region,
    snapshot,
    raw,
    facts,
    targets: [target],
    now,
    copyId: timeOrderedId(now),
  });
  if (!built) throw validationFailed('body: the message could not be tracked (no item)');
  const item = promotedItem(built, target, principal);

  const outcome = await ingest({ db, region: mailbox.region, now }, [item], [], {
    deadLetterRejected: false,
    edgeTraffic: false,
  });
  const result = outcome.results[0];
  if (!result || result.status === 'rejected' || !result.activityId)
    throw validationFailed(`body: the message could not be tracked (${result?.reason ?? 'no result'})`);
  site.waitUntil(enqueueWebhook(site.env, outcome.outboxIds));
  const activity = await findActivity(db, result.activityId);
  if (!activity) throw notFound(`activity ${result.activityId} does not exist`);
  return { activity, own: await principalMailboxes(db, principal), status: result.status };
}

/** The deployment and the routed mailbox a principal promotes for, or the 404 / 403 that refuses it. */
async function promotingMailbox(
  db: Db,
  principal: Principal,
  deploymentId: string,
  address: string,
): Promise<{ deployment: DeploymentRow; mailbox: MailboxRow }> {
  const deployment = await requireDeployment(db, deploymentId);
  const mailbox = await findMailbox(db, address);
  if (!mailbox || mailbox.deployment !== deploymentId)
    throw notFound(`${address} is not a routed mailbox of deployment ${deploymentId}`);
  if (principal.kind === 'user' && principal.userId !== mailbox.userId)
    throw forbidden(`a user token of ${principal.userId} may promote only for its own mailboxes`);
  return { deployment, mailbox };
}

/**
 * The facts of a promoted message. The promoting mailbox (authenticated by the token) is its
 * sender: its forward-as-attachment is its own and promotes the (first) message it wraps
 * (docs/decisions.md, "Who forwarded").
 */
function promotedFacts(raw: Uint8Array, mailbox: MailboxRow): Facts {
  const facts = readMessageFacts(
    raw,
    { from: mailbox.address, to: mailbox.address },
    { isForwardingMailbox: (a) => a === mailbox.address },
  );
  if (facts.malformed) throw validationFailed(`body: the message cannot be read (${facts.malformed})`);
  return facts;
}

/** Records the refusal receipt of a suppressed sender and throws the 409 naming the entry. */
async function refuseSuppressed(
  db: Db,
  mailbox: MailboxRow,
  decision: Decision,
  facts: Facts,
  raw: Uint8Array,
  now: number,
): Promise<never> {
  const deployment = mailbox.deployment;
  const receipt: Receipt = {
    kind: 'receipt',
    id: timeOrderedId(now),
    region: mailbox.region,
    reason: 'suppressed',
    detail: 'promotion refused: the sender is on the deployment suppression list',
    deployment,
    mailboxHash: decision.mailboxHash as string,
    ...(decision.messageIdHash ? { messageIdHash: decision.messageIdHash } : {}),
    sizeBytes: raw.byteLength,
    at: now,
  };
  const mailboxByHash = new Map([[receipt.mailboxHash as string, mailbox.address]]);
  const ctx = { db, region: mailbox.region, now, mailboxByHash };
  for (const statement of receiptStatements(ctx, [receipt])) await statement;
  const entries = (await listSuppressions(db, deployment)).map((s) => s.entry);
  const entry = suppressingEntry(entries, facts.from?.address ?? '') ?? 'an entry';
  throw new ApiError(
    'suppressed',
    `the sender matches ${entry} on the suppression list of ${deployment}: suppressed mail is never tracked, not even by hand`,
  );
}

/** Who promoted it; a correlation the classifier found is kept (as the edge would record it). */
function promotedItem(built: IngestItem, target: Target, principal: Principal): IngestItem {
  const by = `promoted by ${describePrincipal(principal)}`;
  const correlation = target.correlation;
  return {
    ...built,
    correlation:
      !correlation || correlation.method === 'promoted'
        ? { method: 'promoted', detail: by }
        : { method: correlation.method, detail: `${correlation.detail}; ${by}` },
  };
}
