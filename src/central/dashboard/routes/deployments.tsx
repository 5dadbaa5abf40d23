/** @jsxImportSource hono/jsx */
// Deployments page, plus the admin-only create and edit forms: the same validation and rules as
// PUT /api/v1/deployments/:id (deployment-admin.ts), which is admin-only too — deployment sessions
// see no edit controls and get 403 on the form posts.
import { Hono } from 'hono';
import { readCentralConfig } from '../../config.js';
import { connectorsHealth } from '../../connectors/service.js';
import { RECORD_CHUNK } from '../../contract/schemas.js';
import { assertAdmin, assertDeploymentAdmin } from '../../http/auth.js';
import { conflict, notFound } from '../../http/errors.js';
import {
  activityCounts,
  domainsByDeployment,
  findDeployment,
  listDeploymentDomains,
  listDeployments,
  mailboxCountsByDeployment,
  parseDeploymentInput,
  recordCounts,
  saveDeployment,
  suppressionCounts,
} from '../../services/deployment-admin.js';
import { completeSync, listRecordSyncs, startSync } from '../../services/record-sync.js';
import { listRecords, recordKeysOfText, removeManyRecords, removeRecord } from '../../services/records.js';
import { changeSite } from '../../snapshot/config-changed.js';
import {
  type DashboardContext,
  formFields,
  isAdmin,
  orRefusal,
  pageContext,
  pageProps,
  type Refusal,
  scopeOf,
} from '../context.js';
import { setFlash } from '../middleware/flash.js';
import type { DashboardEnv } from '../middleware/session.js';
import {
  DeploymentEditPage,
  type DeploymentFormValues,
  DeploymentsPage,
  formValuesOf,
} from '../views/deployments-page.js';
import type { Flash } from '../views/layout.js';
import { RecordsPage } from '../views/records-page.js';
import { SyncsPage } from '../views/syncs-page.js';

async function renderDeployments(c: DashboardContext, opts: Refusal<DeploymentFormValues> = {}) {
  const db = c.get('db');
  const scope = scopeOf(c);
  const [rows, records, domains, mailboxes, suppressions, activities, connectors] = await Promise.all([
    listDeployments(db),
    recordCounts(db, scope),
    domainsByDeployment(db, scope),
    mailboxCountsByDeployment(db, scope),
    suppressionCounts(db, scope),
    activityCounts(db, scope),
    connectorsHealth(db, scope),
  ]);
  const views = rows
    .filter((d) => !scope || d.id === scope)
    .map((row) => ({
      row,
      records: records.get(row.id) ?? {},
      domains: domains.get(row.id) ?? [],
      mailboxes: mailboxes.get(row.id) ?? 0,
      suppressions: suppressions.get(row.id) ?? 0,
      activities: activities.get(row.id) ?? 0,
      connector: connectors[row.id] && { kind: connectors[row.id]!.kind, status: connectors[row.id]! },
    }));
  return c.html(
    <DeploymentsPage
      {...pageProps(c)}
      views={views}
      canEdit={isAdmin(c)}
      newForm={opts.form}
      newFormError={opts.formError}
    />,
    opts.status ?? 200,
  );
}

/** The submitted form, as entered (capped), for re-rendering. */
function formValues(f: Record<string, string>, id: string): DeploymentFormValues {
  const text = (name: string, max: number) => (f[name] ?? '').slice(0, max);
  return {
    id: id.slice(0, 100),
    name: text('name', 300),
    prefix: text('prefix', 100),
    base: text('base', 20).trim(),
    userDigits: text('userDigits', 20).trim(),
    counterDigits: text('counterDigits', 20).trim(),
    webhookUrl: text('webhookUrl', 2100).trim(),
    maxMessageBytes: text('maxMessageBytes', 20).trim(),
    attachmentPolicy: text('attachmentPolicy', 20),
    smartMatch: f.smartMatch === 'on' || f.smartMatch === 'true',
    domains: f.domains === undefined ? undefined : f.domains.slice(0, 30_000),
  };
}

/** A number field: empty is left out; anything else is handed to the schema (which names the field). */
function num(s: string): number | undefined {
  return s === '' ? undefined : Number(s);
}

/** The API body the form stands for: an empty webhook URL clears it, an empty base takes the next free one. */
function bodyOf(v: DeploymentFormValues) {
  return {
    name: v.name,
    trackingToken: {
      prefix: v.prefix,
      deploymentBase: num(v.base),
      userDigits: num(v.userDigits),
      counterDigits: num(v.counterDigits),
    },
    webhookUrl: v.webhookUrl === '' ? null : v.webhookUrl,
    maxMessageBytes: num(v.maxMessageBytes),
    attachmentPolicy: v.attachmentPolicy,
    smartMatch: v.smartMatch,
    // Left out when the form had no such field (domains unchanged); an empty field removes them all.
    domains: v.domains === undefined ? undefined : v.domains.split(/[\s,;]+/).filter(Boolean),
  };
}

/** The deployment of a `/deployments/:id/…` page the session may manage (403, or 404 when it does not exist). */
async function managedDeployment(c: DashboardContext): Promise<string> {
  const id = c.req.param('id') ?? '';
  assertDeploymentAdmin(c.get('principal'), id);
  if (!(await findDeployment(c.get('db'), id))) throw notFound(`deployment ${id} does not exist`);
  return id;
}

/** The deployment an `/deployments/:id/edit` page edits (admins only; 404 when it does not exist). */
async function editedDeployment(c: DashboardContext) {
  assertAdmin(c.get('principal'));
  const id = (c.req.param('id') ?? '').slice(0, 100);
  const row = await findDeployment(c.get('db'), id);
  if (!row) throw notFound(`deployment ${id} does not exist`);
  return row;
}

