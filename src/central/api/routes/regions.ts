import { z } from '@hono/zod-openapi';
import { apiRoute, jsonBody, jsonResponse } from '../../contract/openapi-helpers.js';
import { idParam, regionBody, regionSchema } from '../../contract/schemas.js';
import { serializeRegion } from '../../contract/serializers.js';
import { createRouter } from '../../http/app-router.js';
import { assertAdmin } from '../../http/auth.js';
import { notFound } from '../../http/errors.js';
import { findRegion, listRegions, regionsAwaitingParts, saveRegion } from '../../services/regions.js';
import { changeSite } from '../../snapshot/config-changed.js';

const putRegion = apiRoute('put', '/regions/{id}', 'regions', {
  summary: 'Create or update a region (rules on/off, egress policy)',
  request: { params: z.object({ id: idParam }), body: jsonBody(regionBody) },
  responses: { 200: jsonResponse(regionSchema, 'the region') },
});

const getRegion = apiRoute('get', '/regions/{id}', 'regions', {
  summary: 'Read a region',
  request: { params: z.object({ id: idParam }) },
  responses: { 200: jsonResponse(regionSchema, 'the region') },
});

const listRegionsRoute = apiRoute('get', '/regions', 'regions', {
  summary: 'List regions',
  responses: { 200: jsonResponse(z.object({ items: z.array(regionSchema) }), 'regions') },
});

export const regionRoutes = createRouter()
  .openapi(putRegion, async (c) => {
    assertAdmin(c.get('principal'));
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const db = c.get('db');
    const existing = await findRegion(db, id);
    const row = await saveRegion(db, changeSite(c), {
      id,
      name: body.name,
      rulesEnabled: body.rulesEnabled,
      egress: body.egress ?? existing?.egress ?? 'metadata+subject',
    });
    return c.json(serializeRegion(row, (await regionsAwaitingParts(db)).has(id)), 200);
  })
  .openapi(getRegion, async (c) => {
    if (c.get('principal').kind === 'edge') assertAdmin(c.get('principal'));
    const { id } = c.req.valid('param');
    const db = c.get('db');
    const row = await findRegion(db, id);
    if (!row) throw notFound(`region ${id} does not exist`);
    return c.json(serializeRegion(row, (await regionsAwaitingParts(db)).has(id)), 200);
  })
  .openapi(listRegionsRoute, async (c) => {
    if (c.get('principal').kind === 'edge') assertAdmin(c.get('principal'));
    const db = c.get('db');
    const [rows, pending] = await Promise.all([listRegions(db), regionsAwaitingParts(db)]);
    return c.json({ items: rows.map((r) => serializeRegion(r, pending.has(r.id))) }, 200);
  });
