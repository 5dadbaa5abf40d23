// The edge → central wire format. Both sides validate with these same schemas.
import { z } from 'zod';
import { normaliseMessageId } from './keyed-hash.js';
import { CORRELATION_METHODS, EGRESS_POLICIES, TOSSED_REASONS, TRACKED_REASONS } from './types.js';

/** One edge → central batch (`POST /api/v1/ingest`): request bytes, items, receipts. */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;
export const MAX_ITEMS_PER_BATCH = 500;
export const MAX_RECEIPTS_PER_BATCH = MAX_ITEMS_PER_BATCH * 4;

// What one item may hold. The edge fits every item to these before it answers the sender
// (src/core/ingest-item.ts): an item central refuses would be a dead letter that no replay fixes.
/** Characters of a display name (what D1 and the dashboard keep of it). */
export const MAX_NAME_CHARS = 500;
/** Characters of an address: local part 64 + `@` + domain 255 (RFC 5321 §4.5.3.1.1–2), with room. */
export const MAX_ADDRESS_CHARS = 320;
/** The shortest address that can be one (`a@b`). */
export const MIN_ADDRESS_CHARS = 3;
/** Routed mailboxes named on one item; the whole list of a longer one stays in the region. */
export const MAX_MAILBOXES_PER_ITEM = 100;
/** To or Cc recipients listed on one item; a longer list stays in the region whole. */
export const MAX_PARTIES_PER_ROLE = 1000;
/** Attachments listed on one item; the rest stay in the raw copy, counted. */
export const MAX_ATTACHMENTS_PER_ITEM = 500;
/** A Message-ID is at most a header line (RFC 5322 §2.1.1: 998 characters). */
export const MAX_MESSAGE_ID_CHARS = 998;
export const MAX_IN_REPLY_TO = 100;
export const MAX_REFERENCES = 500;
export const MAX_SUBJECT_CHARS = 10_000;
export const MAX_DETAIL_CHARS = 2000;
export const MAX_TRACKING_TOKEN_CHARS = 64;
export const MAX_FILENAME_CHARS = 1000;
export const MAX_CONTENT_TYPE_CHARS = 255;
/** Notes on what the edge cut or held back: a few short sentences. */
export const MAX_NOTES = 20;
export const MAX_NOTE_CHARS = 300;

export const wireAddress = z.object({
  address: z.string().min(MIN_ADDRESS_CHARS).max(MAX_ADDRESS_CHARS),
  name: z.string().max(MAX_NAME_CHARS).optional(),
});

export const blobRef = z.object({
  region: z.string().min(1).max(32),
  key: z.string().min(1).max(512),
  size: z.number().int().nonnegative(),
});

export const wireAttachment = z.object({
  filename: z.string().max(MAX_FILENAME_CHARS).optional(),
  contentType: z.string().max(MAX_CONTENT_TYPE_CHARS),
  size: z.number().int().nonnegative(),
  /** Where the attachment lives in its region (attachment policy `regional`). */
  ref: blobRef.optional(),
  /** Base64 content (attachment policy `inline`, and only when it fits the queue message limit). */
  contentBase64: z.string().optional(),
});

/**
 * A referenced Message-ID (In-Reply-To / References), normalised as it is parsed: central compares
 * these with registered outbound Message-IDs, which are stored normalised, and an item may come
 * from any signed sender of the wire format, not only from src/core's header parser.
 */
const referencedMessageId = z.string().max(MAX_MESSAGE_ID_CHARS).transform(normaliseMessageId);

export const ingestItem = z.object({
  kind: z.literal('item'),
  /** Edge-generated id of this copy (unique per edge receipt). */
  id: z.string().min(8).max(64),
  region: z.string().min(1).max(32),
  deployment: z.string().min(1).max(64),
  /** Normalised Message-ID (no angle brackets), when the message has one. */
  messageId: z.string().min(1).max(MAX_MESSAGE_ID_CHARS).optional(),
  /** SHA-256 (hex) of the raw message: the dedupe key when there is no Message-ID. */
  contentHash: z.string().regex(/^[0-9a-f]{64}$/),
  receivedAt: z.number().int().positive(),
  sizeBytes: z.number().int().nonnegative(),
  /** Routed mailboxes that forwarded this copy (plain addresses: CRM-bound mail only). */
  mailboxes: z
    .array(z.string().min(MIN_ADDRESS_CHARS).max(MAX_ADDRESS_CHARS))
    .min(1)
    .max(MAX_MAILBOXES_PER_ITEM),
  /**
   * The mailboxes (of `mailboxes`) whose forward this copy is: only their users get links to its
   * raw copy (docs/decisions.md, "Raw copies per user"). Absent: none known.
   */
  forwardedBy: z
    .array(z.string().min(MIN_ADDRESS_CHARS).max(MAX_ADDRESS_CHARS))
    .max(MAX_MAILBOXES_PER_ITEM)
    .optional(),
  reason: z.enum(TRACKED_REASONS),
  correlation: z.object({
    method: z.enum(CORRELATION_METHODS),
    detail: z.string().max(MAX_DETAIL_CHARS),
  }),
  egress: z.enum(EGRESS_POLICIES),
  from: wireAddress.optional(),
  to: z.array(wireAddress).max(MAX_PARTIES_PER_ROLE),
  cc: z.array(wireAddress).max(MAX_PARTIES_PER_ROLE),
  subject: z.string().max(MAX_SUBJECT_CHARS).optional(),
  date: z.number().int().optional(),
  inReplyTo: z.array(referencedMessageId).max(MAX_IN_REPLY_TO).optional(),
  references: z.array(referencedMessageId).max(MAX_REFERENCES).optional(),
  trackingToken: z.string().max(MAX_TRACKING_TOKEN_CHARS).optional(),
  text: z.string().optional(),
  html: z.string().optional(),
  attachments: z.array(wireAttachment).max(MAX_ATTACHMENTS_PER_ITEM),
  /** Attachments beyond `MAX_ATTACHMENTS_PER_ITEM`: not listed, only in the raw copy. */
  attachmentsLeftOut: z.number().int().positive().optional(),
  /** Why the full parse failed: a headers-only item (no body, no attachments; the raw copy has them). */
  bodyUnparsed: z.string().max(MAX_NOTE_CHARS).optional(),
  /** What the edge cut or held back so that the item fits this schema, in words (never silent). */
  notes: z.array(z.string().max(MAX_NOTE_CHARS)).max(MAX_NOTES).optional(),
  raw: blobRef.optional(),
  /** The whole text body, held in the region when it exceeds the inline budget; `text` is then its beginning. */
  textRef: blobRef.optional(),
  /**
   * Every To/Cc recipient and routed mailbox (JSON `{ to, cc, mailboxes }`), held in the region when
   * there are more than `MAX_PARTIES_PER_ROLE` of one kind or more than `MAX_MAILBOXES_PER_ITEM` mailboxes.
   */
  partiesRef: blobRef.optional(),
});
export type IngestItem = z.infer<typeof ingestItem>;

