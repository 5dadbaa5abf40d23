// The single source of truth for central's D1 tables. Migrations in /migrations are generated
// from this file by drizzle-kit (`npm run db:generate`); `npm run check:migrations` fails on drift.
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

const now = sql`(cast(unixepoch('subsec') * 1000 as integer))`;

/** A CRM deployment (organisation) served by this router. */
export const deployments = sqliteTable(
  'deployments',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    tokenPrefix: text('token_prefix').notNull().default('CRM:'),
    tokenBase: integer('token_base').notNull(),
    tokenUserDigits: integer('token_user_digits').notNull().default(3),
    tokenCounterDigits: integer('token_counter_digits').notNull().default(3),
    webhookUrl: text('webhook_url'),
    maxMessageBytes: integer('max_message_bytes').notNull().default(26214400),
    /** `regional`: attachments stay in the region's R2; `inline`: sent to central with the item. */
    attachmentPolicy: text('attachment_policy').notNull().default('regional'),
    smartMatch: integer('smart_match', { mode: 'boolean' }).notNull().default(false),
    createdAt: integer('created_at').notNull().default(now),
    updatedAt: integer('updated_at').notNull().default(now),
  },
  (t) => [uniqueIndex('deployments_token_base').on(t.tokenBase)],
);

/** A region with its own edge worker. */
export const regions = sqliteTable('regions', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  rulesEnabled: integer('rules_enabled', { mode: 'boolean' }).notNull().default(true),
  egress: text('egress').notNull().default('metadata+subject'),
  /** Bumped on every change that affects this region's snapshot; the snapshot is rebuilt lazily. */
  configVersion: integer('config_version').notNull().default(1),
  /** Edge's public URL (reported by its heartbeat), used for signed raw-message links. */
  edgeUrl: text('edge_url'),
  lastHeartbeatAt: integer('last_heartbeat_at'),
  edgeSnapshotVersion: integer('edge_snapshot_version'),
  queueDepth: integer('queue_depth'),
  createdAt: integer('created_at').notNull().default(now),
  updatedAt: integer('updated_at').notNull().default(now),
});

/** A routed mailbox: mail forwarded by this mailbox is classified by its region's edge. */
export const mailboxes = sqliteTable(
  'mailboxes',
  {
    address: text('address').primaryKey(),
    region: text('region')
      .notNull()
      .references(() => regions.id),
    deployment: text('deployment')
      .notNull()
      .references(() => deployments.id),
    userId: text('user_id').notNull(),
    filter: text('filter').notNull().default('email-enabled'),
    createdAt: integer('created_at').notNull().default(now),
    updatedAt: integer('updated_at').notNull().default(now),
  },
  (t) => [index('mailboxes_region').on(t.region), index('mailboxes_deployment').on(t.deployment)],
);

/** CRM records (users, contacts, accounts, leads) known to a deployment. */
export const records = sqliteTable(
  'records',
  {
    deployment: text('deployment').notNull(),
    type: text('type').notNull(),
    id: text('id').notNull(),
    name: text('name'),
    emails: text('emails', { mode: 'json' }).$type<string[]>().notNull(),
    emailEnabled: integer('email_enabled', { mode: 'boolean' }).notNull().default(true),
    updatedAt: integer('updated_at').notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.deployment, t.type, t.id] })],
);

/** One row per (record, address): exact lookups for party resolution and false-positive checks. */
export const recordEmails = sqliteTable(
  'record_emails',
  {
    deployment: text('deployment').notNull(),
    address: text('address').notNull(),
    type: text('type').notNull(),
    recordId: text('record_id').notNull(),
    emailEnabled: integer('email_enabled', { mode: 'boolean' }).notNull().default(true),
  },
  (t) => [
    primaryKey({ columns: [t.deployment, t.type, t.recordId, t.address] }),
    index('record_emails_address').on(t.deployment, t.address),
  ],
);

/** Addresses (`a@x.com`) and domains (`@x.com`) whose mail is never tracked. */
export const suppressions = sqliteTable(
  'suppressions',
  {
    deployment: text('deployment').notNull(),
    entry: text('entry').notNull(),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.deployment, t.entry] })],
);

/** Per-user tracking-token state: the user's number and the last counter issued. */
export const userCounters = sqliteTable(
  'user_counters',
  {
    deployment: text('deployment').notNull(),
    userId: text('user_id').notNull(),
    userNumber: integer('user_number').notNull(),
    counter: integer('counter').notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.deployment, t.userId] }),
    uniqueIndex('user_counters_number').on(t.deployment, t.userNumber),
  ],
);

/** Outbound CRM mail registered for reply correlation. */
export const outbound = sqliteTable(
  'outbound',
  {
    deployment: text('deployment').notNull(),
    messageId: text('message_id').notNull(),
    userId: text('user_id').notNull(),
    subject: text('subject'),
    to: text('to', { mode: 'json' }).$type<string[]>(),
    trackingToken: text('tracking_token').notNull(),
    threadIndex: text('thread_index'),
    regardingType: text('regarding_type'),
    regardingId: text('regarding_id'),
    createdAt: integer('created_at').notNull().default(now),
  },
  (t) => [
    primaryKey({ columns: [t.deployment, t.messageId] }),
    index('outbound_token').on(t.deployment, t.trackingToken),
  ],
);

export type Party = {
  role: 'from' | 'to' | 'cc';
  address: string;
  name?: string;
  recordType?: string;
  recordId?: string;
};

