// Central ingestion: validate, re-check exactly, deduplicate/merge, resolve parties, store.
// Every statement of one batch goes to D1 in a single `batch()` (one round trip, one transaction),
// each within D1's 100-bound-parameter limit.
import { keyedHash, normaliseMessageId, sha256Hex } from '../../core/keyed-hash.js';
import type { RecordType } from '../../core/types.js';
import { type IngestItem, type ItemResult, ingestItem, type Receipt } from '../../core/wire.js';
import type { Db } from '../../db/client.js';
import { deadLetterInsertStatements } from '../../db/queries/dead-letters.js';
import { existingDeploymentIds } from '../../db/queries/deployments.js';
import {
  activityFingerprints,
  activityUpsertStatement,
  dispositionInsertStatements,
  edgeCounterStatements,
  latencySampleStatements,
  outboundByMessageIds,
  outboundByTrackingTokens,
  recordMatches,
} from '../../db/queries/ingest.js';
import { runBatch, type Statement } from '../../db/queries/statements.js';
import { webhookDeliveryId, webhookOutboxStatement } from '../../db/queries/webhook-outbox.js';
import type { Party } from '../../db/schema.js';
import { itemDeployment } from './dead-letters.js';
import { describeIssues } from '../http/errors.js';
import { itemClaimProblem, type RegionClaims, receiptClaimProblem } from './ingest-claims.js';
import { getHashKey } from '../services/hash-key.js';
import { addTotals, emptyTotals, type TrafficTotals } from '../services/stats.js';

const RECORD_ORDER: RecordType[] = ['user', 'contact', 'account', 'lead'];

interface RecordMatch {
  type: string;
  recordId: string;
  emailEnabled: boolean;
}

export interface IngestContext {
  db: Db;
  region: string;
  now: number;
  /** Resolves a receipt's mailbox hash to the routed mailbox address, when known. */
  mailboxByHash?: Map<string, string>;
  /** What the signing edge may claim; set for edge batches, whose foreign claims are rejected unstored. */
  claims?: RegionClaims;
  /** Called with each activity id that was created or changed (onward delivery). */
  onActivity?: (activityId: string, deployment: string, status: 'accepted' | 'merged') => void;
}

export interface IngestOutcome {
  results: ItemResult[];
  receiptsStored: number;
}

type Regarding = { regardingType: string | null; regardingId: string | null };

/** Runs a per-deployment lookup for each deployment's keys; rows keyed `deployment \0 key`. */
async function lookupByDeployment<R>(
  byDeployment: Map<string, Set<string>>,
  query: (deployment: string, keys: string[]) => Promise<R[]>,
  keyOf: (row: R) => string,
): Promise<Map<string, R[]>> {
  const found = new Map<string, R[]>();
  for (const [deployment, keys] of byDeployment)
    for (const row of await query(deployment, [...keys])) {
      const key = `${deployment}\0${keyOf(row)}`;
      found.set(key, [...(found.get(key) ?? []), row]);
    }
  return found;
}

/** Adds `value` to the set of `key` in a map of sets. */
function addTo(map: Map<string, Set<string>>, key: string, ...values: string[]) {
  const set = map.get(key) ?? new Set<string>();
  for (const v of values) set.add(v);
  map.set(key, set);
}

function dedupeKeyOf(item: IngestItem): string {
  return item.messageId ? normaliseMessageId(item.messageId) : `sha256:${item.contentHash}`;
}

/**
 * The content fingerprint of a copy: From, To, Cc and Date — the same for every forwarded copy of
 * one message (whatever each forwarder added), and unknown to whoever merely learnt its Message-ID.
 */
export function contentFingerprint(item: Pick<IngestItem, 'from' | 'to' | 'cc' | 'date'>): string {
  const list = (xs: { address: string }[]) =>
    xs
      .map((a) => a.address.toLowerCase())
      .sort()
      .join(',');
  return sha256Hex(
    new TextEncoder().encode(
      `${item.from?.address.toLowerCase() ?? ''}\n${list(item.to)}\n${list(item.cc)}\n${item.date ?? ''}`,
    ),
  );
}

/** Fingerprints of the activities the items would merge into, keyed `deployment \0 dedupeKey`. */
async function loadFingerprints(db: Db, items: IngestItem[]) {
  const byDeployment = new Map<string, Set<string>>();
  for (const item of items) addTo(byDeployment, item.deployment, dedupeKeyOf(item));
  const rows = await lookupByDeployment(
    byDeployment,
    (deployment, keys) => activityFingerprints(db, deployment, keys),
    (r) => r.dedupeKey,
  );
  return new Map([...rows].map(([key, [first]]) => [key, first?.fingerprint ?? null]));
}

