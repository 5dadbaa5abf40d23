import { createRoute, z } from '@hono/zod-openapi';
import { deploymentSchema } from '../schemas.js';
import { findDeployment, listDeployments } from '../../db/queries/deployments.js';
import type { DeploymentRow } from '../../db/queries/deployments.js';
import { createRouter } from '../app-router.js';
import { readCentralConfig } from '../config.js';
import type { CentralBindings } from '../context.js';
import { webhookSecret } from '../webhooks.js';
import { assertAdmin, assertDeploymentAdmin, deploymentScope } from '../auth.js';
import { deploymentBody, idParam, saveDeployment } from '../deployment-admin.js';
import { notFound } from '../errors.js';
import { serializeDeployment } from '../serializers.js';
import { bearerSecurity, errorResponses, jsonBody, jsonResponse } from './openapi-helpers.js';

export { deploymentBody, idParam };

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
    const row = await saveDeployment(db, id, body);
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
