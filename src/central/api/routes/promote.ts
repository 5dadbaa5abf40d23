import { createRoute, z } from '@hono/zod-openapi';
import { bearerSecurity, errorResponses, errorSchema, jsonResponse } from '../../contract/openapi-helpers.js';
import { activitySchema, emailAddress } from '../../contract/schemas.js';
import { serializeActivity } from '../../contract/serializers.js';
import { createRouter } from '../../http/app-router.js';
import { assertDeploymentAccess } from '../../http/auth.js';
import { ApiError } from '../../http/errors.js';
import { mediaType, readBodyLimited } from '../../http/request-body.js';
import { promoteMessage } from '../../services/promotion.js';

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

export const promoteRoutes = createRouter().openapi(promoteRoute, async (c) => {
  const { id } = c.req.valid('param');
  const { mailbox } = c.req.valid('query');
  const principal = c.get('principal');
  assertDeploymentAccess(principal, id);
  const site = {
    db: c.get('db'),
    env: c.env,
    waitUntil: (p: Promise<unknown>) => c.executionCtx.waitUntil(p),
  };
  const { activity, own, status } = await promoteMessage(site, principal, id, mailbox, (limit) => {
    const type = mediaType(c);
    if (!ACCEPTED_TYPES.has(type))
      throw new ApiError('unsupported_media_type', `send the raw message as message/rfc822, not "${type}"`);
    return readBodyLimited(c, limit, 'message');
  });
  return c.json(serializeActivity(activity, own), status === 'accepted' ? 201 : 200);
});
