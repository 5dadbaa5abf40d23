// The decisions of central ingest, without D1: what to look up for a batch, and, given what the
// lookups found, what each item becomes (rejected, a record-false-positive receipt, or an activity
// row to insert or merge), with which dedupe key, content fingerprint, parties and regarding record.
// `lookups.ts` reads what this module asks for; `ingest.ts` turns the plan into one D1 batch.

import { z } from 'zod';
import { keyedHash, normaliseMessageId, sha256Hex } from '../../core/keyed-hash.js';
import { fastParser, NOT_ACCEPTED } from '../../core/schema-fast-path.js';
import type { RecordType } from '../../core/types.js';
import {
  type IngestBatch,
  type IngestItem,
  ingestBatch,
  ingestItem,
  MAX_RECEIPTS_PER_BATCH,
  type Receipt,
  receipt,
} from '../../core/wire.js';
import type { ActivityInsert, CopyCount } from '../../db/queries/ingest.js';
import type { Party } from '../../db/schema.js';
import { describeIssues } from '../http/errors.js';
import { itemClaimProblem, type RegionClaims, receiptClaimProblem } from './ingest-claims.js';

/** `From` resolves to the first match in this order (design §2). */
const RECORD_ORDER: RecordType[] = ['user', 'contact', 'account', 'lead'];

export interface RecordMatch {
  type: string;
  recordId: string;
  emailEnabled: boolean;
}

export type Regarding = { regardingType: string | null; regardingId: string | null };

/** A lookup key: lookups are per deployment, so every map is keyed `deployment \0 key`. */
export const scoped = (deployment: string, key: string) => `${deployment}\0${key}`;

/** What the batch's items need looked up, per deployment. */
export interface LookupKeys {
  deployments: Set<string>;
  addresses: Map<string, Set<string>>;
  /** Normalised Message-IDs of In-Reply-To and References. */
  outboundIds: Map<string, Set<string>>;
  /** Tracking tokens, lower-cased (the edge matches them case-insensitively). */
  tokens: Map<string, Set<string>>;
  dedupeKeys: Map<string, Set<string>>;
}

/** What D1 holds for those keys (maps keyed with `scoped`). */
export interface Lookups {
  knownDeployments: Set<string>;
  matches: Map<string, RecordMatch[]>;
  outbound: Map<string, Regarding[]>;
  tokens: Map<string, Regarding[]>;
  /** Content fingerprint of the activity a dedupe key names (null: stored without one). */
  fingerprints: Map<string, string | null>;
}

function addTo(map: Map<string, Set<string>>, key: string, values: string[]) {
  const set = map.get(key) ?? new Set<string>();
  for (const v of values) set.add(v);
  map.set(key, set);
}

const referencedIds = (item: IngestItem) =>
  [...(item.inReplyTo ?? []), ...(item.references ?? [])].map(normaliseMessageId);

export function dedupeKeyOf(item: IngestItem): string {
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
    utf8.encode(
      `${item.from?.address.toLowerCase() ?? ''}\n${list(item.to)}\n${list(item.cc)}\n${item.date ?? ''}`,
    ),
  );
}

export function lookupKeysOf(items: IngestItem[]): LookupKeys {
  const keys: LookupKeys = {
    deployments: new Set(),
    addresses: new Map(),
    outboundIds: new Map(),
    tokens: new Map(),
    dedupeKeys: new Map(),
  };
  for (const item of items) {
    const d = item.deployment;
    keys.deployments.add(d);
    addTo(
      keys.addresses,
      d,
      [item.from, ...item.to, ...item.cc].flatMap((a) => (a ? [a.address] : [])),
    );
    addTo(keys.outboundIds, d, referencedIds(item));
    if (item.trackingToken) addTo(keys.tokens, d, [item.trackingToken.toLowerCase()]);
    addTo(keys.dedupeKeys, d, [dedupeKeyOf(item)]);
  }
  return keys;
}

export interface Rejection {
  id: string;
  reason: string;
  /** The item as received, when it is to be dead-lettered (malformed); claim violations are stored nowhere. */
  deadLetter?: unknown;
}

/** Items parsed one by one, in batch order: each valid, or rejected (malformed) for dead-lettering. */
export type ParsedItem = { id: string; item: IngestItem } | { id: string; malformed: string; raw: unknown };

const fastIngestItem = fastParser(ingestItem);
const utf8 = new TextEncoder();

/** The batch's envelope as `ingestBatch` checks it, its receipts taken as they come (each is parsed below). */
const batchEnvelope = ingestBatch.extend({ receipts: z.array(z.unknown()).max(MAX_RECEIPTS_PER_BATCH) });
const fastReceipt = fastParser(receipt);

