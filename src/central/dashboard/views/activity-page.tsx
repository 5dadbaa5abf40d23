/** @jsxImportSource hono/jsx */
import type { FC } from 'hono/jsx';
import type { webhookOutbox } from '../../../db/schema.js';
import type { RawLink } from '../../ingest/raw-links.js';
import type { ActivityRow } from './activities-page.js';
import { displayAddress } from './activities-page.js';
import { DataTable, Panel } from './components.js';
import { formatBytes, METHOD_TEXT, REASON_TEXT } from './format.js';
import { Layout, type PageContext, Time } from './layout.js';

export type WebhookDeliveryRow = typeof webhookOutbox.$inferSelect;

export interface PartyView {
  role: string;
  address: string;
  name?: string | undefined;
  recordType?: string | undefined;
  recordId?: string | undefined;
  recordName?: string | null | undefined;
}

export interface StoredFile {
  label: string;
  contentType?: string | undefined;
  size: number;
  /** Undefined when the content was not stored in the region or the edge URL is not known yet. */
  link?: RawLink | undefined;
  problem?: string | undefined;
}

export interface ContentView {
  region: string;
  raw?: StoredFile | undefined;
  attachments: StoredFile[];
}

export interface MailboxSeen {
  address: string;
  region?: string | undefined;
}

const FileLink: FC<{ file: StoredFile }> = ({ file }) => (
  <>
    {file.link ? (
      <a href={file.link.url} rel="noreferrer noopener" class="wrap-anywhere">
        {file.label}
      </a>
    ) : (
      <span class="wrap-anywhere">{file.label}</span>
    )}{' '}
    <span class="muted">
      ({formatBytes(file.size)}
      {file.contentType ? `, ${file.contentType}` : ''})
    </span>{' '}
    {file.link ? (
      <span class="muted">
        link expires <Time ms={file.link.expiresAt} />
      </span>
    ) : file.problem ? (
      <span class="muted">{file.problem}</span>
    ) : null}
  </>
);

