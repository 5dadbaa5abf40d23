/** @jsxImportSource hono/jsx */
// A deployment's full syncs (POST …/record-syncs): their state and counts; start one, complete the
// latest open one. The same rules as the API (record-sync.ts).
import type { FC } from 'hono/jsx';
import type { RecordSync } from '../../services/record-sync.js';
import { DataTable, PostButton } from './components.js';
import { formatCount } from './format.js';
import { type Flash, Layout, type PageContext } from './layout.js';

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
      <PostButton action={base} csrf={page.csrfToken} formClass="inline panel">
        Start a full sync
      </PostButton>
      <DataTable
        label={`Full syncs of ${deployment}`}
        rows={rows}
        empty="No full syncs yet."
        columns={[
          { label: 'Sync', class: 'mono', cell: (s) => s.id },
          { label: 'State', cell: (s) => STATE_TEXT[s.status] ?? s.status },
          { label: 'Records carried', class: 'num', cell: (s) => formatCount(s.received) },
          { label: 'Removed', class: 'num', cell: (s) => formatCount(s.removed) },
          { label: 'Started', time: (s) => s.startedAt },
          { label: 'Completed', time: (s) => s.completedAt },
          {
            label: 'Actions',
            cell: (s) =>
              s === latest && (s.status === 'open' || s.status === 'completing') ? (
                <PostButton
                  action={`${base}/${encodeURIComponent(s.id)}/complete`}
                  csrf={page.csrfToken}
                  class="danger"
                  formClass="inline"
                >
                  Complete {s.id}: remove the records it did not carry
                </PostButton>
              ) : null,
          },
        ]}
      />
    </Layout>
  );
};