async function renderSyncs(c: DashboardContext, id: string, refusal: Refusal<never> = {}) {
  const rows = await listRecordSyncs(c.get('db'), id);
  const props = pageProps(c);
  const flash: Flash | undefined = refusal.formError ? { kind: 'bad', text: refusal.formError } : props.flash;
  return c.html(<SyncsPage {...props} flash={flash} deployment={id} rows={rows} />, refusal.status ?? 200);
}

export const dashboardDeploymentPages = new Hono<DashboardEnv>()
  .get('/deployments', (c) => renderDeployments(c))
  .post('/deployments', async (c) => {
    assertAdmin(c.get('principal'));
    const f = await formFields(c);
    const form = formValues(f, (f.id ?? '').trim());
    return orRefusal(
      async () => {
        const { id, body } = parseDeploymentInput(form.id, bodyOf(form));
        if (await findDeployment(c.get('db'), id))
          throw conflict(`deployment ${id} already exists; edit it instead`);
        await saveDeployment(c.get('db'), changeSite(c), id, body, readCentralConfig(c.env));
        setFlash(c, { kind: 'ok', text: `Created deployment ${id}.` });
        return c.redirect('/deployments', 303);
      },
      (err) => renderDeployments(c, { form, formError: err.message, status: err.status }),
    );
  })
  .get('/deployments/:id/records', async (c) => {
    const id = await managedDeployment(c);
    const address = (c.req.query('address') ?? '').trim().slice(0, 320);
    const rows = address ? await listRecords(c.get('db'), id, { address, limit: 100 }) : undefined;
    return c.html(<RecordsPage {...pageProps(c)} deployment={id} address={address} rows={rows} />);
  })
  .post('/deployments/:id/records/remove', async (c) => {
    const id = await managedDeployment(c);
    const db = c.get('db');
    const f = await formFields(c);
    const key = { type: (f.type ?? '').slice(0, 20), id: (f.id ?? '').slice(0, 200) };
    const deactivate = f.action === 'deactivate';
    const n = await removeRecord(db, changeSite(c), id, key, { deactivate });
    if (!n)
      throw notFound(`${key.type} ${key.id} is not ${deactivate ? 'an active record' : 'a record'} of ${id}`);
    setFlash(c, { kind: 'ok', text: `${deactivate ? 'Deactivated' : 'Deleted'} ${key.type} ${key.id}.` });
    return c.redirect(
      `/deployments/${encodeURIComponent(id)}/records?address=${encodeURIComponent(f.address ?? '')}`,
      303,
    );
  })
  .post('/deployments/:id/records/remove-many', async (c) => {
    const id = await managedDeployment(c);
    const f = await formFields(c);
    const keys = f.keys ?? '';
    const deactivate = f.action === 'deactivate';
    return orRefusal(
      async () => {
        const done = await removeManyRecords(c.get('db'), changeSite(c), id, recordKeysOfText(keys), {
          deactivate,
          chunk: RECORD_CHUNK,
        });
        setFlash(c, {
          kind: 'ok',
          text: `${deactivate ? 'Deactivated' : 'Deleted'} ${done.removed} of ${done.requested} record(s); ${done.notFound} not found${deactivate ? ' or already inactive' : ''}.`,
        });
        return c.redirect(`/deployments/${encodeURIComponent(id)}/records`, 303);
      },
      (err) =>
        c.html(
          <RecordsPage
            {...pageProps(c)}
            deployment={id}
            address=""
            rows={undefined}
            bulk={{ keys, error: err.message }}
          />,
          err.status,
        ),
    );
  })
  .get('/deployments/:id/syncs', async (c) => renderSyncs(c, await managedDeployment(c)))
  .post('/deployments/:id/syncs', async (c) => {
    const id = await managedDeployment(c);
    const sync = await startSync(c.get('db'), id);
    setFlash(c, {
      kind: 'ok',
      text: `Started full sync ${sync.id}: post the export's records with ?sync=${sync.id}, then complete it.`,
    });
    return c.redirect(`/deployments/${encodeURIComponent(id)}/syncs`, 303);
  })
  .post('/deployments/:id/syncs/:syncId/complete', async (c) => {
    const id = await managedDeployment(c);
    const syncId = c.req.param('syncId').slice(0, 100);
    return orRefusal(
      async () => {
        const done = await completeSync(c.get('db'), changeSite(c), id, syncId);
        setFlash(c, {
          kind: 'ok',
          text:
            done.status === 'completed'
              ? `Completed full sync ${syncId}: ${done.received} record(s) carried, ${done.removed} removed.`
              : `Full sync ${syncId} is still completing (${done.removed} removed so far): complete it again.`,
        });
        return c.redirect(`/deployments/${encodeURIComponent(id)}/syncs`, 303);
      },
      (err) => renderSyncs(c, id, { formError: err.message, status: err.status }),
    );
  })
  .get('/deployments/:id/edit', async (c) => {
    const row = await editedDeployment(c);
    const id = row.id;
    const domains = await listDeploymentDomains(c.get('db'), id);
    return c.html(<DeploymentEditPage page={pageContext(c)} values={formValuesOf(row, domains)} />);
  })
  .post('/deployments/:id/edit', async (c) => {
    const { id } = await editedDeployment(c);
    const form = formValues(await formFields(c), id);
    return orRefusal(
      async () => {
        const parsed = parseDeploymentInput(id, bodyOf(form));
        await saveDeployment(c.get('db'), changeSite(c), parsed.id, parsed.body, readCentralConfig(c.env));
        setFlash(c, { kind: 'ok', text: `Saved deployment ${id}.` });
        return c.redirect('/deployments', 303);
      },
      (err) =>
        c.html(<DeploymentEditPage page={pageContext(c)} values={form} error={err.message} />, err.status),
    );
  });
