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
    /** Generation of the forwarding addresses (derived per region from it); rotation bumps it. */
    forwardingGeneration: integer('forwarding_generation').notNull().default(0),
    /** When the forwarding addresses were last rotated: the previous generation works for 7 days more. */
    forwardingRotatedAt: integer('forwarding_rotated_at'),
    /** Generation of the webhook signing secret (derived from it); rotation bumps it. */
    webhookSecretGeneration: integer('webhook_secret_generation').notNull().default(0),
    /** Days activities, dispositions and raw messages are kept; null keeps them for ever. */
    retentionDays: integer('retention_days'),
    createdAt: integer('created_at').notNull().default(now),
    updatedAt: integer('updated_at').notNull().default(now),
  },
  (t) => [uniqueIndex('deployments_token_base').on(t.tokenBase)],
);

/** Mail domains owned by a deployment: its tokens may route addresses in them and their subdomains. */
export const deploymentDomains = sqliteTable(
  'deployment_domains',
  {
    /** Lower-case domain; one deployment at most (the primary key is the rule). */
    domain: text('domain').primaryKey(),
    deployment: text('deployment')
      .notNull()
      .references(() => deployments.id),
  },
  (t) => [index('deployment_domains_deployment').on(t.deployment)],
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
  /** The assembled snapshot in R2 (`SNAPSHOTS` bucket): its key, ETag, config version and size. */
  publishedKey: text('published_key'),
  publishedEtag: text('published_etag'),
  publishedVersion: integer('published_version'),
  publishedBytes: integer('published_bytes'),
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
    /**
     * False once deactivated: the record stays (its history), but its addresses leave record_emails,
     * so it no longer matches at the edge nor in party resolution. Writing it again reactivates it.
     */
    active: integer('active', { mode: 'boolean' }).notNull().default(true),
    /** Id of the last full sync that carried this record (`record_syncs`); null: never synced. */
    syncId: text('sync_id'),
    updatedAt: integer('updated_at').notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.deployment, t.type, t.id] })],
);

/**
 * Rows per deployment and kind (`record:<type>`, `activity`), kept by triggers on `records` and
 * `activities` (migration 0006): the records route and the Deployments page read counts here
 * instead of counting 10 M rows.
 */
export const rowCounts = sqliteTable(
  'row_counts',
  {
    deployment: text('deployment').notNull(),
    kind: text('kind').notNull(),
    n: integer('n').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.deployment, t.kind] })],
);

/**
 * Full syncs of a deployment's records (a nightly CRM export): records posted with `?sync=<id>`
 * are stamped with the id; completing the sync removes every record not stamped with it. A sync
 * that never completes removes nothing.
 */
export const recordSyncs = sqliteTable(
  'record_syncs',
  {
    id: text('id').primaryKey(),
    deployment: text('deployment').notNull(),
    status: text('status').notNull().default('open'),
    received: integer('received').notNull().default(0),
    removed: integer('removed').notNull().default(0),
    startedAt: integer('started_at').notNull(),
    completedAt: integer('completed_at'),
  },
  (t) => [index('record_syncs_deployment').on(t.deployment, t.startedAt)],
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
    /**
     * keyedHash64 of the address (unsigned high and low words), computed once at write: snapshot
     * parts read these in hash ranges (one range per filter shard) instead of hashing addresses.
     * Null on rows written before the column existed (hashed on the next build).
     */
    hashHi: integer('hash_hi'),
    hashLo: integer('hash_lo'),
  },
  (t) => [
    primaryKey({ columns: [t.deployment, t.type, t.recordId, t.address] }),
    // Covering (type and record id in the index): otherwise SQLite prefers the covering primary
    // key with `deployment =` alone and scans the deployment's rows (1.1 s at 1 M records).
    index('record_emails_address').on(t.deployment, t.address, t.type, t.recordId),
    // Covering: a snapshot shard is read from this index alone, in hash ranges.
    index('record_emails_hash').on(t.deployment, t.hashHi, t.hashLo, t.type, t.emailEnabled),
  ],
);

/**
 * Built snapshot part of a deployment (record filter shards, outbound filter, suppressions),
 * kept in R2 so that a region's snapshot is an assembly of parts, not a rebuild. `dataVersion`
 * moves on every change; the part is current when `builtVersion` equals it.
 */
