// The one item builder (design §2): turns a CRM-bound message and its classifier targets into the
// ingest items central stores, under the region's egress policy. The edge calls it with its
// regional R2 as the store (src/edge/ingest-item.ts); manual promotion at central calls it without
// one. Only here is the message fully parsed (postal-mime); the store and the id are the caller's,
// the content hash is Web Crypto's SHA-256.
import PostalMime, { type Attachment, type Email } from 'postal-mime';
import { decodeBase64 } from './base64.js';
import type { Target } from './classify.js';
import type { MessageFacts } from './message-facts.js';
import type { RoutingSnapshot } from './snapshot.js';
import type { IngestItem } from './wire.js';

/**
 * Inline budgets (UTF-8 bytes). An item that does not fit a queue message travels as a reference
 * (src/edge/enqueue.ts), so these only bound what central stores in D1: a longer body is held in
 * the region whole and referenced (`textRef`), with its beginning inline; more than 1000 To or Cc
 * recipients are held in the region whole (`partiesRef`). Nothing is cut without such a flag,
 * except where there is no regional store (a promotion at central): there the body is cut with a
 * visible marker and the parties list at 1000 per role.
 */
export const TEXT_INLINE_BYTES = 256 * 1024;
export const MAX_PARTIES_PER_ROLE = 1000;
const INLINE_ATTACHMENT_BUDGET = 48 * 1024;
const TRUNCATED = '\n[… truncated]';
const encoder = new TextEncoder();

/** Where a region keeps the raw message and what the items reference (the edge's R2 bucket). */
export interface RegionalStore {
  region: string;
  put(
    key: string,
    value: Uint8Array | string,
    meta: { contentType: string; contentDisposition?: string; custom?: Record<string, string> },
  ): Promise<void>;
}

