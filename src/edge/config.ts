import {
  EDGE_REQUIRED_SECRETS,
  isLocalDevelopment,
  isLoopbackUrl,
  isPublicLocalValue,
  LOCAL_INBOUND_TOKEN,
} from '../core/deploy-mode.js';

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
  /** "on" enables the fault-injection wrappers of the fault suite (local development only). */
  FAULT_INJECTION?: string;
  /**
   * The accept journal (src/edge/journal.ts): "on" or "off"; by default on wherever the queue is
   * not durable, i.e. in local development.
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

/** A configuration the edge cannot serve with; every request answers 503 with its message. */
export class EdgeConfigError extends Error {}

/** Everything wrong with the configuration, each named (empty when the edge can serve). */
export function edgeConfigProblems(env: EdgeBindings): string[] {
  const development = isLocalDevelopment(env);
  const problems: string[] = [];
  const vars = (['REGION', 'CENTRAL_URL'] as const).filter((name) => !env[name]);
  if (vars.length) problems.push(`var ${vars.join(', ')} not set`);
  // A development edge takes the local inbound token (design §3); its key and token come from
  // central's local secret, which the local tooling derives and passes (scripts/network.ts).
  const missing = EDGE_REQUIRED_SECRETS.filter(
    (name) => !env[name] && !(development && name === 'INBOUND_TOKEN'),
  );
  if (missing.length)
    problems.push(
      `secret ${missing.join(', ')} not set (wrangler secret put <NAME> -c wrangler.edge.toml --env ${env.REGION ?? '<region>'})`,
    );
  if (!development) {
    const local = EDGE_REQUIRED_SECRETS.filter((name) => isPublicLocalValue(env[name]));
    if (local.length) problems.push(`secret ${local.join(', ')} holds a public local value`);
    if (env.FAULT_INJECTION === 'on') problems.push('FAULT_INJECTION is on outside local development');
  }
  return problems;
}

/**
 * Parses env once at the boundary. Production is the default: without the local-development marker
 * every secret must be set; with it, a missing INBOUND_TOKEN is the public local one, which is why a
 * development edge answers loopback requests only ({@link edgeRefusal}).
 */
export function readEdgeConfig(env: EdgeBindings): EdgeConfig {
  const problems = edgeConfigProblems(env);
  if (problems.length)
    throw new EdgeConfigError(`edge ${env.REGION ?? '?'} cannot serve: ${problems.join('; ')}`);
  const production = !isLocalDevelopment(env);
  return {
    region: env.REGION,
    centralUrl: env.CENTRAL_URL.replace(/\/+$/, ''),
    publicUrl: env.PUBLIC_URL || undefined,
    signingKey: env.EDGE_SIGNING_KEY as string,
    token: env.EDGE_TOKEN as string,
    inboundToken: env.INBOUND_TOKEN || LOCAL_INBOUND_TOKEN,
    production,
    centralTimeoutMs: Number(env.CENTRAL_TIMEOUT_MS) > 0 ? Number(env.CENTRAL_TIMEOUT_MS) : 30_000,
    acceptJournal: env.ACCEPT_JOURNAL ? env.ACCEPT_JOURNAL === 'on' : !production,
  };
}

/**
 * Why the edge refuses to serve this request, or undefined: a configuration it cannot serve with,
 * or a development edge asked at a host that is not loopback.
 */
export function edgeRefusal(env: EdgeBindings, url: string): string | undefined {
  const problems = edgeConfigProblems(env);
  if (problems.length) return `edge ${env.REGION ?? '?'} cannot serve: ${problems.join('; ')}`;
  if (isLocalDevelopment(env) && !isLoopbackUrl(url))
    return 'this edge runs in local development (ENVIRONMENT=development) and answers loopback requests only';
  return undefined;
}
