import { z } from '@hono/zod-openapi';
import { readCentralConfig } from '../../config.js';
import { adapterFor } from '../../connectors/registry.js';
import {
  connectorInput,
  connectorView,
  requireConnector,
  saveConnector,
  testConnector,
} from '../../connectors/service.js';
import { runSyncPass, startConnectorSync } from '../../connectors/sync.js';
import { webhookSecret } from '../../connectors/webhook.js';
import { apiRoute, errorSchema, jsonBody, jsonResponse } from '../../contract/openapi-helpers.js';
import { createRouter } from '../../http/app-router.js';
import { assertDeploymentAccess, assertDeploymentAdmin } from '../../http/auth.js';
import { conflict, notFound } from '../../http/errors.js';
import { findDeployment } from '../../services/deployment-admin.js';
import { changeSite } from '../../snapshot/config-changed.js';
import { connectorSchema } from '../connector-schemas.js';

const idParams = z.object({ id: z.string().min(1).max(63) });

const putRoute = apiRoute('put', '/deployments/{id}/connector', 'connectors', {
  summary: "Set the deployment's CRM connector (its one delivery target)",
  description: [
    'Kinds and their fields: `webhook` settings `{ url }`; `hubspot` settings `{ baseUrl? }`, secrets `{ accessToken }`;',
    '`dynamics365` settings `{ url, tenantId, clientId, tokenUrl? }`, secrets `{ clientSecret }`; `tryton` settings `{ url, database }`, secrets `{ username, password }`.',
    'URLs follow the webhook URL policy (public https only). Secrets are write-only: stored encrypted, never returned; secrets left out are kept while the kind stays the same.',
    "A PUT resumes a paused connector. The kind `webhook` keeps its URL as the deployment's `webhookUrl`; another kind clears it.",
    'A kind whose adapter this central does not have is a 400.',
  ].join(' '),
  request: { params: idParams, body: jsonBody(connectorInput) },
  responses: { 200: jsonResponse(connectorSchema, 'the connector, without secrets') },
});

const getRoute = apiRoute('get', '/deployments/{id}/connector', 'connectors', {
  summary: "The deployment's CRM connector and its health",
  description:
    'Admin and deployment tokens see settings, which secrets are set, and the status with `lastError`; user tokens of the deployment see the kind and the status without `settings`, `pauseReason` and `lastError`. A deployment with only a `webhookUrl` has the kind `webhook`. 404 when the deployment delivers nowhere.',
  request: { params: idParams },
  responses: { 200: jsonResponse(connectorSchema, 'the connector') },
});

const testRoute = apiRoute('post', '/deployments/{id}/connector/test', 'connectors', {
  summary: 'Test the connection: one harmless call to the CRM',
  description:
    '`detail` says exactly what failed (never a secret). A paused connector resumes when the test passes.',
  request: { params: idParams },
  responses: {
    200: jsonResponse(
      z.object({ ok: z.boolean(), detail: z.string() }).openapi('ConnectorTest'),
      'the outcome',
    ),
  },
});

const syncRoute = apiRoute('post', '/deployments/{id}/connector/sync', 'connectors', {
  summary: 'Start a record and outbound sync from the CRM now',
  description:
    'Pulls what changed since the stored cursor into the record store (same validation as the CSV import) and registers mail sent from the CRM as outbound. The first pages are applied right away; the rest continues on the cron, a few pages a minute; progress shows as `status.sync`. A sync under way is answered with its id. 409 for a kind that holds no records (`webhook`).',
  request: { params: idParams },
  responses: {
    202: jsonResponse(z.object({ syncId: z.string() }), 'the sync under way'),
    409: jsonResponse(errorSchema, 'this kind of connector holds no records'),
  },
});

export const connectorRoutes = createRouter()
  .openapi(putRoute, async (c) => {
    const { id } = c.req.valid('param');
    const principal = c.get('principal');
    assertDeploymentAdmin(principal, id);
    const db = c.get('db');
    const deployment = await findDeployment(db, id);
    if (!deployment) throw notFound(`deployment ${id} does not exist`);
    const config = readCentralConfig(c.env);
    const { connector, webhookUrlFirstSet } = await saveConnector(
      db,
      config,
      deployment,
      c.req.valid('json'),
    );
    const view = await connectorView(db, connector);
    // As on PUT …/deployments/:id: the webhook secret is shown to an admin once, when the URL is first set.
    const secret =
      webhookUrlFirstSet && principal.kind === 'admin'
        ? { webhookSecret: await webhookSecret(config.edgeKeySecret, id, deployment.webhookSecretGeneration) }
        : {};
    return c.json({ ...view, ...secret }, 200);
  })
  .openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    const principal = c.get('principal');
    assertDeploymentAccess(principal, id);
    const db = c.get('db');
    const { connector } = await requireConnector(db, id);
    return c.json(await connectorView(db, connector, { full: principal.kind !== 'user' }), 200);
  })
  .openapi(testRoute, async (c) => {
    const { id } = c.req.valid('param');
    assertDeploymentAdmin(c.get('principal'), id);
    const db = c.get('db');
    const { connector } = await requireConnector(db, id);
    return c.json(await testConnector(db, readCentralConfig(c.env), connector), 200);
  })
  .openapi(syncRoute, async (c) => {
    const { id } = c.req.valid('param');
    assertDeploymentAdmin(c.get('principal'), id);
    const db = c.get('db');
    const { connector } = await requireConnector(db, id);
    if (!adapterFor(connector.kind)?.pull || !connector.row)
      throw conflict(`the ${connector.kind} connector holds no records to sync`);
    const syncId = await startConnectorSync(db, id);
    const site = changeSite(c);
    // The first pages now, after the answer; the connector-sync queue carries on (bounded work per invocation).
    site.ctx.waitUntil(
      runSyncPass(db, site, readCentralConfig(c.env), id).catch((err) =>
        console.error(`connector sync of ${id} failed`, (err as Error)?.name),
      ),
    );
    return c.json({ syncId }, 202);
  });
