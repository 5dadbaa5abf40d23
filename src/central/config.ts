import {
  CENTRAL_REQUIRED_SECRETS,
  isLocalDevelopment,
  isLoopbackUrl,
  isPublicLocalValue,
  LOCAL_ADMIN_TOKEN,
  LOCAL_EDGE_KEY_SECRET,
} from '../core/deploy-mode.js';
import type { CentralBindings } from './context.js';

/** Honoured only by a development worker, and only for loopback requests (design §3). */
export { LOCAL_ADMIN_TOKEN };

export interface CentralConfig {
  /** False only with the local-development marker (src/core/deploy-mode.ts). */
  production: boolean;
  homeRegion: string;
  adminToken: string;
  edgeKeySecret: string;
  sessionSecret: string;
  /** Region R's edge receives forwarded mail at `crm@R.edge.<edgeMailDomain>`. */
  edgeMailDomain: string;
}

/** A configuration central cannot serve with; every request answers 503 with its message. */
export class CentralConfigError extends Error {}

const DOMAIN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/;

/** Everything wrong with the configuration, each named (empty when central can serve). */
export function centralConfigProblems(env: CentralBindings): string[] {
  const problems: string[] = [];
  if (!isLocalDevelopment(env)) {
    const missing = CENTRAL_REQUIRED_SECRETS.filter((name) => !env[name]);
    if (missing.length)
      problems.push(`secret ${missing.join(', ')} not set (wrangler secret put <NAME> -c wrangler.toml)`);
    const local = (['ADMIN_TOKEN', 'EDGE_KEY_SECRET', 'SESSION_SECRET'] as const).filter((name) =>
      isPublicLocalValue(env[name]),
    );
    if (local.length) problems.push(`secret ${local.join(', ')} holds a public local value`);
  }
  const domain = (env.EDGE_MAIL_DOMAIN || 'crm-router.example').trim().toLowerCase();
  if (!DOMAIN.test(domain)) problems.push(`EDGE_MAIL_DOMAIN "${domain}" is not a domain name`);
  return problems;
}

/**
 * Parses env once at the boundary. Production is the default: without the local-development marker
 * every secret must be set and none may be a public local value; with it, missing secrets take the
 * public local values, which is why a development worker answers loopback requests only
 * ({@link centralRefusal}).
 */
export function readCentralConfig(env: CentralBindings): CentralConfig {
  const problems = centralConfigProblems(env);
  if (problems.length) throw new CentralConfigError(`central cannot serve: ${problems.join('; ')}`);
  const production = !isLocalDevelopment(env);
  const edgeKeySecret = env.EDGE_KEY_SECRET || LOCAL_EDGE_KEY_SECRET;
  const adminToken = env.ADMIN_TOKEN || LOCAL_ADMIN_TOKEN;
  return {
    production,
    homeRegion: env.REGION || 'us',
    adminToken,
    edgeKeySecret,
    sessionSecret: env.SESSION_SECRET || `${edgeKeySecret}:session:${adminToken}`,
    edgeMailDomain: (env.EDGE_MAIL_DOMAIN || 'crm-router.example').trim().toLowerCase(),
  };
}

/**
 * Why central refuses to serve this request, or undefined: a configuration it cannot serve with,
 * or a development worker asked at a host that is not loopback.
 */
export function centralRefusal(env: CentralBindings, url: string): string | undefined {
  const problems = centralConfigProblems(env);
  if (problems.length) return `central cannot serve: ${problems.join('; ')}`;
  if (isLocalDevelopment(env) && !isLoopbackUrl(url))
    return 'central runs in local development (ENVIRONMENT=development) and answers loopback requests only';
  return undefined;
}
