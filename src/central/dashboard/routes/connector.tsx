/** @jsxImportSource hono/jsx */
// The connector page of a deployment (`/deployments/:id/connector`): the same service and rules as
// PUT/GET/test/sync …/connector in the API; admins and that deployment's sessions only.
import { Hono } from 'hono';
import { readCentralConfig } from '../../config.js';
import { adapterFor } from '../../connectors/registry.js';
import {
  availableKinds,
  connectorView,
  loadConnector,
  requireConnector,
  saveConnector,
  testConnector,
} from '../../connectors/service.js';
import { runConnectorSync, startConnectorSync } from '../../connectors/sync.js';
import { CONNECTOR_KINDS, type ConnectorKind } from '../../connectors/types.js';
import { assertDeploymentAdmin } from '../../http/auth.js';
import { conflict, notFound, validationFailed } from '../../http/errors.js';
import { findDeployment } from '../../services/deployment-admin.js';
import { changeSite } from '../../snapshot/config-changed.js';
import { type DashboardContext, formFields, orRefusal, pageProps } from '../context.js';
import { setFlash } from '../middleware/flash.js';
import type { DashboardEnv } from '../middleware/session.js';
import { CONNECTOR_FORM_FIELDS, ConnectorPage } from '../views/connector-page.js';

async function managed(c: DashboardContext) {
  const id = c.req.param('id') ?? '';
  assertDeploymentAdmin(c.get('principal'), id);
  const deployment = await findDeployment(c.get('db'), id);
  if (!deployment) throw notFound(`deployment ${id} does not exist`);
  return deployment;
}

async function render(
  c: DashboardContext,
  id: string,
  extra: { formError?: string; test?: { ok: boolean; detail: string }; status?: 200 | 400 | 409 } = {},
) {
  const db = c.get('db');
  const deployment = await findDeployment(db, id);
  const connector = deployment && (await loadConnector(db, deployment));
  const view = connector
    ? ((await connectorView(db, connector)) as Required<Awaited<ReturnType<typeof connectorView>>>)
    : undefined;
  return c.html(
    <ConnectorPage
      {...pageProps(c)}
      deployment={id}
      connector={view}
      formError={extra.formError}
      test={extra.test}
      kinds={[...new Set([...availableKinds(), ...(connector ? [connector.kind] : [])])]}
      canSync={!!(connector?.row && adapterFor(connector.kind)?.pull)}
    />,
    extra.status ?? 200,
  );
}

/** The form's fields of the chosen kind, as the API's `{ kind, settings, secrets }`. */
function connectorInputOf(fields: Record<string, string>) {
  const kind = fields.kind as ConnectorKind;
  if (!(CONNECTOR_KINDS as readonly string[]).includes(kind)) throw validationFailed('kind: choose a kind');
  const spec = CONNECTOR_FORM_FIELDS[kind];
  const settings: Record<string, string> = {};
  for (const f of spec.settings) {
    const value = (fields[`${kind}.${f.name}`] ?? '').trim();
    if (value) settings[f.name] = value;
  }
  const secrets: Record<string, string> = {};
  for (const s of spec.secrets) {
    const value = fields[`${kind}.secret.${s}`] ?? '';
    if (value) secrets[s] = value;
  }
  return { kind, settings, secrets };
}

export const dashboardConnectorPages = new Hono<DashboardEnv>()
  .get('/deployments/:id/connector', async (c) => render(c, (await managed(c)).id))
  .post('/deployments/:id/connector', async (c) => {
    const deployment = await managed(c);
    return orRefusal(
      async () => {
        const input = connectorInputOf(await formFields(c));
        await saveConnector(c.get('db'), readCentralConfig(c.env), deployment, input);
        setFlash(c, { kind: 'ok', text: `Saved the ${input.kind} connector of ${deployment.id}.` });
        return c.redirect(`/deployments/${encodeURIComponent(deployment.id)}/connector`, 303);
      },
      (err) => render(c, deployment.id, { formError: err.message, status: 400 }),
    );
  })
  .post('/deployments/:id/connector/test', async (c) => {
    const { id } = await managed(c);
    const { connector } = await requireConnector(c.get('db'), id);
    const test = await testConnector(c.get('db'), readCentralConfig(c.env), connector);
    return render(c, id, { test });
  })
  .post('/deployments/:id/connector/sync', async (c) => {
    const { id } = await managed(c);
    const db = c.get('db');
    const { connector } = await requireConnector(db, id);
    if (!adapterFor(connector.kind)?.pull || !connector.row)
      return render(c, id, {
        formError: conflict(`the ${connector.kind} connector holds no records to sync`).message,
        status: 409,
      });
    const syncId = await startConnectorSync(db, id);
    const site = changeSite(c);
    site.ctx.waitUntil(
      runConnectorSync(db, site, readCentralConfig(c.env), id).catch((err) =>
        console.error(`connector sync of ${id} failed`, (err as Error)?.name),
      ),
    );
    setFlash(c, { kind: 'ok', text: `Started record sync ${syncId}; progress shows below.` });
    return c.redirect(`/deployments/${encodeURIComponent(id)}/connector`, 303);
  });
