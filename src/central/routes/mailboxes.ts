import { createRoute, z } from '@hono/zod-openapi';
import { emailAddress, mailboxBody, mailboxSchema } from '../schemas.js';
import { bumpConfigVersion } from '../../db/queries/config-version.js';
import { findDeployment } from '../../db/queries/deployments.js';
import { deleteMailbox, findMailbox, listMailboxes, upsertMailbox } from '../../db/queries/mailboxes.js';
import { findRegion } from '../../db/queries/regions.js';
import { createRouter } from '../app-router.js';
import { assertDeploymentAdmin, deploymentScope } from '../auth.js';
import { notFound, validationFailed } from '../errors.js';
import { serializeMailbox } from '../serializers.js';
import { bearerSecurity, errorResponses, jsonBody, jsonResponse } from './openapi-helpers.js';

const addressParam = z.object({ address: emailAddress });

const putMailbox = createRoute({
  method: 'put',
  path: '/mailboxes/{address}',
  tags: ['mailboxes'],
  summary: 'Route a mailbox to a region and deployment (create, move, change filter mode)',
  security: bearerSecurity,
  request: { params: addressParam, body: jsonBody(mailboxBody) },
  responses: { 200: jsonResponse(mailboxSchema, 'the route'), ...errorResponses },
});

const getMailbox = createRoute({
  method: 'get',
  path: '/mailboxes/{address}',
  tags: ['mailboxes'],
  summary: 'Read a mailbox route',
  security: bearerSecurity,
  request: { params: addressParam },
  responses: { 200: jsonResponse(mailboxSchema, 'the route'), ...errorResponses },
});

const deleteMailboxRoute = createRoute({
  method: 'delete',
  path: '/mailboxes/{address}',
  tags: ['mailboxes'],
  summary: 'Remove a mailbox route',
  security: bearerSecurity,
  request: { params: addressParam },
  responses: { 200: jsonResponse(z.object({ deleted: z.string() }), 'deleted'), ...errorResponses },
});

const listMailboxesRoute = createRoute({
  method: 'get',
  path: '/mailboxes',
  tags: ['mailboxes'],
  summary: 'List and search mailbox routes',
  security: bearerSecurity,
  request: {
    query: z.object({
      region: z.string().optional(),
      deployment: z.string().optional(),
      q: z.string().max(320).optional(),
      limit: z.coerce.number().int().min(1).max(5000).optional(),
    }),
  },
  responses: { 200: jsonResponse(z.object({ items: z.array(mailboxSchema) }), 'routes'), ...errorResponses },
});

export const mailboxRoutes = createRouter()
  .openapi(putMailbox, async (c) => {
    const db = c.get('db');
    const principal = c.get('principal');
    const { address } = c.req.valid('param');
    const body = c.req.valid('json');
    assertDeploymentAdmin(principal, body.deployment);
    const existing = await findMailbox(db, address);
    if (existing) assertDeploymentAdmin(principal, existing.deployment);
    if (!(await findRegion(db, body.region))) throw validationFailed(`region: unknown region ${body.region}`);
    if (!(await findDeployment(db, body.deployment)))
      throw validationFailed(`deployment: unknown deployment ${body.deployment}`);
    const row = await upsertMailbox(db, { address, ...body });
    await bumpConfigVersion(
      db,
      existing && existing.region !== body.region ? [existing.region, body.region] : [body.region],
    );
    return c.json(serializeMailbox(row), 200);
  })
  .openapi(getMailbox, async (c) => {
    const { address } = c.req.valid('param');
    const row = await findMailbox(c.get('db'), address);
    const scope = deploymentScope(c.get('principal'));
    if (!row || (scope && row.deployment !== scope)) throw notFound(`mailbox ${address} is not routed`);
    return c.json(serializeMailbox(row), 200);
  })
  .openapi(deleteMailboxRoute, async (c) => {
    const db = c.get('db');
    const { address } = c.req.valid('param');
    const row = await findMailbox(db, address);
    const scope = deploymentScope(c.get('principal'));
    if (!row || (scope && row.deployment !== scope)) throw notFound(`mailbox ${address} is not routed`);
    assertDeploymentAdmin(c.get('principal'), row.deployment);
    await deleteMailbox(db, address);
    await bumpConfigVersion(db, [row.region]);
    return c.json({ deleted: address }, 200);
  })
  .openapi(listMailboxesRoute, async (c) => {
    const q = c.req.valid('query');
    const scope = deploymentScope(c.get('principal'));
    const rows = await listMailboxes(c.get('db'), {
      region: q.region,
      deployment: scope ?? q.deployment,
      search: q.q,
      limit: q.limit,
    });
    return c.json({ items: rows.map(serializeMailbox) }, 200);
  });
