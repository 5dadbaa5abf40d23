/** @jsxImportSource hono/jsx */
// A deployment's CRM connector on the dashboard: its health (state, last delivery and sync, backlog,
// lag, errors by reason), the one form that sets its kind, settings and write-only secrets (shown
// only as "set" / "not set"), and the "Test connection" button whose answer says what failed.
import type { FC } from 'hono/jsx';
import type { connectorStatus } from '../../connectors/service.js';
import type { ConnectorKind } from '../../connectors/types.js';
import { Field, PostButton, StackForm } from './components.js';
import { formatCount, formatMs } from './format.js';
import { type Flash, Layout, type PageContext, Time } from './layout.js';

export type ConnectorStatusView = Awaited<ReturnType<typeof connectorStatus>>;

/** The form's fields per kind (design §4); secrets are password inputs that never carry a value. */
export const CONNECTOR_FORM_FIELDS: Record<
  ConnectorKind,
  { label: string; settings: { name: string; label: string; optional?: boolean }[]; secrets: string[] }
> = {
  webhook: {
    label: 'Signed webhook',
    settings: [{ name: 'url', label: 'Endpoint URL (https)' }],
    secrets: [],
  },
  hubspot: {
    label: 'HubSpot',
    settings: [{ name: 'baseUrl', label: 'API base URL', optional: true }],
    secrets: ['accessToken'],
  },
  dynamics365: {
    label: 'Dynamics 365 / Dataverse',
    settings: [
      { name: 'url', label: 'Environment URL' },
      { name: 'tenantId', label: 'Tenant id' },
      { name: 'clientId', label: 'Client id' },
      { name: 'tokenUrl', label: 'Token URL', optional: true },
    ],
    secrets: ['clientSecret'],
  },
  tryton: {
    label: 'Tryton',
    settings: [
      { name: 'url', label: 'Server URL' },
      { name: 'database', label: 'Database' },
    ],
    secrets: ['username', 'password'],
  },
};

const STATE_TEXT: Record<string, string> = {
  ok: 'ok',
  syncing: 'syncing records',
  paused: 'paused — the CRM refused the credentials; deliveries wait',
  failing: 'failing — deliveries are being retried',
};

/** A connector's health as facts (the Deployments card, the connector page). */
export const ConnectorFacts: FC<{ kind: string; status: ConnectorStatusView }> = ({ kind, status }) => (
  <>
    <dt>Kind</dt>
    <dd>{CONNECTOR_FORM_FIELDS[kind as ConnectorKind]?.label ?? kind}</dd>
    <dt>State</dt>
    <dd>
      <strong class={status.state === 'ok' ? 'ok' : status.state === 'syncing' ? undefined : 'bad'}>
        {STATE_TEXT[status.state] ?? status.state}
      </strong>
      {status.pauseReason ? <span class="wrap-anywhere"> ({status.pauseReason})</span> : null}
    </dd>
    <dt>Last delivery</dt>
    <dd>
      <Time ms={status.lastDeliveryAt} />
    </dd>
    <dt>Last record sync</dt>
    <dd>
      <Time ms={status.lastSyncAt} />
      {status.sync ? (
        <span>
          {' '}
          — under way: {formatCount(status.sync.done)}
          {status.sync.total !== undefined ? ` of ${formatCount(status.sync.total)}` : ''} applied
        </span>
      ) : null}
    </dd>
    <dt>Backlog</dt>
    <dd>{formatCount(status.backlog)} waiting</dd>
    <dt>Lag commit → CRM</dt>
    <dd>
      {status.lagMsP50 !== undefined
        ? `p50 ${formatMs(status.lagMsP50)}, p99 ${formatMs(status.lagMsP99)}`
        : 'no deliveries yet'}
    </dd>
    <dt>Errors</dt>
    <dd>
      {Object.keys(status.errors).length
        ? Object.entries(status.errors)
            .map(([reason, n]) => `${formatCount(n)} ${reason}`)
            .join(', ')
        : 'none'}
    </dd>
    {status.lastError ? (
      <>
        <dt>Last error</dt>
        <dd class="wrap-anywhere">
          {status.lastError} <Time ms={status.lastErrorAt} />
        </dd>
      </>
    ) : null}
  </>
);

