// The per-message path at the edge: header-first decision, toss with a content-free receipt, or
// full parse + regional storage + enqueue for CRM-bound mail. This is the hottest path.

import { readCanaryMarker, verifyCanary } from '../core/canary.js';
import { classify, type Decision, isRoutedMailbox, type LoopHistory, type Target } from '../core/classify.js';
import type { PutBudget, SharedRawCopy } from '../core/ingest-item.js';
import { type MessageFacts, readForwardedMessages } from '../core/message-facts.js';
import { forwardingDeployment, type RoutingSnapshot } from '../core/snapshot.js';
import { timeOrderedId } from '../core/time-ordered-id.js';
import type { TossedReason } from '../core/types.js';
import type { Receipt } from '../core/wire.js';
import type { EdgeBindings, EdgeConfig } from './config.js';
import { enqueueAll } from './enqueue.js';
import { buildIngestItems } from './ingest-item.js';
import { journalItems, settleJournal } from './journal.js';
import {
  classifyWithShards,
  currentSnapshot,
  mayBeNewForwardingAddress,
  refreshSnapshot,
} from './snapshot-store.js';

/** Email Routing's platform limit; anything larger is refused before it is read. */
export const PLATFORM_MAX_BYTES = 25 * 1024 * 1024;

export { distinctRecipients, MAX_RECIPIENTS_PER_MESSAGE } from '../core/envelope.js';

/**
 * R2 puts one invocation (an email() event, an inbound request with all its recipients) may spend
 * on attachments. Every binding call is a subrequest: Workers allow 10,000 per invocation on the
 * Paid plan (1,000 before 2025) and 50 on Free (developers.cloudflare.com/workers/platform/limits/
 * #subrequests). Past the limit every call throws, on every retry: a message with more attachments
 * than that was a temporary failure for ever. 500 (the wire's attachment cap) leaves room under
 * 1,000 for the rest — the raw copy (one per invocation), per recipient a held body and party
 * list, item references, the journal and the queue sends, for up to 100 recipients. Attachments beyond it are listed
 * without a reference: the raw copy in the region has them.
 */
export const ATTACHMENT_PUTS_PER_INVOCATION = 500;

/** A fresh attachment put budget for one invocation. */
export function invocationPutBudget(): PutBudget {
  return { remaining: ATTACHMENT_PUTS_PER_INVOCATION };
}

export interface Envelope {
  from?: string;
  to?: string;
}

export interface ProcessResult {
  /** `canary`: this region's own signed canary (src/core/canary.ts), reported to central, never an item. */
  status: 'tracked' | 'tossed' | 'canary';
  reason: string;
  detail: string;
  decision?: Decision;
  /** Set for permanent policy rejections (`setReject` / HTTP 4xx). */
  reject?: string;
  /** The reason code of a permanent rejection (`oversize`, `unknown-recipient`). */
  rejectCode?: 'oversize' | 'unknown-recipient';
  itemIds: string[];
}

// Identical-message sightings per (mailbox, fingerprint), for the loop check. Per isolate: a loop
// hammers one edge, so a local window is enough to catch it.
const sightings = new Map<string, number[]>();
const LOOP_WINDOW_MS = 10 * 60 * 1000;
const loopHistory: LoopHistory = { get: (key) => sightings.get(key) };

function recordSightings(keys: string[], now: number) {
  for (const key of keys) {
    const list = (sightings.get(key) ?? []).filter((t) => now - t < LOOP_WINDOW_MS);
    list.push(now);
    sightings.set(key, list);
  }
  if (sightings.size > 50_000) sightings.clear();
}

export function receiptFor(
  cfg: EdgeConfig,
  decision: Decision | undefined,
  reason: string,
  sizeBytes: number,
  now: number,
  detail?: string,
): Receipt {
  return {
    kind: 'receipt',
    id: timeOrderedId(now),
    region: cfg.region,
    reason: reason as TossedReason,
    ...((detail ?? decision?.detail) ? { detail: (detail ?? decision?.detail ?? '').slice(0, 2000) } : {}),
    ...(decision?.deployment ? { deployment: decision.deployment } : {}),
    ...(decision?.mailboxHash ? { mailboxHash: decision.mailboxHash } : {}),
    ...(decision?.messageIdHash ? { messageIdHash: decision.messageIdHash } : {}),
    sizeBytes,
    at: now,
  };
}