export const snapshotParts = sqliteTable('snapshot_parts', {
  deployment: text('deployment').primaryKey(),
  dataVersion: integer('data_version').notNull().default(1),
  builtVersion: integer('built_version').notNull().default(0),
  /** Last change (ms): the debounce waits for a quiet period after it. */
  changedAt: integer('changed_at').notNull().default(0),
  builtAt: integer('built_at').notNull().default(0),
  /** Lease of the isolate building the part (ms); another builder waits until it passes. */
  buildingUntil: integer('building_until').notNull().default(0),
  shardBits: integer('shard_bits').notNull().default(0),
  /**
   * Each record filter shard in shard order: the R2 key of its base filter, its key count now, and
   * (docs/decisions.md "Snapshots by change") the base filter's bytes, the R2 key of the base's
   * members and the R2 key of the delta over the base when the shard changed since.
   */
  shards: text('shards', { mode: 'json' }).$type<SnapshotShardEntry[]>(),
  /** R2 key of the encoded part (JSON section, record filter, outbound filter) and its hash. */
  partKey: text('part_key'),
  partHash: text('part_hash'),
  partBytes: integer('part_bytes'),
  buildMs: integer('build_ms'),
});

/** One record filter shard of a built part (`snapshot_parts.shards`). */
export interface SnapshotShardEntry {
  key: string;
  keys: number;
  bytes?: number;
  members?: string;
  delta?: string;
}

/** Hash buckets (top 12 bits of a record address hash) changed since the part was built. */
export const snapshotDirty = sqliteTable(
  'snapshot_dirty',
  {
    deployment: text('deployment').notNull(),
    bucket: integer('bucket').notNull(),
    version: integer('version').notNull(),
  },
  (t) => [primaryKey({ columns: [t.deployment, t.bucket] })],
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
    index('outbound_recent').on(t.deployment, t.createdAt),
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
    /** Content fingerprint of the first copy (From, To, Cc, Date): later copies merge only when theirs is equal. */
    fingerprint: text('fingerprint'),
    receivedAt: integer('received_at').notNull(),
    ingestedAt: integer('ingested_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    /** Monotonic sequence for stable cursors. */
    seq: integer('seq').notNull(),
    /**
     * Position in the changes feed (`GET /api/v1/activities/changes`): the next number on insert
     * and again on every merge, so an activity sits at its latest change. Assigned inside the
     * writing transaction as max + 1: D1 has one writer, so numbers rise in commit order.
     */
    changeSeq: integer('change_seq').notNull().default(0),
    /** True once a later copy was merged into the activity. */
    merged: integer('merged', { mode: 'boolean' }).notNull().default(false),
    /** The CRM object the activity became (`{ kind, id, url? }`), once a connector delivered it. */
    crmObject: text('crm_object', { mode: 'json' }).$type<{ kind: string; id: string; url?: string }>(),
  },
  (t) => [
    uniqueIndex('activities_dedupe').on(t.deployment, t.dedupeKey),
    uniqueIndex('activities_change_seq').on(t.changeSeq),
    index('activities_deployment_change_seq').on(t.deployment, t.changeSeq),
    index('activities_message_id').on(t.messageId),
    uniqueIndex('activities_seq').on(t.seq),
    index('activities_received').on(t.deployment, t.receivedAt),
    // A deployment's activities newest first (list, search, cursors) without sorting them all.
    index('activities_deployment_seq').on(t.deployment, t.seq),
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
    index('dispositions_deployment_at').on(t.deployment, t.at),
  ],
);

/** Batch ids already ingested (replay protection). */
export const ingestBatches = sqliteTable('ingest_batches', {
  id: text('id').primaryKey(),
  region: text('region').notNull(),
  receivedAt: integer('received_at').notNull(),
  items: integer('items').notNull().default(0),
});

/**
 * Ids already counted in the traffic counters: edge copies (item ids) and cross-region reports
 * (`report:<id>`). An edge posts a copy or a report again when the answer to its batch is lost
 * (queue retry, spool drain), and what is stored once is counted once. Receipts need no row here:
 * their dispositions row is keyed by the same id.
 */
export const countedIds = sqliteTable(
  'counted_ids',
  {
    id: text('id').primaryKey(),
    at: integer('at').notNull(),
  },
  (t) => [index('counted_ids_at').on(t.at)],
);

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

/**
 * Cross-region bytes per region, minute and kind (design §6, `crossRegion`), summed on upsert: what
 * the edges report with their heartbeats and what central counts of its own pushes to a region.
 */