/**
 * `ingestBatch.safeParse(json)`, with the receipts through the fast path: a real edge's batches are
 * mostly receipts (up to 2,000), which zod's interpreted parser checks at ~2.5 µs each. When the
 * envelope or any receipt is not accepted, zod parses the whole batch again, so a refusal names
 * the same issues, in the same words, as `ingestBatch` itself.
 */
export function parseIngestBatch(json: unknown): ReturnType<typeof ingestBatch.safeParse> {
  const envelope = batchEnvelope.safeParse(json);
  if (envelope.success) {
    const receipts: Receipt[] = [];
    for (const raw of envelope.data.receipts) {
      const fast = fastReceipt(raw);
      if (fast === NOT_ACCEPTED) return ingestBatch.safeParse(json);
      receipts.push(fast);
    }
    const data: IngestBatch = { ...envelope.data, receipts };
    return { success: true, data };
  }
  return ingestBatch.safeParse(json);
}

/** Validates items one by one: a poison item is rejected (and dead-lettered) while the rest go on. */
export function parseItems(rawItems: unknown[]): ParsedItem[] {
  return rawItems.map((raw): ParsedItem => {
    // zod's answer, from the fast path when it accepts the item; zod itself explains a refusal.
    const fast = fastIngestItem(raw);
    if (fast !== NOT_ACCEPTED) return { id: fast.id, item: fast };
    const parsed = ingestItem.safeParse(raw);
    if (parsed.success) return { id: parsed.data.id, item: parsed.data };
    const id =
      raw && typeof raw === 'object' && typeof (raw as { id?: unknown }).id === 'string'
        ? (raw as { id: string }).id
        : 'unknown';
    return { id, malformed: `malformed: ${describeIssues(parsed.error.issues)}`, raw };
  });
}

/** The valid items of a parse (their lookups can be read before the claims are known). */
export const validItems = (parsed: ParsedItem[]) => parsed.flatMap((p) => ('item' in p ? [p.item] : []));

/**
 * Validates items one by one (or takes them parsed) and checks every claim of an edge batch
 * (`claims` set): a poison item is rejected (and dead-lettered) while the rest of its batch goes on.
 */
export function screen(
  rawItems: unknown[] | { parsed: ParsedItem[] },
  receipts: Receipt[],
  claims: RegionClaims | undefined,
) {
  const parsed = Array.isArray(rawItems) ? parseItems(rawItems) : rawItems.parsed;
  const rejected: Rejection[] = [];
  const items: IngestItem[] = [];
  for (const p of parsed) {
    if (!('item' in p)) {
      rejected.push({ id: p.id, reason: p.malformed, deadLetter: p.raw });
      continue;
    }
    const problem = claims ? itemClaimProblem(p.item, claims) : undefined;
    if (problem) rejected.push({ id: p.id, reason: problem });
    else items.push(p.item);
  }
  const kept: Receipt[] = [];
  for (const r of receipts) {
    const problem = claims ? receiptClaimProblem(r, claims) : undefined;
    if (problem) rejected.push({ id: r.id, reason: problem });
    else kept.push(r);
  }
  return { items, receipts: kept, rejected };
}

function sortMatches(list: RecordMatch[]): RecordMatch[] {
  return [...list].sort(
    (a, b) => RECORD_ORDER.indexOf(a.type as RecordType) - RECORD_ORDER.indexOf(b.type as RecordType),
  );
}

export function resolveParties(item: IngestItem, matches: Map<string, RecordMatch[]>): Party[] {
  const parties: Party[] = [];
  const lookup = (address: string) => sortMatches(matches.get(scoped(item.deployment, address)) ?? []);
  if (item.from) {
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
export function recheck(item: IngestItem, lookups: Lookups): string | undefined {
  const has = (address: string) => (lookups.matches.get(scoped(item.deployment, address)) ?? []).length > 0;
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
      return ids.some((id) => lookups.outbound.has(scoped(item.deployment, id)))
        ? undefined
        : 'no referenced Message-ID is a registered outbound message (filter false positive)';
    }
    default:
      return undefined;
  }
}

/** The regarding record: from the outbound message this replies to, else from its tracking token. */
export function regardingOf(item: IngestItem, lookups: Lookups): Regarding | undefined {
  return (
    referencedIds(item)
      .map((id) => lookups.outbound.get(scoped(item.deployment, id))?.[0])
      .find((o) => o?.regardingId) ??
    (item.trackingToken
      ? lookups.tokens
          .get(scoped(item.deployment, item.trackingToken.toLowerCase()))
          ?.find((o) => o.regardingId)
      : undefined)
  );
}

