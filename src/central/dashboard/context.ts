import type { Context } from 'hono';
import { deploymentScope } from '../http/auth.js';
import type { DashboardEnv } from './middleware/session.js';
import type { PageContext } from './views/layout.js';

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
