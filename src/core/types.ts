// Shared vocabulary of the router. Pure types and constants: no I/O, no platform imports.

/** Reason codes (design §5). Stable: add, never rename. */
export const TRACKED_REASONS = [
  'tracked:in-reply-to',
  'tracked:token',
  'tracked:thread-index',
  'tracked:smart-match',
  'tracked:sender-record',
  'tracked:recipient-record',
  'tracked:all',
  'tracked:promoted',
] as const;

export const TOSSED_REASONS = [
  'no-route',
  'region-rules-disabled',
  'filter:none',
  'filter:no-correlation',
  'filter:no-record-match',
  'suppressed',
  'auto-reply',
  'bulk',
  'bounce',
  'loop',
  'oversize',
  'malformed',
  'duplicate',
  'record-false-positive',
  /** The envelope recipient is not a forwarding address of this region (permanent rejection). */
  'unknown-recipient',
] as const;

export type TrackedReason = (typeof TRACKED_REASONS)[number];
export type TossedReason = (typeof TOSSED_REASONS)[number];
export type ReasonCode = TrackedReason | TossedReason;

export const FILTER_MODES = ['all', 'responses', 'records', 'email-enabled', 'none'] as const;
export type FilterMode = (typeof FILTER_MODES)[number];

export const EGRESS_POLICIES = ['full', 'metadata+subject', 'metadata'] as const;
export type EgressPolicy = (typeof EGRESS_POLICIES)[number];

export const RECORD_TYPES = ['user', 'contact', 'account', 'lead'] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

export const ATTACHMENT_POLICIES = ['regional', 'inline'] as const;
export type AttachmentPolicy = (typeof ATTACHMENT_POLICIES)[number];

export const CORRELATION_METHODS = [
  'in-reply-to',
  'token',
  'thread-index',
  'smart-match',
  'sender-record',
  'recipient-record',
  'all',
  'promoted',
] as const;
export type CorrelationMethod = (typeof CORRELATION_METHODS)[number];

/** Tracking-token format of a deployment (Dynamics-compatible default: `CRM:0001001`). */
export interface TokenFormat {
  prefix: string;
  deploymentBase: number;
  userDigits: number;
  counterDigits: number;
}

export interface MailAddress {
  /** Lower-cased bare address (`local@domain`). */
  address: string;
  /** Decoded display name, if any. */
  name?: string;
}
