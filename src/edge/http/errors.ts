import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * The closed set of error codes the edge answers with, each with its one HTTP status (as central's
 * src/central/http/errors.ts). Every error answer goes through {@link edgeError}.
 */
export const EDGE_ERROR_STATUS = {
  bad_request: 400,
  /** More distinct recipients than one message may have (RFC 5321 §4.5.3.1.8). */
  too_many_recipients: 400,
  /** No recipient is a forwarding address this region's snapshot routes (a permanent refusal). */
  'unknown-recipient': 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  payload_too_large: 413,
  internal: 500,
  /** A temporary failure: the sender retries (with `retry-after`). */
  unavailable: 503,
  /** The edge lacks a secret, or is a development worker asked at a host that is not loopback. */
  misconfigured: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type EdgeErrorCode = keyof typeof EDGE_ERROR_STATUS;

/**
 * The error answer `{ ...fields, error: { code, message, requestId } }` with the code's status;
 * `fields` carry what the inbound route reports beside a refusal (status, reason, items).
 */
export function edgeError(c: Context, code: EdgeErrorCode, message: string, fields: object = {}) {
  return c.json(
    { ...fields, error: { code, message, requestId: crypto.randomUUID() } },
    EDGE_ERROR_STATUS[code],
  );
}
