import type { CentralBindings } from './context.js';

/** Accepted only when ENVIRONMENT is not `production` (design §3). */
export const LOCAL_ADMIN_TOKEN = 'local-admin-token';
const LOCAL_EDGE_KEY_SECRET = 'local-edge-key-secret';

export interface CentralConfig {
  production: boolean;
  homeRegion: string;
  adminToken?: string;
  edgeKeySecret: string;
  sessionSecret: string;
  /** Region R's edge receives forwarded mail at `crm@R.edge.<edgeMailDomain>`. */
  edgeMailDomain: string;
}

/** Parses env once at the boundary; fails loudly when production lacks a secret. */
export function readCentralConfig(env: CentralBindings): CentralConfig {
  const production = env.ENVIRONMENT === 'production';
  const edgeKeySecret = env.EDGE_KEY_SECRET ?? (production ? undefined : LOCAL_EDGE_KEY_SECRET);
  if (!edgeKeySecret) throw new Error('EDGE_KEY_SECRET is not set (required in production)');
  if (production && !env.ADMIN_TOKEN) throw new Error('ADMIN_TOKEN is not set (required in production)');
  const sessionSecret =
    env.SESSION_SECRET ?? `${edgeKeySecret}:session:${env.ADMIN_TOKEN ?? LOCAL_ADMIN_TOKEN}`;
  const edgeMailDomain = (env.EDGE_MAIL_DOMAIN || 'crm-router.example').trim().toLowerCase();
  if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/.test(edgeMailDomain))
    throw new Error(`EDGE_MAIL_DOMAIN "${edgeMailDomain}" is not a domain name`);
  return {
    production,
    homeRegion: env.REGION || 'us',
    adminToken: env.ADMIN_TOKEN,
    edgeKeySecret,
    sessionSecret,
    edgeMailDomain,
  };
}
