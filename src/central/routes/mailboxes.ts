import { createRoute, z } from '@hono/zod-openapi';
import { FILTER_MODES } from '../../core/types.js';
import { bumpConfigVersion } from '../../db/queries/config-version.js';
import { deleteMailbox, findMailbox, listMailboxes } from '../../db/queries/mailboxes.js';
import { createRouter } from '../app-router.js';
import { assertDeploymentAdmin, deploymentScope } from '../auth.js';
import type { Principal } from '../context.js';
import { notFound } from '../errors.js';
import { saveMailboxRoute } from '../mailbox-admin.js';
import { serializeMailbox } from '../serializers.js';
import { bearerSecurity, errorResponses, jsonBody, jsonResponse } from './openapi-helpers.js';

export const emailAddress = z
  .string()
  .trim()
  .max(320)
  .regex(/^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/, 'must be an e-mail address')
  .transform((s) => s.toLowerCase());

export const mailboxBody = z
  .object({
    region: z.string().min(1).max(32),
    deployment: z.string().min(1).max(63),
    userId: z.string().min(1).max(200),
    filter: z.enum(FILTER_MODES).default('email-enabled'),
  })
  .openapi('MailboxRouteInput');

const mailboxSchema = z
  .object({
    address: z.string(),
    region: z.string(),
    deployment: z.string(),
    userId: z.string(),
    filter: z.enum(FILTER_MODES),
    createdAt: z.number(),
    updatedAt: z.number(),
  })
  .openapi('MailboxRoute');

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

/** Admins see every route, deployment tokens their deployment's, user tokens only their own mailboxes. */
export function mayReadRoute(p: Principal, row: { deployment: string; userId: string }): boolean {
  const scope = deploymentScope(p);
  if (scope && row.deployment !== scope) return false;
  return p.kind !== 'user' || p.userId === row.userId;
}

export const mailboxRoutes = createRouter()
  .openapi(putMailbox, async (c) => {
    const { address } = c.req.valid('param');
    const { row } = await saveMailboxRoute(c.get('db'), c.get('principal'), address, c.req.valid('json'));
    return c.json(serializeMailbox(row), 200);
  })
  .openapi(getMailbox, async (c) => {
    const { address } = c.req.valid('param');
    const row = await findMailbox(c.get('db'), address);
    if (!row || !mayReadRoute(c.get('principal'), row)) throw notFound(`mailbox ${address} is not routed`);
    return c.json(serializeMailbox(row), 200);
  })
  .openapi(deleteMailboxRoute, async (c) => {
    const db = c.get('db');
    const { address } = c.req.valid('param');
    const row = await findMailbox(db, address);
    if (!row || !mayReadRoute(c.get('principal'), row)) throw notFound(`mailbox ${address} is not routed`);
    assertDeploymentAdmin(c.get('principal'), row.deployment);
    await deleteMailbox(db, address);
    await bumpConfigVersion(db, [row.region]);
    return c.json({ deleted: address }, 200);
  })
  .openapi(listMailboxesRoute, async (c) => {
    const q = c.req.valid('query');
    const principal = c.get('principal');
    const scope = deploymentScope(principal);
    const rows = await listMailboxes(c.get('db'), {
      region: q.region,
      deployment: scope ?? q.deployment,
      ...(principal.kind === 'user' ? { userId: principal.userId } : {}),
      search: q.q,
      limit: q.limit,
    });
    return c.json({ items: rows.map(serializeMailbox) }, 200);
  });
