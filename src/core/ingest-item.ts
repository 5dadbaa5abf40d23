// The one item builder (design §2): turns a CRM-bound message and its classifier targets into the
// ingest items central stores, under the region's egress policy. The edge calls it with its
// regional R2 as the store (src/edge/ingest-item.ts); manual promotion at central calls it without
// one. Only here is the message fully parsed (postal-mime); the store and the id are the caller's,
// the content hash is Web Crypto's SHA-256.
import PostalMime, { type Attachment, type Email } from 'postal-mime';
import { decodeBase64 } from './base64.js';
import type { Target } from './classify.js';
import { bytesToHex } from './keyed-hash.js';
import type { MessageFacts } from './message-facts.js';
import type { RoutingSnapshot } from './snapshot.js';
import type { MailAddress } from './types.js';
import {
  type IngestItem,
  ingestItem,
  MAX_ADDRESS_CHARS,
  MAX_ATTACHMENTS_PER_ITEM,
  MAX_CONTENT_TYPE_CHARS,
  MAX_DETAIL_CHARS,
  MAX_FILENAME_CHARS,
  MAX_IN_REPLY_TO,
  MAX_MAILBOXES_PER_ITEM,
  MAX_MESSAGE_ID_CHARS,
  MAX_NAME_CHARS,
  MAX_NOTE_CHARS,
  MAX_NOTES,
  MAX_PARTIES_PER_ROLE,
  MAX_REFERENCES,
  MAX_SUBJECT_CHARS,
  MAX_TRACKING_TOKEN_CHARS,
  MIN_ADDRESS_CHARS,
} from './wire.js';

export { MAX_PARTIES_PER_ROLE };

/**
 * Inline budgets (UTF-8 bytes). An item that does not fit a queue message travels as a reference
 * (src/edge/enqueue.ts), so these only bound what central stores in D1: a longer body is held in
 * the region whole and referenced (`textRef`), with its beginning inline; more than 1000 To or Cc
 * recipients, or more than 100 routed mailboxes, are held in the region whole (`partiesRef`). Every
 * other field is fitted to the wire schema (display names cut, impossible addresses and Message-IDs
 * left out, attachments beyond 500 left in the raw copy), and each cut is said in the item's
 * `notes`. Without a regional store (a promotion at central) the body is cut with a visible marker
 * and the lists at their limits.
 */
export const TEXT_INLINE_BYTES = 256 * 1024;
const INLINE_ATTACHMENT_BUDGET = 48 * 1024;
const TRUNCATED = '\n[… truncated]';
const ELLIPSIS = '…';
const encoder = new TextEncoder();