export const ActivityPage: FC<{
  page: PageContext;
  a: ActivityRow;
  parties: PartyView[];
  regardingName?: string | null | undefined;
  mailboxes: MailboxSeen[];
  content: ContentView[];
  deliveries?: WebhookDeliveryRow[] | undefined;
  held?: { body: boolean; parties: boolean } | undefined;
  /** What the edges cut or could not parse of the activity's copies (the API's `notes`). */
  notes?: string[] | undefined;
}> = ({ page, a, parties, regardingName, mailboxes, content, deliveries = [], held, notes = [] }) => (
  <Layout title={a.subject || '(no subject)'} active="activities" page={page}>
    <p>
      <a href="/activities">← All activities</a>
    </p>
    <dl class="facts panel">
      <dt>Message-ID</dt>
      <dd class="mono wrap-anywhere">{a.messageId ?? '(none: deduplicated by content hash)'}</dd>
      <dt>From</dt>
      <dd class="wrap-anywhere">{displayAddress(a.fromAddress, a.fromName)}</dd>
      <dt>Deployment</dt>
      <dd>{a.deployment}</dd>
      <dt>Received at the edge</dt>
      <dd>
        <Time ms={a.receivedAt} />
      </dd>
      <dt>Committed at central</dt>
      <dd>
        <Time ms={a.ingestedAt} />
      </dd>
      <dt>Size</dt>
      <dd>{formatBytes(a.sizeBytes)}</dd>
      <dt>Egress policy</dt>
      <dd>{a.egress}</dd>
      <dt>Activity id</dt>
      <dd class="mono">{a.id}</dd>
    </dl>

    <Panel id="why" title="Why tracked" class="panel why">
      <dl class="facts">
        <dt>Reason</dt>
        <dd>
          <code>{a.reason}</code> — {REASON_TEXT[a.reason] ?? ''}
        </dd>
        <dt>Correlation method</dt>
        <dd>
          <code>{a.correlationMethod}</code> — {METHOD_TEXT[a.correlationMethod] ?? ''}
        </dd>
        <dt>Detail</dt>
        <dd class="wrap-anywhere">{a.correlationDetail || '—'}</dd>
      </dl>
    </Panel>

    <Panel id="regarding" title="Regarding">
      {a.regardingType && a.regardingId ? (
        <p>
          {a.regardingType} <code>{a.regardingId}</code>
          {regardingName ? ` — ${regardingName}` : ''}
        </p>
      ) : (
        <p class="muted">No regarding record (it does not reply to a CRM message that names one).</p>
      )}
    </Panel>

    <Panel id="parties" title="Parties" class="">
      <DataTable
        labelledBy="parties"
        rows={parties}
        columns={[
          { label: 'Role', cell: (p) => p.role },
          { label: 'Address', class: 'wrap-anywhere', cell: (p) => displayAddress(p.address, p.name) },
          {
            label: 'Resolved record',
            cell: (p) =>
              p.recordType && p.recordId ? (
                <>
                  {p.recordType} <code>{p.recordId}</code>
                  {p.recordName ? ` — ${p.recordName}` : ''}
                </>
              ) : (
                <span class="muted">no CRM record</span>
              ),
          },
        ]}
      />
    </Panel>

    <Panel id="seen" title="Seen by">
      <dl class="facts">
        <dt>Mailboxes</dt>
        <dd>
          <ul class="tossed">
            {mailboxes.map((m) => (
              <li class="wrap-anywhere">
                {m.address}
                {m.region ? <span class="muted"> (routed to {m.region})</span> : null}
              </li>
            ))}
          </ul>
        </dd>
        <dt>Regions</dt>
        <dd>{a.regions.join(', ')}</dd>
      </dl>
    </Panel>

    <Panel id="stored" title="Raw message and attachments">
      <p class="muted">
        They stay in the region that received them; the links below are signed and expire. Opening one fetches
        it from that region's edge.
      </p>
      {held?.body ? (
        <p class="badge warn">
          Body held regionally: central stores only its beginning; the whole text is in the region's store.
        </p>
      ) : null}
      {held?.parties ? (
        <p class="badge warn">
          Recipients held regionally: more than 1000 To or Cc addresses; the whole list is in the region's
          store.
        </p>
      ) : null}
      {content.length === 0 ? <p class="muted">Nothing stored for this activity.</p> : null}
      {content.map((c) => (
        <div>
          <h3>Region {c.region}</h3>
          <ul>
            {c.raw ? (
              <li>
                <FileLink file={c.raw} />
              </li>
            ) : (
              <li class="muted">no raw message stored</li>
            )}
            {c.attachments.map((f) => (
              <li>
                <FileLink file={f} />
              </li>
            ))}
          </ul>
        </div>
      ))}
    </Panel>

    {notes.length ? (
      <Panel id="notes" title="What the edge cut or could not parse">
        <p class="muted">
          Cut or left out to fit central's limits; where the edge stored a raw copy, it has them whole.
        </p>
        <ul>
          {notes.map((n) => (
            <li>{n}</li>
          ))}
        </ul>
      </Panel>
    ) : null}

    <Panel id="webhook" title="Onward delivery to the CRM">
      {a.crmObject ? (
        <p>
          In the CRM: {a.crmObject.kind} object <code>{a.crmObject.id}</code>
          {/* Only a web URL becomes a link: the CRM's answer is not trusted with a javascript: URL. */}
          {a.crmObject.url && /^https?:\/\//i.test(a.crmObject.url) ? (
            <>
              {' — '}
              <a href={a.crmObject.url} rel="noopener noreferrer" target="_blank">
                open in CRM
              </a>
            </>
          ) : null}
        </p>
      ) : null}
      {deliveries.length === 0 ? (
        <p class="muted">No webhook delivery (the deployment has no webhook URL).</p>
      ) : (
        <DataTable
          label="Webhook deliveries"
          rows={deliveries}
          columns={[
            { label: 'Event', cell: (d) => d.event },
            {
              label: 'State',
              cell: (d) => (
                <span
                  class={`badge ${d.state === 'delivered' ? 'ok' : d.state === 'failed' ? 'bad' : 'warn'}`}
                >
                  {d.state}
                </span>
              ),
            },
            { label: 'Attempts', class: 'num', cell: (d) => d.attempts },
            {
              label: 'Last answer',
              class: 'wrap-anywhere',
              cell: (d) =>
                d.lastError ? <code>{d.lastError}</code> : d.lastStatus ? `HTTP ${d.lastStatus}` : '—',
            },
            {
              label: 'Next attempt',
              cell: (d) =>
                d.state === 'pending' ? <Time ms={d.nextAttemptAt} /> : <span class="muted">—</span>,
            },
          ]}
        />
      )}
    </Panel>
  </Layout>
);
