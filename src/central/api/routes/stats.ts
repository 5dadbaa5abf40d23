import { z } from '@hono/zod-openapi';
import { readCentralConfig } from '../../config.js';
import { connectorsHealth } from '../../connectors/service.js';
import { apiRoute, jsonResponse } from '../../contract/openapi-helpers.js';
import { statsSchema } from '../../contract/schemas.js';
import { createRouter } from '../../http/app-router.js';
import { deploymentScope } from '../../http/auth.js';
import { forbidden } from '../../http/errors.js';
import { computeStats, searchIndexStatus } from '../../services/stats.js';
import { connectorStatusSchema } from '../connector-schemas.js';

const statsRoute = apiRoute('get', '/stats', 'stats', {
  summary: 'Per-region counters, cross-region bytes vs. forward-everything, latency percentiles, health',
  description:
    '`since` is a time in ms since the epoch (default: the last 24 hours). Deployment-scoped tokens get figures computed from their own activities and receipts only.',
  request: { query: z.object({ since: z.coerce.number().int().nonnegative().optional() }) },
  responses: {
    200: jsonResponse(
      statsSchema.extend({
        connectors: z
          .record(z.string(), connectorStatusSchema.extend({ kind: z.string() }))
          .openapi({ description: "each deployment's CRM connector: kind and status (GET …/connector)" }),
        searchIndex: z
          .object({
            complete: z.boolean(),
            indexedShare: z.number().min(0).max(1),
            backfillStartedAt: z.number().nullable(),
          })
          .openapi({
            description:
              'the full-text index of `GET /activities?q=`: after an upgrade that rebuilds it (migration 0014) the stored activities are indexed by the cron, newest first; until `complete`, older activities are found by their Message-ID but not by text',
          }),
      }),
      'stats per region and in total, and the connectors per deployment',
    ),
  },
});

export const statsRoutes = createRouter().openapi(statsRoute, async (c) => {
  const principal = c.get('principal');
  if (principal.kind === 'user') throw forbidden('user tokens may not read stats');
  const { since } = c.req.valid('query');
  const scope = deploymentScope(principal);
  const stats = await computeStats(c.get('db'), {
    since: since ?? Date.now() - 24 * 3600 * 1000,
    homeRegion: readCentralConfig(c.env).homeRegion,
    deployment: scope,
  });
  return c.json(
    {
      ...stats,
      connectors: await connectorsHealth(c.get('db'), scope),
      searchIndex: await searchIndexStatus(c.get('db')),
    },
    200,
  );
});
