import { createRoute, z } from '@hono/zod-openapi';
import { classify } from '../../../core/classify.js';
import { buildItems } from '../../../core/ingest-item.js';
import { readMessageFacts } from '../../../core/message-facts.js';
import { suppressingEntry } from '../../../core/suppression.js';
import type { IngestItem, Receipt } from '../../../core/wire.js';
import { findActivity } from '../../../db/queries/activities.js';
import { findDeployment } from '../../../db/queries/deployments.js';
import { findMailbox } from '../../../db/queries/mailboxes.js';
import { listSuppressions } from '../../../db/queries/records.js';
import { findRegion } from '../../../db/queries/regions.js';
import { createRouter } from '../../http/app-router.js';
import { assertDeploymentAccess } from '../../http/auth.js';
import type { Principal } from '../../context.js';
import { ApiError, forbidden, notFound, validationFailed } from '../../http/errors.js';
import { ingest, receiptStatements } from '../../ingest/ingest.js';
import { MAX_PROMOTE_BYTES } from '../../http/body-limits.js';
import { mediaType, readBodyLimited } from '../../http/request-body.js';
import { principalMailboxes } from '../../ingest/raw-links.js';
import { serializeActivity } from '../serializers.js';
import { promotionSnapshot } from '../../snapshot/snapshot-publisher.js';
import { enqueueWebhook } from '../../delivery/webhooks.js';
import { activitySchema, emailAddress } from '../schemas.js';
import { bearerSecurity, errorResponses, errorSchema, jsonResponse } from './openapi-helpers.js';

export { MAX_PROMOTE_BYTES };
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
  // The promoting mailbox (authenticated by the token) is the sender of a promotion: its
  // forward-as-attachment is its own (docs/decisions.md, "Who forwarded").
  const facts = readMessageFacts(
    raw,
    { from: mailbox.address, to: mailbox.address },
    { isForwardingMailbox: (a) => a === mailbox.address },
  );
  if (facts.malformed) throw validationFailed(`body: the message cannot be read (${facts.malformed})`);

  // The edge's rules, once: the classifier decides (suppression, correlation, tracking token) over
  // the snapshot the mailbox's region carries for this deployment, and the edge's item builder
  // builds the item (without a regional store: central keeps no raw copy of a promoted message).
  const now = Date.now();
  const region = await findRegion(db, mailbox.region);
  const snapshot = await promotionSnapshot(db, deployment, mailbox, region, now);
  const decision = classify(facts, snapshot, { now, promoted: true, deployment: id });
  const target = decision.targets.find((t) => t.crmBound);
  if (decision.reason === 'suppressed') {
    const receipt: Receipt = {
      kind: 'receipt',
      id: crypto.randomUUID(),
      region: mailbox.region,
      reason: 'suppressed',
      detail: 'promotion refused: the sender is on the deployment suppression list',
      deployment: id,
      mailboxHash: decision.mailboxHash as string,
      ...(decision.messageIdHash ? { messageIdHash: decision.messageIdHash } : {}),
      sizeBytes: raw.byteLength,
      at: now,
    };
    const mailboxByHash = new Map([[receipt.mailboxHash as string, mailbox.address]]);
    const ctx = { db, region: mailbox.region, now, mailboxByHash };
    for (const statement of receiptStatements(ctx, [receipt])) await statement;
    const entries = (await listSuppressions(db, id)).map((s) => s.entry);
    const entry = suppressingEntry(entries, facts.from?.address ?? '') ?? 'an entry';
    throw new ApiError(
      'suppressed',
      `the sender matches ${entry} on the suppression list of ${id}: suppressed mail is never tracked, not even by hand`,
    );
  }
  if (!target)
    throw validationFailed(`body: the message could not be tracked (${decision.reason}: ${decision.detail})`);

  const [built] = await buildItems({
    region: mailbox.region,
    snapshot,
    raw,
    facts,
    targets: [target],
    now,
    copyId: crypto.randomUUID(),
  });
  if (!built) throw validationFailed('body: the message could not be tracked (no item)');
  // Who promoted it; a correlation the classifier found is kept (as the edge would record it).
  const by = `promoted by ${describePrincipal(principal)}`;
  const correlation = target.correlation;
  const item: IngestItem = {
    ...built,
    correlation:
      !correlation || correlation.method === 'promoted'
        ? { method: 'promoted', detail: by }
        : { method: correlation.method, detail: `${correlation.detail}; ${by}` },
  };

  const outcome = await ingest({ db, region: mailbox.region, now }, [item], [], {
    deadLetterRejected: false,
    edgeTraffic: false,
  });
  const result = outcome.results[0];
  if (!result || result.status === 'rejected' || !result.activityId)
    throw validationFailed(`body: the message could not be tracked (${result?.reason ?? 'no result'})`);
  c.executionCtx.waitUntil(enqueueWebhook(c.env, outcome.outboxIds));
  const activity = await findActivity(db, result.activityId);
  if (!activity) throw notFound(`activity ${result.activityId} does not exist`);
  // A merged activity may hold other users' copies: a user token sees its own only.
  const own = await principalMailboxes(db, principal);
  return c.json(serializeActivity(activity, own), result.status === 'accepted' ? 201 : 200);
});
