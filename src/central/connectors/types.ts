// The contract every CRM connector implements (design §4, "CRM connectors"). A connector is a
// deployment's one delivery target: the signed webhook (`webhook`), HubSpot, Dynamics 365 /
// Dataverse or Tryton. The delivery path (the webhook outbox: claim, attempt, back off, dead
// letter) is one for all kinds; an adapter only speaks its CRM's protocol and classifies the
// CRM's answer into a `DeliveryResult`. Record and outbound pulls are incremental from a cursor
// the adapter alone understands; the framework stores it and applies what comes back through the
// same record store as the CSV sync.
import type { serializeActivity } from '../contract/serializers.js';

export const CONNECTOR_KINDS = ['webhook', 'hubspot', 'dynamics365', 'tryton'] as const;
export type ConnectorKind = (typeof CONNECTOR_KINDS)[number];

/** The CRM object an activity became, stored on the activity (`crmObject` in the API). */
export interface CrmObjectRef {
  kind: ConnectorKind;
  id: string;
  /** Where an admin opens it in the CRM's own UI, when the CRM has one. */
  url?: string;
}

/** Everything an adapter may use: the deployment's settings and decrypted secrets, and a cache. */
export interface ConnectorContext {
  deployment: string;
  settings: Record<string, unknown>;
  /** Decrypted for this call only; never logged, never returned by the API. */
  secrets: Record<string, string>;
  /** Short-lived values an adapter keeps between calls (an OAuth access token until its expiry). */
  cache: ConnectorCache;
  /** Injected so tests can move time (token expiry) without sleeping. */
  now(): number;
  /**
   * The record store's ids of one type for this deployment, ascending (string order), after
   * `after`, at most `limit`: for CRMs that keep no deletion log (Tryton), whose adapter finds
   * deletions by comparing these with the CRM's ids and confirming each. Optional: without it
   * such an adapter reports no deletions.
   */
  knownRecordIds?(type: PulledRecord['type'], after: string | undefined, limit: number): Promise<string[]>;
}

export interface ConnectorCache {
  get(key: string): Promise<string | undefined>;
  put(key: string, value: string, ttlSeconds: number): Promise<void>;
}

export type SerializedActivity = ReturnType<typeof serializeActivity>;

/** One activity to write into the CRM (or, for a later copy that added parties, to update). */
export interface DeliveryInput {
  /** The outbox row id: stable across retries and redeliveries, the adapter's idempotency key. */
  deliveryId: string;
  activity: SerializedActivity;
  /** What the deployment's egress policy lets leave for the CRM; absent parts were not kept. */
  content: { text?: string; html?: string; headers?: string };
  /** The raw message (RFC 5322) when the egress policy kept it and it is still stored. */
  loadRaw(): Promise<Uint8Array | undefined>;
  /** The CRM object an earlier delivery of this activity made: update it, never make a second. */
  existing?: CrmObjectRef;
  /** The outbox event: `activity.accepted` (a new activity) or `activity.merged` (a later copy). */
  event?: 'activity.accepted' | 'activity.merged';
}

/**
 * The CRM's answer, classified. `unauthorized` (401/403) pauses the connector until an admin fixes
 * the secrets; `rate-limited` is retried after `retryAfterMs` (the CRM's `Retry-After`); `retry`
 * backs off as webhooks do (5xx, timeouts, network errors); `refused` is permanent (a 4xx with
 * the CRM's reason): a dead letter an admin can read and replay after fixing the mapping.
 */
export type DeliveryResult =
  | { outcome: 'delivered'; crmObject?: CrmObjectRef; status?: number }
  | { outcome: 'unauthorized'; status: number; detail: string }
  | { outcome: 'rate-limited'; retryAfterMs: number; detail: string }
  | { outcome: 'retry'; status?: number; detail: string }
  | { outcome: 'refused'; status?: number; detail: string };

/** A record as the record store takes it (the same shape and validation as the CSV sync). */
export interface PulledRecord {
  type: 'user' | 'contact' | 'account' | 'lead';
  /** The CRM's own id. */
  id: string;
  emails: string[];
  emailEnabled?: boolean;
}

/** An e-mail sent from the CRM, registered as outbound so that replies to it are tracked. */
export interface PulledOutbound {
  messageId: string;
  userId: string;
  subject?: string;
  to?: string[];
}

/**
 * One page of changes since `cursor`. `deleted` lists records the CRM confirmed removed (never
 * inferred from absence). `done` is false while more pages are due now (a first full sync, a
 * backlog); the framework stores `nextCursor` after applying the page, so an interrupted sync
 * resumes from it. `progress`, when the CRM says how much there is, feeds the dashboard.
 */
export interface PullPage {
  upserts: PulledRecord[];
  deleted: { type: PulledRecord['type']; id: string }[];
  outbound: PulledOutbound[];
  nextCursor: string;
  done: boolean;
  progress?: { done: number; total?: number };
}

export interface TestResult {
  ok: boolean;
  /** Exactly what failed, in an admin's words (never a secret). */
  detail: string;
}

export interface ConnectorAdapter {
  kind: ConnectorKind;
  /** Checks settings and secrets by one harmless call to the CRM. */
  test(ctx: ConnectorContext): Promise<TestResult>;
  deliver(ctx: ConnectorContext, input: DeliveryInput): Promise<DeliveryResult>;
  /** Absent for kinds that hold no records (the webhook). `cursor` undefined ⇒ a first full sync. */
  pull?(ctx: ConnectorContext, cursor: string | undefined): Promise<PullPage>;
}

/**
 * What an adapter throws from `pull` when the CRM's failure is worth an admin's reading: its message
 * becomes the connector's `lastError` as it is, so it must name what failed and never a secret.
 * Any other error is reported by its class only ("the <kind> connector failed inside central").
 */
export class ConnectorError extends Error {
  override name = 'ConnectorError';
}
