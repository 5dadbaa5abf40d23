import { createRoute, type RouteConfig, type z } from '@hono/zod-openapi';
import { errorSchema } from './schemas.js';

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

type RouteRest = Omit<RouteConfig, 'method' | 'path' | 'tags' | 'security'>;

/** A route of the API behind bearer security, tagged `tag`. */
function bearerRoute<const M extends Method, const P extends string, const R extends RouteRest>(
  method: M,
  path: P,
  tag: string,
  rest: R,
) {
  return createRoute({
    method,
    path,
    tags: [tag],
    // Keys in the order the document has always listed them (summary, description, security, request, …).
    summary: rest.summary,
    description: rest.description,
    security: bearerSecurity,
    ...rest,
  });
}

/**
 * An authenticated JSON route of the API: bearer security, and the error responses every such
 * route can give after its own `responses` (its success and any route-specific statuses).
 */
export function apiRoute<const M extends Method, const P extends string, const R extends RouteRest>(
  method: M,
  path: P,
  tag: string,
  rest: R,
) {
  return bearerRoute(method, path, tag, { ...rest, responses: { ...rest.responses, ...errorResponses } });
}

const neitherJsonNorCsv = jsonResponse(errorSchema, 'neither JSON nor CSV');

/**
 * An authenticated bulk `POST` whose body is JSON (the registered schema `body.json`) or CSV. The
 * body is declared with plain schema objects (not zod) so that the handler, not the route
 * validator, reads it: it must accept CSV as well and report every bad row rather than the first
 * ten zod issues. The route's own `responses` override the common error responses (its 400 lists
 * the bad rows); 415 answers a body that is neither JSON nor CSV.
 */
export function jsonOrCsvRoute<
  const P extends string,
  const R extends Omit<RouteRest, 'request'> & { request: Omit<NonNullable<RouteConfig['request']>, 'body'> },
>(path: P, tag: string, body: { json: string; csvExample: string }, rest: R) {
  return bearerRoute('post', path, tag, {
    ...rest,
    request: {
      ...rest.request,
      body: {
        required: true,
        content: {
          'application/json': { schema: { $ref: `#/components/schemas/${body.json}` } },
          'text/csv': { schema: { type: 'string', example: body.csvExample } },
        },
      },
    },
    // The route's own statuses replace the common ones (a spread over a generic would intersect them).
    responses: { ...errorResponses, ...rest.responses, 415: neitherJsonNorCsv } as Omit<
      typeof errorResponses,
      keyof R['responses']
    > &
      R['responses'] & { 415: typeof neitherJsonNorCsv },
  });
}
