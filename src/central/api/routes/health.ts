import { createRoute, z } from '@hono/zod-openapi';
import { jsonResponse } from '../../contract/openapi-helpers.js';
import { createRouter } from '../../http/app-router.js';
import { pingDatabase } from '../../services/health.js';

const health = createRoute({
  method: 'get',
  path: '/health',
  tags: ['health'],
  responses: {
    200: jsonResponse(
      z.object({ ok: z.boolean(), role: z.literal('central'), region: z.string(), time: z.number() }),
      'central is up',
    ),
  },
});

export const healthRoutes = createRouter().openapi(health, async (c) => {
  await pingDatabase(c.env.DB);
  return c.json({ ok: true, role: 'central' as const, region: c.env.REGION || 'us', time: Date.now() }, 200);
});
