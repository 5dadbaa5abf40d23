import { createRoute, z } from '@hono/zod-openapi';
import PostalMime, { type Attachment, type Email } from 'postal-mime';
import { keyedHash, sha256Hex } from '../../../core/keyed-hash.js';
import { type MessageFacts, readMessageFacts } from '../../../core/message-facts.js';
import { findTrackingToken } from '../../../core/tracking-token.js';
import type { EgressPolicy } from '../../../core/types.js';
import type { IngestItem, Receipt } from '../../../core/wire.js';
import { findActivity } from '../../../db/queries/activities.js';
import { findDeployment } from '../../../db/queries/deployments.js';
import { findMailbox } from '../../../db/queries/mailboxes.js';
import { findSuppression } from '../../../db/queries/records.js';
import { findRegion } from '../../../db/queries/regions.js';
import { createRouter } from '../../http/app-router.js';
import { assertDeploymentAccess } from '../../http/auth.js';
import type { Principal } from '../../context.js';
import { ApiError, forbidden, notFound, validationFailed } from '../../http/errors.js';
import { getHashKey } from '../../services/hash-key.js';
import { ingest, receiptStatements } from '../../ingest/ingest.js';
import { MAX_PROMOTE_BYTES } from '../../http/body-limits.js';
import { mediaType, readBodyLimited } from '../../http/request-body.js';
import { serializeActivity } from '../serializers.js';
import { enqueueWebhook, type WebhookJob } from '../../delivery/webhooks.js';
import { activitySchema, emailAddress } from '../schemas.js';
import { bearerSecurity, errorResponses, errorSchema, jsonResponse } from './openapi-helpers.js';

export { MAX_PROMOTE_BYTES };
/** Body text kept per activity, as on the edge (ingest items travel through 128 KB queue messages there). */
const TEXT_BUDGET = 48 * 1024;
const ACCEPTED_TYPES = new Set(['', 'message/rfc822', 'application/octet-stream', 'text/plain']);

const promoteRoute = createRoute({
  method: 'post',
  path: '/deployments/{id}/promote',
  tags: ['promote'],
  summary: 'Track a message by hand ("Track in CRM")',
  description: [
    'Body: the raw message (`message/rfc822`), at most 25 MiB and the deployment’s `maxMessageBytes`.',
    '`mailbox` must be a routed mailbox of the deployment; a user token may promote only for its own mailboxes.',
    'Region rules, automated-mail signals and the filter mode are bypassed, the suppression list never is:',
    'a suppressed sender is refused with 409 `suppressed` and a disposition receipt, and no activity is created.',
    'The message is ingested like any edge copy: promoting a message that is tracked already merges into its activity (200).',
  ].join(' '),
  security: bearerSecurity,
  request: {
    params: z.object({ id: z.string().min(1).max(63) }),
    query: z.object({ mailbox: emailAddress.openapi({ example: 'ann@contoso.example' }) }),
    body: {
      required: true,
      content: { 'message/rfc822': { schema: { type: 'string', format: 'binary' } } },
    },
  },
  responses: {
    201: jsonResponse(activitySchema, 'a new activity'),
    200: jsonResponse(activitySchema, 'merged into the activity that already tracks this message'),
    409: jsonResponse(errorSchema, 'the sender is suppressed (code `suppressed`)'),
    413: jsonResponse(errorSchema, 'message too large'),
    415: jsonResponse(errorSchema, 'not a raw message'),
    ...errorResponses,
  },
});

function describePrincipal(p: Principal): string {
  switch (p.kind) {
    case 'admin':
      return 'admin';
    case 'deployment':
      return `deployment:${p.deployment}`;
    case 'user':
      return `user:${p.deployment}/${p.userId}`;
    case 'edge':
      return `edge:${p.region}`;
  }
}

function attachmentSize(a: Attachment): number {
  return typeof a.content === 'string'
    ? new TextEncoder().encode(a.content).byteLength
    : a.content.byteLength;
}

/** Full parse; for a forward-as-attachment the wrapped original is what gets tracked (as on the edge). */
async function parseOriginal(raw: Uint8Array, facts: MessageFacts): Promise<Email> {
  const outer = await PostalMime.parse(raw, { forceRfc822Attachments: facts.forwardedAsAttachment });
  if (!facts.forwardedAsAttachment) return outer;
  const wrapped = outer.attachments.find((a) => a.mimeType === 'message/rfc822');
  if (!wrapped) return outer;
  const bytes =
    typeof wrapped.content === 'string'
      ? new TextEncoder().encode(wrapped.content)
      : new Uint8Array(wrapped.content);
  return PostalMime.parse(bytes);
}

function clip(s: string | undefined, max: number): string | undefined {
  if (s === undefined) return undefined;
  return s.length > max ? `${s.slice(0, max)}\n[… truncated]` : s;
}

