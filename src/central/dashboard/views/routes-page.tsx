/** @jsxImportSource hono/jsx */
import type { FC } from 'hono/jsx';
import { FILTER_MODES } from '../../../core/types.js';
import type { mailboxes } from '../../../db/schema.js';
import {
  AddPanel,
  DataTable,
  DeploymentFilter,
  Field,
  FilterSelect,
  InputField,
  PostForm,
  SearchForm,
  SelectField,
  StackForm,
} from './components.js';
import { formatCount } from './format.js';
import { type Flash, Layout, type PageContext } from './layout.js';

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

/** The "move routes" form: every route of `deployment` whose address contains `search`, to `region`. */
export interface MoveRoutesForm {
  deployment: string;
  search: string;
  region: string;
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
  move?: MoveRoutesForm | undefined;
  moveError?: string | undefined;
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
  move,
  moveError,
}) => (
  <Layout title="Routes" active="routes" page={page} flash={flash}>
    <p class="lead">
      Mailboxes routed to a region's edge, the deployment they belong to and their filter mode.
    </p>
    <AddPanel summary="Add or update a route" open={formError !== undefined}>
      <StackForm action="/routes/save" csrf={page.csrfToken} error={formError} submit="Save route">
        <InputField
          id="n-address"
          label="Mailbox address"
          name="address"
          type="email"
          required
          maxlength={320}
          value={form.address}
        />
        <SelectField
          id="n-deployment"
          label="Deployment"
          values={deploymentIds}
          selected={form.deployment}
          required
        />
        <InputField
          id="n-user"
          label="CRM user id"
          name="userId"
          type="text"
          required
          maxlength={200}
          value={form.userId}
        />
        <SelectField id="n-region" label="Region" values={regionIds} selected={form.region} required />
        <SelectField
          id="n-filter"
          label="Filter mode"
          values={FILTER_MODES}
          texts={FILTER_TEXT}
          selected={form.filter}
        />
      </StackForm>
    </AddPanel>
    <AddPanel summary="Move routes to another region" open={moveError !== undefined}>
      <StackForm action="/routes/move" csrf={page.csrfToken} error={moveError} submit="Move routes">
        <SelectField
          id="m-deployment"
          label="Deployment"
          values={deploymentIds}
          selected={move?.deployment ?? ''}
          required
        />
        <InputField
          id="m-search"
          label="Mailbox address contains (e.g. @sales.contoso.example; empty: every route of the deployment)"
          name="search"
          type="text"
          maxlength={320}
          value={move?.search ?? ''}
        />
        <SelectField
          id="m-region"
          label="New region"
          values={regionIds}
          selected={move?.region ?? ''}
          required
        />
      </StackForm>
      <p class="muted">
        All or nothing, with the rules of a single route; the routes keep their deployment, user and filter
        (the same as <code>POST /api/v1/mailboxes/move</code>).
      </p>
    </AddPanel>
    <AddPanel summary="Import routes (CSV)" open={importResult !== undefined}>
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
      <StackForm action="/routes/import" csrf={page.csrfToken} submit="Import routes">
        <Field
          id="i-csv"
          label={
            <>
              CSV with the header <code>address,region,deployment,userId,filter</code> (filter optional).
              Every row is checked like a single route; one bad row imports nothing. Moving a department:
              paste its rows with the new region.
            </>
          }
        >
          <textarea id="i-csv" name="csv" rows={8} required maxlength={4_000_000}>
            {importCsv ?? ''}
          </textarea>
        </Field>
      </StackForm>
    </AddPanel>
    <SearchForm label="Search routes" action="/routes">
      <InputField
        id="q"
        label="Mailbox address contains"
        name="q"
        type="search"
        value={filters.q}
        maxlength={320}
      />
      <FilterSelect id="f-region" name="region" values={regionIds} selected={filters.region} />
      <DeploymentFilter id="f-deployment" ids={deploymentIds} selected={filters.deployment} />
    </SearchForm>

    <h2 id="list">
      {formatCount(rows.length)} route{rows.length === 1 ? '' : 's'}
      {rows.length >= limit ? ` (first ${limit}; narrow the search)` : ''}
    </h2>
    <DataTable
      labelledBy="list"
      rows={rows}
      empty="No routes match."
      columns={[
        { label: 'Mailbox', class: 'wrap-anywhere', cell: (m) => m.address },
        { label: 'Deployment', cell: (m) => m.deployment },
        { label: 'User', class: 'wrap-anywhere', cell: (m) => m.userId },
        {
          label: 'Region and filter',
          cell: (m, i) => (
            <PostForm
              action="/routes/save"
              csrf={page.csrfToken}
              class="inline"
              hidden={{ address: m.address, deployment: m.deployment, userId: m.userId }}
            >
              {(
                [
                  ['region', 'Region', regionIds, m.region],
                  ['filter', 'Filter', FILTER_MODES, m.filter],
                ] as const
              ).map(([name, label, values, selected]) => (
                <SelectField
                  id={`${name}-${i}`}
                  name={name}
                  label={
                    <>
                      <span class="visually-hidden">{m.address}: </span>
                      {label}
                    </>
                  }
                  values={values}
                  selected={selected}
                />
              ))}
              <button type="submit" class="secondary">
                Save<span class="visually-hidden"> {m.address}</span>
              </button>
            </PostForm>
          ),
        },
        { label: 'Updated', time: (m) => m.updatedAt },
        {
          label: 'Remove',
          cell: (m) => (
            <a href={`/routes/delete?address=${encodeURIComponent(m.address)}`}>
              Delete<span class="visually-hidden"> {m.address}</span>…
            </a>
          ),
        },
      ]}
    />
  </Layout>
);

export const RouteDeleteConfirmPage: FC<{ page: PageContext; row: MailboxRow }> = ({ page, row }) => (
  <Layout title={`Delete the route for ${row.address}?`} active="routes" page={page}>
    <p>
      Mail forwarded by <strong>{row.address}</strong> (deployment {row.deployment}, region {row.region}) will
      no longer be tracked: its edge will toss it as <code>no-route</code> once it has refreshed its snapshot.
    </p>
    <PostForm action="/routes/delete" csrf={page.csrfToken} class="actions" hidden={{ address: row.address }}>
      <button type="submit" class="danger">
        Yes, delete the route
      </button>
      <a href="/routes">Cancel</a>
    </PostForm>
  </Layout>
);
