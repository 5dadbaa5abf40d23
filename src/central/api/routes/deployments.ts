import { z } from '@hono/zod-openapi';
import type { Db } from '../../../db/client.js';
import type { DeploymentRow } from '../../../db/queries/deployments.js';
import { readCentralConfig } from '../../config.js';
import type { Principal } from '../../context.js';
import { apiRoute, jsonBody, jsonResponse } from '../../contract/openapi-helpers.js';
import { deploymentSchema, forwardingAddressesSchema } from '../../contract/schemas.js';
import { serializeDeployment } from '../../contract/serializers.js';
import { webhookSecret } from '../../delivery/webhooks.js';
import { createRouter } from '../../http/app-router.js';
import { assertAdmin, assertDeploymentAdmin, deploymentScope } from '../../http/auth.js';
import { notFound } from '../../http/errors.js';
import {
  deploymentBody,
  findDeployment,
  idParam,
  listDeploymentDomains,
  listDeployments,
  rotateForwardingAddresses,
  rotateWebhookSecret,
  saveDeployment,
} from '../../services/deployment-admin.js';
import {
  currentForwardingAddresses,
  FORWARDING_GRACE_MS,
  forwardingKeys,
} from '../../services/forwarding.js';
import { changeSite } from '../../snapshot/config-changed.js';

export { deploymentBody, idParam };

const putDeployment = apiRoute('put', '/deployments/{id}', 'deployments', {
  summary: 'Create or update a CRM deployment (admin only)',
  request: { params: z.object({ id: idParam }), body: jsonBody(deploymentBody) },
  responses: {
    200: jsonResponse(deploymentSchema, 'the deployment'),
    409: jsonResponse(
      z.any(),
      'the deployment base number is used by another deployment, or a domain belongs to another deployment (`domain_owned_elsewhere`)',
    ),
  },
});

const getDeployment = apiRoute('get', '/deployments/{id}', 'deployments', {
  summary: 'Read a deployment, with its forwarding addresses',
  request: { params: z.object({ id: idParam }) },
  responses: { 200: jsonResponse(deploymentSchema, 'the deployment') },
});

const listDeploymentsRoute = apiRoute('get', '/deployments', 'deployments', {
  summary: 'List the deployments this token may see',
  responses: { 200: jsonResponse(z.object({ items: z.array(deploymentSchema) }), 'deployments') },
});

const rotateForwardingRoute = apiRoute(
  'post',
  '/deployments/{id}/forwarding-addresses/rotate',
  'deployments',
  {
    summary: 'Issue new forwarding addresses (the previous ones keep working for 7 days)',
    request: { params: z.object({ id: idParam }) },
    responses: {
      200: jsonResponse(
        z.object({
          forwardingAddresses: forwardingAddressesSchema,
          previousValidUntil: z
            .number()
            .openapi({ description: 'epoch ms: the previous addresses stop working then' }),
        }),
        'the new forwarding addresses',
      ),
    },
  },
);

const rotateWebhookSecretRoute = apiRoute('post', '/deployments/{id}/webhook-secret/rotate', 'deployments', {
  summary: 'Issue a new webhook signing secret (admin only; shown once, the old one stops at once)',
  request: { params: z.object({ id: idParam }) },
  responses: { 200: jsonResponse(z.object({ webhookSecret: z.string() }), 'the new secret (shown once)') },
});

/** The deployment as a principal may see it: forwarding addresses for admins and its deployment tokens only. */
async function present(db: Db, env: Parameters<typeof forwardingKeys>[0], p: Principal, row: DeploymentRow) {
  const withAddresses = p.kind === 'admin' || (p.kind === 'deployment' && p.deployment === row.id);
  const { webhookUrl, ...rest } = serializeDeployment(row);
  return {
    ...rest,
    ...(withAddresses ? { webhookUrl } : {}),
    domains: await listDeploymentDomains(db, row.id),
    ...(withAddresses
      ? { forwardingAddresses: await currentForwardingAddresses(db, forwardingKeys(env), row) }
      : {}),
  };
}

export const deploymentRoutes = createRouter()
  .openapi(putDeployment, async (c) => {
    const principal = c.get('principal');
    assertAdmin(principal);
    const db = c.get('db');
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const before = await findDeployment(db, id);
    const row = await saveDeployment(db, changeSite(c), id, body, readCentralConfig(c.env));
    // The secret is shown once: when the webhook URL is first set.
    const firstWebhook = !before?.webhookUrl && row.webhookUrl;
    return c.json(
      {
        ...(await present(db, c.env, principal, row)),
        ...(firstWebhook
          ? {
              webhookSecret: await webhookSecret(
                readCentralConfig(c.env).edgeKeySecret,
                row.id,
                row.webhookSecretGeneration,
              ),
            }
          : {}),
      },
      200,
    );
  })
  .openapi(getDeployment, async (c) => {
    const { id } = c.req.valid('param');
    const principal = c.get('principal');
    assertDeploymentAdmin(principal, id);
    const db = c.get('db');
    const row = await findDeployment(db, id);
    if (!row) throw notFound(`deployment ${id} does not exist`);
    return c.json(await present(db, c.env, principal, row), 200);
  })
  .openapi(listDeploymentsRoute, async (c) => {
    const principal = c.get('principal');
    const scope = deploymentScope(principal);
    const db = c.get('db');
    const rows = (await listDeployments(db)).filter((r) => !scope || r.id === scope);
    const items = [];
    for (const r of rows) items.push(await present(db, c.env, principal, r));
    return c.json({ items }, 200);
  })
  .openapi(rotateForwardingRoute, async (c) => {
    const { id } = c.req.valid('param');
    assertDeploymentAdmin(c.get('principal'), id);
    const db = c.get('db');
    const now = Date.now();
    const row = await rotateForwardingAddresses(db, changeSite(c), id, now);
    if (!row) throw notFound(`deployment ${id} does not exist`);
    return c.json(
      {
        forwardingAddresses: await currentForwardingAddresses(db, forwardingKeys(c.env), row),
        previousValidUntil: now + FORWARDING_GRACE_MS,
      },
      200,
    );
  })
  .openapi(rotateWebhookSecretRoute, async (c) => {
    const { id } = c.req.valid('param');
    assertAdmin(c.get('principal'));
    const db = c.get('db');
    const row = await rotateWebhookSecret(db, id);
    return c.json(
      {
        webhookSecret: await webhookSecret(
          readCentralConfig(c.env).edgeKeySecret,
          row.id,
          row.webhookSecretGeneration,
        ),
      },
      200,
    );
  });
