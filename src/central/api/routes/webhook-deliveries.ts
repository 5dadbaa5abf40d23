import { z } from '@hono/zod-openapi';
import { readCentralConfig } from '../../config.js';
import { apiRoute, jsonResponse } from '../../contract/openapi-helpers.js';
import { webhookDeliverySchema } from '../../contract/schemas.js';
import { serializeWebhookDelivery } from '../../contract/serializers.js';
import { findDelivery, listFailingDeliveries, replayDelivery } from '../../delivery/webhooks.js';
import { createRouter } from '../../http/app-router.js';
import { deploymentScope } from '../../http/auth.js';
import { forbidden, notFound } from '../../http/errors.js';

const listRoute = apiRoute('get', '/webhook-deliveries', 'webhooks', {
  summary:
    'Failing webhook deliveries: failed (4xx/410, or 4 days of retries), or retrying after a failed attempt',
  request: { query: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }) },
  responses: {
    200: jsonResponse(z.object({ items: z.array(webhookDeliverySchema) }), 'deliveries, newest change first'),
  },
});

const replayRoute = apiRoute('post', '/webhook-deliveries/{id}/replay', 'webhooks', {
  summary: 'Attempt a failed or retrying delivery now (restarts its 4-day retry window)',
  request: { params: z.object({ id: z.string().min(1).max(64) }) },
  responses: {
    200: jsonResponse(
      z.object({
        outcome: z.enum(['delivered', 'failed', 'retry', 'not-due']),
        delivery: webhookDeliverySchema,
      }),
      'the attempt and the delivery after it',
    ),
  },
});

export const webhookDeliveryRoutes = createRouter()
  .openapi(listRoute, async (c) => {
    const principal = c.get('principal');
    if (principal.kind === 'user' || principal.kind === 'edge')
      throw forbidden('this token may not read webhook deliveries');
    const rows = await listFailingDeliveries(c.get('db'), {
      deployment: deploymentScope(principal),
      limit: c.req.valid('query').limit,
    });
    return c.json({ items: rows.map((r) => serializeWebhookDelivery(r)) }, 200);
  })
  .openapi(replayRoute, async (c) => {
    const principal = c.get('principal');
    if (principal.kind === 'user' || principal.kind === 'edge')
      throw forbidden('this token may not replay webhook deliveries');
    const { id } = c.req.valid('param');
    const db = c.get('db');
    const scope = deploymentScope(principal);
    const row = await findDelivery(db, id);
    if (!row || (scope && row.deployment !== scope)) throw notFound(`webhook delivery ${id} does not exist`);
    const outcome = await replayDelivery(db, id, readCentralConfig(c.env), Date.now(), { env: c.env });
    if (!outcome) throw notFound(`webhook delivery ${id} was already delivered`);
    return c.json({ outcome, delivery: serializeWebhookDelivery((await findDelivery(db, id))!) }, 200);
  });