export const crossRegionCounters = sqliteTable(
  'cross_region_counters',
  {
    region: text('region').notNull(),
    minute: integer('minute').notNull(),
    kind: text('kind').notNull(),
    toCentral: integer('to_central').notNull().default(0),
    fromCentral: integer('from_central').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.region, t.minute, t.kind] })],
);

/** Each region's last canary that reached central (src/core/canary.ts): one row per region. */
export const regionCanaries = sqliteTable('region_canaries', {
  region: text('region').primaryKey(),
  /** The edge's send time → central's commit of the canary, ms. */
  roundTripMs: integer('round_trip_ms').notNull(),
  sentAt: integer('sent_at').notNull(),
  at: integer('at').notNull(),
});

/** Receipt (at the edge) → commit (at central) latency, one row per committed item. */
export const latencySamples = sqliteTable(
  'latency_samples',
  {
    region: text('region').notNull(),
    /** The deployment of the committed item, so a tenant's percentiles come from its own mail only. */
    deployment: text('deployment'),
    at: integer('at').notNull(),
    ms: integer('ms').notNull(),
  },
  (t) => [
    index('latency_samples_at').on(t.region, t.at),
    index('latency_samples_deployment').on(t.deployment, t.at),
  ],
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

/** Dashboard sessions ended by signing out (until their cookie would have expired anyway). */
export const revokedSessions = sqliteTable('revoked_sessions', {
  sid: text('sid').primaryKey(),
  expiresAt: integer('expires_at').notNull(),
});

/** Fixed-window counters for rate limits (e.g. failed sign-ins per client). */
export const rateLimits = sqliteTable('rate_limits', {
  key: text('key').primaryKey(),
  windowStart: integer('window_start').notNull(),
  count: integer('count').notNull().default(0),
});
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
    /**
     * How the last attempt ended (the adapter's classification: `unauthorized`, `rate-limited`,
     * `retry`, `refused`, or `config` when central could not attempt it): the connector's errors
     * are counted by it.
     */
    lastOutcome: text('last_outcome'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    deliveredAt: integer('delivered_at'),
  },
  (t) => [
    index('webhook_outbox_due').on(t.state, t.nextAttemptAt),
    index('webhook_outbox_activity').on(t.activityId),
    index('webhook_outbox_deployment').on(t.deployment, t.state),
    // A connector's health: its latest deliveries (last delivery, lag p50/p99) without a scan.
    index('webhook_outbox_delivered').on(t.deployment, t.deliveredAt),
  ],
);

/**
 * A deployment's CRM connector (design §4, "CRM connectors"), when it has one: its kind, settings
 * and encrypted secrets (src/central/connectors/secrets.ts), and the state of its delivery and
 * record sync. A deployment with a `webhookUrl` and no row delivers as the kind `webhook`; the
 * webhook kind keeps its URL in `deployments.webhook_url` (one place for it).
 */
export const connectors = sqliteTable('connectors', {
  deployment: text('deployment').primaryKey(),
  kind: text('kind').notNull(),
  settings: text('settings', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
  /** AES-GCM ciphertext of the secrets' JSON (`v1.<iv>.<ciphertext>`, base64); never returned. */
  secrets: text('secrets'),
  /** Names of the secrets that are set (what the API and the form may say about them). */
  secretNames: text('secret_names', { mode: 'json' }).$type<string[]>().notNull(),
  /** `ok` | `syncing` | `paused` | `failing`. */
  state: text('state').notNull().default('ok'),
  /** Why deliveries stopped (a 401/403 of the CRM): cleared by a PUT or a successful test. */
  pauseReason: text('pause_reason'),
  /** The adapter's cursor after the last applied page of the record and outbound pull. */
  syncCursor: text('sync_cursor'),
  /** The sync under way (`POST …/connector/sync` answers its id), null when none is. */
  syncId: text('sync_id'),
  syncDone: integer('sync_done').notNull().default(0),
  syncTotal: integer('sync_total'),
  syncStartedAt: integer('sync_started_at'),
  lastSyncAt: integer('last_sync_at'),
  /**
   * The sync lease (src/central/connectors/sync.ts): the pass holding it (a random token) and until
   * when; a pass runs only while it holds it, so the cron, the API's pass and the queue's never
   * apply one connector's pages at once.
   */
  syncLeaseHolder: text('sync_lease_holder'),
  syncLeaseUntil: integer('sync_lease_until'),
  lastError: text('last_error'),
  lastErrorAt: integer('last_error_at'),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});