/** What a copy adds to its activity's `content` (nothing for a bare metadata copy). */
function contentOf(item: IngestItem) {
  if (!(item.raw || item.attachments.length || item.textRef || item.partiesRef || item.notes)) return [];
  return [
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
  ];
}

export type ItemPlan =
  | { kind: 'rejected'; item: IngestItem; reason: string }
  | { kind: 'false-positive'; item: IngestItem; problem: string }
  | { kind: 'store'; item: IngestItem; row: ActivityInsert };

/**
 * What each valid item becomes. A copy merges into an activity only when it is the same message
 * (same content fingerprint): a different message that reuses a tracked Message-ID becomes its own
 * activity, keyed by its content hash. Items of one batch see each other's keys (`lookups.fingerprints`
 * is updated as the plan goes). `newId` gives each stored item its activity (and outbox) id.
 */
export function planItems(
  items: IngestItem[],
  lookups: Lookups,
  { now, newId }: { now: number; newId: () => string },
): ItemPlan[] {
  return items.map((item): ItemPlan => {
    if (!lookups.knownDeployments.has(item.deployment))
      return { kind: 'rejected', item, reason: `unknown deployment ${item.deployment}` };
    const problem = recheck(item, lookups);
    if (problem) return { kind: 'false-positive', item, problem };
    const fingerprint = contentFingerprint(item);
    let dedupeKey = dedupeKeyOf(item);
    const seen = lookups.fingerprints.get(scoped(item.deployment, dedupeKey));
    if (seen !== undefined && seen !== null && seen !== fingerprint) dedupeKey = `sha256:${item.contentHash}`;
    const key = scoped(item.deployment, dedupeKey);
    if (!lookups.fingerprints.has(key)) lookups.fingerprints.set(key, fingerprint);
    const ref = regardingOf(item, lookups);
    const row: ActivityInsert = {
      id: newId(),
      deployment: item.deployment,
      dedupeKey,
      messageId: item.messageId ? normaliseMessageId(item.messageId) : null,
      subject: item.subject ?? null,
      fromAddress: item.from?.address ?? null,
      fromName: item.from?.name ?? null,
      parties: resolveParties(item, lookups.matches),
      regardingType: ref?.regardingType ?? null,
      regardingId: ref?.regardingId ?? null,
      reason: item.reason,
      correlationMethod: item.correlation.method,
      correlationDetail: item.correlation.detail,
      mailboxes: [...new Set(item.mailboxes)].sort(),
      regions: [item.region],
      egress: item.egress,
      bodyText: item.text ?? null,
      content: contentOf(item),
      sizeBytes: item.sizeBytes,
      fingerprint,
      receivedAt: item.receivedAt,
      ingestedAt: now,
      updatedAt: now,
    };
    return { kind: 'store', item, row };
  });
}

/**
 * The disposition central records for a copy its re-check dropped: the same keyed Message-ID hash
 * an edge's receipt carries, so `GET /dispositions?messageId=` finds it.
 */
export function falsePositiveReceipt(item: IngestItem, problem: string, hashKey: string): Receipt {
  return {
    kind: 'receipt',
    id: item.id,
    region: item.region,
    reason: 'record-false-positive',
    detail: problem,
    deployment: item.deployment,
    ...(item.messageId ? { messageIdHash: keyedHash(hashKey, normaliseMessageId(item.messageId)) } : {}),
    sizeBytes: item.sizeBytes,
    at: item.receivedAt,
  };
}

/**
 * Each committed item's and receipt's share of the region's per-minute counters, with the item's
 * edge receipt → commit latency. Central counts each copy id once (`newCopyStatements`).
 */
export function trafficCopies(now: number, items: IngestItem[], receipts: Receipt[]): CopyCount[] {
  const minute = (at: number) => Math.floor(at / 60000);
  return [
    ...items.map(
      (i): CopyCount => ({
        id: i.id,
        kind: 'item',
        minute: minute(i.receivedAt),
        bytes: i.sizeBytes,
        deployment: i.deployment,
        ms: Math.max(0, now - i.receivedAt),
      }),
    ),
    ...receipts.map(
      (r): CopyCount => ({
        id: r.id,
        kind: 'receipt',
        minute: minute(r.at),
        bytes: r.sizeBytes,
        reason: r.reason,
      }),
    ),
  ];
}

/** The deployment a dead-lettered item names, when it names one. */
export function itemDeployment(item: unknown): string | null {
  return item && typeof item === 'object' && typeof (item as { deployment?: unknown }).deployment === 'string'
    ? (item as { deployment: string }).deployment
    : null;
}
