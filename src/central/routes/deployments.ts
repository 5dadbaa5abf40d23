import { createRoute, z } from '@hono/zod-openapi';
import { ATTACHMENT_POLICIES } from '../../core/types.js';
import { bumpConfigVersion } from '../../db/queries/config-version.js';
import {
  findDeployment,
  findDeploymentByBase,
  listDeployments,
  nextFreeTokenBase,
  upsertDeployment,
} from '../../db/queries/deployments.js';
import type { DeploymentRow } from '../../db/queries/deployments.js';
import { createRouter } from '../app-router.js';
import { readCentralConfig } from '../config.js';
import type { CentralBindings } from '../context.js';
import { webhookSecret } from '../webhooks.js';
import { assertAdmin, assertDeploymentAdmin, deploymentScope } from '../auth.js';
import { conflict, notFound } from '../errors.js';
import { serializeDeployment } from '../serializers.js';
import { bearerSecurity, errorResponses, jsonBody, jsonResponse } from './openapi-helpers.js';

export const idParam = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and dashes, at most 63 characters');

const trackingTokenSchema = z.object({
  prefix: z
    .string()
    .min(1)
    .max(20)
    .regex(/^[^\s\d]+$/, 'no whitespace or digits')
    .default('CRM:'),
  deploymentBase: z.number().int().min(0).max(99999),
  userDigits: z.number().int().min(1).max(9).default(3),
  counterDigits: z.number().int().min(1).max(9).default(3),
});

export const deploymentBody = z
  .object({
    name: z.string().min(1).max(200),
    trackingToken: trackingTokenSchema.partial({ deploymentBase: true }).optional(),
    webhookUrl: z.string().url().max(2000).nullable().optional(),
    maxMessageBytes: z
      .number()
      .int()
      .min(1024)
      .max(25 * 1024 * 1024)
      .optional(),
    attachmentPolicy: z.enum(ATTACHMENT_POLICIES).optional(),
    smartMatch: z.boolean().optional(),
  })
  .openapi('DeploymentInput');

const deploymentSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    trackingToken: trackingTokenSchema,
    webhookUrl: z.string().nullable(),
    webhookSecret: z
      .string()
      .openapi({ description: 'verifies `x-crm-router-signature` on webhook deliveries' }),
    maxMessageBytes: z.number(),
    attachmentPolicy: z.string(),
    smartMatch: z.boolean(),
    createdAt: z.number(),
    updatedAt: z.number(),
  })
  .openapi('Deployment');

const putDeployment = createRoute({
  method: 'put',
  path: '/deployments/{id}',
  tags: ['deployments'],
  summary: 'Create or update a CRM deployment',
  security: bearerSecurity,
  request: { params: z.object({ id: idParam }), body: jsonBody(deploymentBody) },
  responses: {
    200: jsonResponse(deploymentSchema, 'the deployment'),
    409: jsonResponse(z.any(), 'the deployment base number is used by another deployment'),
    ...errorResponses,
  },
});

const getDeployment = createRoute({
  method: 'get',
  path: '/deployments/{id}',
  tags: ['deployments'],
  summary: 'Read a deployment',
  security: bearerSecurity,
  request: { params: z.object({ id: idParam }) },
  responses: { 200: jsonResponse(deploymentSchema, 'the deployment'), ...errorResponses },
});

const listDeploymentsRoute = createRoute({
  method: 'get',
  path: '/deployments',
  tags: ['deployments'],
  summary: 'List the deployments this token may see',
  security: bearerSecurity,
  responses: {
    200: jsonResponse(z.object({ items: z.array(deploymentSchema) }), 'deployments'),
    ...errorResponses,
  },
});

async function withSecret(env: CentralBindings, row: DeploymentRow) {
  return {
    ...serializeDeployment(row),
    webhookSecret: await webhookSecret(readCentralConfig(env).edgeKeySecret, row.id),
  };
}

export const deploymentRoutes = createRouter()
  .openapi(putDeployment, async (c) => {
    assertAdmin(c.get('principal'));
    const db = c.get('db');
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const existing = await findDeployment(db, id);
    let base = body.trackingToken?.deploymentBase ?? existing?.tokenBase;
    if (base === undefined) base = await nextFreeTokenBase(db);
    const holder = await findDeploymentByBase(db, base);
    if (holder && holder.id !== id)
      throw conflict(`trackingToken.deploymentBase ${base} is already used by deployment ${holder.id}`);
    const row = await upsertDeployment(db, {
      id,
      name: body.name,
      tokenPrefix: body.trackingToken?.prefix ?? existing?.tokenPrefix ?? 'CRM:',
      tokenBase: base,
      tokenUserDigits: body.trackingToken?.userDigits ?? existing?.tokenUserDigits ?? 3,
      tokenCounterDigits: body.trackingToken?.counterDigits ?? existing?.tokenCounterDigits ?? 3,
      webhookUrl: body.webhookUrl === undefined ? (existing?.webhookUrl ?? null) : body.webhookUrl,
      maxMessageBytes: body.maxMessageBytes ?? existing?.maxMessageBytes ?? 25 * 1024 * 1024,
      attachmentPolicy: body.attachmentPolicy ?? existing?.attachmentPolicy ?? 'regional',
      smartMatch: body.smartMatch ?? existing?.smartMatch ?? false,
    });
    await bumpConfigVersion(db, 'all');
    return c.json(await withSecret(c.env, row), 200);
  })
  .openapi(getDeployment, async (c) => {
    const { id } = c.req.valid('param');
    assertDeploymentAdmin(c.get('principal'), id);
    const row = await findDeployment(c.get('db'), id);
    if (!row) throw notFound(`deployment ${id} does not exist`);
    return c.json(await withSecret(c.env, row), 200);
  })
  .openapi(listDeploymentsRoute, async (c) => {
    const scope = deploymentScope(c.get('principal'));
    const rows = await listDeployments(c.get('db'));
    return c.json(
      {
        items: await Promise.all(
          rows.filter((r) => !scope || r.id === scope).map((r) => withSecret(c.env, r)),
        ),
      },
      200,
    );
  });
