import { z } from '@hono/zod-openapi';
import { apiRoute, jsonResponse } from '../../contract/openapi-helpers.js';
import { dispositionSchema } from '../../contract/schemas.js';
import { serializeDisposition } from '../../contract/serializers.js';
import { createRouter } from '../../http/app-router.js';
import { deploymentScope } from '../../http/auth.js';
import { forbidden } from '../../http/errors.js';
import { messageIdHashOf, queryDispositions } from '../../services/activities.js';

const listRoute = apiRoute('get', '/dispositions', 'dispositions', {
  summary: 'Receipts for mail that an edge tossed or rejected (content-free)',
  request: {
    query: z.object({
      messageId: z.string().max(1000).optional(),
      region: z.string().max(32).optional(),
      reason: z.string().max(64).optional(),
      deployment: z.string().max(63).optional(),
      limit: z.coerce.number().int().min(1).max(1000).default(100),
    }),
  },
  responses: {
    200: jsonResponse(z.object({ items: z.array(dispositionSchema) }), 'receipts, newest first'),
  },
});

export const dispositionRoutes = createRouter().openapi(listRoute, async (c) => {
  const q = c.req.valid('query');
  const db = c.get('db');
  const principal = c.get('principal');
  if (principal.kind === 'user') throw forbidden('user tokens may not read dispositions');
  const scope = deploymentScope(principal);
  if (scope && q.deployment && q.deployment !== scope)
    throw forbidden(`this token may not read deployment ${q.deployment}`);
  const messageIdHash = q.messageId ? await messageIdHashOf(db, q.messageId) : undefined;
  const rows = await queryDispositions(db, {
    messageIdHash,
    region: q.region,
    reason: q.reason,
    deployment: scope ?? q.deployment,
    limit: q.limit,
  });
  return c.json(
    {
      items: rows.map(serializeDisposition),
    },
    200,
  );
});
