// Request body limits, checked before anything reads or parses the body (and before the token is
// looked up): a declared Content-Length over the limit is refused at once, an undeclared length is
// counted while streaming. Each limit is sized to the largest body its route's schema accepts,
// with room for JSON escaping; raw-message routes take their message limit.
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { MAX_BATCH_BYTES } from '../../core/wire.js';
import { payloadTooLarge } from './errors.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The sign-in form (one token field, a CSRF token and a return path). */
export const LOGIN_BODY_LIMIT = 16 * KiB;
/** Every other dashboard form. */
export const DASHBOARD_FORM_LIMIT = 64 * KiB;
/** JSON routes not listed below (mailbox routes, regions, tokens, replays: a few short fields). */
export const DEFAULT_JSON_LIMIT = 16 * KiB;
/**
 * Bytes per request of POST /deployments/:id/records (JSON or CSV); the record count limit is
 * MAX_RECORDS_PER_REQUEST in schemas.ts. Sized to what an isolate holds once parsed (docs/control-plane.md).
 */
export const MAX_RECORDS_BODY_BYTES = 16 * MiB;
/** Promotion: the largest message a user may promote (Exchange Online's default limit). */
export const MAX_PROMOTE_BYTES = 25 * MiB;

/** [method, path pattern, limit in bytes] — the first match wins; anything else gets DEFAULT_JSON_LIMIT. */
export const ROUTE_BODY_LIMITS: ReadonlyArray<readonly [string, RegExp, number]> = [
  ['POST', /^\/api\/v1\/ingest$/, MAX_BATCH_BYTES],
  ['POST', /^\/api\/v1\/deployments\/[^/]+\/records$/, MAX_RECORDS_BODY_BYTES],
  // Bulk record deletes and deactivations name records by type and id, at most a records body.
  ['POST', /^\/api\/v1\/deployments\/[^/]+\/records\/(delete|deactivate)$/, MAX_RECORDS_BODY_BYTES],
  // Bulk mailbox routes (CSV or JSON) and moves: MAX_ROUTES_BODY_BYTES in api/routes/mailboxes.ts
  // (10,000 routes, MAX_ROUTES_PER_REQUEST in contract/schemas.ts).
  ['POST', /^\/api\/v1\/mailboxes(\/move)?$/, 4 * MiB],
  ['POST', /^\/api\/v1\/deployments\/[^/]+\/promote$/, MAX_PROMOTE_BYTES],
  // 10,000 entries of up to 320 characters.
  ['POST', /^\/api\/v1\/deployments\/[^/]+\/suppressions$/, 4 * MiB],
  // Subject up to 10,000 characters and 1,000 recipients.
  ['POST', /^\/api\/v1\/deployments\/[^/]+\/outbound$/, 512 * KiB],
  // Name, webhook URL and up to 100 domains.
  ['PUT', /^\/api\/v1\/deployments\/[^/]+$/, 128 * KiB],
  ['POST', /^\/login$/, LOGIN_BODY_LIMIT],
];

/** The body limit of a request, by method and path. */
export function bodyLimitFor(method: string, path: string): number {
  for (const [m, pattern, limit] of ROUTE_BODY_LIMITS) if (m === method && pattern.test(path)) return limit;
  return path.startsWith('/api/') ? DEFAULT_JSON_LIMIT : DASHBOARD_FORM_LIMIT;
}

const limiters = new Map<number, MiddlewareHandler>();

/** Enforces `bodyLimitFor` on every request with a body; an oversize one is a 413 in the error envelope. */
export function requestBodyLimits(): MiddlewareHandler {
  return (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const limit = bodyLimitFor(c.req.method, c.req.path);
    let limiter = limiters.get(limit);
    if (!limiter) {
      limiter = bodyLimit({
        maxSize: limit,
        onError: () => {
          throw payloadTooLarge(`the request body exceeds the limit of ${limit} bytes for this route`);
        },
      });
      limiters.set(limit, limiter);
    }
    return limiter(c, next);
  };
}
