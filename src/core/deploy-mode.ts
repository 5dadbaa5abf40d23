// Fail closed (docs/decisions.md, "Production unless the local tooling says otherwise"): a worker is
// a production worker unless its vars carry the local-development marker, which only the local
// tooling sets (`wrangler dev --var` in scripts/network.ts, the vitest miniflare bindings). A
// development worker fills missing secrets with the public local values and therefore answers only
// requests addressed to a loopback host.

/** The marker var: `ENVIRONMENT = "development"`. Any other value, or none, is production. */
export const MARKER_VAR = 'ENVIRONMENT';
export const DEVELOPMENT = 'development';

/** The public local values (design §3). A production worker refuses a secret equal to one of them. */
export const LOCAL_ADMIN_TOKEN = 'local-admin-token';
export const LOCAL_EDGE_KEY_SECRET = 'local-edge-key-secret';
export const LOCAL_INBOUND_TOKEN = 'local-inbound-token';
const PUBLIC_LOCAL_VALUES: ReadonlySet<string> = new Set([
  LOCAL_ADMIN_TOKEN,
  LOCAL_EDGE_KEY_SECRET,
  LOCAL_INBOUND_TOKEN,
]);

/** Secrets a production central does not serve without (also `[secrets] required`, wrangler.toml). */
export const CENTRAL_REQUIRED_SECRETS = ['ADMIN_TOKEN', 'EDGE_KEY_SECRET'] as const;
/** Secrets a production edge does not serve without (also `secrets.required` of each region). */
export const EDGE_REQUIRED_SECRETS = ['EDGE_SIGNING_KEY', 'EDGE_TOKEN', 'INBOUND_TOKEN'] as const;

export function isLocalDevelopment(vars: { readonly ENVIRONMENT?: unknown }): boolean {
  return vars.ENVIRONMENT === DEVELOPMENT;
}

/** Whether a secret's value is one of the published local values (so no secret at all). */
export function isPublicLocalValue(value: string | undefined): boolean {
  return value !== undefined && PUBLIC_LOCAL_VALUES.has(value);
}

/**
 * Loopback hosts: 127.0.0.0/8 and ::1 (RFC 1122 §3.2.1.3, RFC 4291 §2.5.3), `localhost` and
 * `*.localhost` (RFC 6761 §6.3: always resolved to loopback). On Cloudflare a request's URL carries
 * the route's hostname, which can never be one of these.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (host === '[::1]' || host === '::1') return true;
  const v4 = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return v4 ? v4.slice(1).every((n) => Number(n) <= 255) : false;
}

export function isLoopbackUrl(url: string): boolean {
  try {
    return isLoopbackHost(new URL(url).hostname);
  } catch {
    return false;
  }
}

/**
 * Why a worker's vars would deploy it as a development worker, or undefined when they deploy as
 * production. The deploy check (scripts/deploy-dry-run.ts) refuses a config with a reason.
 */
export function developmentVarsProblem(
  vars: Readonly<Record<string, unknown>> | undefined,
): string | undefined {
  if (!vars || !(MARKER_VAR in vars)) return undefined;
  const value = vars[MARKER_VAR];
  if (value === 'production') return undefined;
  return `${MARKER_VAR} = ${JSON.stringify(value)}: only "production" may be deployed (the local tooling sets "${DEVELOPMENT}" itself)`;
}
