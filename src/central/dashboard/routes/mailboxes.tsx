/** @jsxImportSource hono/jsx */
// The Routes pages: the same validation and semantics as PUT/DELETE /api/v1/mailboxes/:address.
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { emailAddress, MAX_ROUTES_PER_REQUEST, mailboxBody, moveBody } from '../../contract/schemas.js';
import { assertDeploymentAdmin } from '../../http/auth.js';
import { describeIssues, validationFailed } from '../../http/errors.js';
import { listDeployments } from '../../services/deployment-admin.js';
import { findMailbox, listMailboxes, routeMailbox, unrouteMailbox } from '../../services/mailbox-admin.js';
import { listRegions } from '../../services/regions.js';
import { csvRouteCandidates, importRoutes, moveRoutes } from '../../services/route-import.js';
import { changeSite } from '../../snapshot/config-changed.js';
import {
  type DashboardContext,
  formFields,
  orRefusal,
  pageContext,
  pageProps,
  queryText,
  type Refusal,
  scopeOf,
  visibleRow,
} from '../context.js';
import { setFlash } from '../middleware/flash.js';
import type { DashboardEnv } from '../middleware/session.js';
import {
  type ImportResult,
  type MoveRoutesForm,
  type NewRouteForm,
  RouteDeleteConfirmPage,
  type RouteFilters,
  RoutesPage,
} from '../views/routes-page.js';

const LIST_LIMIT = 500;

async function renderRoutes(
  c: DashboardContext,
  opts: Refusal<NewRouteForm> & {
    importResult?: ImportResult;
    importCsv?: string;
    move?: MoveRoutesForm;
    moveError?: string;
  } = {},
) {
  const db = c.get('db');
  const scope = scopeOf(c);
  const filters: RouteFilters = {
    q: queryText(c, 'q', 320),
    region: queryText(c, 'region', 32),
    deployment: scope ?? queryText(c, 'deployment', 63),
  };
  const [rows, regionRows, deploymentRows] = await Promise.all([
    listMailboxes(db, {
      region: filters.region || undefined,
      deployment: filters.deployment || undefined,
      search: filters.q || undefined,
      limit: LIST_LIMIT,
    }),
    listRegions(db),
    listDeployments(db),
  ]);
  const deploymentIds = deploymentRows.map((d) => d.id).filter((id) => !scope || id === scope);
  const regionIds = regionRows.map((r) => r.id);
  const form: NewRouteForm = opts.form ?? {
    address: '',
    region: regionIds[0] ?? '',
    deployment: scope ?? deploymentIds[0] ?? '',
    userId: '',
    filter: 'email-enabled',
  };
  return c.html(
    <RoutesPage
      {...pageProps(c)}
      rows={rows}
      limit={LIST_LIMIT}
      regionIds={regionIds}
      deploymentIds={deploymentIds}
      filters={filters}
      form={form}
      formError={opts.formError}
      importResult={opts.importResult}
      importCsv={opts.importCsv}
      move={opts.move}
      moveError={opts.moveError}
    />,
    opts.status ?? 200,
  );
}

/** Routes a mailbox exactly as PUT /api/v1/mailboxes/:address does; throws ApiError on refusal. */
async function saveRoute(c: DashboardContext, input: NewRouteForm) {
  const db = c.get('db');
  const principal = c.get('principal');
  const address = emailAddress.safeParse(input.address);
  if (!address.success) throw validationFailed(`address: ${describeIssues(address.error.issues)}`);
  const body = mailboxBody.safeParse({
    region: input.region,
    deployment: input.deployment,
    userId: input.userId.trim(),
    filter: input.filter || undefined,
  });
  if (!body.success) throw validationFailed(describeIssues(body.error.issues));
  const { row, existing } = await routeMailbox(db, changeSite(c), principal, {
    address: address.data,
    ...body.data,
  });
  return { row, existing };
}

async function visibleRoute(c: DashboardContext, address: string) {
  const parsed = emailAddress.safeParse(address);
  const row = parsed.success ? await findMailbox(c.get('db'), parsed.data) : undefined;
  return visibleRow(c, row, `Mailbox ${address} is not routed.`);
}

