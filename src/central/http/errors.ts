import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * The closed set of error codes rendered in the one JSON error envelope, each with the one HTTP
 * status it is answered with. Exhaustive by construction: a new code needs its status here, and
 * nothing else picks a status for a code (unkey's `apps/api/src/pkg/errors/http.ts` is the model).
 */
export const ERROR_STATUS = {
  bad_request: 400,
  invalid_json: 400,
  validation_failed: 400,
  unauthorized: 401,
  bad_signature: 401,
  stale_timestamp: 401,
  forbidden: 403,
  /** A deployment token may route only addresses in its deployment's `domains`. */
  domain_not_owned: 403,
  not_found: 404,
  conflict: 409,
  replayed_batch: 409,
  /** The sender is on the deployment's suppression list (refused even when promoted by hand). */
  suppressed: 409,
  /** The address or domain belongs to another deployment. */
  domain_owned_elsewhere: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
  /** Central lacks a secret, or is a development worker asked at a host that is not loopback. */
  misconfigured: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

/**
 * The one error type: `new ApiError(code, message)`, its status from {@link ERROR_STATUS}; thrown
 * anywhere, rendered by the app's onError as `{ error: { code, message, requestId } }`.
 */
export class ApiError extends HTTPException {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(ERROR_STATUS[code], { message });
    this.code = code;
  }
}

export const badRequest = (message: string) => new ApiError('bad_request', message);
export const validationFailed = (message: string) => new ApiError('validation_failed', message);
export const unauthorized = (message = 'missing or invalid credentials') =>
  new ApiError('unauthorized', message);
export const forbidden = (message = 'this credential may not do that') => new ApiError('forbidden', message);
export const notFound = (message: string) => new ApiError('not_found', message);
export const conflict = (message: string) => new ApiError('conflict', message);
export const payloadTooLarge = (message: string) => new ApiError('payload_too_large', message);

export function errorBody(code: ErrorCode, message: string, requestId: string) {
  return { error: { code, message, requestId } };
}

/** Describes a zod issue list as "field: problem; field: problem" so a 400 names the offending field. */
export function describeIssues(
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>,
): string {
  return issues
    .slice(0, 10)
    .map((i) => `${i.path.length ? i.path.map(String).join('.') : '(body)'}: ${i.message}`)
    .join('; ');
}
