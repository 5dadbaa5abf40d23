import { createRoute, z } from '@hono/zod-openapi';
import { findDeployment } from '../../db/queries/deployments.js';
import { findRegion } from '../../db/queries/regions.js';
import { findToken, insertToken, listTokens, revokeToken } from '../../db/queries/tokens.js';
import type { apiTokens } from '../../db/schema.js';
import { createRouter } from '../app-router.js';
import { parseScope, sha256Hex } from '../auth.js';
import type { Principal } from '../context.js';
import { forbidden, notFound, validationFailed } from '../errors.js';
import { bearerSecurity, errorResponses, jsonBody, jsonResponse } from './openapi-helpers.js';

const SCOPE_HELP = 'admin, deployment:<id>, edge:<region> or user:<deployment>/<userId>';

const tokenInput = z
  .object({
    scope: z.string().min(1).max(300).openapi({ example: 'deployment:contoso', description: SCOPE_HELP }),
    label: z.string().trim().max(200).optional(),
  })
  .openapi('TokenInput');

const tokenSchema = z
  .object({
    id: z.string(),
    scope: z.string(),
    label: z.string().nullable(),
    createdAt: z.number(),
    revokedAt: z.number().nullable(),
    lastUsedAt: z.number().nullable(),
  })
  .openapi('Token');

const createdToken = z
  .object({
    id: z.string(),
    token: z.string().openapi({ description: 'the bearer token; shown once, stored only as a SHA-256 hash' }),
    scope: z.string(),
    label: z.string().nullable(),
    createdAt: z.number(),
  })
  .openapi('CreatedToken');

const createTokenRoute = createRoute({
  method: 'post',
  path: '/tokens',
  tags: ['tokens'],
  summary: 'Mint an API token',
  description:
    'Admins may mint any scope. A `deployment:<id>` token may mint `deployment:<id>` and `user:<id>/<userId>` tokens of its own deployment only. The scope must name an existing deployment or region.',
  security: bearerSecurity,
  request: { body: jsonBody(tokenInput) },
  responses: {
    201: jsonResponse(createdToken, 'the new token (plaintext shown only here)'),
    ...errorResponses,
  },
});

const listTokensRoute = createRoute({
  method: 'get',
  path: '/tokens',
  tags: ['tokens'],
  summary: 'List tokens (never their plaintext); deployment tokens see their deployment’s tokens',
  security: bearerSecurity,
  responses: { 200: jsonResponse(z.object({ items: z.array(tokenSchema) }), 'tokens'), ...errorResponses },
});

const revokeTokenRoute = createRoute({
  method: 'delete',
  path: '/tokens/{id}',
  tags: ['tokens'],
  summary: 'Revoke a token (it is refused with 401 from then on); revoking twice is harmless',
  security: bearerSecurity,
  request: { params: z.object({ id: z.string().min(1).max(64) }) },
  responses: { 200: jsonResponse(tokenSchema, 'the revoked token'), ...errorResponses },
});

function serializeToken(t: typeof apiTokens.$inferSelect) {
  return {
    id: t.id,
    scope: t.scope,
    label: t.label ?? null,
    createdAt: t.createdAt,
    revokedAt: t.revokedAt ?? null,
    lastUsedAt: t.lastUsedAt ?? null,
  };
}

/** The deployment whose tokens a principal manages, `'*'` for admins; others manage none. */
function tokenRealm(p: Principal): string {
  if (p.kind === 'admin') return '*';
  if (p.kind === 'deployment') return p.deployment;
  throw forbidden(`${p.kind} tokens may not manage tokens`);
}

/** Whether a token of `scope` belongs to the realm (a deployment's own and its users' tokens). */
function inRealm(realm: string, scope: string): boolean {
  if (realm === '*') return true;
  return scope === `deployment:${realm}` || scope.startsWith(`user:${realm}/`);
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return `crt_${btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`;
}

export const tokenRoutes = createRouter()
  .openapi(createTokenRoute, async (c) => {
    const realm = tokenRealm(c.get('principal'));
    const { scope, label } = c.req.valid('json');
    const target = parseScope(scope);
    if (!target || (target.kind === 'user' && target.userId.length > 200))
      throw validationFailed(`scope: "${scope}" is not one of ${SCOPE_HELP}`);
    if (!inRealm(realm, scope)) throw forbidden(`a deployment:${realm} token may not mint ${scope} tokens`);
    const db = c.get('db');
    if (
      (target.kind === 'deployment' || target.kind === 'user') &&
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
    return c.json(
      { id: row.id, token, scope: row.scope, label: row.label ?? null, createdAt: row.createdAt },
      201,
    );
  })
  .openapi(listTokensRoute, async (c) => {
    const realm = tokenRealm(c.get('principal'));
    const rows = await listTokens(c.get('db'));
    return c.json({ items: rows.filter((r) => inRealm(realm, r.scope)).map(serializeToken) }, 200);
  })
  .openapi(revokeTokenRoute, async (c) => {
    const realm = tokenRealm(c.get('principal'));
    const { id } = c.req.valid('param');
    const db = c.get('db');
    const row = await findToken(db, id);
    if (!row || !inRealm(realm, row.scope)) throw notFound(`token ${id} does not exist`);
    const revoked = row.revokedAt ? row : await revokeToken(db, id, Date.now());
    return c.json(serializeToken(revoked ?? row), 200);
  });