export interface ConnectorPageProps {
  page: PageContext;
  flash?: Flash | undefined;
  deployment: string;
  connector?: {
    kind: string;
    settings: Record<string, unknown>;
    secrets: Record<string, string>;
    status: ConnectorStatusView;
  };
  /** A refused form: its message, and the kind it was for. */
  formError?: string | undefined;
  /** The answer of "Test connection". */
  test?: { ok: boolean; detail: string } | undefined;
  kinds: readonly ConnectorKind[];
  canSync: boolean;
}

export const ConnectorPage: FC<ConnectorPageProps> = ({
  page,
  flash,
  deployment,
  connector,
  formError,
  test,
  kinds,
  canSync,
}) => {
  const base = `/deployments/${encodeURIComponent(deployment)}/connector`;
  return (
    <Layout title={`CRM connector of ${deployment}`} active="deployments" page={page} flash={flash}>
      <p class="lead">
        <a href="/deployments">Deployments</a> › {deployment} › CRM connector. Where this deployment's
        activities go, and the records it reads back (PUT /api/v1/deployments/{deployment}/connector).
      </p>
      <section class="panel" aria-labelledby="connector-status">
        <h2 id="connector-status">Status</h2>
        {connector ? (
          <dl class="facts">
            <ConnectorFacts kind={connector.kind} status={connector.status} />
          </dl>
        ) : (
          <p class="muted">No connector: activities are kept at central only.</p>
        )}
        {connector ? (
          <div class="actions">
            <PostButton action={`${base}/test`} csrf={page.csrfToken}>
              Test connection
            </PostButton>
            {canSync ? (
              <PostButton action={`${base}/sync`} csrf={page.csrfToken}>
                Sync records now
              </PostButton>
            ) : null}
          </div>
        ) : null}
        {test ? (
          <div class={`flash ${test.ok ? 'ok' : 'bad'}`} role="status">
            {test.ok ? 'Connection works: ' : 'Connection failed: '}
            {test.detail}
          </div>
        ) : null}
      </section>
      <section class="panel" aria-labelledby="connector-form">
        <h2 id="connector-form">Connect a CRM</h2>
        <p class="muted">
          Fill in the fields of the kind you choose; the others are ignored. Secrets are stored encrypted and
          never shown again: leave a secret empty to keep the one that is set.
        </p>
        <StackForm action={base} csrf={page.csrfToken} submit="Save connector" error={formError}>
          <Field id="c-kind" label="Kind">
            <select id="c-kind" name="kind">
              {kinds.map((k) => (
                <option value={k} selected={connector?.kind === k}>
                  {CONNECTOR_FORM_FIELDS[k].label}
                </option>
              ))}
            </select>
          </Field>
          {kinds.map((k) => (
            <fieldset>
              <legend>{CONNECTOR_FORM_FIELDS[k].label}</legend>
              {CONNECTOR_FORM_FIELDS[k].settings.map((f) => {
                const value = connector?.kind === k ? connector.settings[f.name] : undefined;
                return (
                  <Field id={`c-${k}-${f.name}`} label={`${f.label}${f.optional ? ' (optional)' : ''}`}>
                    <input
                      id={`c-${k}-${f.name}`}
                      name={`${k}.${f.name}`}
                      value={typeof value === 'string' ? value : ''}
                      maxlength={2000}
                    />
                  </Field>
                );
              })}
              {CONNECTOR_FORM_FIELDS[k].secrets.map((s) => {
                const set = connector?.kind === k && connector.secrets[s] === 'set';
                return (
                  <Field id={`c-${k}-secret-${s}`} label={`${s} (secret: ${set ? 'set' : 'not set'})`}>
                    <input
                      id={`c-${k}-secret-${s}`}
                      name={`${k}.secret.${s}`}
                      type="password"
                      autocomplete="off"
                      maxlength={4096}
                      placeholder={set ? 'set — leave empty to keep' : 'not set'}
                    />
                  </Field>
                );
              })}
            </fieldset>
          ))}
        </StackForm>
      </section>
    </Layout>
  );
};
