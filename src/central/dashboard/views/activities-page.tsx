/** @jsxImportSource hono/jsx */
import type { FC } from 'hono/jsx';
import type { activities } from '../../../db/schema.js';
import { DataTable, DeploymentFilter, InputField, SearchForm } from './components.js';
import { formatBytes } from './format.js';
import { type Flash, Layout, type PageContext } from './layout.js';

export type ActivityRow = typeof activities.$inferSelect;

export interface ActivityFilters {
  q: string;
  deployment: string;
}

/** "Name <address>" as text (escaped on render), or the address alone. */
export function displayAddress(address: string | null | undefined, name?: string | null): string {
  if (!address) return '—';
  return name ? `${name} <${address}>` : address;
}

export const ActivitiesPage: FC<{
  page: PageContext;
  rows: ActivityRow[];
  filters: ActivityFilters;
  deploymentIds: string[];
  nextCursor?: string | undefined;
  /** Whether this is a later page (a cursor was given). */
  paged?: boolean;
  flash?: Flash | undefined;
  /** While the search index's backfill runs (migrations 0014, 0015): the share of older activities indexed. */
  searchIndexedShare?: number | undefined;
}> = ({ page, rows, filters, deploymentIds, nextCursor, paged, flash, searchIndexedShare }) => {
  const query = (extra: Record<string, string>) =>
    new URLSearchParams(
      Object.entries({ q: filters.q, deployment: filters.deployment, ...extra }).filter(([, v]) => v !== ''),
    ).toString();
  return (
    <Layout title="Activities" active="activities" page={page} flash={flash}>
      <p class="lead">Tracked e-mail, newest first. Open one to see why it was tracked.</p>
      <SearchForm label="Search activities" action="/activities">
        <InputField
          id="q"
          label="Subject, address or Message-ID"
          name="q"
          type="search"
          value={filters.q}
          maxlength={500}
          class="wide"
        />
        <DeploymentFilter id="deployment" ids={deploymentIds} selected={filters.deployment} />
      </SearchForm>
      {filters.q && searchIndexedShare !== undefined ? (
        <p class="badge warn" role="status">
          Search is still indexing older activities ({Math.floor(searchIndexedShare * 100)}% done, newest
          first): until it is done, older activities are found by their whole Message-ID but not yet by text.
        </p>
      ) : null}
      <DataTable
        label="Activities"
        rows={rows}
        empty="No activities match."
        columns={[
          { label: 'Received', time: (a) => a.receivedAt },
          {
            label: 'Subject',
            class: 'wrap-anywhere',
            cell: (a) => (
              <a href={`/activities/${encodeURIComponent(a.id)}`}>{a.subject || '(no subject)'}</a>
            ),
          },
          { label: 'From', class: 'wrap-anywhere', cell: (a) => displayAddress(a.fromAddress, a.fromName) },
          { label: 'Deployment', cell: (a) => a.deployment },
          { label: 'Why tracked', cell: (a) => <code>{a.reason}</code> },
          { label: 'Regions', cell: (a) => a.regions.join(', ') },
          { label: 'Size', class: 'num', cell: (a) => formatBytes(a.sizeBytes) },
        ]}
      />
      <div class="actions">
        {paged ? <a href={`/activities?${query({})}`}>← Newest</a> : null}
        {nextCursor ? <a href={`/activities?${query({ cursor: nextCursor })}`}>Older activities →</a> : null}
      </div>
    </Layout>
  );
};
