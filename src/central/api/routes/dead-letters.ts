import { z } from '@hono/zod-openapi';
import { apiRoute, jsonResponse } from '../../contract/openapi-helpers.js';
import { deadLetterSchema, replayResult } from '../../contract/schemas.js';
import { serializeDeadLetter } from '../../contract/serializers.js';
import { createRouter } from '../../http/app-router.js';
import { deploymentScope } from '../../http/auth.js';
import { forbidden, notFound } from '../../http/errors.js';
import { findDeadLetter, listDeadLetters } from '../../ingest/dead-letters.js';
import { replayDeadLetter } from '../../ingest/replay.js';

const listRoute = apiRoute('get', '/dead-letters', 'dead letters', {
  summary: 'Items that could not be ingested',
  request: {
    query: z.object({
      region: z.string().max(32).optional(),
      pending: z.enum(['true', 'false']).optional(),
      limit: z.coerce.number().int().min(1).max(1000).default(100),
    }),
  },
  responses: { 200: jsonResponse(z.object({ items: z.array(deadLetterSchema) }), 'dead letters') },
});

const replayRoute = apiRoute('post', '/dead-letters/{id}/replay', 'dead letters', {
  summary: 'Replay one dead letter through ingestion',
  request: { params: z.object({ id: z.string().min(1).max(64) }) },
  responses: { 200: jsonResponse(replayResult, 'the ingestion result') },
});

const replayAllRoute = apiRoute('post', '/dead-letters/replay', 'dead letters', {
  summary: 'Replay every pending dead letter this token may see',
  responses: { 200: jsonResponse(z.object({ results: z.array(replayResult) }), 'results') },
});

export const deadLetterRoutes = createRouter()
  .openapi(listRoute, async (c) => {
    const principal = c.get('principal');
    if (principal.kind === 'user') throw forbidden('user tokens may not read dead letters');
    const q = c.req.valid('query');
    const rows = await listDeadLetters(c.get('db'), {
      deployment: deploymentScope(principal),
      region: q.region,
      pending: q.pending === 'true',
      limit: q.limit,
    });
    return c.json({ items: rows.map(serializeDeadLetter) }, 200);
  })
  .openapi(replayAllRoute, async (c) => {
    const principal = c.get('principal');
    if (principal.kind === 'user') throw forbidden('user tokens may not replay dead letters');
    const db = c.get('db');
    const rows = await listDeadLetters(db, {
      deployment: deploymentScope(principal),
      pending: true,
      limit: 500,
    });
    const results = [];
    for (const row of rows) {
      const r = await replayDeadLetter(db, row.id);
      if (r) results.push(r);
    }
    return c.json({ results }, 200);
  })
  .openapi(replayRoute, async (c) => {
    const principal = c.get('principal');
    if (principal.kind === 'user') throw forbidden('user tokens may not replay dead letters');
    const { id } = c.req.valid('param');
    const db = c.get('db');
    const scope = deploymentScope(principal);
    const row = await findDeadLetter(db, id);
    if (!row || (scope && row.deployment !== scope)) throw notFound(`dead letter ${id} does not exist`);
    const result = await replayDeadLetter(db, id);
    if (!result) throw notFound(`dead letter ${id} does not exist`);
    return c.json(result, 200);
  });
