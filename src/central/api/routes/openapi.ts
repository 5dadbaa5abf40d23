import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../../context.js';
import { createRouter } from '../../http/app-router.js';
import { API_REFERENCE_CSS, renderApiReference } from '../api-reference-page.js';

/** Public paths: served without a bearer token. */
export const OPENAPI_PATH = '/api/v1/openapi.json';
export const API_DOCS_PATH = '/api/docs';

const DESCRIPTION = [
  'Central of the geo-distributed CRM e-mail router: deployments, regions, mailbox routes, CRM records, suppressions,',
  'outbound registration and manual promotion, activities and dispositions, tokens, and the signed edge endpoints.',
  'Every `/api/v1` call except this document needs `Authorization: Bearer <token>`; scopes are `admin`,',
  '`deployment:<id>`, `edge:<region>` and `user:<deployment>/<userId>`. Errors are `{ error: { code, message, requestId } }`;',
  'a 400 names the offending field.',
].join(' ');

const documentRoute = createRoute({
  method: 'get',
  path: OPENAPI_PATH,
  tags: ['meta'],
  summary: 'This OpenAPI document (public)',
  security: [],
  responses: {
    200: { description: 'OpenAPI 3.1 document', content: { 'application/json': { schema: z.any() } } },
  },
});

async function sha256Base64(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  let s = '';
  for (const b of digest) s += String.fromCharCode(b);
  return btoa(s);
}

/**
 * The OpenAPI document of `app` (every route defined with `createRoute`, including these) and the
 * HTML reference rendered from it. Both are built once per isolate, on first request, when every
 * route is mounted.
 */
export function createOpenApiRoutes(app: OpenAPIHono<AppEnv>) {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description:
      'An API token (`crt_…`, minted with POST /api/v1/tokens), the admin token, or an edge token (`edge_<region>_…`).',
  });
  let document: ReturnType<OpenAPIHono<AppEnv>['getOpenAPI31Document']> | undefined;
  let page: { html: string; csp: string } | undefined;
  const build = () => {
    document ??= app.getOpenAPI31Document({
      openapi: '3.1.0',
      info: { title: 'crm-edge-router central API', version: '1', description: DESCRIPTION },
      security: [{ bearer: [] }],
    });
    return document;
  };

  return createRouter()
    .openapi(documentRoute, (c) => c.json(build(), 200))
    .get(API_DOCS_PATH, async (c) => {
      if (!page) {
        // The one inline stylesheet is allowed by its hash; no script runs on the page at all.
        const csp = `default-src 'none'; style-src 'sha256-${await sha256Base64(API_REFERENCE_CSS)}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
        page = { html: renderApiReference(JSON.parse(JSON.stringify(build()))), csp };
      }
      return c.html(page.html, 200, {
        'content-security-policy': page.csp,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      });
    });
}
