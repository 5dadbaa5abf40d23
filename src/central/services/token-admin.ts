// Minting, listing and revoking API tokens: the rules shared by /api/v1/tokens and the dashboard's
// token page. Admins manage every token; a deployment token manages `deployment:<own>`,
// `user:<own>/*` and `relay:<own>` tokens only; other principals manage none.
import { RELAY_SCOPE_PREFIX } from '../../core/relay-token.js';
import type { Db } from '../../db/client.js';
import { bumpConfigVersion } from '../../db/queries/config-version.js';
import { findDeployment } from '../../db/queries/deployments.js';
import { findRegion } from '../../db/queries/regions.js';
import { findToken, insertToken, listTokens, revokeToken } from '../../db/queries/tokens.js';
import type { apiTokens } from '../../db/schema.js';
import type { Principal } from '../context.js';
import { SCOPE_HELP } from '../contract/schemas.js';
import type { serializeToken } from '../contract/serializers.js';
import { parseScope, sha256Hex } from '../http/auth.js';
import { forbidden, notFound, validationFailed } from '../http/errors.js';
import { type ChangeSite, configChanged } from '../snapshot/config-changed.js';

export { SCOPE_HELP };

export type TokenView = ReturnType<typeof serializeToken>;

export type TokenRow = typeof apiTokens.$inferSelect;

/** The deployment whose tokens a principal manages, `'*'` for admins; others manage none. */
export function tokenRealm(p: Principal): string {
  if (p.kind === 'admin') return '*';
  if (p.kind === 'deployment') return p.deployment;
  throw forbidden(`${p.kind} tokens may not manage tokens`);
}

/** Whether a token of `scope` belongs to the realm (a deployment's own and its users' tokens). */
export function inRealm(realm: string, scope: string): boolean {
  if (realm === '*') return true;
  return (
    scope === `deployment:${realm}` ||
    scope === `${RELAY_SCOPE_PREFIX}${realm}` ||
    scope.startsWith(`user:${realm}/`)
  );
}

/** The deployment of a `relay:<deployment>` scope, or undefined for another scope. */
export function relayScopeDeployment(scope: string): string | undefined {
  return scope.startsWith(RELAY_SCOPE_PREFIX) ? scope.slice(RELAY_SCOPE_PREFIX.length) : undefined;
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return `crt_${btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`;
}

/** Mints a token of `scope` for `principal`; throws ApiError (403/422) when not allowed or invalid. */
export async function mintApiToken(
  db: Db,
  site: ChangeSite,
  principal: Principal,
  scope: string,
  label: string | undefined,
) {
  const realm = tokenRealm(principal);
  // A relay token is no API principal: it is checked by the edges, against their snapshot.
  const relay = relayScopeDeployment(scope);
  const target = relay ? { kind: 'relay' as const, deployment: relay } : parseScope(scope);
  if (!target || (target.kind === 'user' && target.userId.length > 200))
    throw validationFailed(`scope: "${scope}" is not one of ${SCOPE_HELP}`);
  if (!inRealm(realm, scope)) throw forbidden(`a deployment:${realm} token may not mint ${scope} tokens`);
  if (
    (target.kind === 'deployment' || target.kind === 'user' || target.kind === 'relay') &&
    !(await findDeployment(db, target.deployment))
  )
    throw validationFailed(`scope: deployment ${target.deployment} does not exist`);
  if (target.kind === 'edge' && !(await findRegion(db, target.region)))
    throw validationFailed(`scope: region ${target.region} does not exist`);
  const token = randomToken();
  const row = await insertToken(db, {
    id: `tok_${crypto.randomUUID().replace(/-/g, '').slice(0, 20)}`,
    hash: await sha256Hex(token),
    scope,
    label: label || null,
  });
  // Every region's snapshot carries the relay tokens (any deployment's address is in every region).
  if (relay) {
    await bumpConfigVersion(db, 'all');
    configChanged(site, 'relay-tokens');
  }
  return { row, token };
}

/** The tokens `principal` may see (all for admins, its deployment's for a deployment token). */
export async function listVisibleTokens(db: Db, principal: Principal): Promise<TokenRow[]> {
  const realm = tokenRealm(principal);
  return (await listTokens(db)).filter((r) => inRealm(realm, r.scope));
}

/** Revokes a token `principal` may see (404 otherwise); revoking twice is harmless. */
export async function revokeVisibleToken(
  db: Db,
  site: ChangeSite,
  principal: Principal,
  id: string,
): Promise<TokenRow> {
  const realm = tokenRealm(principal);
  const row = await findToken(db, id);
  if (!row || !inRealm(realm, row.scope)) throw notFound(`token ${id} does not exist`);
  const revoked = row.revokedAt ? row : await revokeToken(db, id, Date.now());
  // The edges stop accepting a relay token with the next snapshot of their region.
  if (!row.revokedAt && relayScopeDeployment(row.scope)) {
    await bumpConfigVersion(db, 'all');
    configChanged(site, 'relay-tokens');
  }
  return revoked ?? row;
}
