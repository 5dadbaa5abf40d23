/** Secrets and per-environment values `wrangler types` cannot see. */
export interface EdgeSecrets {
  /** HMAC key for edge → central requests and raw-message links (per region). */
  EDGE_SIGNING_KEY?: string;
  /** Edge-scoped bearer token for central (`edge:<region>`). */
  EDGE_TOKEN?: string;
  /** Bearer token mail servers use for `POST /api/v1/inbound`. */
  INBOUND_TOKEN?: string;
  /** Milliseconds after which a request to central counts as unanswered (default 30 000). */
  CENTRAL_TIMEOUT_MS?: string;
  /** "on" enables the fault-injection wrappers of the fault suite (refused in production). */
  FAULT_INJECTION?: string;
  /**
   * The accept journal (src/edge/journal.ts): "on" or "off"; by default on wherever the queue is
   * not durable, i.e. everywhere but production.
   */
  ACCEPT_JOURNAL?: string;
}

export type EdgeBindings = Cloudflare.UsEnv & EdgeSecrets;

export interface EdgeConfig {
  region: string;
  centralUrl: string;
  publicUrl?: string;
  signingKey: string;
  token: string;
  inboundToken: string;
  production: boolean;
  centralTimeoutMs: number;
  /** Whether accepted items are also journaled in R2 until settled (local queues are in memory). */
  acceptJournal: boolean;
}

const LOCAL_INBOUND_TOKEN = 'local-inbound-token';

/** Parses env once at the boundary; a missing secret fails loudly instead of defaulting. */
export function readEdgeConfig(env: EdgeBindings): EdgeConfig {
  const production = env.ENVIRONMENT === 'production';
  const missing = (name: string) => {
    throw new Error(`edge ${env.REGION ?? '?'}: secret ${name} is not set`);
  };
  if (!env.REGION) missing('REGION');
  if (!env.CENTRAL_URL) missing('CENTRAL_URL');
  if (production && env.FAULT_INJECTION === 'on')
    throw new Error(`edge ${env.REGION}: FAULT_INJECTION must not be on in production`);
  const inboundToken = env.INBOUND_TOKEN ?? (production ? undefined : LOCAL_INBOUND_TOKEN);
  return {
    region: env.REGION,
    centralUrl: env.CENTRAL_URL.replace(/\/+$/, ''),
    publicUrl: env.PUBLIC_URL || undefined,
    signingKey: env.EDGE_SIGNING_KEY ?? missing('EDGE_SIGNING_KEY'),
    token: env.EDGE_TOKEN ?? missing('EDGE_TOKEN'),
    inboundToken: inboundToken ?? missing('INBOUND_TOKEN'),
    production,
    centralTimeoutMs: Number(env.CENTRAL_TIMEOUT_MS) > 0 ? Number(env.CENTRAL_TIMEOUT_MS) : 30_000,
    acceptJournal: env.ACCEPT_JOURNAL ? env.ACCEPT_JOURNAL === 'on' : !production,
  };
}
