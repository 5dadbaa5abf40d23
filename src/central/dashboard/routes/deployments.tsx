/** @jsxImportSource hono/jsx */
// Deployments page, plus the admin-only create and edit forms: the same validation and rules as
// PUT /api/v1/deployments/:id (deployment-admin.ts), which is admin-only too — deployment sessions
// see no edit controls and get 403 on the form posts.
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import {
  activityCounts,
  mailboxCountsByDeployment,
  recordCounts,
  suppressionCounts,
} from '../../../db/queries/dashboard.js';
import { findDeployment, listDeployments } from '../../../db/queries/deployments.js';
import { assertAdmin, assertDeploymentAdmin } from '../../http/auth.js';
import { listRecords, removeRecordChunk } from '../../../db/queries/records.js';
import { RecordsPage } from '../views/records-page.js';
import { parseDeploymentInput, saveDeployment } from '../../services/deployment-admin.js';
import { ApiError, conflict, notFound } from '../../http/errors.js';
import { setFlash, takeFlash } from '../middleware/flash.js';
import type { DashboardEnv } from '../middleware/session.js';
import {
  DeploymentEditPage,
  type DeploymentFormValues,
  DeploymentsPage,
  formValuesOf,
} from '../views/deployments-page.js';
import { type DashboardContext, formFields, isAdmin, pageContext, scopeOf } from '../context.js';

async function renderDeployments(
  c: DashboardContext,
  opts: { form?: DeploymentFormValues; formError?: string; status?: ContentfulStatusCode } = {},
) {
  const db = c.get('db');
  const scope = scopeOf(c);
  const [rows, records, mailboxes, suppressions, activities] = await Promise.all([
    listDeployments(db),
    recordCounts(db, scope),
    mailboxCountsByDeployment(db, scope),
    suppressionCounts(db, scope),
    activityCounts(db, scope),
  ]);
  const views = rows
    .filter((d) => !scope || d.id === scope)
    .map((row) => ({
      row,
      records: records.get(row.id) ?? {},
      mailboxes: mailboxes.get(row.id) ?? 0,
      suppressions: suppressions.get(row.id) ?? 0,
      activities: activities.get(row.id) ?? 0,
    }));
  return c.html(
    <DeploymentsPage
      page={pageContext(c)}
      views={views}
      canEdit={isAdmin(c)}
      newForm={opts.form}
      newFormError={opts.formError}
      flash={takeFlash(c)}
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
  };
}

export const dashboardDeploymentPages = new Hono<DashboardEnv>()
  .get('/deployments', (c) => renderDeployments(c))
  .post('/deployments', async (c) => {
    assertAdmin(c.get('principal'));
    const f = await formFields(c);
    const form = formValues(f, (f.id ?? '').trim());
    try {
      const { id, body } = parseDeploymentInput(form.id, bodyOf(form));
      if (await findDeployment(c.get('db'), id))
        throw conflict(`deployment ${id} already exists; edit it instead`);
      await saveDeployment(c.get('db'), id, body);
      setFlash(c, { kind: 'ok', text: `Created deployment ${id}.` });
      return c.redirect('/deployments', 303);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return renderDeployments(c, {
        form,
        formError: err.message,
        status: err.status as ContentfulStatusCode,
      });
    }
  })
  .get('/deployments/:id/records', async (c) => {
    const id = c.req.param('id');
    assertDeploymentAdmin(c.get('principal'), id);
    const db = c.get('db');
    if (!(await findDeployment(db, id))) throw notFound(`deployment ${id} does not exist`);
    const address = (c.req.query('address') ?? '').trim().slice(0, 320);
    const rows = address ? await listRecords(db, id, { address, limit: 100 }) : undefined;
    return c.html(
      <RecordsPage
        page={pageContext(c)}
        deployment={id}
        address={address}
        rows={rows}
        flash={takeFlash(c)}
      />,
    );
  })
  .post('/deployments/:id/records/remove', async (c) => {
    const id = c.req.param('id');
    assertDeploymentAdmin(c.get('principal'), id);
    const db = c.get('db');
    if (!(await findDeployment(db, id))) throw notFound(`deployment ${id} does not exist`);
    const f = await formFields(c);
    const key = { type: (f.type ?? '').slice(0, 20), id: (f.id ?? '').slice(0, 200) };
    const deactivate = f.action === 'deactivate';
    const n = await removeRecordChunk(db, id, [key], { deactivate });
    if (!n)
      throw notFound(`${key.type} ${key.id} is not ${deactivate ? 'an active record' : 'a record'} of ${id}`);
    setFlash(c, { kind: 'ok', text: `${deactivate ? 'Deactivated' : 'Deleted'} ${key.type} ${key.id}.` });
    return c.redirect(
      `/deployments/${encodeURIComponent(id)}/records?address=${encodeURIComponent(f.address ?? '')}`,
      303,
    );
  })
  .get('/deployments/:id/edit', async (c) => {
    assertAdmin(c.get('principal'));
    const id = c.req.param('id').slice(0, 100);
    const row = await findDeployment(c.get('db'), id);
    if (!row) throw notFound(`deployment ${id} does not exist`);
    return c.html(<DeploymentEditPage page={pageContext(c)} values={formValuesOf(row)} />);
  })
  .post('/deployments/:id/edit', async (c) => {
    assertAdmin(c.get('principal'));
    const id = c.req.param('id').slice(0, 100);
    if (!(await findDeployment(c.get('db'), id))) throw notFound(`deployment ${id} does not exist`);
    const form = formValues(await formFields(c), id);
    try {
      const parsed = parseDeploymentInput(id, bodyOf(form));
      await saveDeployment(c.get('db'), parsed.id, parsed.body);
      setFlash(c, { kind: 'ok', text: `Saved deployment ${id}.` });
      return c.redirect('/deployments', 303);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return c.html(
        <DeploymentEditPage page={pageContext(c)} values={form} error={err.message} />,
        err.status as ContentfulStatusCode,
      );
    }
  });
