/** @jsxImportSource hono/jsx */
// API tokens page (a sub-page of Deployments): the same rules as /api/v1/tokens (token-admin.ts).
// The plaintext of a minted token is rendered in the response to the mint form only — never put in
// a flash cookie or a URL.

import { Hono } from 'hono';
import { serializeToken } from '../../contract/serializers.js';
import { validationFailed } from '../../http/errors.js';
import { listDeployments } from '../../services/deployment-admin.js';
import { listRegions } from '../../services/regions.js';
import {
  listVisibleTokens,
  mintApiToken,
  revokeVisibleToken,
  tokenRealm,
} from '../../services/token-admin.js';
import { changeSite } from '../../snapshot/config-changed.js';
import { type DashboardContext, formFields, orRefusal, pageProps, type Refusal } from '../context.js';
import { setFlash } from '../middleware/flash.js';
import type { DashboardEnv } from '../middleware/session.js';
import { type CreatedToken, type MintTokenForm, type TokenKind, TokensPage } from '../views/tokens-page.js';

async function renderTokens(
  c: DashboardContext,
  opts: Refusal<MintTokenForm> & { created?: CreatedToken } = {},
) {
  const db = c.get('db');
  const principal = c.get('principal');
  const realm = tokenRealm(principal);
  const [tokens, deploymentRows, regionRows] = await Promise.all([
    listVisibleTokens(db, principal),
    listDeployments(db),
    realm === '*' ? listRegions(db) : Promise.resolve([]),
  ]);
  const deploymentIds = deploymentRows.map((d) => d.id).filter((id) => realm === '*' || id === realm);
  const regionIds = regionRows.map((r) => r.id);
  const kinds: TokenKind[] =
    realm === '*' ? ['deployment', 'user', 'relay', 'edge', 'admin'] : ['deployment', 'user', 'relay'];
  const form: MintTokenForm = opts.form ?? {
    kind: 'deployment',
    deployment: deploymentIds[0] ?? '',
    region: regionIds[0] ?? '',
    userId: '',
    label: '',
  };
  return c.html(
    <TokensPage
      {...pageProps(c)}
      tokens={tokens.map(serializeToken)}
      kinds={kinds}
      deploymentIds={deploymentIds}
      regionIds={regionIds}
      form={form}
      formError={opts.formError}
      created={opts.created}
    />,
    opts.status ?? 200,
  );
}

const KINDS: readonly string[] = ['deployment', 'user', 'relay', 'edge', 'admin'];

function scopeOfForm(f: MintTokenForm): string {
  if (f.kind === 'admin') return 'admin';
  if (f.kind === 'edge') return `edge:${f.region}`;
  if (f.kind === 'user') return `user:${f.deployment}/${f.userId.trim()}`;
  if (f.kind === 'relay') return `relay:${f.deployment}`;
  return `deployment:${f.deployment}`;
}

export const dashboardTokenPages = new Hono<DashboardEnv>()
  .get('/deployments/tokens', (c) => renderTokens(c))
  .post('/deployments/tokens', async (c) => {
    const f = await formFields(c);
    const kind = f.kind ?? '';
    const form: MintTokenForm = {
      kind: (KINDS.includes(kind) ? kind : 'deployment') as TokenKind,
      deployment: (f.deployment ?? '').slice(0, 100),
      region: (f.region ?? '').slice(0, 100),
      userId: (f.userId ?? '').slice(0, 300),
      label: (f.label ?? '').trim().slice(0, 200),
    };
    return orRefusal(
      async () => {
        if (!KINDS.includes(kind)) throw validationFailed('kind: unknown token kind');
        const { row, token } = await mintApiToken(
          c.get('db'),
          changeSite(c),
          c.get('principal'),
          scopeOfForm(form),
          form.label || undefined,
        );
        return renderTokens(c, { created: { id: row.id, token, scope: row.scope } });
      },
      (err) => renderTokens(c, { form, formError: err.message, status: err.status }),
    );
  })
  .post('/deployments/tokens/:id/revoke', async (c) => {
    const id = c.req.param('id').slice(0, 64);
    const row = await revokeVisibleToken(c.get('db'), changeSite(c), c.get('principal'), id);
    setFlash(c, { kind: 'ok', text: `Revoked token ${row.id} (${row.scope}).` });
    return c.redirect('/deployments/tokens', 303);
  });