/** One message as decided for one envelope recipient, before anything is stored or enqueued. */
export interface DecidedMessage {
  envelope: Envelope;
  /** Set when the envelope recipient is no forwarding address of the region (nothing classified). */
  unknownRecipient?: true;
  snapshot: RoutingSnapshot;
  /** One per message (a forward-as-attachment carries several), each with its decision. */
  decided: Array<{ facts: MessageFacts; decision: Decision }>;
}

/**
 * Binds the message to the envelope recipient's deployment and classifies it (design §2, steps
 * 2–3). Pure but for reading the snapshot: nothing is stored, enqueued or counted yet.
 */
export async function decideMessage(
  env: EdgeBindings,
  cfg: EdgeConfig,
  raw: Uint8Array,
  envelope: Envelope,
  waitUntil: (p: Promise<unknown>) => void,
  now: number,
): Promise<DecidedMessage> {
  let snapshot = await currentSnapshot(env, cfg, waitUntil);
  // The envelope recipient must be one of the region's forwarding addresses; it binds the message
  // to that address's deployment (design §4). Anything else is refused permanently — except an
  // address central may have issued after this snapshot (it verifies against the region key):
  // fetch the snapshot now, and if it still lacks the address, fail temporarily so the sending
  // server retries instead of bouncing the mail for good (issue 19, item 11).
  let deployment = forwardingDeployment(snapshot, envelope.to, now);
  if (deployment === undefined && (await mayBeNewForwardingAddress(snapshot, cfg, envelope.to))) {
    const fresh = await refreshSnapshot(env, cfg, 'new-address');
    if (fresh) {
      snapshot = fresh;
      deployment = forwardingDeployment(fresh, envelope.to, now);
    }
    if (deployment === undefined)
      throw new Error(
        `edge ${cfg.region}: the envelope recipient verifies as a forwarding address of this region but is not in this edge's snapshot yet (version ${snapshot.version}); temporary failure`,
      );
  }
  if (deployment === undefined) return { envelope, unknownRecipient: true, snapshot, decided: [] };
  // A forward-as-attachment by a routed mailbox (of the bound deployment) carries one message per
  // message/rfc822 part (Outlook and Gmail forward several selected messages at once): each is
  // classified and tracked on its own.
  const messages = readForwardedMessages(raw, envelope, {
    isForwardingMailbox: (address) => isRoutedMailbox(snapshot, address, deployment),
  });
  // Record lookups load the filter shards they need first (a cold isolate holds none of them).
  const decided: DecidedMessage['decided'] = [];
  for (const facts of messages)
    decided.push({
      facts,
      decision: await classifyWithShards(env, cfg, () =>
        classify(facts, snapshot, { now, loopHistory, deployment }),
      ),
    });
  return { envelope, snapshot, decided };
}

/** The deployments whose items the decided messages will reference a raw copy from. */
function trackingDeployments(messages: DecidedMessage[]): string[] {
  const out = new Set<string>();
  for (const m of messages)
    for (const { decision } of m.decided)
      for (const t of decision.targets) if (t.crmBound) out.add(t.deployment);
  return [...out];
}

/** A raw copy shared by every item of `messages` (one put per invocation, whatever they number). */
export function sharedRawCopy(messages: DecidedMessage[]): SharedRawCopy {
  return { deployments: trackingDeployments(messages), copyId: timeOrderedId(Date.now()) };
}

/**
 * Classifies one message and acts on the decision. Throws on internal failure (no snapshot, R2 or
 * queue unavailable) so that the sending server gets a temporary failure and retries.
 */
export async function processMessage(
  env: EdgeBindings,
  cfg: EdgeConfig,
  raw: Uint8Array,
  envelope: Envelope,
  waitUntil: (p: Promise<unknown>) => void,
  opts: { receivedAt?: number; attachmentPuts?: PutBudget } = {},
): Promise<ProcessResult> {
  const now = opts.receivedAt ?? Date.now();
  const canary = await reportCanary(env, cfg, raw, now);
  if (canary) return canary;
  const decided = await decideMessage(env, cfg, raw, envelope, waitUntil, now);
  return actOnMessage(env, cfg, raw, decided, now, {
    attachmentPuts: opts.attachmentPuts ?? invocationPutBudget(),
    rawCopy: sharedRawCopy([decided]),
  });
}

/**
 * This region's canary, when the message carries a marker signed with the region's key: its marker
 * goes to the outbox (no item, no raw copy, no receipt). A marker that does not verify (forged by a
 * sender, another region's, too old) is ignored and the message is classified like any other.
 */
