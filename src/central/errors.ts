import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** The closed set of error codes rendered in the one JSON error envelope. */
export type ErrorCode =
  | 'bad_request'
  | 'invalid_json'
  | 'validation_failed'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'bad_signature'
  | 'stale_timestamp'
  | 'unavailable'
  | 'replayed_batch'
  /** The sender is on the deployment's suppression list (refused even when promoted by hand). */
  | 'suppressed'
  | 'internal';

/** The one error type: thrown anywhere, rendered by the app's onError as `{ error: { code, message, requestId } }`. */
export class ApiError extends HTTPException {
  readonly code: ErrorCode;
  constructor(status: ContentfulStatusCode, code: ErrorCode, message: string) {
    super(status, { message });
    this.code = code;
  }
}

export const badRequest = (message: string) => new ApiError(400, 'bad_request', message);
export const validationFailed = (message: string) => new ApiError(400, 'validation_failed', message);
export const unauthorized = (message = 'missing or invalid credentials') =>
  new ApiError(401, 'unauthorized', message);
export const forbidden = (message = 'this credential may not do that') =>
  new ApiError(403, 'forbidden', message);
export const notFound = (message: string) => new ApiError(404, 'not_found', message);
export const conflict = (message: string) => new ApiError(409, 'conflict', message);
export const payloadTooLarge = (message: string) => new ApiError(413, 'payload_too_large', message);

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
