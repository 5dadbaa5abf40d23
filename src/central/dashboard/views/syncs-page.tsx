/** @jsxImportSource hono/jsx */
// A deployment's full syncs (POST …/record-syncs): their state and counts; start one, complete the
// latest open one. The same rules as the API (record-sync.ts).
import type { FC } from 'hono/jsx';
import type { RecordSync } from '../../services/record-sync.js';
import { formatCount } from './format.js';
import { Csrf, type Flash, Layout, type PageContext, Time } from './layout.js';

const STATE_TEXT: Record<string, string> = {
  open: 'open — receiving records',
  completing: 'completing — removal under way, complete again',
  completed: 'completed',
  superseded: 'superseded by a newer sync (removed nothing)',
};

export const SyncsPage: FC<{
  page: PageContext;
  deployment: string;
  rows: RecordSync[];
  flash?: Flash | undefined;
}> = ({ page, deployment, rows, flash }) => {
  const base = `/deployments/${encodeURIComponent(deployment)}/syncs`;
  const latest = rows[0];
  return (
    <Layout title={`Full syncs of ${deployment}`} active="deployments" page={page} flash={flash}>
      <p class="lead">
        <a href="/deployments">Deployments</a> › {deployment}. A full sync follows a nightly CRM export: start
        one, post the export's records with <code>?sync=&lt;id&gt;</code> (or run{' '}
        <code>crm-router records sync export.csv --deployment {deployment}</code>), then complete it — every
        record of {deployment} the sync did not carry is removed. A sync never completed removes nothing;
        starting a new one supersedes an open one.
      </p>
      <form method="post" action={base} class="inline panel">
        <Csrf token={page.csrfToken} />
        <button type="submit">Start a full sync</button>
      </form>
      {rows.length === 0 ? (
        <p class="muted">No full syncs yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Sync</th>
              <th>State</th>
              <th>Records carried</th>
              <th>Removed</th>
              <th>Started</th>
              <th>Completed</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => (
              <tr>
                <td class="mono">{s.id}</td>
                <td>{STATE_TEXT[s.status] ?? s.status}</td>
                <td>{formatCount(s.received)}</td>
                <td>{formatCount(s.removed)}</td>
                <td>
                  <Time ms={s.startedAt} />
                </td>
                <td>
                  <Time ms={s.completedAt} />
                </td>
                <td>
                  {s === latest && (s.status === 'open' || s.status === 'completing') ? (
                    <form
                      method="post"
                      action={`${base}/${encodeURIComponent(s.id)}/complete`}
                      class="inline"
                    >
                      <Csrf token={page.csrfToken} />
                      <button type="submit" class="danger">
                        Complete {s.id}: remove the records it did not carry
                      </button>
                    </form>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Layout>
  );
};