async function reportCanary(
  env: EdgeBindings,
  cfg: EdgeConfig,
  raw: Uint8Array,
  now: number,
): Promise<ProcessResult | undefined> {
  const marker = readCanaryMarker(raw);
  if (!marker || !(await verifyCanary(cfg.signingKey, cfg.region, marker, now))) return undefined;
  await env.OUTBOX.send({ kind: 'canary', ...marker }, { contentType: 'json' });
  return { status: 'canary', reason: 'canary', detail: `canary ${marker.id}`, itemIds: [] };
}

/**
 * One message for each of its envelope recipients (an inbound request's `to`s): every recipient's
 * decision first, then each acted on, all items referencing one raw copy stored once, owned by the
 * deployments that track the message (a recipient whose deployment tosses it owns nothing).
 */
export async function processForRecipients(
  env: EdgeBindings,
  cfg: EdgeConfig,
  raw: Uint8Array,
  from: string | undefined,
  recipients: string[],
  waitUntil: (p: Promise<unknown>) => void,
  opts: { receivedAt?: number } = {},
): Promise<Array<{ to: string; result: ProcessResult }>> {
  const now = opts.receivedAt ?? Date.now();
  const decided: DecidedMessage[] = [];
  for (const to of recipients) decided.push(await decideMessage(env, cfg, raw, { from, to }, waitUntil, now));
  // One subrequest budget and one raw copy for the whole invocation.
  const shared = { attachmentPuts: invocationPutBudget(), rawCopy: sharedRawCopy(decided) };
  const out = [];
  for (const d of decided)
    out.push({ to: d.envelope.to ?? '', result: await actOnMessage(env, cfg, raw, d, now, shared) });
  return out;
}

/** Stores and enqueues what the decision says: items for CRM-bound targets, receipts for the rest. */
async function actOnMessage(
  env: EdgeBindings,
  cfg: EdgeConfig,
  raw: Uint8Array,
  message: DecidedMessage,
  now: number,
  opts: { attachmentPuts: PutBudget; rawCopy: SharedRawCopy },
): Promise<ProcessResult> {
  const { snapshot, decided } = message;
  if (message.unknownRecipient) {
    const detail = 'the envelope recipient is not a forwarding address of this region';
    await enqueueAll(env, [receiptFor(cfg, undefined, 'unknown-recipient', raw.byteLength, now, detail)]);
    return {
      status: 'tossed',
      reason: 'unknown-recipient',
      detail,
      reject: `${detail} (unknown-recipient)`,
      rejectCode: 'unknown-recipient',
      itemIds: [],
    };
  }

  const receipts: Receipt[] = [];
  const itemIds: string[] = [];
  for (const { facts, decision } of decided) {
    const bound = decision.targets.filter((t: Target) => t.crmBound);
    for (const t of decision.targets.filter((x: Target) => !x.crmBound))
      receipts.push(
        receiptFor(
          cfg,
          { ...decision, deployment: t.deployment, mailboxHash: t.mailboxes[0]?.hash },
          t.reason,
          raw.byteLength,
          now,
          t.detail,
        ),
      );
    if (decision.targets.length === 0)
      receipts.push(receiptFor(cfg, decision, decision.reason, raw.byteLength, now));
    if (bound.length) {
      const items = await buildIngestItems(env, cfg, snapshot, raw, facts, bound, now, opts);
      // Journal first (where the queue is not durable): an item is never only in process memory.
      await journalItems(env, cfg, items);
      try {
        await enqueueAll(env, items);
      } catch (err) {
        // Not accepted: the sender retries, with items of new ids. Left in the journal, these would
        // reach central later as copies nobody accepted (and the CRM as one more delivery each).
        await settleJournal(
          env,
          cfg,
          items.map((i) => i.id),
        );
        throw err;
      }
      itemIds.push(...items.map((i) => i.id));
    }
  }
  await enqueueAll(env, receipts);
  // Only a durably accepted message (stored and enqueued) counts as a loop sighting: a retry after
  // a temporary failure must not look like a loop.
  for (const { decision } of decided) recordSightings(decision.loopKeys, now);

  const decision = (decided.find((d) => d.decision.crmBound) ?? decided[0])!.decision;
  const reject =
    !decision.crmBound && decision.reason === 'oversize'
      ? `message of ${raw.byteLength} bytes exceeds the deployment's size limit (oversize)`
      : undefined;
  return {
    status: decision.crmBound ? 'tracked' : 'tossed',
    reason: decision.reason,
    detail: decision.detail,
    decision,
    reject,
    ...(reject ? { rejectCode: 'oversize' as const } : {}),
    itemIds,
  };
}
