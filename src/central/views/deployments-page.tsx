/** @jsxImportSource hono/jsx */
import type { FC } from 'hono/jsx';
import { formatTrackingToken } from '../../core/tracking-token.js';
import { RECORD_TYPES } from '../../core/types.js';
import type { deployments } from '../../db/schema.js';
import { formatBytes, formatCount } from './format.js';
import { type Flash, Layout, type PageContext, Time } from './layout.js';

type DeploymentRow = typeof deployments.$inferSelect;

export interface DeploymentView {
  row: DeploymentRow;
  records: Record<string, number>;
  mailboxes: number;
  suppressions: number;
  activities: number;
}

function exampleToken(d: DeploymentRow): string {
  try {
    return formatTrackingToken(
      {
        prefix: d.tokenPrefix,
        deploymentBase: d.tokenBase,
        userDigits: d.tokenUserDigits,
        counterDigits: d.tokenCounterDigits,
      },
      1,
      1,
    );
  } catch {
    return '(invalid format)';
  }
}

const DeploymentCard: FC<{ v: DeploymentView }> = ({ v }) => {
  const d = v.row;
  const total = Object.values(v.records).reduce((a, b) => a + b, 0);
  return (
    <section class="card" aria-labelledby={`d-${d.id}`}>
      <header>
        <h2 id={`d-${d.id}`}>
          {d.name} <span class="muted">({d.id})</span>
        </h2>
      </header>
      <dl class="facts">
        <dt>Tracking token</dt>
        <dd>
          prefix <code>{d.tokenPrefix}</code>, base {d.tokenBase}, {d.tokenUserDigits} user digits,{' '}
          {d.tokenCounterDigits} counter digits — e.g. <code>{exampleToken(d)}</code>
        </dd>
        <dt>Webhook</dt>
        <dd class="wrap-anywhere">
          {d.webhookUrl ?? <span class="muted">none (activities are kept at central)</span>}
        </dd>
        <dt>Size limit</dt>
        <dd>{formatBytes(d.maxMessageBytes)} per message</dd>
        <dt>Attachments</dt>
        <dd>
          {d.attachmentPolicy === 'inline'
            ? 'inline — sent to central with the item when small enough'
            : 'regional — stay in the receiving region, fetched through signed links'}
        </dd>
        <dt>Smart match</dt>
        <dd>{d.smartMatch ? 'on' : 'off'}</dd>
        <dt>Records</dt>
        <dd>
          {formatCount(total)} in all:{' '}
          {RECORD_TYPES.map(
            (t) => `${formatCount(v.records[t] ?? 0)} ${t}${(v.records[t] ?? 0) === 1 ? '' : 's'}`,
          ).join(', ')}
        </dd>
        <dt>Routed mailboxes</dt>
        <dd>
          <a href={`/routes?deployment=${encodeURIComponent(d.id)}`}>{formatCount(v.mailboxes)}</a>
        </dd>
        <dt>Suppressions</dt>
        <dd>{formatCount(v.suppressions)}</dd>
        <dt>Activities</dt>
        <dd>
          <a href={`/activities?deployment=${encodeURIComponent(d.id)}`}>{formatCount(v.activities)}</a>
        </dd>
        <dt>Updated</dt>
        <dd>
          <Time ms={d.updatedAt} />
        </dd>
      </dl>
    </section>
  );
};

export const DeploymentsPage: FC<{
  page: PageContext;
  views: DeploymentView[];
  flash?: Flash | undefined;
}> = ({ page, views, flash }) => (
  <Layout title="Deployments" active="deployments" page={page} flash={flash}>
    <p class="lead">CRM deployments this router serves. Change them with PUT /api/v1/deployments/:id.</p>
    <p>
      <a href="/deployments/tokens">Manage API tokens</a> — mint and revoke the tokens that sign in here and
      call the API.
    </p>
    <div class="grid">
      {views.map((v) => (
        <DeploymentCard v={v} />
      ))}
    </div>
    {views.length === 0 ? <p class="muted">No deployments yet.</p> : null}
  </Layout>
);
