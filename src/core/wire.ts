// The edge → central wire format. Both sides validate with these same schemas.
import { z } from 'zod';
import { CORRELATION_METHODS, EGRESS_POLICIES, TOSSED_REASONS, TRACKED_REASONS } from './types.js';

export const MAX_BATCH_BYTES = 4 * 1024 * 1024;
export const MAX_ITEMS_PER_BATCH = 500;

export const wireAddress = z.object({
  address: z.string().min(3).max(320),
  name: z.string().max(500).optional(),
});

export const blobRef = z.object({
  region: z.string().min(1).max(32),
  key: z.string().min(1).max(512),
  size: z.number().int().nonnegative(),
});

export const wireAttachment = z.object({
  filename: z.string().max(1000).optional(),
  contentType: z.string().max(255),
  size: z.number().int().nonnegative(),
  /** Where the attachment lives in its region (attachment policy `regional`). */
  ref: blobRef.optional(),
  /** Base64 content (attachment policy `inline`, and only when it fits the queue message limit). */
  contentBase64: z.string().optional(),
});

export const ingestItem = z.object({
  kind: z.literal('item'),
  /** Edge-generated id of this copy (unique per edge receipt). */
  id: z.string().min(8).max(64),
  region: z.string().min(1).max(32),
  deployment: z.string().min(1).max(64),
  /** Normalised Message-ID (no angle brackets), when the message has one. */
  messageId: z.string().min(1).max(998).optional(),
  /** SHA-256 (hex) of the raw message: the dedupe key when there is no Message-ID. */
  contentHash: z.string().regex(/^[0-9a-f]{64}$/),
  receivedAt: z.number().int().positive(),
  sizeBytes: z.number().int().nonnegative(),
  /** Routed mailboxes that forwarded this copy (plain addresses: CRM-bound mail only). */
  mailboxes: z.array(z.string().min(3).max(320)).min(1).max(100),
  /**
   * The mailboxes (of `mailboxes`) whose forward this copy is: only their users get links to its
   * raw copy (docs/decisions.md, "Raw copies per user"). Absent: none known.
   */
  forwardedBy: z.array(z.string().min(3).max(320)).max(100).optional(),
  reason: z.enum(TRACKED_REASONS),
  correlation: z.object({ method: z.enum(CORRELATION_METHODS), detail: z.string().max(2000) }),
  egress: z.enum(EGRESS_POLICIES),
  from: wireAddress.optional(),
  to: z.array(wireAddress).max(1000),
  cc: z.array(wireAddress).max(1000),
  subject: z.string().max(10000).optional(),
  date: z.number().int().optional(),
  inReplyTo: z.array(z.string().max(998)).max(100).optional(),
  references: z.array(z.string().max(998)).max(500).optional(),
  trackingToken: z.string().max(64).optional(),
  text: z.string().optional(),
  html: z.string().optional(),
  attachments: z.array(wireAttachment).max(500),
  raw: blobRef.optional(),
  /** The whole text body, held in the region when it exceeds the inline budget; `text` is then its beginning. */
  textRef: blobRef.optional(),
  /** Every To/Cc recipient (JSON `{ to, cc }`), held in the region when there are more than 1000 of one kind. */
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

export const heartbeat = z.object({
  snapshotVersion: z.number().int().nonnegative().optional(),
  queueDepth: z.number().int().nonnegative().optional(),
  edgeUrl: z.string().url().optional(),
});

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
  receipts: z.array(receipt).max(MAX_ITEMS_PER_BATCH * 4),
  counters: z.array(counters).max(1000).optional(),
  heartbeat: heartbeat.optional(),
  deadLetters: z.array(deadLetterReport).max(MAX_ITEMS_PER_BATCH).optional(),
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