function toHex(buffer: ArrayBuffer): string {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function attachmentBytes(a: Attachment): Uint8Array {
  if (typeof a.content === 'string') return new TextEncoder().encode(a.content);
  return a.content instanceof Uint8Array ? a.content : new Uint8Array(a.content);
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** The longest prefix of `s` that is at most `maxBytes` of UTF-8, cut on a character boundary. */
export function utf8Prefix(bytes: Uint8Array, maxBytes: number): string {
  if (bytes.byteLength <= maxBytes) return new TextDecoder().decode(bytes);
  let end = maxBytes;
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}

/** Full parse; for forward-as-attachment the wrapped original is what gets tracked. */
async function parseOriginal(raw: Uint8Array, facts: MessageFacts): Promise<Email> {
  // postal-mime copies a typed-array input into a fresh ArrayBuffer but reads an ArrayBuffer in
  // place: hand it the buffer itself when the message fills it (saves one copy of the message).
  const input =
    raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength ? (raw.buffer as ArrayBuffer) : raw;
  const outer = await PostalMime.parse(input, { forceRfc822Attachments: facts.forwardedAsAttachment });
  if (!facts.forwardedAsAttachment) return outer;
  // The same message/rfc822 part the header reading took this message from.
  const wrapped = outer.attachments.filter(
    (a) => a.mimeType === 'message/rfc822' || a.mimeType === 'message/global',
  )[facts.wrappedIndex ?? 0];
  return wrapped ? PostalMime.parse(attachmentBytes(wrapped)) : outer;
}

/**
 * Where one received copy's objects live in regional R2: `raw/<deployment>/<YYYY-MM-DD>/<copy>…`
 * (the raw message `.eml`, attachments `/att/<n>`, a held body `.txt`, held parties
 * `.parties.json`), so the cron expires a deployment's copies by day prefix (raw-expiry.ts). A
 * message is bound to one deployment by its envelope recipient; should its targets ever name
 * several, the copy goes under `raw/_shared/`, which never expires (`_` is not in deployment ids).
 */
export function copyPrefix(deployments: string[], copyId: string, now: number): string {
  const owners = [...new Set(deployments)];
  const owner = owners.length === 1 ? owners[0] : SHARED_OWNER;
  return `raw/${owner}/${new Date(now).toISOString().slice(0, 10)}/${copyId}`;
}

export const SHARED_OWNER = '_shared';

export interface BuildItemsInput {
  /** The region the items come from; with a store, its region. */
  region: string;
  /** Regional storage for the raw message, attachments, long bodies and long party lists. */
  store?: RegionalStore;
  /** Egress policy and the deployments' attachment policies. */
  snapshot: Pick<RoutingSnapshot, 'egress' | 'deployments'>;
  raw: Uint8Array;
  facts: MessageFacts;
  /** The classifier's CRM-bound targets: one item each. */
  targets: Target[];
  now: number;
  /** A fresh id (the caller draws it: core has no randomness); the items' ids derive from it. */
  copyId: string;
}

/**
 * The bytes kept as a message's raw copy: for a forward-as-attachment the wrapped message itself,
 * never the forwarder's wrapper (its cover note and other wrapped messages are the forwarder's
 * own; issue 19, item 9). A message/rfc822 part may not be transfer-encoded (RFC 2046 §5.2.1) but
 * some clients base64 it anyway: a message's first line is a header field and holds a `:`, which
 * the base64 alphabet (RFC 4648 §4) lacks, so a first line without one is decoded.
 */
function rawCopyBytes(raw: Uint8Array, facts: MessageFacts): Uint8Array {
  if (!facts.wrappedRange) return raw;
  const part = raw.subarray(facts.wrappedRange[0], facts.wrappedRange[1]);
  const lineEnd = part.indexOf(10);
  const firstLine = lineEnd < 0 ? part : part.subarray(0, lineEnd);
  return firstLine.includes(58) ? part : decodeBase64(part);
}

export async function buildItems(input: BuildItemsInput): Promise<IngestItem[]> {
  const { region, store, raw, facts, targets, now, copyId } = input;
  const egress = input.snapshot.egress;
  // One after the other, not concurrently: the digest may copy its input, and the parse holds
  // the decoded attachments; overlapping them would stack both on the peak memory.
  // A wrapped message's own bytes: two messages forwarded together must not share a content hash
  // (central falls back to it to deduplicate mail without a Message-ID).
  const hashed = facts.wrappedRange ? raw.subarray(facts.wrappedRange[0], facts.wrappedRange[1]) : raw;
  const digest = await crypto.subtle.digest('SHA-256', hashed as Uint8Array<ArrayBuffer>);
  const email = await parseOriginal(raw, facts);
  const contentHash = toHex(digest);
  // The raw message stays in the region; central gets a reference it can turn into a signed link.
  let rawRef: IngestItem['raw'];
  const prefix = copyPrefix(
    targets.map((t) => t.deployment),
    copyId,
    now,
  );
  if (store) {
    const key = `${prefix}.eml`;
    const copy = rawCopyBytes(raw, facts);
    await store.put(key, copy, {
      contentType: 'message/rfc822',
      custom: { region, receivedAt: String(now) },
    });
    rawRef = { region, key, size: copy.byteLength };
  }

  // Every attachment is stored in the region once, whatever the number of target deployments;
  // the `inline` policy additionally carries small ones in the item.
  const bytesOf = email.attachments.map(attachmentBytes);
  const refs = new Map<number, { region: string; key: string; size: number }>();
  if (store)
    await Promise.all(
      email.attachments.map(async (a, n) => {
        const bytes = bytesOf[n] as Uint8Array;
        const attKey = `${prefix}/att/${n}`;
        await store.put(attKey, bytes, {
          contentType: a.mimeType,
          ...(a.filename
            ? { contentDisposition: `attachment; filename="${a.filename.replace(/["\\\r\n]/g, '_')}"` }
            : {}),
        });
        refs.set(n, { region, key: attKey, size: bytes.byteLength });
      }),
    );

  // A body beyond the inline budget is held in the region whole; the item carries its beginning.
  let text: string | undefined;
  let textRef: IngestItem['textRef'];
  if (egress === 'full') {
    const body = email.text ?? '';
    const bytes = encoder.encode(body);
    text = utf8Prefix(bytes, TEXT_INLINE_BYTES);
    if (bytes.byteLength > TEXT_INLINE_BYTES) {
      if (store) {
        const textKey = `${prefix}.txt`;
        await store.put(textKey, bytes, { contentType: 'text/plain; charset=utf-8' });
        textRef = { region, key: textKey, size: bytes.byteLength };
      } else text += TRUNCATED;
    }
  }
  let partiesRef: IngestItem['partiesRef'];
  if (store && (facts.to.length > MAX_PARTIES_PER_ROLE || facts.cc.length > MAX_PARTIES_PER_ROLE)) {
    const partiesKey = `${prefix}.parties.json`;
    const json = JSON.stringify({ to: facts.to, cc: facts.cc });
    await store.put(partiesKey, json, { contentType: 'application/json' });
    partiesRef = { region, key: partiesKey, size: encoder.encode(json).byteLength };
  }

  const items: IngestItem[] = [];
  for (const target of targets) {
    const inline =
      egress === 'full' && input.snapshot.deployments[target.deployment]?.attachmentPolicy === 'inline';
    let inlineBudget = INLINE_ATTACHMENT_BUDGET;
    const attachments: IngestItem['attachments'] = email.attachments.map((a, n) => {
      const bytes = bytesOf[n] as Uint8Array;
      const entry: IngestItem['attachments'][number] = {
        ...(a.filename ? { filename: a.filename.slice(0, 1000) } : {}),
        contentType: a.mimeType.slice(0, 255),
        size: bytes.byteLength,
      };
      const ref = refs.get(n);
      if (ref) entry.ref = ref;
      if (inline && bytes.byteLength <= inlineBudget) {
        entry.contentBase64 = base64(bytes);
        inlineBudget -= bytes.byteLength;
      }
      return entry;
    });
    const id = targets.length > 1 ? `${copyId}-${items.length}` : copyId;
    items.push({
      kind: 'item',
      id,
      region,
      deployment: target.deployment,
      ...(facts.messageId ? { messageId: facts.messageId.slice(0, 998) } : {}),
      contentHash,
      receivedAt: now,
      sizeBytes: raw.byteLength,
      mailboxes: target.mailboxes.map((m) => m.address),
      forwardedBy: target.forwardedBy,
      reason: target.reason as IngestItem['reason'],
      correlation: target.correlation ?? { method: 'all', detail: target.detail },
      egress,
      ...(facts.from ? { from: facts.from } : {}),
      to: facts.to.slice(0, MAX_PARTIES_PER_ROLE),
      cc: facts.cc.slice(0, MAX_PARTIES_PER_ROLE),
      ...(partiesRef ? { partiesRef } : {}),
      ...(egress !== 'metadata' ? { subject: facts.subject.slice(0, 10000) } : {}),
      ...(facts.date ? { date: facts.date } : {}),
      inReplyTo: facts.inReplyTo.slice(0, 100),
      references: facts.references.slice(0, 500),
      ...(target.trackingToken ? { trackingToken: target.trackingToken } : {}),
      ...(text !== undefined ? { text } : {}),
      ...(textRef ? { textRef } : {}),
      attachments,
      ...(rawRef ? { raw: rawRef } : {}),
    });
  }
  return items;
}
