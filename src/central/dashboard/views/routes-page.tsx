/** @jsxImportSource hono/jsx */
import type { FC } from 'hono/jsx';
import { FILTER_MODES } from '../../../core/types.js';
import type { mailboxes } from '../../../db/schema.js';
import { formatCount } from './format.js';
import { Csrf, type Flash, Layout, Options, type PageContext, Time } from './layout.js';

type MailboxRow = typeof mailboxes.$inferSelect;

export const FILTER_TEXT: Record<string, string> = {
  all: 'all — track every message',
  responses: 'responses — only mail that correlates with CRM mail',
  records: 'records — sender (or a recipient) is a contact, account or lead',
  'email-enabled': 'email-enabled — any mail-enabled record, users included (default)',
  none: 'none — track nothing',
};

export interface RouteFilters {
  q: string;
  region: string;
  deployment: string;
}

export interface ImportResult {
  ok: boolean;
  text: string;
  errors?: Array<{ line?: number | undefined; field: string; message: string }>;
}

export interface NewRouteForm {
  address: string;
  region: string;
  deployment: string;
  userId: string;
  filter: string;
}

export const RoutesPage: FC<{
  page: PageContext;
  rows: MailboxRow[];
  limit: number;
  regionIds: string[];
  deploymentIds: string[];
  filters: RouteFilters;
  form: NewRouteForm;
  formError?: string | undefined;
  importResult?: ImportResult | undefined;
  importCsv?: string | undefined;
  flash?: Flash | undefined;
}> = ({
  page,
  rows,
  limit,
  regionIds,
  deploymentIds,
  filters,
  form,
  formError,
  flash,
  importResult,
  importCsv,
}) => (
  <Layout title="Routes" active="routes" page={page} flash={flash}>
    <p class="lead">
      Mailboxes routed to a region's edge, the deployment they belong to and their filter mode.
    </p>
    <details class="add panel" open={formError !== undefined}>
      <summary>Add or update a route</summary>
      {formError ? (
        <div class="flash bad" role="alert">
          {formError}
        </div>
      ) : null}
      <form method="post" action="/routes/save" class="stack">
        <Csrf token={page.csrfToken} />
        <div class="field">
          <label for="n-address">Mailbox address</label>
          <input id="n-address" name="address" type="email" required maxlength={320} value={form.address} />
        </div>
        <div class="field">
          <label for="n-deployment">Deployment</label>
          <select id="n-deployment" name="deployment" required>
            <Options values={deploymentIds} selected={form.deployment} />
          </select>
        </div>
        <div class="field">
          <label for="n-user">CRM user id</label>
          <input id="n-user" name="userId" type="text" required maxlength={200} value={form.userId} />
        </div>
        <div class="field">
          <label for="n-region">Region</label>
          <select id="n-region" name="region" required>
            <Options values={regionIds} selected={form.region} />
          </select>
        </div>
        <div class="field">
          <label for="n-filter">Filter mode</label>
          <select id="n-filter" name="filter">
            {FILTER_MODES.map((f) => (
              <option value={f} selected={f === form.filter}>
                {FILTER_TEXT[f]}
              </option>
            ))}
          </select>
        </div>
        <div>
          <button type="submit">Save route</button>
        </div>
      </form>
    </details>
    <details class="add panel" open={importResult !== undefined}>
      <summary>Import routes (CSV)</summary>
      {importResult ? (
        <div class={`flash ${importResult.ok ? 'ok' : 'bad'}`} role={importResult.ok ? 'status' : 'alert'}>
          <p>{importResult.text}</p>
          {importResult.errors?.length ? (
            <ul>
              {importResult.errors.map((e) => (
                <li>
                  line {e.line ?? '?'}, {e.field}: {e.message}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
      <form method="post" action="/routes/import" class="stack">
        <Csrf token={page.csrfToken} />
        <div class="field">
          <label for="i-csv">
            CSV with the header <code>address,region,deployment,userId,filter</code> (filter optional). Every
            row is checked like a single route; one bad row imports nothing. Moving a department: paste its
            rows with the new region.
          </label>
          <textarea id="i-csv" name="csv" rows={8} required maxlength={4_000_000}>
            {importCsv ?? ''}
          </textarea>
        </div>
        <div>
          <button type="submit">Import routes</button>
        </div>
      </form>
    </details>
    <search aria-label="Search routes">
      <form method="get" action="/routes" class="inline panel">
        <div class="field">
          <label for="q">Mailbox address contains</label>
          <input id="q" name="q" type="search" value={filters.q} maxlength={320} />
        </div>
        <div class="field">
          <label for="f-region">Region</label>
          <select id="f-region" name="region">
            <Options values={regionIds} selected={filters.region} any="any region" />
          </select>
        </div>
        {deploymentIds.length > 1 ? (
          <div class="field">
            <label for="f-deployment">Deployment</label>
            <select id="f-deployment" name="deployment">
              <Options values={deploymentIds} selected={filters.deployment} any="any deployment" />
            </select>
          </div>
        ) : null}
        <button type="submit">Search</button>
      </form>
    </search>

    <h2 id="list">
      {formatCount(rows.length)} route{rows.length === 1 ? '' : 's'}
      {rows.length >= limit ? ` (first ${limit}; narrow the search)` : ''}
    </h2>
    <div class="table-wrap">
      <table class="responsive" aria-labelledby="list">
        <thead>
          <tr>
            <th scope="col">Mailbox</th>
            <th scope="col">Deployment</th>
            <th scope="col">User</th>
            <th scope="col">Region and filter</th>
            <th scope="col">Updated</th>
            <th scope="col">Remove</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((m, i) => (
            <tr>
              <td data-label="Mailbox" class="wrap-anywhere">
                {m.address}
              </td>
              <td data-label="Deployment">{m.deployment}</td>
              <td data-label="User" class="wrap-anywhere">
                {m.userId}
              </td>
              <td data-label="Region and filter">
                <form method="post" action="/routes/save" class="inline">
                  <Csrf token={page.csrfToken} />
                  <input type="hidden" name="address" value={m.address} />
                  <input type="hidden" name="deployment" value={m.deployment} />
                  <input type="hidden" name="userId" value={m.userId} />
                  <div class="field">
                    <label for={`region-${i}`}>
                      <span class="visually-hidden">{m.address}: </span>Region
                    </label>
                    <select id={`region-${i}`} name="region">
                      <Options values={regionIds} selected={m.region} />
                    </select>
                  </div>
                  <div class="field">
                    <label for={`filter-${i}`}>
                      <span class="visually-hidden">{m.address}: </span>Filter
                    </label>
                    <select id={`filter-${i}`} name="filter">
                      <Options values={FILTER_MODES} selected={m.filter} />
                    </select>
                  </div>
                  <button type="submit" class="secondary">
                    Save<span class="visually-hidden"> {m.address}</span>
                  </button>
                </form>
              </td>
              <td data-label="Updated">
                <Time ms={m.updatedAt} />
              </td>
              <td data-label="Remove">
                <a href={`/routes/delete?address=${encodeURIComponent(m.address)}`}>
                  Delete<span class="visually-hidden"> {m.address}</span>…
                </a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 ? <p class="muted panel">No routes match.</p> : null}
    </div>
  </Layout>
);

export const RouteDeleteConfirmPage: FC<{ page: PageContext; row: MailboxRow }> = ({ page, row }) => (
  <Layout title={`Delete the route for ${row.address}?`} active="routes" page={page}>
    <p>
      Mail forwarded by <strong>{row.address}</strong> (deployment {row.deployment}, region {row.region}) will
      no longer be tracked: its edge will toss it as <code>no-route</code> once it has refreshed its snapshot.
    </p>
    <form method="post" action="/routes/delete" class="actions">
      <Csrf token={page.csrfToken} />
      <input type="hidden" name="address" value={row.address} />
      <button type="submit" class="danger">
        Yes, delete the route
      </button>
      <a href="/routes">Cancel</a>
    </form>
  </Layout>
);
