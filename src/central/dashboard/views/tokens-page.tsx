/** @jsxImportSource hono/jsx */
// API tokens of the session's realm (sub-page of Deployments): list, mint, revoke. A minted
// token's plaintext is rendered once, in the response to the mint form, and never again.
import type { FC } from 'hono/jsx';
import type { TokenView } from '../../services/token-admin.js';
import { Csrf, type Flash, Layout, Options, type PageContext, Time } from './layout.js';

export type TokenKind = 'deployment' | 'user' | 'edge' | 'admin';

export interface MintTokenForm {
  kind: TokenKind;
  deployment: string;
  region: string;
  userId: string;
  label: string;
}

export interface CreatedToken {
  id: string;
  token: string;
  scope: string;
}

const KIND_TEXT: Record<TokenKind, string> = {
  deployment: 'Deployment — manages a deployment (deployment:<id>)',
  user: 'User — Track-in-CRM API for one CRM user (user:<deployment>/<user id>)',
  edge: 'Edge — an edge worker of a region (edge:<region>)',
  admin: 'Admin — everything (admin)',
};

export const TokensPage: FC<{
  page: PageContext;
  tokens: TokenView[];
  /** Kinds this session may mint: deployment sessions only `deployment` and `user`. */
  kinds: TokenKind[];
  deploymentIds: string[];
  regionIds: string[];
  form: MintTokenForm;
  formError?: string | undefined;
  created?: CreatedToken | undefined;
  flash?: Flash | undefined;
}> = ({ page, tokens, kinds, deploymentIds, regionIds, form, formError, created, flash }) => {
  const own = page.principal.tokenId;
  const p = page.principal;
  const realmText =
    p.kind === 'deployment'
      ? `API tokens of deployment ${p.deployment} and its users`
      : 'API tokens of every scope';
  return (
    <Layout title="API tokens" active="deployments" page={page} flash={flash}>
      <p class="lead">
        <a href="/deployments">Deployments</a> › {realmText}. Tokens are stored only as a hash: a new token is
        shown once, when it is minted. Revoking a token refuses it from the next request on.
      </p>
      {created ? (
        <section class="panel" aria-labelledby="created-h">
          <h2 id="created-h">New token {created.id}</h2>
          <div class="flash ok" role="status">
            Minted a <code>{created.scope}</code> token. Copy it now: it will not be shown again.
          </div>
          <label for="created-token">Token</label>
          <input
            id="created-token"
            type="text"
            readonly
            value={created.token}
            class="mono"
            spellcheck={false}
            autocomplete="off"
            size={60}
          />
        </section>
      ) : null}
      <details class="add panel" open={formError !== undefined || tokens.length === 0}>
        <summary>Mint a token</summary>
        {formError ? (
          <div class="flash bad" role="alert">
            {formError}
          </div>
        ) : null}
        <form method="post" action="/deployments/tokens" class="stack">
          <Csrf token={page.csrfToken} />
          <div class="field">
            <label for="t-kind">Kind</label>
            <select id="t-kind" name="kind" required>
              {kinds.map((k) => (
                <option value={k} selected={k === form.kind}>
                  {KIND_TEXT[k]}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="t-deployment">Deployment (deployment and user tokens)</label>
            <select id="t-deployment" name="deployment">
              <Options values={deploymentIds} selected={form.deployment} />
            </select>
          </div>
          <div class="field">
            <label for="t-user">CRM user id (user tokens)</label>
            <input id="t-user" name="userId" type="text" maxlength={200} value={form.userId} />
          </div>
          {kinds.includes('edge') ? (
            <div class="field">
              <label for="t-region">Region (edge tokens)</label>
              <select id="t-region" name="region">
                <Options values={regionIds} selected={form.region} />
              </select>
            </div>
          ) : null}
          <div class="field">
            <label for="t-label">Label</label>
            <input id="t-label" name="label" type="text" maxlength={200} value={form.label} />
          </div>
          <div>
            <button type="submit">Mint token</button>
          </div>
        </form>
      </details>
      <div class="table-wrap">
        <table class="responsive" aria-label="API tokens">
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">Scope</th>
              <th scope="col">Label</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {tokens.map((t) => (
              <tr>
                <td data-label="Id" class="mono wrap-anywhere">
                  {t.id}
                  {t.id === own ? <span class="muted"> (this session)</span> : null}
                </td>
                <td data-label="Scope" class="mono wrap-anywhere">
                  {t.scope}
                </td>
                <td data-label="Label" class="wrap-anywhere">
                  {t.label ?? <span class="muted">—</span>}
                </td>
                <td data-label="Created" class="nowrap">
                  <Time ms={t.createdAt} />
                </td>
                <td data-label="Last used" class="nowrap">
                  <Time ms={t.lastUsedAt} />
                </td>
                <td data-label="Status">
                  {t.revokedAt != null ? (
                    <>
                      <span class="badge bad">revoked</span> <Time ms={t.revokedAt} />
                    </>
                  ) : (
                    <form method="post" action={`/deployments/tokens/${encodeURIComponent(t.id)}/revoke`}>
                      <Csrf token={page.csrfToken} />
                      <button type="submit" class="secondary">
                        Revoke<span class="visually-hidden"> token {t.id}</span>
                      </button>
                    </form>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {tokens.length === 0 ? <p class="muted panel">No tokens yet.</p> : null}
      </div>
    </Layout>
  );
};
