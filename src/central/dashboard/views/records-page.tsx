/** @jsxImportSource hono/jsx */
// A deployment's records: exact lookup by address (the index), delete or deactivate a record.
import type { FC } from 'hono/jsx';
import type { records } from '../../../db/schema.js';
import { MAX_RECORD_KEYS_PER_REQUEST } from '../../contract/schemas.js';
import { DataTable, Field, FormError, PostForm, SearchForm } from './components.js';
import { type Flash, Layout, type PageContext } from './layout.js';

type RecordRow = typeof records.$inferSelect;

export const RecordsPage: FC<{
  page: PageContext;
  deployment: string;
  address: string;
  rows: RecordRow[] | undefined;
  flash?: Flash | undefined;
  /** The bulk form as posted, with the refusal to show (nothing was removed). */
  bulk?: { keys: string; error: string };
}> = ({ page, deployment, address, rows, flash, bulk }) => (
  <Layout title={`Records of ${deployment}`} active="deployments" page={page} flash={flash}>
    <p class="lead">
      Find a CRM record of <strong>{deployment}</strong> by one of its addresses, then delete it (it is gone
      from the snapshot and from party resolution) or deactivate it (kept, but it matches nothing until the
      CRM writes it again). Full syncs:{' '}
      <a href={`/deployments/${encodeURIComponent(deployment)}/syncs`}>their state, start and complete</a>, or{' '}
      <code>crm-router records sync</code>; bulk deletes: the form below, or{' '}
      <code>crm-router records delete --file</code>.
    </p>
    <SearchForm
      label="Find a record"
      action={`/deployments/${encodeURIComponent(deployment)}/records`}
      submit="Find"
    >
      <label for="r-address">Address</label>
      <input id="r-address" name="address" type="text" maxlength={320} value={address} required />
    </SearchForm>
    {rows === undefined ? null : rows.length === 0 ? (
      <p>
        No record of {deployment} carries {address}.
      </p>
    ) : (
      <DataTable
        label={`Records of ${deployment} carrying ${address}`}
        rows={rows}
        columns={[
          { label: 'Type', cell: (r) => r.type },
          { label: 'Id', cell: (r) => r.id },
          { label: 'Name', cell: (r) => r.name ?? '' },
          { label: 'Addresses', class: 'wrap-anywhere', cell: (r) => r.emails.join(', ') },
          {
            label: 'State',
            cell: (r) => (r.active ? (r.emailEnabled ? 'active' : 'active, e-mail disabled') : 'inactive'),
          },
          { label: 'Updated', time: (r) => r.updatedAt },
          {
            label: 'Actions',
            cell: (r) => (
              <PostForm
                action={`/deployments/${encodeURIComponent(deployment)}/records/remove`}
                csrf={page.csrfToken}
                class="inline"
                hidden={{ type: r.type, id: r.id, address }}
              >
                {r.active ? (
                  <button type="submit" name="action" value="deactivate">
                    Deactivate {r.type} {r.id}
                  </button>
                ) : null}
                <button type="submit" name="action" value="delete" class="danger">
                  Delete {r.type} {r.id}
                </button>
              </PostForm>
            ),
          },
        ]}
      />
    )}
    <h2 id="bulk">Delete or deactivate many records</h2>
    <PostForm
      action={`/deployments/${encodeURIComponent(deployment)}/records/remove-many`}
      csrf={page.csrfToken}
    >
      <FormError error={bulk?.error} />
      <Field
        id="r-keys"
        label={`Records, one "type,id" per line (at most ${MAX_RECORD_KEYS_PER_REQUEST.toLocaleString('en-US')})`}
      >
        <textarea id="r-keys" name="keys" rows={6} required>
          {bulk?.keys ?? ''}
        </textarea>
      </Field>
      <button type="submit" name="action" value="deactivate">
        Deactivate these records
      </button>{' '}
      <button type="submit" name="action" value="delete" class="danger">
        Delete these records
      </button>
    </PostForm>
  </Layout>
);
