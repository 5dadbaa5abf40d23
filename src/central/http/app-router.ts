import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../context.js';
import { describeIssues, validationFailed } from './errors.js';

/** Creates a router whose validation failures become a 400 in the one error envelope, naming the field. */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationFailed(describeIssues(result.error.issues));
    },
  });
}
