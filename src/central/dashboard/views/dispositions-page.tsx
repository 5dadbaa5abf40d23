/** @jsxImportSource hono/jsx */
import type { FC } from 'hono/jsx';
import { TOSSED_REASONS, TRACKED_REASONS } from '../../../core/types.js';
import type { dispositions } from '../../../db/schema.js';
import { type ActivityRow, displayAddress } from './activities-page.js';
import { DataTable, FilterSelect, InputField, SearchForm } from './components.js';
import { formatBytes, REASON_TEXT } from './format.js';
import { type Flash, Layout, type PageContext } from './layout.js';

export type DispositionRow = typeof dispositions.$inferSelect;

export interface Lookup {
  messageId: string;
  receipts: DispositionRow[];
  activities: ActivityRow[];
}

const ReceiptTable: FC<{ rows: DispositionRow[]; label: string }> = ({ rows, label }) => (
  <DataTable
    label={label}
    rows={rows}
    empty="No receipts."
    columns={[
      { label: 'At', time: (d) => d.at },
      { label: 'Region', cell: (d) => d.region },
      {
        label: 'Decision',
        cell: (d) => (
          <>
            <code>{d.reason}</code>
            <div class="muted">
              {REASON_TEXT[d.reason] ?? ''}
              {d.detail ? ` (${d.detail})` : ''}
            </div>
          </>
        ),
      },
      { label: 'Mailbox', class: 'wrap-anywhere', cell: (d) => d.mailbox ?? <span class="muted">—</span> },
      { label: 'Deployment', cell: (d) => d.deployment ?? <span class="muted">—</span> },
      { label: 'Size', class: 'num nowrap', cell: (d) => formatBytes(d.sizeBytes) },
    ]}
  />
);

export const DispositionsPage: FC<{
  page: PageContext;
  lookup?: Lookup | undefined;
  rows: DispositionRow[];
  regionIds: string[];
  filters: { region: string; reason: string };
  flash?: Flash | undefined;
}> = ({ page, lookup, rows, regionIds, filters, flash }) => (
  <Layout title="Dispositions" active="dispositions" page={page} flash={flash}>
    <p class="lead">
      Why was this not tracked? Each edge leaves a content-free receipt for mail it tossed: the reason, the
      routed mailbox and the size — never the subject or addresses.
    </p>
    <SearchForm label="Look up a Message-ID" action="/dispositions" submit="Look up">
      <InputField
        id="messageId"
        label="Message-ID"
        name="messageId"
        type="search"
        class="wide"
        maxlength={1000}
        value={lookup?.messageId ?? ''}
        placeholder="<id@example.com>"
      />
    </SearchForm>

    {lookup ? (
      <section aria-labelledby="lookup">
        <h2 id="lookup" class="wrap-anywhere">
          Decisions for {lookup.messageId}
        </h2>
        {lookup.activities.length ? (
          <div class="panel">
            <p>
              <span class="badge ok">tracked</span> This message is an activity:
            </p>
            <ul>
              {lookup.activities.map((a) => (
                <li>
                  <a href={`/activities/${encodeURIComponent(a.id)}`}>{a.subject || '(no subject)'}</a> from{' '}
                  {displayAddress(a.fromAddress, a.fromName)} — <code>{a.reason}</code> in {a.deployment},
                  seen in {a.regions.join(', ')}
                </li>
              ))}
            </ul>
          </div>
        ) : (
          <p>
            <span class="badge neutral">not tracked</span> No activity has this Message-ID.
          </p>
        )}
        {lookup.receipts.length || !lookup.activities.length ? (
          <ReceiptTable rows={lookup.receipts} label={`Receipts for ${lookup.messageId}`} />
        ) : null}
        {!lookup.receipts.length && !lookup.activities.length ? (
          <p class="muted">
            No edge has reported this Message-ID. Mail appears here within about 10 seconds of reaching an
            edge; check that the user's forwarding rule points at an edge and that the Message-ID is spelled
            as in the header.
          </p>
        ) : null}
      </section>
    ) : null}

    <h2 id="recent">Recent receipts</h2>
    <form method="get" action="/dispositions" class="inline panel" aria-label="Filter receipts">
      <FilterSelect id="region" name="region" values={regionIds} selected={filters.region} />
      <FilterSelect
        id="reason"
        name="reason"
        values={[...TOSSED_REASONS, ...TRACKED_REASONS]}
        selected={filters.reason}
      />
      <button type="submit">Filter</button>
    </form>
    <ReceiptTable rows={rows} label="Recent receipts" />
  </Layout>
);
