import { createRoute, type RouteConfig, type z } from '@hono/zod-openapi';
import { errorSchema } from '../schemas.js';

export { errorSchema };

export const bearerSecurity = [{ bearer: [] }];

/** A required JSON request body. */
export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return { required: true, content: { 'application/json': { schema } }, description };
}

export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { content: { 'application/json': { schema } }, description };
}

/** The error responses every authenticated route can give. */
export const errorResponses = {
  400: jsonResponse(errorSchema, 'invalid input (the message names the field)'),
  401: jsonResponse(errorSchema, 'missing or invalid credentials'),
  403: jsonResponse(errorSchema, 'the credential may not do this'),
  404: jsonResponse(errorSchema, 'not found'),
} as const;

type Method = 'get' | 'post' | 'put' | 'delete' | 'patch';

/**
 * An authenticated JSON route of the API: bearer security, and the error responses every such
 * route can give after its own `responses` (its success and any route-specific statuses).
 */
export function apiRoute<
  const M extends Method,
  const P extends string,
  const R extends Omit<RouteConfig, 'method' | 'path' | 'tags' | 'security'>,
>(method: M, path: P, tag: string, rest: R) {
  return createRoute({
    method,
    path,
    tags: [tag],
    // Keys in the order the document has always listed them (summary, description, security, request, …).
    summary: rest.summary,
    description: rest.description,
    security: bearerSecurity,
    ...rest,
    responses: { ...rest.responses, ...errorResponses },
  });
}