function sortMatches(list: RecordMatch[]): RecordMatch[] {
  return [...list].sort(
    (a, b) => RECORD_ORDER.indexOf(a.type as RecordType) - RECORD_ORDER.indexOf(b.type as RecordType),
  );
}

function resolveParties(item: IngestItem, matches: Map<string, RecordMatch[]>): Party[] {
  const parties: Party[] = [];
  const lookup = (address: string) => sortMatches(matches.get(`${item.deployment}\0${address}`) ?? []);
  if (item.from) {
    // `From` resolves to the first match in the order user, contact, account, lead (design §2).
    const first = lookup(item.from.address)[0];
    parties.push({
      role: 'from',
      address: item.from.address,
      ...(item.from.name ? { name: item.from.name } : {}),
      ...(first ? { recordType: first.type, recordId: first.recordId } : {}),
    });
  }
  for (const role of ['to', 'cc'] as const) {
    for (const a of item[role]) {
      const all = lookup(a.address);
      const base = { role, address: a.address, ...(a.name ? { name: a.name } : {}) };
      if (all.length === 0) parties.push(base);
      // To/Cc list every match.
      for (const m of all) parties.push({ ...base, recordType: m.type, recordId: m.recordId });
    }
  }
  return parties;
}

/** Exact re-check of what the edge matched through an approximate filter; undefined when it holds. */
function recheck(
  item: IngestItem,
  matches: Map<string, RecordMatch[]>,
  outboundFound: Map<string, unknown>,
): string | undefined {
  const has = (address: string) => (matches.get(`${item.deployment}\0${address}`) ?? []).length > 0;
  switch (item.correlation.method) {
    case 'sender-record':
      return item.from && has(item.from.address)
        ? undefined
        : 'sender is not a CRM record (filter false positive)';
    case 'recipient-record':
      return [...item.to, ...item.cc].some((a) => has(a.address))
        ? undefined
        : 'no recipient is a CRM record (filter false positive)';
    case 'in-reply-to': {
      const ids = [...(item.inReplyTo ?? []), ...(item.references ?? [])];
      return ids.some((id) => outboundFound.has(`${item.deployment}\0${id}`))
        ? undefined
        : 'no referenced Message-ID is a registered outbound message (filter false positive)';
    }
    default:
      return undefined;
  }
}

/** Stores receipts as dispositions (idempotent on receipt id) and returns how many were new. */
export function receiptStatements(ctx: IngestContext, receipts: Receipt[]) {
  // The receipt's fields as they are (absent ones stored as null), in the batch's signed region.
  const rows = receipts.map((r) => ({
    ...r,
    region: ctx.region,
    mailbox: (r.mailboxHash && ctx.mailboxByHash?.get(r.mailboxHash)) || null,
  }));
  return dispositionInsertStatements(ctx.db, rows);
}

function counterStatements(ctx: IngestContext, items: IngestItem[], receipts: Receipt[], bytesSent: number) {
  const perMinute = new Map<number, { region: string; minute: number } & TrafficTotals>();
  const bucket = (at: number) => {
    const minute = Math.floor(at / 60000);
    let row = perMinute.get(minute);
    if (!row) {
      row = { region: ctx.region, minute, ...emptyTotals() };
      perMinute.set(minute, row);
    }
    return row;
  };
  for (const i of items)
    addTotals(bucket(i.receivedAt), {
      received: 1,
      receivedBytes: i.sizeBytes,
      crmBound: 1,
      crmBoundBytes: i.sizeBytes,
    });
  for (const r of receipts)
    addTotals(bucket(r.at), { received: 1, receivedBytes: r.sizeBytes, tossed: { [r.reason]: 1 } });
  if (bytesSent > 0) bucket(ctx.now).bytesSent += bytesSent;
  return edgeCounterStatements(ctx.db, [...perMinute.values()]);
}

function deadLetterStatements(ctx: IngestContext, item: unknown, error: string) {
  return deadLetterInsertStatements(ctx.db, [
    {
      id: crypto.randomUUID(),
      region: ctx.region,
      deployment: itemDeployment(item),
      item: item ?? null,
      error,
      attempts: 1,
      createdAt: ctx.now,
    },
  ]);
}

/**
 * Ingests a batch of items and receipts. Items are validated one by one: a poison item is
 * dead-lettered and answered `rejected` while the rest of its batch is stored.
 */