export const promoteRoutes = createRouter().openapi(promoteRoute, async (c) => {
  const { id } = c.req.valid('param');
  const { mailbox: address } = c.req.valid('query');
  const principal = c.get('principal');
  assertDeploymentAccess(principal, id);
  const db = c.get('db');
  const deployment = await findDeployment(db, id);
  if (!deployment) throw notFound(`deployment ${id} does not exist`);
  const mailbox = await findMailbox(db, address);
  if (!mailbox || mailbox.deployment !== id)
    throw notFound(`${address} is not a routed mailbox of deployment ${id}`);
  if (principal.kind === 'user' && principal.userId !== mailbox.userId)
    throw forbidden(`a user token of ${principal.userId} may promote only for its own mailboxes`);

  const type = mediaType(c);
  if (!ACCEPTED_TYPES.has(type))
    throw new ApiError('unsupported_media_type', `send the raw message as message/rfc822, not "${type}"`);
  const limit = Math.min(MAX_PROMOTE_BYTES, deployment.maxMessageBytes);
  const raw = await readBodyLimited(c, limit, 'message');
  if (raw.byteLength === 0) throw validationFailed('body: the message is empty');
  // A forward-as-attachment by the promoting mailbox promotes the (first) message it wraps.
  const facts = readMessageFacts(raw, {}, { isForwardingMailbox: (a) => a === mailbox.address });
  if (facts.malformed) throw validationFailed(`body: the message cannot be read (${facts.malformed})`);

  const now = Date.now();
  const region = await findRegion(db, mailbox.region);
  const sender = facts.from?.address;
  // A routed mailbox is never suppressed (as in the classifier): '@contoso.example' must not silence its own users.
  const suppressedBy =
    sender && sender !== mailbox.address ? await findSuppression(db, id, sender) : undefined;
  if (suppressedBy) {
    const hashKey = await getHashKey(db);
    const mailboxHash = keyedHash(hashKey, mailbox.address);
    const receipt: Receipt = {
      kind: 'receipt',
      id: crypto.randomUUID(),
      region: mailbox.region,
      reason: 'suppressed',
      detail: 'promotion refused: the sender is on the deployment suppression list',
      deployment: id,
      mailboxHash,
      ...(facts.messageId ? { messageIdHash: keyedHash(hashKey, facts.messageId) } : {}),
      sizeBytes: raw.byteLength,
      at: now,
    };
    const ctx = { db, region: mailbox.region, now, mailboxByHash: new Map([[mailboxHash, mailbox.address]]) };
    for (const statement of receiptStatements(ctx, [receipt])) await statement;
    throw new ApiError(
      'suppressed',
      `the sender matches ${suppressedBy} on the suppression list of ${id}: suppressed mail is never tracked, not even by hand`,
    );
  }

  const egress = (region?.egress ?? 'metadata+subject') as EgressPolicy;
  const email = await parseOriginal(raw, facts);
  const token = findTrackingToken(
    {
      prefix: deployment.tokenPrefix,
      deploymentBase: deployment.tokenBase,
      userDigits: deployment.tokenUserDigits,
      counterDigits: deployment.tokenCounterDigits,
    },
    facts.subject,
  );
  const item: IngestItem = {
    kind: 'item',
    id: crypto.randomUUID(),
    region: mailbox.region,
    deployment: id,
    ...(facts.messageId ? { messageId: facts.messageId.slice(0, 998) } : {}),
    contentHash: sha256Hex(raw),
    receivedAt: now,
    sizeBytes: raw.byteLength,
    mailboxes: [mailbox.address],
    reason: 'tracked:promoted',
    correlation: { method: 'promoted', detail: `promoted by ${describePrincipal(principal)}` },
    egress,
    ...(facts.from ? { from: facts.from } : {}),
    to: facts.to.slice(0, 1000),
    cc: facts.cc.slice(0, 1000),
    ...(egress !== 'metadata' ? { subject: facts.subject.slice(0, 10_000) } : {}),
    ...(facts.date ? { date: facts.date } : {}),
    inReplyTo: facts.inReplyTo.slice(0, 100),
    references: facts.references.slice(0, 500),
    ...(token ? { trackingToken: token.token } : {}),
    ...(egress === 'full' ? { text: clip(email.text ?? '', TEXT_BUDGET) } : {}),
    attachments: email.attachments.slice(0, 500).map((a) => ({
      ...(a.filename ? { filename: a.filename.slice(0, 1000) } : {}),
      contentType: a.mimeType.slice(0, 255),
      size: attachmentSize(a),
    })),
  };

  const webhooks: WebhookJob[] = [];
  const outcome = await ingest(
    {
      db,
      region: mailbox.region,
      now,
      onActivity: (activityId, dep, status) => webhooks.push({ activityId, deployment: dep, status }),
    },
    [item],
    [],
    { deadLetterRejected: false, edgeTraffic: false },
  );
  const result = outcome.results[0];
  if (!result || result.status === 'rejected' || !result.activityId)
    throw validationFailed(`body: the message could not be tracked (${result?.reason ?? 'no result'})`);
  c.executionCtx.waitUntil(enqueueWebhook(c.env, db, webhooks));
  const activity = await findActivity(db, result.activityId);
  if (!activity) throw notFound(`activity ${result.activityId} does not exist`);
  return c.json(serializeActivity(activity), result.status === 'accepted' ? 201 : 200);
});
