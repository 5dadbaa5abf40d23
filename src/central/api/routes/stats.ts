import { z } from '@hono/zod-openapi';
import { createRouter } from '../../http/app-router.js';
import { deploymentScope } from '../../http/auth.js';
import { readCentralConfig } from '../../config.js';
import { forbidden } from '../../http/errors.js';
import { computeStats } from '../../services/stats.js';
import { statsSchema } from '../../contract/schemas.js';
import { apiRoute, jsonResponse } from '../../contract/openapi-helpers.js';

const statsRoute = apiRoute('get', '/stats', 'stats', {
  summary: 'Per-region counters, cross-region bytes vs. forward-everything, latency percentiles, health',
  description:
    '`since` is a time in ms since the epoch (default: the last 24 hours). Deployment-scoped tokens get figures computed from their own activities and receipts only.',
  request: { query: z.object({ since: z.coerce.number().int().nonnegative().optional() }) },
  responses: { 200: jsonResponse(statsSchema, 'stats per region and in total') },
});

export const statsRoutes = createRouter().openapi(statsRoute, async (c) => {
  const principal = c.get('principal');
  if (principal.kind === 'user') throw forbidden('user tokens may not read stats');
  const { since } = c.req.valid('query');
  const stats = await computeStats(c.get('db'), {
    since: since ?? Date.now() - 24 * 3600 * 1000,
    homeRegion: readCentralConfig(c.env).homeRegion,
    deployment: deploymentScope(principal),
  });
  return c.json(stats, 200);
});