export async function ingest(
  ctx: IngestContext,
  rawItems: unknown[],
  receipts: Receipt[],
  opts: {
    bytesSent?: number;
    deadLetterRejected?: boolean;
    /** False for copies that did not come through an edge (manual promotion, replays): no traffic counters, no latency sample. */
    edgeTraffic?: boolean;
  } = {},
): Promise<IngestOutcome> {
  const { db } = ctx;
  const results: ItemResult[] = [];
  const statements: Statement[] = [];
  const valid: IngestItem[] = [];

  for (const raw of rawItems) {
    const parsed = ingestItem.safeParse(raw);
    const id =
      raw && typeof raw === 'object' && typeof (raw as { id?: unknown }).id === 'string'
        ? (raw as { id: string }).id
        : 'unknown';
    if (!parsed.success) {
      const reason = `malformed: ${describeIssues(parsed.error.issues)}`;
      results.push({ id, status: 'rejected', reason });
      if (opts.deadLetterRejected !== false) statements.push(...deadLetterStatements(ctx, raw, reason));
      continue;
    }
    const claimProblem = ctx.claims ? itemClaimProblem(parsed.data, ctx.claims) : undefined;
    if (claimProblem) {
      results.push({ id, status: 'rejected', reason: claimProblem });
      continue;
    }
    valid.push(parsed.data);
  }
  let keptReceipts = receipts;
  if (ctx.claims) {
    const claims = ctx.claims;
    const kept: Receipt[] = [];
    for (const r of receipts) {
      const problem = receiptClaimProblem(r, claims);
      if (problem) results.push({ id: r.id, status: 'rejected', reason: problem });
      else kept.push(r);
    }
    keptReceipts = kept;
  }

  const knownDeployments = await existingDeploymentIds(db, [...new Set(valid.map((i) => i.deployment))]);

  const addresses = new Map<string, Set<string>>();
  const outboundIds = new Map<string, Set<string>>();
  const tokens = new Map<string, Set<string>>();
  for (const item of valid) {
    addTo(
      addresses,
      item.deployment,
      ...[item.from, ...item.to, ...item.cc].flatMap((a) => (a ? [a.address] : [])),
    );
    addTo(
      outboundIds,
      item.deployment,
      ...[...(item.inReplyTo ?? []), ...(item.references ?? [])].map(normaliseMessageId),
    );
    if (item.trackingToken) addTo(tokens, item.deployment, item.trackingToken.toLowerCase());
  }
  const matches: Map<string, RecordMatch[]> = await lookupByDeployment(
    addresses,
    (deployment, keys) => recordMatches(db, deployment, keys),
    (r) => r.address,
  );
  const outboundFound = await lookupByDeployment(
    outboundIds,
    (deployment, keys) => outboundByMessageIds(db, deployment, keys),
    (r) => r.messageId,
  );
  // Regarding records of issued tracking tokens (compared case-insensitively, as the edge matches them).
  const tokenRegarding = await lookupByDeployment(
    tokens,
    (deployment, keys) => outboundByTrackingTokens(db, deployment, keys),
    (r) => r.token.toLowerCase(),
  );

  const existingFingerprints = await loadFingerprints(db, valid);

  const upserts: { item: IngestItem; newId: string; index: number }[] = [];
  const committed: IngestItem[] = [];
  const falsePositives: Receipt[] = [];
  for (const item of valid) {
    if (!knownDeployments.has(item.deployment)) {
      const reason = `unknown deployment ${item.deployment}`;
      results.push({ id: item.id, status: 'rejected', reason });
      if (opts.deadLetterRejected !== false) statements.push(...deadLetterStatements(ctx, item, reason));
      continue;
    }
    const problem = recheck(item, matches, outboundFound);
    if (problem) {
      results.push({ id: item.id, status: 'rejected', reason: `record-false-positive: ${problem}` });
      falsePositives.push({
        kind: 'receipt',
        id: item.id,
        region: item.region,
        reason: 'record-false-positive',
        detail: problem,
        deployment: item.deployment,
        // The same keyed hash an edge's receipt carries, so `GET /dispositions?messageId=` finds it.
        ...(item.messageId
          ? { messageIdHash: keyedHash(await getHashKey(db), normaliseMessageId(item.messageId)) }
          : {}),
        sizeBytes: item.sizeBytes,
        at: item.receivedAt,
      });
      continue;
    }
    const parties = resolveParties(item, matches);
    // The regarding record: from the outbound message this replies to, else from its tracking token.
    const ref: Regarding | undefined =
      [...(item.inReplyTo ?? []), ...(item.references ?? [])]
        .map((id) => outboundFound.get(`${item.deployment}\0${normaliseMessageId(id)}`)?.[0])
        .find((o) => o?.regardingId) ??
      (item.trackingToken
        ? tokenRegarding
            .get(`${item.deployment}\0${item.trackingToken.toLowerCase()}`)
            ?.find((o) => o.regardingId)
        : undefined);
    const newId = crypto.randomUUID();
    const fingerprint = contentFingerprint(item);
    let dedupeKey = dedupeKeyOf(item);
    const seenFingerprint = existingFingerprints.get(`${item.deployment}\0${dedupeKey}`);
    // A copy merges into an activity only when it is the same message: a different message that
    // reuses a tracked Message-ID becomes its own activity, keyed by its content hash.
    if (seenFingerprint !== undefined && seenFingerprint !== null && seenFingerprint !== fingerprint)
      dedupeKey = `sha256:${item.contentHash}`;
    if (!existingFingerprints.has(`${item.deployment}\0${dedupeKey}`))
      existingFingerprints.set(`${item.deployment}\0${dedupeKey}`, fingerprint);
    const content =
      item.raw || item.attachments.length || item.textRef || item.partiesRef || item.notes
        ? [
            {
              region: item.region,
              raw: item.raw ?? null,
              // Whose forward this copy is: a user token gets links to its own copies only.
              forwardedBy: [...new Set(item.forwardedBy ?? [])].sort(),
              attachments: item.attachments.map(({ contentBase64: _c, ...a }) => a),
              // Held in the region, not here: the whole body / every recipient (see the wire schema).
              ...(item.textRef ? { text: item.textRef } : {}),
              ...(item.partiesRef ? { parties: item.partiesRef } : {}),
              // What the edge cut or held back to fit the wire schema (issue 19), kept with the copy.
              ...(item.attachmentsLeftOut ? { attachmentsLeftOut: item.attachmentsLeftOut } : {}),
              ...(item.bodyUnparsed !== undefined ? { bodyUnparsed: item.bodyUnparsed } : {}),
              ...(item.notes ? { notes: item.notes } : {}),
            },
          ]
        : [];
    statements.push(
      activityUpsertStatement(db, {
        id: newId,
        deployment: item.deployment,
        dedupeKey,
        messageId: item.messageId ? normaliseMessageId(item.messageId) : null,
        subject: item.subject ?? null,
        fromAddress: item.from?.address ?? null,
        fromName: item.from?.name ?? null,
        parties,
        regardingType: ref?.regardingType ?? null,
        regardingId: ref?.regardingId ?? null,
        reason: item.reason,
        correlationMethod: item.correlation.method,
        correlationDetail: item.correlation.detail,
        mailboxes: [...new Set(item.mailboxes)].sort(),
        regions: [item.region],
        egress: item.egress,
        bodyText: item.text ?? null,
        content,
        sizeBytes: item.sizeBytes,
        fingerprint,
        receivedAt: item.receivedAt,
        ingestedAt: ctx.now,
        updatedAt: ctx.now,
      }),
    );
    upserts.push({ item, newId, index: statements.length - 1 });
    // The webhook outbox row commits with the activity (src/central/delivery/webhooks.ts).
    statements.push(
      webhookOutboxStatement(db, {
        id: webhookDeliveryId(item),
        deployment: item.deployment,
        dedupeKey,
        newActivityId: newId,
        now: ctx.now,
      }),
    );
    committed.push(item);
  }

  const edgeTraffic = opts.edgeTraffic !== false;
  if (edgeTraffic)
    statements.push(
      ...latencySampleStatements(
        db,
        committed.map((i) => ({
          region: ctx.region,
          deployment: i.deployment,
          at: ctx.now,
          ms: Math.max(0, ctx.now - i.receivedAt),
        })),
      ),
    );
  const allReceipts = [...keptReceipts, ...falsePositives];
  statements.push(...receiptStatements(ctx, allReceipts));
  if (edgeTraffic) statements.push(...counterStatements(ctx, committed, allReceipts, opts.bytesSent ?? 0));

  if (statements.length) {
    const out = await runBatch(db, statements);
    for (const u of upserts) {
      const rows = out[u.index] as { id: string }[];
      const activityId = rows[0]?.id;
      const status = activityId === u.newId ? 'accepted' : 'merged';
      results.push({ id: u.item.id, status, activityId });
      if (activityId) ctx.onActivity?.(activityId, u.item.deployment, status);
    }
  }
  return { results, receiptsStored: allReceipts.length };
}
