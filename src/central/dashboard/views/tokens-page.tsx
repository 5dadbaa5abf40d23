/** @jsxImportSource hono/jsx */
// API tokens of the session's realm (sub-page of Deployments): list, mint, revoke. A minted
// token's plaintext is rendered once, in the response to the mint form, and never again.
import type { FC } from 'hono/jsx';
import type { TokenView } from '../../services/token-admin.js';
import { AddPanel, DataTable, InputField, PostButton, SelectField, StackForm } from './components.js';
import { type Flash, Layout, type PageContext, Time } from './layout.js';

export type TokenKind = 'deployment' | 'user' | 'relay' | 'edge' | 'admin';

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
  relay: "Relay — a customer's SMTP relay, for its deployment's forwarding addresses (relay:<deployment>)",
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
      <AddPanel summary="Mint a token" open={formError !== undefined || tokens.length === 0}>
        <StackForm action="/deployments/tokens" csrf={page.csrfToken} error={formError} submit="Mint token">
          <SelectField
            id="t-kind"
            label="Kind"
            values={kinds}
            texts={KIND_TEXT}
            selected={form.kind}
            required
          />
          <SelectField
            id="t-deployment"
            label="Deployment (deployment, user and relay tokens)"
            values={deploymentIds}
            selected={form.deployment}
          />
          <InputField
            id="t-user"
            label="CRM user id (user tokens)"
            name="userId"
            type="text"
            maxlength={200}
            value={form.userId}
          />
          {kinds.includes('edge') ? (
            <SelectField
              id="t-region"
              label="Region (edge tokens)"
              values={regionIds}
              selected={form.region}
            />
          ) : null}
          <InputField
            id="t-label"
            label="Label"
            name="label"
            type="text"
            maxlength={200}
            value={form.label}
          />
        </StackForm>
      </AddPanel>
      <DataTable
        label="API tokens"
        rows={tokens}
        empty="No tokens yet."
        columns={[
          {
            label: 'Id',
            class: 'mono wrap-anywhere',
            cell: (t) => (
              <>
                {t.id}
                {t.id === own ? <span class="muted"> (this session)</span> : null}
              </>
            ),
          },
          { label: 'Scope', class: 'mono wrap-anywhere', cell: (t) => t.scope },
          { label: 'Label', class: 'wrap-anywhere', cell: (t) => t.label ?? <span class="muted">—</span> },
          { label: 'Created', time: (t) => t.createdAt },
          { label: 'Last used', time: (t) => t.lastUsedAt },
          {
            label: 'Status',
            cell: (t) =>
              t.revokedAt != null ? (
                <>
                  <span class="badge bad">revoked</span> <Time ms={t.revokedAt} />
                </>
              ) : (
                <PostButton
                  action={`/deployments/tokens/${encodeURIComponent(t.id)}/revoke`}
                  csrf={page.csrfToken}
                  class="secondary"
                  hiddenLabel={`token ${t.id}`}
                >
                  Revoke
                </PostButton>
              ),
          },
        ]}
      />
    </Layout>
  );
};