export const receipt = z.object({
  kind: z.literal('receipt'),
  id: z.string().min(8).max(64),
  region: z.string().min(1).max(32),
  reason: z.enum([...TOSSED_REASONS, ...TRACKED_REASONS]),
  detail: z.string().max(2000).optional(),
  deployment: z.string().max(64).optional(),
  mailboxHash: z.string().max(64).optional(),
  messageIdHash: z.string().max(64).optional(),
  sizeBytes: z.number().int().nonnegative(),
  at: z.number().int().positive(),
});
export type Receipt = z.infer<typeof receipt>;

export const counters = z.object({
  minute: z.number().int().nonnegative(),
  received: z.number().int().nonnegative(),
  receivedBytes: z.number().int().nonnegative(),
  crmBound: z.number().int().nonnegative(),
  crmBoundBytes: z.number().int().nonnegative(),
  tossed: z.record(z.string(), z.number().int().nonnegative()),
  bytesSent: z.number().int().nonnegative(),
});
export type Counters = z.infer<typeof counters>;

/** Kinds of cross-region traffic (design §6, `crossRegion.byKind`). */
export const CROSS_REGION_KINDS = ['ingest', 'snapshot', 'notice', 'heartbeat', 'spool', 'canary'] as const;
export type CrossRegionKind = (typeof CROSS_REGION_KINDS)[number];
const byteCount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** Bytes per kind and direction an edge counted since its last heartbeat (kinds it has none of left out). */
export const crossRegionCounts = z.partialRecord(
  z.enum(CROSS_REGION_KINDS),
  z.object({ toCentral: byteCount, fromCentral: byteCount }),
);

export const heartbeat = z.object({
  snapshotVersion: z.number().int().nonnegative().optional(),
  queueDepth: z.number().int().nonnegative().optional(),
  edgeUrl: z.string().url().optional(),
  crossRegion: crossRegionCounts.optional(),
  /**
   * The id of this `crossRegion` report: an edge whose batch got no answer posts the same report
   * again under the same id, and central counts an id once.
   */
  crossRegionId: z.string().min(8).max(64).optional(),
});

/** A verified canary (src/core/canary.ts) on its way to central: its marker, never its message. */
export const canaryReport = z.object({
  kind: z.literal('canary'),
  id: z.string().uuid(),
  region: z.string().min(1).max(32),
  sentAt: z.number().int().positive(),
  signature: z.string().regex(/^[0-9a-f]{64}$/),
});
export type CanaryReport = z.infer<typeof canaryReport>;

export const deadLetterReport = z.object({
  id: z.string().min(8).max(64),
  item: z.unknown(),
  error: z.string().max(2000),
  attempts: z.number().int().nonnegative(),
});

export type DeadLetterReport = z.infer<typeof deadLetterReport>;

export const ingestBatch = z.object({
  batchId: z.string().min(8).max(64),
  region: z.string().min(1).max(32),
  sentAt: z.number().int().positive(),
  /** Items are validated one by one so that one poison item does not sink its batch. */
  items: z.array(z.unknown()).max(MAX_ITEMS_PER_BATCH),
  receipts: z.array(receipt).max(MAX_RECEIPTS_PER_BATCH),
  counters: z.array(counters).max(1000).optional(),
  heartbeat: heartbeat.optional(),
  deadLetters: z.array(deadLetterReport).max(MAX_ITEMS_PER_BATCH).optional(),
  canaries: z.array(canaryReport).max(MAX_ITEMS_PER_BATCH).optional(),
});
export type IngestBatch = z.infer<typeof ingestBatch>;

export const itemResult = z.object({
  id: z.string(),
  status: z.enum(['accepted', 'merged', 'rejected']),
  reason: z.string().optional(),
  activityId: z.string().optional(),
});
export type ItemResult = z.infer<typeof itemResult>;

export const ingestResponse = z.object({
  batchId: z.string(),
  snapshotVersion: z.number().int().nonnegative(),
  results: z.array(itemResult),
  receipts: z.number().int().nonnegative(),
});
export type IngestResponse = z.infer<typeof ingestResponse>;

/** Header names of the signed edge → central requests. */
export const SIGNATURE_HEADERS = {
  region: 'x-edge-region',
  timestamp: 'x-edge-timestamp',
  signature: 'x-edge-signature',
} as const;

/** Maximum accepted clock skew for signed requests. */
export const SIGNATURE_MAX_SKEW_MS = 5 * 60 * 1000;
