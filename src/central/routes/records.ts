import { createRoute, z } from '@hono/zod-openapi';
import { RECORD_TYPES } from '../../core/types.js';
import { bumpConfigVersion } from '../../db/queries/config-version.js';
import { findDeployment } from '../../db/queries/deployments.js';
import { addSuppressions, upsertRecordChunk } from '../../db/queries/records.js';
import { createRouter } from '../app-router.js';
import { assertDeploymentAdmin } from '../auth.js';
import { notFound, validationFailed } from '../errors.js';
import { emailAddress } from './mailboxes.js';
import { bearerSecurity, errorResponses, jsonBody, jsonResponse } from './openapi-helpers.js';

/** Records per all-or-nothing chunk. */
export const RECORD_CHUNK = 500;

export const recordInput = z.object({
  type: z.enum(RECORD_TYPES),
  id: z.string().min(1).max(200),
  name: z.string().max(500).optional(),
  emails: z.array(emailAddress).max(20),
  emailEnabled: z.boolean().default(true),
});

const recordsBody = z.object({ records: z.array(recordInput).min(1).max(200_000) }).openapi('RecordsInput');

const suppressionEntry = z
  .string()
  .trim()
  .max(320)
  .regex(/^([^\s@<>]+@)?[^\s@<>]+\.[^\s@<>]+$|^@[^\s@<>]+\.[^\s@<>]+$/, 'an address (a@x.com) or a domain (@x.com)')
  .transform((s) => s.toLowerCase());

const idParams = z.object({ id: z.string().min(1).max(63) });

const postRecords = createRoute({
  method: 'post',
  path: '/deployments/{id}/records',
  tags: ['records'],
  summary: 'Bulk upsert CRM records (idempotent on type + id), processed in all-or-nothing chunks',
  security: bearerSecurity,
  request: { params: idParams, body: jsonBody(recordsBody) },
  responses: {
    200: jsonResponse(
      z.object({ created: z.number(), updated: z.number(), rejected: z.number(), chunks: z.number() }),
      'counts',
    ),
    ...errorResponses,
  },
});

const postSuppressions = createRoute({
  method: 'post',
  path: '/deployments/{id}/suppressions',
  tags: ['suppressions'],
  summary: 'Add suppressed addresses and @domains (never tracked)',
  security: bearerSecurity,
  request: { params: idParams, body: jsonBody(z.object({ entries: z.array(suppressionEntry).min(1).max(10_000) })) },
  responses: { 200: jsonResponse(z.object({ added: z.number(), unchanged: z.number() }), 'counts'), ...errorResponses },
});

export const recordRoutes = createRouter()
  .openapi(postRecords, async (c) => {
    const { id } = c.req.valid('param');
    assertDeploymentAdmin(c.get('principal'), id);
    const db = c.get('db');
    if (!(await findDeployment(db, id))) throw notFound(`deployment ${id} does not exist`);
    const { records } = c.req.valid('json');
    const seen = new Map<string, number>();
    records.forEach((r, i) => {
      const key = `${r.type}\0${r.id}`;
      const first = seen.get(key);
      if (first !== undefined) throw validationFailed(`records.${i}.id: duplicate of records.${first} (${r.type} ${r.id})`);
      seen.set(key, i);
    });
    let created = 0;
    let updated = 0;
    let chunks = 0;
    for (let i = 0; i < records.length; i += RECORD_CHUNK) {
      const counts = await upsertRecordChunk(db, id, records.slice(i, i + RECORD_CHUNK));
      created += counts.created;
      updated += counts.updated;
      chunks++;
    }
    await bumpConfigVersion(db, 'all');
    return c.json({ created, updated, rejected: 0, chunks }, 200);
  })
  .openapi(postSuppressions, async (c) => {
    const { id } = c.req.valid('param');
    assertDeploymentAdmin(c.get('principal'), id);
    const db = c.get('db');
    if (!(await findDeployment(db, id))) throw notFound(`deployment ${id} does not exist`);
    const counts = await addSuppressions(db, id, c.req.valid('json').entries);
    await bumpConfigVersion(db, 'all');
    return c.json(counts, 200);
  });