export interface RegionalStore {
  region: string;
  put(
    key: string,
    value: Uint8Array | string,
    meta: { contentType: string; contentDisposition?: string; custom?: Record<string, string> },
  ): Promise<void>;
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
 * (the raw message `.eml`, attachments `/att/<n>`, a held body `.txt` — those of the i-th
 * message forwarded as an attachment under `/w<i>/att/<n>` and `/w<i>.txt` — held parties
 * `.parties.json`), so the cron expires a deployment's copies by day prefix (raw-expiry.ts). A
 * message is bound to one deployment by its envelope recipient; a copy several deployments
 * reference (one raw copy for an inbound request's recipients, SharedRawCopy) goes under
 * `raw/_shared/`, which never expires (`_` is not in deployment ids).
 */
export function copyPrefix(deployments: string[], copyId: string, now: number): string {
  const owners = [...new Set(deployments)];
  const owner = owners.length === 1 ? owners[0] : SHARED_OWNER;
  return `raw/${owner}/${new Date(now).toISOString().slice(0, 10)}/${copyId}`;
}

export const SHARED_OWNER = '_shared';

/**
 * One raw copy for every item built from the same received bytes in one invocation: its key is
 * `copyPrefix(deployments, copyId)` + `.eml`, so its owner is the one deployment whose items will
 * reference it, or `_shared` when several will (raw-expiry.ts never deletes those: no single
 * deployment's retention may remove what another still references). `ref` is set once stored.
 */
export interface SharedRawCopy {
  /** Every deployment whose items will reference the copy. */
  deployments: string[];
  copyId: string;
  /** Each message's stored raw copy (the outer one, wrapped ones), once stored. */
  refs?: Map<string, { region: string; key: string; size: number }>;
  /** Each message's parsed content (the outer one, wrapped ones), once parsed and stored. */
  messages?: Map<string, MessageContent>;
}

/** How many more R2 puts one invocation may spend on attachments (the edge's subrequest budget). */
export interface PutBudget {
  remaining: number;
}

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
  /**
   * The raw copy every item of the caller's invocation references (the messages of one forward, a
   * message's envelope recipients): stored by the first build, referenced by the rest. Absent: this
   * build stores its own under `copyId`.
   */
  rawCopy?: SharedRawCopy;
  /**
   * Attachment puts left to the caller's invocation, shared by every message it stores (wrapped
   * messages, recipients). Attachments beyond it are listed without a reference: the raw copy has
   * them. Absent: no limit.
   */
  attachmentPuts?: PutBudget;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** `name` cut to `MAX_NAME_CHARS` with an ellipsis that says so, never inside a surrogate pair. */
function cutName(name: string): string {
  let end = MAX_NAME_CHARS - ELLIPSIS.length;
  const last = name.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return name.slice(0, end) + ELLIPSIS;
}

/** What fitting the parties to the wire schema cost, for the notes. */
interface PartyCuts {
  names: number;
  tooLong: number;
  tooShort: number;
}

/**
 * An address as the wire takes it: a display name over `MAX_NAME_CHARS` is cut; an address over
 * `MAX_ADDRESS_CHARS` cannot be a mailbox (RFC 5321 §4.5.3.1.1–2: local part 64, domain 255) and is
 * left out, like one too short to be one (the raw copy keeps both).
 */
function fitAddress(a: MailAddress, cuts: PartyCuts): MailAddress | undefined {
  if (a.address.length > MAX_ADDRESS_CHARS) {
    cuts.tooLong++;
    return undefined;
  }
  if (a.address.length < MIN_ADDRESS_CHARS) {
    cuts.tooShort++;
    return undefined;
  }
  if (a.name === undefined) return { address: a.address };
  if (a.name.length <= MAX_NAME_CHARS) return { address: a.address, name: a.name };
  cuts.names++;
  return { address: a.address, name: cutName(a.name) };
}

function fitAddresses(list: MailAddress[], cuts: PartyCuts): MailAddress[] {
  const out: MailAddress[] = [];
  for (const a of list) {
    if (out.length === MAX_PARTIES_PER_ROLE) break;
    const fitted = fitAddress(a, cuts);
    if (fitted) out.push(fitted);
  }
  return out;
}

function partyNotes(cuts: PartyCuts): string[] {
  const notes: string[] = [];
  if (cuts.names)
    notes.push(`${plural(cuts.names, 'display name', 'display names')} cut to ${MAX_NAME_CHARS} characters`);
  if (cuts.tooLong)
    notes.push(
      `${plural(cuts.tooLong, 'address', 'addresses')} over ${MAX_ADDRESS_CHARS} characters left out (RFC 5321 §4.5.3.1: no mailbox is that long); the raw copy has ${cuts.tooLong === 1 ? 'it' : 'them'}`,
    );
  if (cuts.tooShort)
    notes.push(
      `${plural(cuts.tooShort, 'address', 'addresses')} under ${MIN_ADDRESS_CHARS} characters left out; the raw copy has ${cuts.tooShort === 1 ? 'it' : 'them'}`,
    );
  return notes;
}

/** Message-IDs that fit the wire, at most `max`; the notes say what was left out. */
function fitMessageIds(ids: string[], max: number, header: string, notes: string[]): string[] {
  const fitting = ids.filter((id) => id.length > 0 && id.length <= MAX_MESSAGE_ID_CHARS);
  if (fitting.length < ids.length)
    notes.push(
      `${plural(ids.length - fitting.length, 'Message-ID', 'Message-IDs')} over ${MAX_MESSAGE_ID_CHARS} characters left out of ${header}`,
    );
  if (fitting.length > max) notes.push(`${header}: the first ${max} of ${fitting.length} Message-IDs listed`);
  return fitting.slice(0, max);
}

type BlobRef = { region: string; key: string; size: number };

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

/**
 * What one message's full parse leaves for its items, whatever their targets and recipients: its
 * hash, its attachments (stored in the region, the few small enough to inline kept as base64), its
 * body (inline beginning, the whole held in the region) and what that cost, in notes. Kept per
 * message in a SharedRawCopy so an inbound request's recipients parse and store it once.
 */
interface MessageContent {
  contentHash: string;
  bodyUnparsed?: string;
  attachments: IngestItem['attachments'];
  /** Base64 of the attachments a deployment with the `inline` policy carries (greedy, in order). */
  inline: Map<number, string>;
  attachmentsLeftOut: number;
  text?: string;
  textRef?: BlobRef;
  notes: string[];
}

/** The message `facts` describes within the received bytes: the outer one, or a wrapped part. */
function messageIdentity(facts: MessageFacts): string {
  return facts.forwardedAsAttachment ? `w${facts.wrappedIndex ?? 0}` : 'm';
}

async function messageContent(
  input: BuildItemsInput,
  prefix: string,
  rawRef: BlobRef | undefined,
): Promise<MessageContent> {
  const { region, store, raw, facts } = input;
  const notes: string[] = [];
  // One after the other, not concurrently: the digest may copy its input, and the parse holds
  // the decoded attachments; overlapping them would stack both on the peak memory.
  // A wrapped message's own bytes: two messages forwarded together must not share a content hash
  // (central falls back to it to deduplicate mail without a Message-ID).
  const hashed = facts.wrappedRange ? raw.subarray(facts.wrappedRange[0], facts.wrappedRange[1]) : raw;
  const digest = await crypto.subtle.digest('SHA-256', hashed as Uint8Array<ArrayBuffer>);
  // A message postal-mime refuses (nesting or part headers over its limits, an unknown encoding)
  // refuses it on every retry: it becomes a headers-only item, the header facts being known.
  let email: Email | undefined;
  let bodyUnparsed: string | undefined;
  try {
    email = await parseOriginal(raw, facts);
  } catch (err) {
    bodyUnparsed = (err instanceof Error ? err.message : String(err)).slice(0, MAX_NOTE_CHARS);
    notes.push(
      `the body could not be parsed (${bodyUnparsed.slice(0, 150)}): headers only${rawRef ? '; the raw copy is in the region' : ''}`,
    );
  }

  // Every listed attachment is stored in the region once, whatever the number of target
  // deployments and recipients, as far as the invocation's put budget goes; the `inline` policy
  // additionally carries small ones in the item. Attachments beyond the wire's cap are only in the
  // raw copy.
  const found = email?.attachments ?? [];
  const listed = found.slice(0, MAX_ATTACHMENTS_PER_ITEM);
  const attachmentsLeftOut = found.length - listed.length;
  if (attachmentsLeftOut)
    notes.push(
      `${plural(attachmentsLeftOut, 'attachment', 'attachments')} beyond ${MAX_ATTACHMENTS_PER_ITEM} only in the raw copy`,
    );
  const bytesOf = listed.map(attachmentBytes);
  const refs = new Map<number, BlobRef>();
  const storable = store ? Math.min(listed.length, input.attachmentPuts?.remaining ?? listed.length) : 0;
  if (input.attachmentPuts) input.attachmentPuts.remaining -= storable;
  if (store && storable < listed.length)
    notes.push(
      `${plural(listed.length - storable, 'attachment', 'attachments')} not stored on ${listed.length - storable === 1 ? 'its' : 'their'} own (the invocation's subrequest budget): only in the raw copy`,
    );
  if (store)
    await Promise.all(
      listed.slice(0, storable).map(async (a, n) => {
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
  const inline = new Map<number, string>();
  let inlineBudget = INLINE_ATTACHMENT_BUDGET;
  const inlining =
    input.snapshot.egress === 'full' &&
    Object.values(input.snapshot.deployments).some((d) => d.attachmentPolicy === 'inline');
  const attachments: IngestItem['attachments'] = listed.map((a, n) => {
    const bytes = bytesOf[n] as Uint8Array;
    if (inlining && bytes.byteLength <= inlineBudget) {
      inline.set(n, base64(bytes));
      inlineBudget -= bytes.byteLength;
    }
    const ref = refs.get(n);
    return {
      ...(a.filename ? { filename: a.filename.slice(0, MAX_FILENAME_CHARS) } : {}),
      contentType: a.mimeType.slice(0, MAX_CONTENT_TYPE_CHARS),
      size: bytes.byteLength,
      ...(ref ? { ref } : {}),
    };
  });

  // A body beyond the inline budget is held in the region whole; the item carries its beginning.
  let text: string | undefined;
  let textRef: BlobRef | undefined;
  if (input.snapshot.egress === 'full' && email) {
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
  return {
    contentHash: bytesToHex(digest),
    ...(bodyUnparsed !== undefined ? { bodyUnparsed } : {}),
    attachments,
    inline,
    attachmentsLeftOut,
    ...(text !== undefined ? { text } : {}),
    ...(textRef ? { textRef } : {}),
    notes,
  };
}

export async function buildItems(input: BuildItemsInput): Promise<IngestItem[]> {
  const { region, store, raw, facts, targets, now, copyId } = input;
  const egress = input.snapshot.egress;
  // The raw message stays in the region; central gets a reference it can turn into a signed link.
  // Items of one invocation share one copy of each message (SharedRawCopy): stored by the first
  // build only, and so are its attachments and held body. Each message of a forward has its own
  // objects under the copy's prefix, its raw copy included: the wrapped message, never the
  // forwarder's wrapper (issue 19, item 9).
  const shared = input.rawCopy;
  const prefix = copyPrefix(
    targets.map((t) => t.deployment),
    copyId,
    now,
  );
  const sharedPrefix = shared ? copyPrefix(shared.deployments, shared.copyId, now) : prefix;
  const identity = messageIdentity(facts);
  const messagePrefix = identity === 'm' ? sharedPrefix : `${sharedPrefix}/${identity}`;
  let rawRef: IngestItem['raw'] = shared?.refs?.get(identity);
  if (store && !rawRef) {
    const key = `${messagePrefix}.eml`;
    const copy = rawCopyBytes(raw, facts);
    await store.put(key, copy, {
      contentType: 'message/rfc822',
      custom: { region, receivedAt: String(now) },
    });
    rawRef = { region, key, size: copy.byteLength };
    if (shared) {
      shared.refs ??= new Map();
      shared.refs.set(identity, rawRef);
    }
  }
  if (!store) rawRef = undefined;
  let content = shared?.messages?.get(identity);
  if (!content) {
    content = await messageContent(input, shared ? messagePrefix : prefix, rawRef);
    if (shared) {
      shared.messages ??= new Map();
      shared.messages.set(identity, content);
    }
  }
  // What this copy's items cut or hold back to fit the wire schema (issue 19): said, never silent.
  const notes: string[] = [...content.notes];
  const { contentHash, bodyUnparsed, attachmentsLeftOut, text, textRef } = content;

  const cuts: PartyCuts = { names: 0, tooLong: 0, tooShort: 0 };
  const from = facts.from ? fitAddress(facts.from, cuts) : undefined;
  const to = fitAddresses(facts.to, cuts);
  const cc = fitAddresses(facts.cc, cuts);
  notes.push(...partyNotes(cuts));
  const mailboxesOf = (t: Target) =>
    t.mailboxes
      .map((m) => m.address)
      .filter((a) => a.length >= MIN_ADDRESS_CHARS && a.length <= MAX_ADDRESS_CHARS);
  const longMailboxList = targets.some((t) => mailboxesOf(t).length > MAX_MAILBOXES_PER_ITEM);
  let partiesRef: IngestItem['partiesRef'];
  if (
    store &&
    (facts.to.length > MAX_PARTIES_PER_ROLE || facts.cc.length > MAX_PARTIES_PER_ROLE || longMailboxList)
  ) {
    const partiesKey = `${prefix}.parties.json`;
    const json = JSON.stringify({ to: facts.to, cc: facts.cc, mailboxes: targets.flatMap(mailboxesOf) });
    await store.put(partiesKey, json, { contentType: 'application/json' });
    partiesRef = { region, key: partiesKey, size: encoder.encode(json).byteLength };
  }
  const held = partiesRef ? ', every one held in the region' : '';
  for (const [role, list] of [
    ['To', facts.to],
    ['Cc', facts.cc],
  ] as const)
    if (list.length > MAX_PARTIES_PER_ROLE)
      notes.push(`${list.length} ${role} recipients: the first ${MAX_PARTIES_PER_ROLE} listed${held}`);
  const inReplyTo = fitMessageIds(facts.inReplyTo, MAX_IN_REPLY_TO, 'In-Reply-To', notes);
  const references = fitMessageIds(facts.references, MAX_REFERENCES, 'References', notes);
  if (facts.messageId && facts.messageId.length > MAX_MESSAGE_ID_CHARS)
    notes.push(`the Message-ID cut to ${MAX_MESSAGE_ID_CHARS} characters`);
  if (egress !== 'metadata' && facts.subject.length > MAX_SUBJECT_CHARS)
    notes.push(`the subject cut to ${MAX_SUBJECT_CHARS} characters`);

  const items: IngestItem[] = [];
  for (const target of targets) {
    const inline =
      egress === 'full' && input.snapshot.deployments[target.deployment]?.attachmentPolicy === 'inline';
    const attachments: IngestItem['attachments'] = content.attachments.map((a, n) => {
      const contentBase64 = inline ? content.inline.get(n) : undefined;
      return contentBase64 === undefined ? { ...a } : { ...a, contentBase64 };
    });
    // The forwarding candidates come first (classify.ts), so the mailboxes that forwarded this
    // copy are listed; each colleague's own forward brings its own.
    const mailboxes = mailboxesOf(target);
    const itemNotes = [...notes];
    if (mailboxes.length > MAX_MAILBOXES_PER_ITEM)
      itemNotes.push(
        `${mailboxes.length} routed mailboxes: the first ${MAX_MAILBOXES_PER_ITEM} listed${held}`,
      );
    const id = targets.length > 1 ? `${copyId}-${items.length}` : copyId;
    const correlation = target.correlation ?? { method: 'all' as const, detail: target.detail };
    const item: IngestItem = {
      kind: 'item',
      id,
      region,
      deployment: target.deployment,
      ...(facts.messageId ? { messageId: facts.messageId.slice(0, MAX_MESSAGE_ID_CHARS) } : {}),
      contentHash,
      receivedAt: now,
      sizeBytes: raw.byteLength,
      mailboxes: mailboxes.slice(0, MAX_MAILBOXES_PER_ITEM),
      ...(target.forwardedBy ? { forwardedBy: target.forwardedBy.slice(0, MAX_MAILBOXES_PER_ITEM) } : {}),
      reason: target.reason as IngestItem['reason'],
      correlation: { method: correlation.method, detail: correlation.detail.slice(0, MAX_DETAIL_CHARS) },
      egress,
      ...(from ? { from } : {}),
      to,
      cc,
      ...(partiesRef ? { partiesRef } : {}),
      ...(egress !== 'metadata' ? { subject: facts.subject.slice(0, MAX_SUBJECT_CHARS) } : {}),
      ...(facts.date ? { date: facts.date } : {}),
      inReplyTo,
      references,
      // A token longer than any format allows was never issued: it could not match at central.
      ...(target.trackingToken && target.trackingToken.length <= MAX_TRACKING_TOKEN_CHARS
        ? { trackingToken: target.trackingToken }
        : {}),
      ...(text !== undefined ? { text } : {}),
      ...(textRef ? { textRef } : {}),
      attachments,
      ...(attachmentsLeftOut ? { attachmentsLeftOut } : {}),
      ...(bodyUnparsed !== undefined ? { bodyUnparsed } : {}),
      ...(itemNotes.length
        ? { notes: [...new Set(itemNotes)].slice(0, MAX_NOTES).map((n) => n.slice(0, MAX_NOTE_CHARS)) }
        : {}),
      ...(rawRef ? { raw: rawRef } : {}),
    };
    // The schema central validates with: an item it would refuse must never be answered 2xx.
    const checked = ingestItem.safeParse(item);
    if (!checked.success)
      throw new Error(
        `ingest item ${id} does not fit the wire schema: ${checked.error.issues
          .slice(0, 5)
          .map((i) => `${i.path.join('.')}: ${i.message}`)
          .join('; ')}`,
      );
    items.push(item);
  }
  return items;
}
