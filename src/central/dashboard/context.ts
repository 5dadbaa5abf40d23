import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { deploymentScope } from '../http/auth.js';
import { ApiError, notFound } from '../http/errors.js';
import { takeFlash } from './middleware/flash.js';
import type { DashboardEnv } from './middleware/session.js';
import type { Flash, PageContext } from './views/layout.js';

export type DashboardContext = Context<DashboardEnv>;

export function pageContext(c: DashboardContext): PageContext {
  return { principal: c.get('principal'), csrfToken: c.get('session').csrfToken };
}

/** The deployment this session is confined to, or undefined for an admin (design §4). */
export function scopeOf(c: DashboardContext): string | undefined {
  return deploymentScope(c.get('principal'));
}

export function isAdmin(c: DashboardContext): boolean {
  return c.get('principal').kind === 'admin';
}

/** The string fields of a submitted form (files and repeated fields are ignored). */
export async function formFields(c: DashboardContext): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** A query parameter, trimmed and capped, or ''. */
export function queryText(c: DashboardContext, name: string, max = 500): string {
  return (c.req.query(name) ?? '').trim().slice(0, max);
}

/** What every page takes from the request: the session's page context and its pending flash. */
export function pageProps(c: DashboardContext): { page: PageContext; flash: Flash | undefined } {
  return { page: pageContext(c), flash: takeFlash(c) };
}

/** How a page is rendered again after a refused form: what was entered, the refusal, its status. */
export interface Refusal<F> {
  form?: F;
  formError?: string;
  status?: ContentfulStatusCode;
}

/**
 * The one form-error pattern: runs a form's action; a refusal (an ApiError, with its code's status)
 * renders the page again through `refused`, so the message shows on the form; anything else goes
 * on to the error page.
 */
export async function orRefusal(
  action: () => Promise<Response>,
  refused: (err: ApiError) => Response | Promise<Response>,
): Promise<Response> {
  try {
    return await action();
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return refused(err);
  }
}

/** `row` when it exists and the session may see its deployment; else the 404 that hides it. */
export function visibleRow<T extends { deployment: string | null }>(
  c: DashboardContext,
  row: T | undefined | null,
  missing: string,
): T {
  const scope = scopeOf(c);
  if (!row || (scope && row.deployment !== scope)) throw notFound(missing);
  return row;
}
