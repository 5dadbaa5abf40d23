import type { z } from '@hono/zod-openapi';
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
