/** @jsxImportSource hono/jsx */
// A deployment's records: exact lookup by address (the index), delete or deactivate a record.
import type { FC } from 'hono/jsx';
import type { records } from '../../../db/schema.js';
import { Csrf, type Flash, Layout, type PageContext, Time } from './layout.js';

type RecordRow = typeof records.$inferSelect;

export const RecordsPage: FC<{
  page: PageContext;
  deployment: string;
  address: string;
  rows: RecordRow[] | undefined;
  flash?: Flash | undefined;
}> = ({ page, deployment, address, rows, flash }) => (
  <Layout title={`Records of ${deployment}`} active="deployments" page={page} flash={flash}>
    <p class="lead">
      Find a CRM record of <strong>{deployment}</strong> by one of its addresses, then delete it (it is gone
      from the snapshot and from party resolution) or deactivate it (kept, but it matches nothing until the
      CRM writes it again). Full syncs and bulk deletes: <code>crm-router records sync</code> and{' '}
      <code>crm-router records delete --file</code>.
    </p>
    <search aria-label="Find a record">
      <form
        method="get"
        action={`/deployments/${encodeURIComponent(deployment)}/records`}
        class="inline panel"
      >
        <label for="r-address">Address</label>
        <input id="r-address" name="address" type="text" maxlength={320} value={address} required />
        <button type="submit">Find</button>
      </form>
    </search>
    {rows === undefined ? null : rows.length === 0 ? (
      <p>
        No record of {deployment} carries {address}.
      </p>
    ) : (
      <table>
        <thead>
          <tr>
            <th>Type</th>
            <th>Id</th>
            <th>Name</th>
            <th>Addresses</th>
            <th>State</th>
            <th>Updated</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr>
              <td>{r.type}</td>
              <td>{r.id}</td>
              <td>{r.name ?? ''}</td>
              <td>{r.emails.join(', ')}</td>
              <td>{r.active ? (r.emailEnabled ? 'active' : 'active, e-mail disabled') : 'inactive'}</td>
              <td>
                <Time ms={r.updatedAt} />
              </td>
              <td>
                <form
                  method="post"
                  action={`/deployments/${encodeURIComponent(deployment)}/records/remove`}
                  class="inline"
                >
                  <Csrf token={page.csrfToken} />
                  <input type="hidden" name="type" value={r.type} />
                  <input type="hidden" name="id" value={r.id} />
                  <input type="hidden" name="address" value={address} />
                  {r.active ? (
                    <button type="submit" name="action" value="deactivate">
                      Deactivate {r.type} {r.id}
                    </button>
                  ) : null}
                  <button type="submit" name="action" value="delete" class="danger">
                    Delete {r.type} {r.id}
                  </button>
                </form>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    )}
  </Layout>
);
