/** @jsxImportSource hono/jsx */
import type { FC } from 'hono/jsx';
import type { deadLetters } from '../../../db/schema.js';
import type { WebhookDeliveryRow } from './activity-page.js';
import { Csrf, type Flash, Layout, type PageContext, Time } from './layout.js';

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
          <form method="post" action="/dead-letters/replay">
            <Csrf token={page.csrfToken} />
            <button type="submit">Replay all pending ({pending})</button>
          </form>
        ) : null}
      </div>
      <div class="table-wrap">
        <table class="responsive" aria-label="Dead letters">
          <thead>
            <tr>
              <th scope="col">Created</th>
              <th scope="col">Region</th>
              <th scope="col">Deployment</th>
              <th scope="col">Message-ID</th>
              <th scope="col">Error</th>
              <th scope="col" class="num">
                Attempts
              </th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <tr>
                <td data-label="Created" class="nowrap">
                  <Time ms={d.createdAt} />
                </td>
                <td data-label="Region">{d.region}</td>
                <td data-label="Deployment">{d.deployment ?? <span class="muted">—</span>}</td>
                <td data-label="Message-ID" class="mono wrap-anywhere">
                  {itemMessageId(d.item) ?? <span class="muted">—</span>}
                </td>
                <td data-label="Error" class="wrap-anywhere">
                  <code>{d.error}</code>
                  {d.replayResult && d.replayedAt == null ? (
                    <div class="muted">last replay: {d.replayResult}</div>
                  ) : null}
                </td>
                <td data-label="Attempts" class="num">
                  {d.attempts}
                </td>
                <td data-label="Status">
                  {d.replayedAt != null ? (
                    <>
                      <span class="badge ok">replayed</span> <Time ms={d.replayedAt} />
                      <ReplayResult text={d.replayResult} />
                    </>
                  ) : (
                    <form method="post" action={`/dead-letters/${encodeURIComponent(d.id)}/replay`}>
                      <Csrf token={page.csrfToken} />
                      <button type="submit" class="secondary">
                        Replay<span class="visually-hidden"> dead letter {d.id}</span>
                      </button>
                    </form>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {rows.length === 0 ? (
          <p class="muted panel">{filter === 'pending' ? 'No pending dead letters.' : 'No dead letters.'}</p>
        ) : null}
      </div>

      <h2 id="webhooks">Failing webhook deliveries</h2>
      <p class="lead">
        Onward deliveries of activities to a CRM webhook that failed (HTTP 410 or another 4xx but 408/429, or
        4 days of retries) or are retrying after a failed attempt. Replay attempts one now.
      </p>
      <div class="table-wrap">
        <table class="responsive" aria-label="Failing webhook deliveries">
          <thead>
            <tr>
              <th scope="col">Changed</th>
              <th scope="col">Deployment</th>
              <th scope="col">Activity</th>
              <th scope="col">State</th>
              <th scope="col" class="num">
                Attempts
              </th>
              <th scope="col">Last answer</th>
              <th scope="col">Action</th>
            </tr>
          </thead>
          <tbody>
            {deliveries.map((d) => (
              <tr>
                <td data-label="Changed" class="nowrap">
                  <Time ms={d.updatedAt} />
                </td>
                <td data-label="Deployment">{d.deployment}</td>
                <td data-label="Activity">
                  <a href={`/activities/${encodeURIComponent(d.activityId)}`}>{d.activityId.slice(0, 8)}…</a>
                </td>
                <td data-label="State">
                  <span class={`badge ${d.state === 'failed' ? 'bad' : 'warn'}`}>{d.state}</span>
                </td>
                <td data-label="Attempts" class="num">
                  {d.attempts}
                </td>
                <td data-label="Last answer" class="wrap-anywhere">
                  <code>{d.lastError ?? (d.lastStatus ? `HTTP ${d.lastStatus}` : '—')}</code>
                </td>
                <td data-label="Action">
                  <form method="post" action={`/dead-letters/webhooks/${encodeURIComponent(d.id)}/replay`}>
                    <Csrf token={page.csrfToken} />
                    <button type="submit" class="secondary">
                      Replay<span class="visually-hidden"> webhook delivery {d.id}</span>
                    </button>
                  </form>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {deliveries.length === 0 ? <p class="muted panel">No failing webhook deliveries.</p> : null}
      </div>
    </Layout>
  );
};
