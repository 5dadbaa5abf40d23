/** @jsxImportSource hono/jsx */
import type { FC } from 'hono/jsx';
import { formatTrackingToken } from '../../../core/tracking-token.js';
import { ATTACHMENT_POLICIES, RECORD_TYPES } from '../../../core/types.js';
import type { deployments } from '../../../db/schema.js';
import { AddPanel, Field, InputField, SelectField, StackForm } from './components.js';
import { ConnectorFacts, type ConnectorStatusView } from './connector-page.js';
import { formatBytes, formatCount } from './format.js';
import { type Flash, Layout, type PageContext, Time } from './layout.js';

type DeploymentRow = typeof deployments.$inferSelect;

export interface DeploymentView {
  row: DeploymentRow;
  records: Record<string, number>;
  domains: string[];
  mailboxes: number;
  suppressions: number;
  activities: number;
  /** Its CRM connector's kind and health, when it delivers somewhere. */
  connector?: { kind: string; status: ConnectorStatusView } | undefined;
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

/** The fields of the create/edit form, as entered (strings, so a refused form shows what was typed). */
export interface DeploymentFormValues {
  id: string;
  name: string;
  prefix: string;
  base: string;
  userDigits: string;
  counterDigits: string;
  webhookUrl: string;
  maxMessageBytes: string;
  attachmentPolicy: string;
  smartMatch: boolean;
  /** One domain a line (commas and spaces also separate); undefined when the form did not carry the field. */
  domains?: string | undefined;
}

export function formValuesOf(d: DeploymentRow, domains: string[]): DeploymentFormValues {
  return {
    id: d.id,
    name: d.name,
    prefix: d.tokenPrefix,
    base: String(d.tokenBase),
    userDigits: String(d.tokenUserDigits),
    counterDigits: String(d.tokenCounterDigits),
    webhookUrl: d.webhookUrl ?? '',
    maxMessageBytes: String(d.maxMessageBytes),
    attachmentPolicy: d.attachmentPolicy,
    smartMatch: d.smartMatch,
    domains: domains.join('\n'),
  };
}

export const EMPTY_DEPLOYMENT_FORM: DeploymentFormValues = {
  id: '',
  name: '',
  prefix: 'CRM:',
  base: '',
  userDigits: '3',
  counterDigits: '3',
  webhookUrl: '',
  maxMessageBytes: String(25 * 1024 * 1024),
  attachmentPolicy: 'regional',
  smartMatch: false,
  domains: '',
};

/**
 * The create (`mode="new"`, with an id field) or edit form; the same rules as
 * PUT /api/v1/deployments/:id (deployment-admin.ts).
 */
const DeploymentForm: FC<{
  mode: 'new' | 'edit';
  csrfToken: string;
  values: DeploymentFormValues;
  error?: string | undefined;
}> = ({ mode, csrfToken, values, error }) => {
  const f = mode === 'new' ? 'n' : 'e';
  const action = mode === 'new' ? '/deployments' : `/deployments/${encodeURIComponent(values.id)}/edit`;
  return (
    <StackForm
      action={action}
      csrf={csrfToken}
      error={error}
      submit={mode === 'new' ? 'Create deployment' : 'Save deployment'}
    >
      {mode === 'new' ? (
        <InputField
          id={`${f}-id`}
          label="Id (lower-case letters, digits and dashes)"
          name="id"
          type="text"
          required
          maxlength={63}
          value={values.id}
          class="mono"
        />
      ) : null}
      <InputField
        id={`${f}-name`}
        label="Name"
        name="name"
        type="text"
        required
        maxlength={200}
        value={values.name}
      />
      <InputField
        id={`${f}-prefix`}
        label="Tracking-token prefix"
        name="prefix"
        type="text"
        required
        maxlength={20}
        value={values.prefix}
        class="mono"
      />
      {(
        [
          [
            'base',
            `Tracking-token base number${mode === 'new' ? ' (empty: the next free one)' : ''}`,
            0,
            99999,
          ],
          ['user-digits', 'User digits', 1, 9],
          ['counter-digits', 'Counter digits', 1, 9],
        ] as const
      ).map(([key, label, min, max]) => {
        const name = key === 'base' ? 'base' : key === 'user-digits' ? 'userDigits' : 'counterDigits';
        return (
          <InputField
            id={`${f}-${key}`}
            label={label}
            name={name}
            type="number"
            min={min}
            max={max}
            required={key !== 'base' || mode === 'edit'}
            value={values[name]}
          />
        );
      })}
      <InputField
        id={`${f}-webhook`}
        label="Webhook URL (empty: none)"
        name="webhookUrl"
        type="url"
        maxlength={2000}
        value={values.webhookUrl}
      />
      <InputField
        id={`${f}-max-bytes`}
        label="Max message bytes"
        name="maxMessageBytes"
        type="number"
        min={1024}
        max={25 * 1024 * 1024}
        required
        value={values.maxMessageBytes}
      />
      <SelectField
        id={`${f}-attachments`}
        name="attachmentPolicy"
        label="Attachment policy"
        values={ATTACHMENT_POLICIES}
        selected={values.attachmentPolicy}
      />
      <div class="field">
        <label for={`${f}-smart-match`}>
          <input
            id={`${f}-smart-match`}
            name="smartMatch"
            type="checkbox"
            value="on"
            checked={values.smartMatch}
          />{' '}
          Smart match
        </label>
      </div>
      <Field
        id={`${f}-domains`}
        label="Mail domains, one a line (its tokens may route addresses in them and their subdomains; a domain belongs to one deployment)"
      >
        <textarea id={`${f}-domains`} name="domains" rows={3} maxlength={30000} class="mono">
          {values.domains ?? ''}
        </textarea>
      </Field>
    </StackForm>
  );
};

const DeploymentCard: FC<{ v: DeploymentView; canEdit: boolean }> = ({ v, canEdit }) => {
  const d = v.row;
  const total = Object.values(v.records).reduce((a, b) => a + b, 0);
  return (
    <section class="card" aria-labelledby={`d-${d.id}`}>
      <header>
        <h2 id={`d-${d.id}`}>
          {d.name} <span class="muted">({d.id})</span>
        </h2>
        {canEdit ? (
          <a href={`/deployments/${encodeURIComponent(d.id)}/edit`}>
            Edit<span class="visually-hidden"> deployment {d.id}</span>
          </a>
        ) : null}
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
        <dt>CRM connector</dt>
        <dd>
          <a href={`/deployments/${encodeURIComponent(d.id)}/connector`}>
            {v.connector ? 'configure, test or sync' : 'connect a CRM'}
            <span class="visually-hidden"> for deployment {d.id}</span>
          </a>
        </dd>
        {v.connector ? <ConnectorFacts kind={v.connector.kind} status={v.connector.status} /> : null}
        <dt>Mail domains</dt>
        <dd class="wrap-anywhere">
          {v.domains.length ? (
            v.domains.join(', ')
          ) : (
            <span class="muted">none (only an admin can route its mailboxes)</span>
          )}
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
          ).join(', ')}{' '}
          (
          <a href={`/deployments/${encodeURIComponent(d.id)}/records`}>find, delete or deactivate a record</a>
          ; <a href={`/deployments/${encodeURIComponent(d.id)}/syncs`}>full syncs</a>)
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
  /** Admins only: edit links and the "New deployment" form. */
  canEdit: boolean;
  newForm?: DeploymentFormValues | undefined;
  newFormError?: string | undefined;
  flash?: Flash | undefined;
}> = ({ page, views, canEdit, newForm, newFormError, flash }) => (
  <Layout title="Deployments" active="deployments" page={page} flash={flash}>
    <p class="lead">
      CRM deployments this router serves.{' '}
      {canEdit
        ? 'Create and edit them here or with PUT /api/v1/deployments/:id.'
        : 'An admin changes them (PUT /api/v1/deployments/:id).'}
    </p>
    <p>
      <a href="/deployments/tokens">Manage API tokens</a> — mint and revoke the tokens that sign in here and
      call the API.
    </p>
    {canEdit ? (
      <AddPanel summary="New deployment" open={newFormError !== undefined}>
        <DeploymentForm
          mode="new"
          csrfToken={page.csrfToken}
          values={newForm ?? EMPTY_DEPLOYMENT_FORM}
          error={newFormError}
        />
      </AddPanel>
    ) : null}
    <div class="grid">
      {views.map((v) => (
        <DeploymentCard v={v} canEdit={canEdit} />
      ))}
    </div>
    {views.length === 0 ? <p class="muted">No deployments yet.</p> : null}
  </Layout>
);

/** `/deployments/:id/edit` (admins only). */
export const DeploymentEditPage: FC<{
  page: PageContext;
  values: DeploymentFormValues;
  error?: string | undefined;
}> = ({ page, values, error }) => (
  <Layout title={`Edit deployment ${values.id}`} active="deployments" page={page}>
    <p class="lead">
      <a href="/deployments">Deployments</a> › {values.id}. The same rules as PUT /api/v1/deployments/:id: the
      base number must not be used by another deployment; edges pick up the change with the next configuration
      version.
    </p>
    <section class="panel" aria-label={`Edit deployment ${values.id}`}>
      <DeploymentForm mode="edit" csrfToken={page.csrfToken} values={values} error={error} />
    </section>
  </Layout>
);