/** A tracked e-mail: one per (deployment, normalised Message-ID), however many copies arrived. */
export const activities = sqliteTable(
  'activities',
  {
    id: text('id').primaryKey(),
    deployment: text('deployment').notNull(),
    /** Normalised Message-ID, or `sha256:<hex>` of the content when the message has none. */
    dedupeKey: text('dedupe_key').notNull(),
    messageId: text('message_id'),
    subject: text('subject'),
    fromAddress: text('from_address'),
    fromName: text('from_name'),
    parties: text('parties', { mode: 'json' }).$type<Party[]>().notNull(),
    regardingType: text('regarding_type'),
    regardingId: text('regarding_id'),
    reason: text('reason').notNull(),
    correlationMethod: text('correlation_method').notNull(),
    correlationDetail: text('correlation_detail').notNull(),
    mailboxes: text('mailboxes', { mode: 'json' }).$type<string[]>().notNull(),
    regions: text('regions', { mode: 'json' }).$type<string[]>().notNull(),
    egress: text('egress').notNull(),
    bodyText: text('body_text'),
    /** Where the raw message and attachments live: `{ region, key, attachments: [...] }[]`. */
    content: text('content', { mode: 'json' }).$type<unknown>(),
    sizeBytes: integer('size_bytes').notNull().default(0),
    receivedAt: integer('received_at').notNull(),
    ingestedAt: integer('ingested_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    /** Monotonic sequence for stable cursors. */
    seq: integer('seq').notNull(),
  },
  (t) => [
    uniqueIndex('activities_dedupe').on(t.deployment, t.dedupeKey),
    index('activities_message_id').on(t.messageId),
    uniqueIndex('activities_seq').on(t.seq),
  ],
);

/** Content-free receipts for mail that an edge tossed or rejected. */
export const dispositions = sqliteTable(
  'dispositions',
  {
    id: text('id').primaryKey(),
    region: text('region').notNull(),
    reason: text('reason').notNull(),
    detail: text('detail'),
    mailbox: text('mailbox'),
    deployment: text('deployment'),
    messageIdHash: text('message_id_hash'),
    mailboxHash: text('mailbox_hash'),
    sizeBytes: integer('size_bytes').notNull().default(0),
    at: integer('at').notNull(),
  },
  (t) => [
    index('dispositions_message').on(t.messageIdHash),
    index('dispositions_at').on(t.at),
    index('dispositions_region').on(t.region, t.reason),
  ],
);

/** Batch ids already ingested (replay protection). */
export const ingestBatches = sqliteTable('ingest_batches', {
  id: text('id').primaryKey(),
  region: text('region').notNull(),
  receivedAt: integer('received_at').notNull(),
  items: integer('items').notNull().default(0),
});

/** Per-region, per-minute counters reported by the edges (summed on upsert). */
export const edgeCounters = sqliteTable(
  'edge_counters',
  {
    region: text('region').notNull(),
    minute: integer('minute').notNull(),
    received: integer('received').notNull().default(0),
    receivedBytes: integer('received_bytes').notNull().default(0),
    crmBound: integer('crm_bound').notNull().default(0),
    crmBoundBytes: integer('crm_bound_bytes').notNull().default(0),
    tossed: text('tossed', { mode: 'json' }).$type<Record<string, number>>().notNull(),
    bytesSent: integer('bytes_sent').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.region, t.minute] })],
);

/** Receipt (at the edge) → commit (at central) latency, one row per committed item. */
export const latencySamples = sqliteTable(
  'latency_samples',
  {
    region: text('region').notNull(),
    at: integer('at').notNull(),
    ms: integer('ms').notNull(),
  },
  (t) => [index('latency_samples_at').on(t.region, t.at)],
);

/** Items that could not be ingested; replayable from the dashboard or the API. */
export const deadLetters = sqliteTable(
  'dead_letters',
  {
    id: text('id').primaryKey(),
    region: text('region').notNull(),
    deployment: text('deployment'),
    item: text('item', { mode: 'json' }).$type<unknown>().notNull(),
    error: text('error').notNull(),
    attempts: integer('attempts').notNull().default(1),
    createdAt: integer('created_at').notNull(),
    replayedAt: integer('replayed_at'),
    replayResult: text('replay_result'),
  },
  (t) => [index('dead_letters_created').on(t.createdAt)],
);

/** API tokens, stored as SHA-256 hashes; the plaintext is shown once at creation. */
export const apiTokens = sqliteTable('api_tokens', {
  id: text('id').primaryKey(),
  hash: text('hash').notNull().unique(),
  scope: text('scope').notNull(),
  label: text('label'),
  createdAt: integer('created_at').notNull().default(now),
  revokedAt: integer('revoked_at'),
  lastUsedAt: integer('last_used_at'),
});

/** Router-wide settings (e.g. the snapshot hash key, seeded marker). */
export const settings = sqliteTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

/** Onward deliveries to CRM webhooks. */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    activityId: text('activity_id').notNull(),
    deployment: text('deployment').notNull(),
    status: text('status').notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('webhook_deliveries_activity').on(t.activityId)],
);

/**
 * The webhook outbox: one row per onward delivery of an activity to its deployment's CRM, written
 * in the same D1 transaction as the activity (ingest and promotion), drained by the webhook queue
 * (first try) and the cron (retries with backoff for 4 days). `state`: pending | delivered | failed.
 */
export const webhookOutbox = sqliteTable(
  'webhook_outbox',
  {
    id: text('id').primaryKey(),
    activityId: text('activity_id').notNull(),
    deployment: text('deployment').notNull(),
    event: text('event').notNull(),
    state: text('state').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    /** A claimed row is not picked up by another drain before this time (ms). */
    leaseUntil: integer('lease_until'),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    deliveredAt: integer('delivered_at'),
  },
  (t) => [
    index('webhook_outbox_due').on(t.state, t.nextAttemptAt),
    index('webhook_outbox_activity').on(t.activityId),
    index('webhook_outbox_deployment').on(t.deployment, t.state),
  ],
);
