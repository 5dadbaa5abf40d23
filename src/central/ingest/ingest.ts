// Central ingestion: validate, re-check exactly, deduplicate/merge, resolve parties, store.
// Every statement of one batch goes to D1 in a single `batch()` (one round trip, one transaction),
// each within D1's 100-bound-parameter limit.
import { and, eq, inArray, type SQL, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { normaliseMessageId, sha256Hex } from '../../core/keyed-hash.js';
import type { RecordType } from '../../core/types.js';
import { type IngestItem, type ItemResult, ingestItem, type Receipt } from '../../core/wire.js';
import type { Db } from '../../db/client.js';
import {
  activities,
  deadLetters,
  deployments,
  dispositions,
  edgeCounters,
  latencySamples,
  outbound,
  type Party,
  recordEmails,
} from '../../db/schema.js';
import { describeIssues } from '../http/errors.js';
import { itemClaimProblem, type RegionClaims, receiptClaimProblem } from './ingest-claims.js';
import { webhookOutboxStatement } from '../delivery/webhooks.js';

const RECORD_ORDER: RecordType[] = ['user', 'contact', 'account', 'lead'];
/** Rows per multi-row INSERT so that bound parameters stay under D1's limit of 100. */
const chunk = <T>(xs: T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
};

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

async function loadRecordMatches(db: Db, byDeployment: Map<string, Set<string>>) {
  const matches = new Map<string, RecordMatch[]>(); // key: deployment \0 address
  for (const [deployment, addresses] of byDeployment) {
    for (const part of chunk([...addresses], 90)) {
      const rows = await db
        .select()
        .from(recordEmails)
        .where(and(eq(recordEmails.deployment, deployment), inArray(recordEmails.address, part)))
        .all();
      for (const r of rows) {
        const key = `${deployment}\0${r.address}`;
        const list = matches.get(key) ?? [];
        list.push({ type: r.type, recordId: r.recordId, emailEnabled: r.emailEnabled });
        matches.set(key, list);
      }
    }
  }
  return matches;
}

async function loadOutbound(db: Db, byDeployment: Map<string, Set<string>>) {
  const found = new Map<string, { regardingType: string | null; regardingId: string | null }>();
  for (const [deployment, ids] of byDeployment) {
    for (const part of chunk([...ids], 90)) {
      const rows = await db
        .select({
          messageId: outbound.messageId,
          regardingType: outbound.regardingType,
          regardingId: outbound.regardingId,
        })
        .from(outbound)
        .where(and(eq(outbound.deployment, deployment), inArray(outbound.messageId, part)))
        .all();
      for (const r of rows) found.set(`${deployment}\0${r.messageId}`, r);
    }
  }
  return found;
}

/** Regarding records of issued tracking tokens (compared case-insensitively, as the edge matches them). */
async function loadTokenRegarding(db: Db, byDeployment: Map<string, Set<string>>) {
  const found = new Map<string, { regardingType: string | null; regardingId: string | null }>();
  for (const [deployment, tokens] of byDeployment) {
    for (const part of chunk([...tokens], 90)) {
      const rows = await db
        .select({
          token: outbound.trackingToken,
          regardingType: outbound.regardingType,
          regardingId: outbound.regardingId,
        })
        .from(outbound)
        .where(and(eq(outbound.deployment, deployment), inArray(sql`lower(${outbound.trackingToken})`, part)))
        .all();
      for (const r of rows) if (r.regardingId) found.set(`${deployment}\0${r.token.toLowerCase()}`, r);
    }
  }
  return found;
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
  for (const item of items) {
    const set = byDeployment.get(item.deployment) ?? new Set<string>();
    set.add(dedupeKeyOf(item));
    byDeployment.set(item.deployment, set);
  }
  const found = new Map<string, string | null>();
  for (const [deployment, keys] of byDeployment)
    for (const part of chunk([...keys], 90)) {
      const rows = await db
        .select({ dedupeKey: activities.dedupeKey, fingerprint: activities.fingerprint })
        .from(activities)
        .where(and(eq(activities.deployment, deployment), inArray(activities.dedupeKey, part)))
        .all();
      for (const r of rows) found.set(`${deployment}\0${r.dedupeKey}`, r.fingerprint);
    }
  return found;
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

/** Set union of two JSON arrays in one statement, so concurrent merges cannot lose an element. */
const unionJson = (column: string, objects = false) =>
  sql.raw(
    `(select json_group_array(${objects ? 'json(value)' : 'value'}) from (select value from json_each(activities.${column}) union select value from json_each(excluded.${column})))`,
  );

/** Stores receipts as dispositions (idempotent on receipt id) and returns how many were new. */
export function receiptStatements(ctx: IngestContext, receipts: Receipt[]) {
  const rows = receipts.map((r) => ({
    id: r.id,
    region: ctx.region,
    reason: r.reason,
    detail: r.detail ?? null,
    deployment: r.deployment ?? null,
    mailboxHash: r.mailboxHash ?? null,
    mailbox: (r.mailboxHash && ctx.mailboxByHash?.get(r.mailboxHash)) || null,
    messageIdHash: r.messageIdHash ?? null,
    sizeBytes: r.sizeBytes,
    at: r.at,
  }));
  return chunk(rows, 9).map((part) => ctx.db.insert(dispositions).values(part).onConflictDoNothing());
}

function counterStatements(ctx: IngestContext, items: IngestItem[], receipts: Receipt[], bytesSent: number) {
  const perMinute = new Map<number, typeof edgeCounters.$inferInsert>();
  const bucket = (at: number) => {
    const minute = Math.floor(at / 60000);
    let row = perMinute.get(minute);
    if (!row) {
      row = {
        region: ctx.region,
        minute,
        received: 0,
        receivedBytes: 0,
        crmBound: 0,
        crmBoundBytes: 0,
        tossed: {},
        bytesSent: 0,
      };
      perMinute.set(minute, row);
    }
    return row;
  };
  for (const i of items) {
    const row = bucket(i.receivedAt);
    row.received! += 1;
    row.receivedBytes! += i.sizeBytes;
    row.crmBound! += 1;
    row.crmBoundBytes! += i.sizeBytes;
  }
  for (const r of receipts) {
    const row = bucket(r.at);
    row.received! += 1;
    row.receivedBytes! += r.sizeBytes;
    const tossed = row.tossed as Record<string, number>;
    tossed[r.reason] = (tossed[r.reason] ?? 0) + 1;
  }
  if (bytesSent > 0) bucket(ctx.now).bytesSent! += bytesSent;
  return [...perMinute.values()].map((row) =>
    ctx.db
      .insert(edgeCounters)
      .values(row)
      .onConflictDoUpdate({
        target: [edgeCounters.region, edgeCounters.minute],
        set: {
          received: sql`edge_counters.received + excluded.received`,
          receivedBytes: sql`edge_counters.received_bytes + excluded.received_bytes`,
          crmBound: sql`edge_counters.crm_bound + excluded.crm_bound`,
          crmBoundBytes: sql`edge_counters.crm_bound_bytes + excluded.crm_bound_bytes`,
          bytesSent: sql`edge_counters.bytes_sent + excluded.bytes_sent`,
          tossed: sql.raw(
            `(select json_group_object(key, total) from (select key, sum(value) as total from (select key, value from json_each(edge_counters.tossed) union all select key, value from json_each(excluded.tossed)) group by key))`,
          ),
        },
      }),
  );
}

function deadLetterStatement(ctx: IngestContext, item: unknown, error: string) {
  const deployment =
    item && typeof item === 'object' && typeof (item as { deployment?: unknown }).deployment === 'string'
      ? ((item as { deployment: string }).deployment as string)
      : null;
  return ctx.db.insert(deadLetters).values({
    id: crypto.randomUUID(),
    region: ctx.region,
    deployment,
    item: item ?? null,
    error,
    attempts: 1,
    createdAt: ctx.now,
  });
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
  const statements: BatchItem<'sqlite'>[] = [];
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
      if (opts.deadLetterRejected !== false) statements.push(deadLetterStatement(ctx, raw, reason));
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

  const knownDeployments = new Set(
    valid.length
      ? (
          await db
            .select({ id: deployments.id })
            .from(deployments)
            .where(inArray(deployments.id, [...new Set(valid.map((i) => i.deployment))]))
            .all()
        ).map((d) => d.id)
      : [],
  );

  const addresses = new Map<string, Set<string>>();
  const outboundIds = new Map<string, Set<string>>();
  const tokens = new Map<string, Set<string>>();
  for (const item of valid) {
    const set = addresses.get(item.deployment) ?? new Set<string>();
    if (item.from) set.add(item.from.address);
    for (const a of [...item.to, ...item.cc]) set.add(a.address);
    addresses.set(item.deployment, set);
    const ids = outboundIds.get(item.deployment) ?? new Set<string>();
    for (const id of [...(item.inReplyTo ?? []), ...(item.references ?? [])]) ids.add(normaliseMessageId(id));
    outboundIds.set(item.deployment, ids);
    if (item.trackingToken) {
      const set = tokens.get(item.deployment) ?? new Set<string>();
      set.add(item.trackingToken.toLowerCase());
      tokens.set(item.deployment, set);
    }
  }
  const matches = await loadRecordMatches(db, addresses);
  const outboundFound = await loadOutbound(db, outboundIds);
  const tokenRegarding = await loadTokenRegarding(db, tokens);

  const existingFingerprints = await loadFingerprints(db, valid);

  const upserts: { item: IngestItem; newId: string; index: number }[] = [];
  const committed: IngestItem[] = [];
  const falsePositives: Receipt[] = [];
  for (const item of valid) {
    if (!knownDeployments.has(item.deployment)) {
      const reason = `unknown deployment ${item.deployment}`;
      results.push({ id: item.id, status: 'rejected', reason });
      if (opts.deadLetterRejected !== false) statements.push(deadLetterStatement(ctx, item, reason));
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
        sizeBytes: item.sizeBytes,
        at: item.receivedAt,
      });
      continue;
    }
    const parties = resolveParties(item, matches);
    // The regarding record: from the outbound message this replies to, else from its tracking token.
    const ref =
      ([...(item.inReplyTo ?? []), ...(item.references ?? [])]
        .map((id) => outboundFound.get(`${item.deployment}\0${normaliseMessageId(id)}`))
        .find((o) => o?.regardingId) as
        | { regardingType: string | null; regardingId: string | null }
        | undefined) ??
      (item.trackingToken
        ? tokenRegarding.get(`${item.deployment}\0${item.trackingToken.toLowerCase()}`)
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
      item.raw || item.attachments.length || item.textRef || item.partiesRef
        ? [
            {
              region: item.region,
              raw: item.raw ?? null,
              attachments: item.attachments.map(({ contentBase64: _c, ...a }) => a),
              // Held in the region, not here: the whole body / every recipient (see the wire schema).
              ...(item.textRef ? { text: item.textRef } : {}),
              ...(item.partiesRef ? { parties: item.partiesRef } : {}),
            },
          ]
        : [];
    statements.push(
      db
        .insert(activities)
        .values({
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
          seq: sql`(select coalesce(max(seq), 0) + 1 from activities)`,
        })
        .onConflictDoUpdate({
          target: [activities.deployment, activities.dedupeKey],
          set: {
            mailboxes: unionJson('mailboxes'),
            regions: unionJson('regions'),
            parties: unionJson('parties', true),
            content: unionJson('content', true),
            updatedAt: ctx.now,
          },
        })
        .returning({ id: activities.id }),
    );
    upserts.push({ item, newId, index: statements.length - 1 });
    // The webhook outbox row commits with the activity (src/central/delivery/webhooks.ts).
    statements.push(
      webhookOutboxStatement(db, {
        id: newId,
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
    for (const part of chunk(
      committed.map((i) => ({
        region: ctx.region,
        deployment: i.deployment,
        at: ctx.now,
        ms: Math.max(0, ctx.now - i.receivedAt),
      })),
      20,
    ))
      statements.push(db.insert(latencySamples).values(part));
  const allReceipts = [...keptReceipts, ...falsePositives];
  statements.push(...receiptStatements(ctx, allReceipts));
  if (edgeTraffic) statements.push(...counterStatements(ctx, committed, allReceipts, opts.bytesSent ?? 0));

  if (statements.length) {
    const out = (await db.batch(statements as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]])) as unknown[];
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

export type { SQL };
