import type { Db } from '../db/client.js';

/** Secrets and test-only bindings that `wrangler types` cannot see. */
export interface CentralSecrets {
  /** Admin bearer token for production (the local token is refused there). */
  ADMIN_TOKEN?: string;
  /** Master secret from which each region's signing key and edge token are derived. */
  EDGE_KEY_SECRET?: string;
  /** Key for dashboard session and CSRF MACs; defaults to a key derived from the admin secrets. */
  SESSION_SECRET?: string;
}

export type CentralBindings = CentralEnv & CentralSecrets;

export type Principal =
  | { kind: 'admin'; tokenId?: string }
  | { kind: 'deployment'; deployment: string; tokenId?: string }
  | { kind: 'edge'; region: string; tokenId?: string }
  | { kind: 'user'; deployment: string; userId: string; tokenId?: string };

export interface AppEnv {
  Bindings: CentralBindings;
  Variables: {
    requestId: string;
    principal: Principal;
    db: Db;
  };
}
