import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { createDb } from '../db/client.js';
import { activityRoutes } from './api/routes/activities.js';
import { connectorRoutes } from './api/routes/connectors.js';
import { deadLetterRoutes } from './api/routes/dead-letters.js';
import { deploymentRoutes } from './api/routes/deployments.js';
import { dispositionRoutes } from './api/routes/dispositions.js';
import { healthRoutes } from './api/routes/health.js';
import { mailboxRoutes } from './api/routes/mailboxes.js';
import { createOpenApiRoutes, OPENAPI_PATH } from './api/routes/openapi.js';
import { outboundRoutes } from './api/routes/outbound.js';
import { promoteRoutes } from './api/routes/promote.js';
import { recordRoutes } from './api/routes/records.js';
import { regionRoutes } from './api/routes/regions.js';
import { ruleRoutes } from './api/routes/rules.js';
import { statsRoutes } from './api/routes/stats.js';
import { tokenRoutes } from './api/routes/tokens.js';
import { webhookDeliveryRoutes } from './api/routes/webhook-deliveries.js';
import { centralRefusal } from './config.js';
import { dashboardRoutes } from './dashboard/index.js';
import { createRouter } from './http/app-router.js';
import { requireAuth } from './http/auth.js';
import { requestBodyLimits } from './http/body-limits.js';
import { ApiError, type ErrorCode, errorBody } from './http/errors.js';
import { edgeRoutes } from './ingest/edge-routes.js';
import { edgeSnapshotRoutes } from './snapshot/edge-snapshot-routes.js';

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

/** The central app, shared by production (`index.ts`) and tests. */
export function createApp() {
  const app = createRouter();

  app.use('*', async (c, next) => {
    c.set('requestId', c.req.header('cf-ray') ?? crypto.randomUUID());
    // Fail closed: no route runs on a configuration central cannot serve with (src/central/config.ts).
    const refusal = centralRefusal(c.env, c.req.url);
    if (refusal) throw new ApiError('misconfigured', refusal);
    c.set('db', createDb(c.env.DB));
    await next();
    c.header('x-request-id', c.get('requestId'));
  });

  // Body limits come first: nothing reads a body (not even to check a token) beyond its route's limit.
  app.use('*', requestBodyLimits());

  // Every /api/v1 route needs a bearer token, except the OpenAPI document.
  const auth = requireAuth();
  app.use('/api/v1/*', (c, next) => (c.req.path === OPENAPI_PATH ? next() : auth(c, next)));
  app.route('/', healthRoutes);
  app.route('/api/v1', deploymentRoutes);
  app.route('/api/v1', connectorRoutes);
  app.route('/api/v1', regionRoutes);
  app.route('/api/v1', mailboxRoutes);
  app.route('/api/v1', activityRoutes);
  app.route('/api/v1', dispositionRoutes);
  app.route('/api/v1', recordRoutes);
  app.route('/api/v1', tokenRoutes);
  app.route('/api/v1', outboundRoutes);
  app.route('/api/v1', promoteRoutes);
  app.route('/api/v1', ruleRoutes);
  app.route('/api/v1', statsRoutes);
  app.route('/api/v1', deadLetterRoutes);
  app.route('/api/v1', webhookDeliveryRoutes);
  app.route('/api/v1', edgeRoutes);
  app.route('/api/v1', edgeSnapshotRoutes);
  app.route('/', createOpenApiRoutes(app));
  app.route('/', dashboardRoutes);

  app.notFound((c) =>
    c.json(
      errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`, c.get('requestId') ?? ''),
      404,
    ),
  );

  app.onError((err, c) => {
    const requestId = c.get('requestId') ?? crypto.randomUUID();
    if (err instanceof ApiError) return c.json(errorBody(err.code, err.message, requestId), err.status);
    if (err instanceof HTTPException) {
      const status = err.status as ContentfulStatusCode;
      const code: ErrorCode = /json/i.test(err.message)
        ? 'invalid_json'
        : (STATUS_CODES[status] ?? 'internal');
      return c.json(errorBody(code, err.message || 'request failed', requestId), status);
    }
    console.error(`[${requestId}]`, err);
    return c.json(errorBody('internal', 'internal error', requestId), 500);
  });

  return app;
}
