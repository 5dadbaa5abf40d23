/** @jsxImportSource hono/jsx */
import type { FC } from 'hono/jsx';
import type { deadLetters } from '../../../db/schema.js';
import type { WebhookDeliveryRow } from './activity-page.js';
import { DataTable, PostButton } from './components.js';
import { type Flash, Layout, type PageContext, Time } from './layout.js';

type DeadLetterRow = typeof deadLetters.$inferSelect;

function itemMessageId(item: unknown): string | undefined {
  const id = item && typeof item === 'object' ? (item as { messageId?: unknown }).messageId : undefined;
  return typeof id === 'string' ? id : undefined;
}

/** "accepted as <activity id>" links to the activity the replay created or merged into. */
const ReplayResult: FC<{ text: string | null }> = ({ text }) => {
  const m = text ? /^(accepted|merged) as ([0-9a-f-]{36})$/.exec(text) : null;
  if (!m) return <div class="muted">{text}</div>;
  return (
    <div class="muted">
      {m[1]} as <a href={`/activities/${m[2]}`}>activity {m[2]?.slice(0, 8)}…</a>
    </div>
  );
};

export const DeadLettersPage: FC<{
  page: PageContext;
  rows: DeadLetterRow[];
  filter: 'pending' | 'all';
  flash?: Flash | undefined;
  deliveries?: WebhookDeliveryRow[] | undefined;
}> = ({ page, rows, filter, flash, deliveries = [] }) => {
  const pending = rows.filter((r) => r.replayedAt == null).length;
  return (
    <Layout title="Dead letters" active="dead-letters" page={page} flash={flash}>
      <p class="lead">
        Items an edge could not deliver after its retries, or that central could not ingest. Replaying sends
        an item through ingestion again; it is deduplicated like any other copy.
      </p>
      <div class="actions">
        <nav aria-label="Which dead letters">
          {filter === 'pending' ? (
            <>
              <strong>Pending</strong> · <a href="/dead-letters?show=all">All</a>
            </>
          ) : (
            <>
              <a href="/dead-letters">Pending</a> · <strong>All</strong>
            </>
          )}
        </nav>
        {pending > 0 ? (
          <PostButton action="/dead-letters/replay" csrf={page.csrfToken}>
            Replay all pending ({pending})
          </PostButton>
        ) : null}
      </div>
      <DataTable
        label="Dead letters"
        rows={rows}
        empty={filter === 'pending' ? 'No pending dead letters.' : 'No dead letters.'}
        columns={[
          { label: 'Created', time: (d) => d.createdAt },
          { label: 'Region', cell: (d) => d.region },
          { label: 'Deployment', cell: (d) => d.deployment ?? <span class="muted">—</span> },
          {
            label: 'Message-ID',
            class: 'mono wrap-anywhere',
            cell: (d) => itemMessageId(d.item) ?? <span class="muted">—</span>,
          },
          {
            label: 'Error',
            class: 'wrap-anywhere',
            cell: (d) => (
              <>
                <code>{d.error}</code>
                {d.replayResult && d.replayedAt == null ? (
                  <div class="muted">last replay: {d.replayResult}</div>
                ) : null}
              </>
            ),
          },
          { label: 'Attempts', class: 'num', cell: (d) => d.attempts },
          {
            label: 'Status',
            cell: (d) =>
              d.replayedAt != null ? (
                <>
                  <span class="badge ok">replayed</span> <Time ms={d.replayedAt} />
                  <ReplayResult text={d.replayResult} />
                </>
              ) : (
                <PostButton
                  action={`/dead-letters/${encodeURIComponent(d.id)}/replay`}
                  csrf={page.csrfToken}
                  class="secondary"
                  hiddenLabel={`dead letter ${d.id}`}
                >
                  Replay
                </PostButton>
              ),
          },
        ]}
      />

      <h2 id="webhooks">Failing webhook deliveries</h2>
      <p class="lead">
        Onward deliveries of activities to a CRM webhook that failed (HTTP 410 or another 4xx but 408/429, or
        4 days of retries) or are retrying after a failed attempt. Replay attempts one now.
      </p>
      <DataTable
        label="Failing webhook deliveries"
        rows={deliveries}
        empty="No failing webhook deliveries."
        columns={[
          { label: 'Changed', time: (d) => d.updatedAt },
          { label: 'Deployment', cell: (d) => d.deployment },
          {
            label: 'Activity',
            cell: (d) => (
              <a href={`/activities/${encodeURIComponent(d.activityId)}`}>{d.activityId.slice(0, 8)}…</a>
            ),
          },
          {
            label: 'State',
            cell: (d) => <span class={`badge ${d.state === 'failed' ? 'bad' : 'warn'}`}>{d.state}</span>,
          },
          { label: 'Attempts', class: 'num', cell: (d) => d.attempts },
          {
            label: 'Last answer',
            class: 'wrap-anywhere',
            cell: (d) => <code>{d.lastError ?? (d.lastStatus ? `HTTP ${d.lastStatus}` : '—')}</code>,
          },
          {
            label: 'Action',
            cell: (d) => (
              <PostButton
                action={`/dead-letters/webhooks/${encodeURIComponent(d.id)}/replay`}
                csrf={page.csrfToken}
                class="secondary"
                hiddenLabel={`webhook delivery ${d.id}`}
              >
                Replay
              </PostButton>
            ),
          },
        ]}
      />
    </Layout>
  );
};
