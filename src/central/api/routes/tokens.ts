import { z } from '@hono/zod-openapi';
import { apiRoute, jsonBody, jsonResponse } from '../../contract/openapi-helpers.js';
import { createdToken, tokenInput, tokenSchema } from '../../contract/schemas.js';
import { serializeToken } from '../../contract/serializers.js';
import { createRouter } from '../../http/app-router.js';
import { listVisibleTokens, mintApiToken, revokeVisibleToken } from '../../services/token-admin.js';
import { changeSite } from '../../snapshot/config-changed.js';

const createTokenRoute = apiRoute('post', '/tokens', 'tokens', {
  summary: 'Mint an API token',
  description:
    'Admins may mint any scope. A `deployment:<id>` token may mint `deployment:<id>` and `user:<id>/<userId>` tokens of its own deployment only. The scope must name an existing deployment or region.',
  request: { body: jsonBody(tokenInput) },
  responses: { 201: jsonResponse(createdToken, 'the new token (plaintext shown only here)') },
});

const listTokensRoute = apiRoute('get', '/tokens', 'tokens', {
  summary: 'List tokens (never their plaintext); deployment tokens see their deployment’s tokens',
  responses: { 200: jsonResponse(z.object({ items: z.array(tokenSchema) }), 'tokens') },
});

const revokeTokenRoute = apiRoute('delete', '/tokens/{id}', 'tokens', {
  summary: 'Revoke a token (it is refused with 401 from then on); revoking twice is harmless',
  request: { params: z.object({ id: z.string().min(1).max(64) }) },
  responses: { 200: jsonResponse(tokenSchema, 'the revoked token') },
});

export const tokenRoutes = createRouter()
  .openapi(createTokenRoute, async (c) => {
    const { scope, label } = c.req.valid('json');
    const { row, token } = await mintApiToken(c.get('db'), changeSite(c), c.get('principal'), scope, label);
    return c.json(
      { id: row.id, token, scope: row.scope, label: row.label ?? null, createdAt: row.createdAt },
      201,
    );
  })
  .openapi(listTokensRoute, async (c) => {
    const rows = await listVisibleTokens(c.get('db'), c.get('principal'));
    return c.json({ items: rows.map(serializeToken) }, 200);
  })
  .openapi(revokeTokenRoute, async (c) => {
    const { id } = c.req.valid('param');
    const row = await revokeVisibleToken(c.get('db'), changeSite(c), c.get('principal'), id);
    return c.json(serializeToken(row), 200);
  });
