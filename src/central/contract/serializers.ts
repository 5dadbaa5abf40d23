import type { FilterMode, RecordType } from '../../core/types.js';
import type { DeadLetterRow } from '../../db/queries/dead-letters.js';
import type {
  activities,
  apiTokens,
  deployments,
  dispositions,
  mailboxes,
  recordSyncs,
  records,
  regions,
  webhookOutbox,
} from '../../db/schema.js';
import { visibleCopies } from '../ingest/raw-links.js';

export function serializeDeployment(d: typeof deployments.$inferSelect) {
  return {
    id: d.id,
    name: d.name,
    trackingToken: {
      prefix: d.tokenPrefix,
      deploymentBase: d.tokenBase,
      userDigits: d.tokenUserDigits,
      counterDigits: d.tokenCounterDigits,
    },
    webhookUrl: d.webhookUrl ?? null,
    maxMessageBytes: d.maxMessageBytes,
    attachmentPolicy: d.attachmentPolicy,
    smartMatch: d.smartMatch,
    retentionDays: d.retentionDays ?? null,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

/** `pending`: the region's snapshot does not yet carry every change (`regionsAwaitingParts`). */
export function serializeRegion(r: typeof regions.$inferSelect, pending = false) {
  return {
    id: r.id,
    name: r.name,
    rulesEnabled: r.rulesEnabled,
    egress: r.egress,
    snapshotVersion: r.configVersion,
    snapshotPending: pending,
    edgeSnapshotVersion: r.edgeSnapshotVersion ?? null,
    lastHeartbeatAt: r.lastHeartbeatAt ?? null,
    edgeUrl: r.edgeUrl ?? null,
    updatedAt: r.updatedAt,
  };
}

export function serializeMailbox(m: typeof mailboxes.$inferSelect) {
  return {
    address: m.address,
    region: m.region,
    deployment: m.deployment,
    userId: m.userId,
    filter: m.filter as FilterMode,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt,
  };
}

/** Whether some part of the activity is held only in a region (body text, recipients). */
export function heldRegionally(a: typeof activities.$inferSelect) {
  const copies = (Array.isArray(a.content) ? a.content : []) as { text?: unknown; parties?: unknown }[];
  return { body: copies.some((c) => c?.text), parties: copies.some((c) => c?.parties) };
}

/** What the edges cut or held back of these stored copies (issue 19), each note once. */
export function copyNotes(content: unknown): string[] {
  const copies = (Array.isArray(content) ? content : []) as { notes?: unknown }[];
  const notes = copies.flatMap((c) => (Array.isArray(c?.notes) ? c.notes : []));
  return [...new Set(notes.filter((n): n is string => typeof n === 'string'))];
}

/**
 * An activity as the API shows it; `own` (a user token's mailboxes, see `principalMailboxes`)
 * limits `content` to the copies those mailboxes forwarded.
 */
export function serializeActivity(a: typeof activities.$inferSelect, own?: ReadonlySet<string>) {
  const held = heldRegionally(a);
  const content = a.content == null ? null : visibleCopies(a.content, own);
  // Notes of the copies the principal sees only: another user's copy is not its business.
  const notes = copyNotes(content);
  return {
    id: a.id,
    deployment: a.deployment,
    messageId: a.messageId ?? null,
    subject: a.subject ?? null,
    from: a.fromAddress ?? null,
    fromName: a.fromName ?? null,
    parties: a.parties,
    regarding: a.regardingType && a.regardingId ? { type: a.regardingType, id: a.regardingId } : null,
    correlation: { method: a.correlationMethod, detail: a.correlationDetail },
    reason: a.reason,
    mailboxes: a.mailboxes,
    regions: a.regions,
    egress: a.egress,
    sizeBytes: a.sizeBytes,
    content,
    /** True when the body text stored here is only its beginning: the whole body is in the region's store. */
    bodyHeldRegionally: held.body,
    /** True when more recipients than listed in `parties` are in the region's store. */
    partiesHeldRegionally: held.parties,
    /** What the edge cut or held back to fit the wire (names cut, attachments left in the raw copy, an unparsed body). */
    ...(notes.length ? { notes } : {}),
    ...(a.crmObject ? { crmObject: a.crmObject } : {}),
    receivedAt: a.receivedAt,
    ingestedAt: a.ingestedAt,
    updatedAt: a.updatedAt,
  };
}

/** A receipt as the API shows it (its hashes stay internal). */
export function serializeDisposition(d: typeof dispositions.$inferSelect) {
  const { id, region, reason, detail, mailbox, deployment, sizeBytes, at } = d;
  return { id, region, reason, detail, mailbox, deployment, sizeBytes, at };
}

export function serializeSync(s: typeof recordSyncs.$inferSelect) {
  return {
    id: s.id,
    deployment: s.deployment,
    status: s.status as 'open' | 'completing' | 'completed' | 'superseded',
    received: s.received,
    removed: s.removed,
    startedAt: s.startedAt,
    completedAt: s.completedAt ?? null,
  };
}

/** A token as shown to its managers: never its plaintext or hash. */
export function serializeToken(t: typeof apiTokens.$inferSelect) {
  return {
    id: t.id,
    scope: t.scope,
    label: t.label ?? null,
    createdAt: t.createdAt,
    revokedAt: t.revokedAt ?? null,
    lastUsedAt: t.lastUsedAt ?? null,
  };
}

export type TokenView = ReturnType<typeof serializeToken>;

/**
 * A delivery as the API shows it. `lastError` (our own phrase, never the CRM's answer) only with
 * `withError`: user tokens see the state of a delivery, not why it failed.
 */
export function serializeWebhookDelivery(
  r: typeof webhookOutbox.$inferSelect,
  { withError = true }: { withError?: boolean } = {},
) {
  return {
    id: r.id,
    activityId: r.activityId,
    deployment: r.deployment,
    event: r.event,
    state: r.state as 'pending' | 'delivered' | 'failed',
    attempts: r.attempts,
    lastStatus: r.lastStatus ?? null,
    ...(withError ? { lastError: r.lastError ?? null } : {}),
    nextAttemptAt: r.state === 'pending' ? r.nextAttemptAt : null,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    deliveredAt: r.deliveredAt ?? null,
  };
}

export function serializeRecord(r: typeof records.$inferSelect) {
  return {
    type: r.type as RecordType,
    id: r.id,
    name: r.name ?? null,
    emails: r.emails,
    emailEnabled: r.emailEnabled,
    active: r.active,
    updatedAt: r.updatedAt,
  };
}

/** A dead letter as the API shows it: the row, and the Message-ID of its item when it has one. */
export function serializeDeadLetter({ item, ...row }: DeadLetterRow) {
  const { messageId } = (item ?? {}) as { messageId?: unknown };
  return { ...row, messageId: typeof messageId === 'string' ? messageId : null };
}