export const dashboardMailboxPages = new Hono<DashboardEnv>()
  .get('/routes', (c) => renderRoutes(c))
  .post('/routes/save', async (c) => {
    const f = await formFields(c);
    const input: NewRouteForm = {
      address: (f.address ?? '').slice(0, 400),
      region: f.region ?? '',
      deployment: f.deployment ?? '',
      userId: (f.userId ?? '').slice(0, 300),
      filter: f.filter ?? '',
    };
    return orRefusal(
      async () => {
        const { row, existing } = await saveRoute(c, input);
        const what = !existing
          ? `Added the route for ${row.address} (${row.region}, filter ${row.filter}).`
          : existing.region !== row.region
            ? `Moved ${row.address} from ${existing.region} to ${row.region} (filter ${row.filter}).`
            : `Saved ${row.address}: region ${row.region}, filter ${row.filter}.`;
        setFlash(c, { kind: 'ok', text: what });
        return c.redirect(`/routes?q=${encodeURIComponent(row.address)}`, 303);
      },
      (err) => renderRoutes(c, { form: input, formError: err.message, status: err.status }),
    );
  })
  .post('/routes/import', async (c) => {
    const csv = ((await formFields(c)).csv ?? '').slice(0, 4_000_000);
    const refused = (status: ContentfulStatusCode, importResult: ImportResult) =>
      renderRoutes(c, { status, importCsv: csv, importResult });
    return orRefusal(
      async () => {
        const candidates = csvRouteCandidates(csv);
        if (!candidates.length) throw validationFailed('the CSV has no rows after its header');
        if (candidates.length > MAX_ROUTES_PER_REQUEST)
          throw validationFailed(`${candidates.length} routes; at most ${MAX_ROUTES_PER_REQUEST} per import`);
        const outcome = await importRoutes(c.get('db'), changeSite(c), c.get('principal'), candidates, false);
        if ('errors' in outcome)
          return refused(outcome.status, {
            ok: false,
            text: `${outcome.errors.length} row(s) refused; nothing was imported.`,
            errors: outcome.errors.slice(0, 200),
          });
        setFlash(c, {
          kind: 'ok',
          text: `Imported ${candidates.length} route(s): ${outcome.created} created, ${outcome.moved} moved, ${outcome.updated} updated.`,
        });
        return c.redirect('/routes', 303);
      },
      (err) => refused(err.status, { ok: false, text: err.message }),
    );
  })
  .post('/routes/move', async (c) => {
    const f = await formFields(c);
    const move: MoveRoutesForm = {
      deployment: (f.deployment ?? '').slice(0, 100),
      search: (f.search ?? '').trim().slice(0, 400),
      region: (f.region ?? '').slice(0, 100),
    };
    return orRefusal(
      async () => {
        // The API's body schema and mover (POST /api/v1/mailboxes/move): the same rules.
        const body = moveBody.safeParse({ ...move, search: move.search || undefined });
        if (!body.success) throw validationFailed(describeIssues(body.error.issues));
        const result = await moveRoutes(c.get('db'), changeSite(c), c.get('principal'), body.data);
        setFlash(c, {
          kind: 'ok',
          text: `Moved ${result.moved} route(s) of ${move.deployment} to ${move.region} (${result.updated} already there).`,
        });
        return c.redirect(`/routes?deployment=${encodeURIComponent(move.deployment)}`, 303);
      },
      (err) => renderRoutes(c, { move, moveError: err.message, status: err.status }),
    );
  })
  .get('/routes/delete', async (c) => {
    const row = await visibleRoute(c, c.req.query('address') ?? '');
    assertDeploymentAdmin(c.get('principal'), row.deployment);
    return c.html(<RouteDeleteConfirmPage page={pageContext(c)} row={row} />);
  })
  .post('/routes/delete', async (c) => {
    const row = await visibleRoute(c, (await formFields(c)).address ?? '');
    await unrouteMailbox(c.get('db'), changeSite(c), c.get('principal'), row);
    setFlash(c, { kind: 'ok', text: `Deleted the route for ${row.address}.` });
    return c.redirect('/routes', 303);
  });
