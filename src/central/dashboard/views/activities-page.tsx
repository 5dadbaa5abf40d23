/** @jsxImportSource hono/jsx */
import type { FC } from 'hono/jsx';
import type { activities } from '../../../db/schema.js';
import { formatBytes } from './format.js';
import { type Flash, Layout, Options, type PageContext, Time } from './layout.js';

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
}> = ({ page, rows, filters, deploymentIds, nextCursor, paged, flash }) => {
  const query = (extra: Record<string, string>) =>
    new URLSearchParams(
      Object.entries({ q: filters.q, deployment: filters.deployment, ...extra }).filter(([, v]) => v !== ''),
    ).toString();
  return (
    <Layout title="Activities" active="activities" page={page} flash={flash}>
      <p class="lead">Tracked e-mail, newest first. Open one to see why it was tracked.</p>
      <search aria-label="Search activities">
        <form method="get" action="/activities" class="inline panel">
          <div class="field">
            <label for="q">Subject, address or Message-ID</label>
            <input id="q" name="q" type="search" value={filters.q} maxlength={500} class="wide" />
          </div>
          {deploymentIds.length > 1 ? (
            <div class="field">
              <label for="deployment">Deployment</label>
              <select id="deployment" name="deployment">
                <Options values={deploymentIds} selected={filters.deployment} any="any deployment" />
              </select>
            </div>
          ) : null}
          <button type="submit">Search</button>
        </form>
      </search>
      <div class="table-wrap">
        <table class="responsive" aria-label="Activities">
          <thead>
            <tr>
              <th scope="col">Received</th>
              <th scope="col">Subject</th>
              <th scope="col">From</th>
              <th scope="col">Deployment</th>
              <th scope="col">Why tracked</th>
              <th scope="col">Regions</th>
              <th scope="col" class="num">
                Size
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((a) => (
              <tr>
                <td data-label="Received" class="nowrap">
                  <Time ms={a.receivedAt} />
                </td>
                <td data-label="Subject" class="wrap-anywhere">
                  <a href={`/activities/${encodeURIComponent(a.id)}`}>{a.subject || '(no subject)'}</a>
                </td>
                <td data-label="From" class="wrap-anywhere">
                  {displayAddress(a.fromAddress, a.fromName)}
                </td>
                <td data-label="Deployment">{a.deployment}</td>
                <td data-label="Why tracked">
                  <code>{a.reason}</code>
                </td>
                <td data-label="Regions">{a.regions.join(', ')}</td>
                <td data-label="Size" class="num">
                  {formatBytes(a.sizeBytes)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {rows.length === 0 ? <p class="muted panel">No activities match.</p> : null}
      </div>
      <div class="actions">
        {paged ? <a href={`/activities?${query({})}`}>← Newest</a> : null}
        {nextCursor ? <a href={`/activities?${query({ cursor: nextCursor })}`}>Older activities →</a> : null}
      </div>
    </Layout>
  );
};
