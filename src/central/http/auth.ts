import type { Context, MiddlewareHandler } from 'hono';
import { bytesToHex } from '../../core/keyed-hash.js';
import { RELAY_SCOPE_PREFIX } from '../../core/relay-token.js';
import { deriveEdgeCredentials, timingSafeEqual } from '../../core/request-signature.js';
import type { Db } from '../../db/client.js';
import { findActiveTokenByHash, touchTokenLastUsed } from '../../db/queries/tokens.js';
import { readCentralConfig } from '../config.js';
import type { AppEnv, CentralBindings, Principal } from '../context.js';
import { forbidden, unauthorized } from './errors.js';

export async function sha256Hex(text: string): Promise<string> {
  return bytesToHex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}

/** Parses a token scope (`admin`, `deployment:<id>`, `edge:<region>`, `user:<deployment>/<userId>`). */
export function parseScope(scope: string): Principal | undefined {
  if (scope === 'admin') return { kind: 'admin' };
  const m = /^(deployment|edge|user):(.+)$/.exec(scope);
  if (!m) return undefined;
  const [, kind, rest] = m as unknown as [string, string, string];
  if (kind === 'deployment') return { kind: 'deployment', deployment: rest };
  if (kind === 'edge') return { kind: 'edge', region: rest };
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) return undefined;
  return { kind: 'user', deployment: rest.slice(0, slash), userId: rest.slice(slash + 1) };
}

/** `lastUsedAt` is written at most once a minute per token, so a busy token costs no write per request. */
export const LAST_USED_RESOLUTION_MS = 60_000;

async function noteTokenUse(db: Db, id: string, lastUsedAt: number | null, now = Date.now()) {
  if (lastUsedAt !== null && now - lastUsedAt < LAST_USED_RESOLUTION_MS) return;
  await touchTokenLastUsed(db, id, now, LAST_USED_RESOLUTION_MS);
}

/** Resolves a bearer token to a principal, or undefined when it is unknown or revoked. */
export async function resolveToken(
  env: CentralBindings,
  db: Db,
  token: string,
): Promise<Principal | undefined> {
  const config = readCentralConfig(env);
  if (!token) return undefined;
  if (timingSafeEqual(token, config.adminToken)) return { kind: 'admin' };
  const edge = /^edge_([a-z0-9-]{1,32})_[0-9a-f]{40}$/.exec(token);
  if (edge) {
    const region = edge[1] as string;
    const expected = await deriveEdgeCredentials(config.edgeKeySecret, region);
    return timingSafeEqual(expected.token, token) ? { kind: 'edge', region } : undefined;
  }
  const row = await findActiveTokenByHash(db, await sha256Hex(token));
  // A relay token (relay:<deployment>) only delivers mail to the edges: central knows no such principal.
  if (!row || row.scope.startsWith(RELAY_SCOPE_PREFIX)) return undefined;
  await noteTokenUse(db, row.id, row.lastUsedAt);
  const principal = parseScope(row.scope);
  return principal ? { ...principal, tokenId: row.id } : undefined;
}

export function bearerToken(c: Context): string | undefined {
  const header = c.req.header('authorization');
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/** Requires a valid bearer token (or an already-established dashboard principal). */
export function requireAuth(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.get('principal')) return next();
    const token = bearerToken(c);
    if (!token) throw unauthorized('missing bearer token (Authorization: Bearer <token>)');
    const principal = await resolveToken(c.env, c.get('db'), token);
    if (!principal) throw unauthorized('unknown or revoked token');
    c.set('principal', principal);
    await next();
  };
}

export function assertAdmin(p: Principal): void {
  if (p.kind !== 'admin') throw forbidden('this endpoint needs an admin token');
}

/** Admins and that deployment's tokens may act on a deployment; others get 403. */
export function assertDeploymentAccess(p: Principal, deployment: string): void {
  if (p.kind === 'admin') return;
  if ((p.kind === 'deployment' || p.kind === 'user') && p.deployment === deployment) return;
  throw forbidden(`this token may not access deployment ${deployment}`);
}

/** Only admins and deployment-scoped tokens may read or write deployment data. */
export function assertDeploymentAdmin(p: Principal, deployment: string): void {
  if (p.kind === 'admin') return;
  if (p.kind === 'deployment' && p.deployment === deployment) return;
  throw forbidden(`this token may not manage deployment ${deployment}`);
}

/** The deployment a principal is confined to, or undefined for admins (who see everything). */
export function deploymentScope(p: Principal): string | undefined {
  if (p.kind === 'admin') return undefined;
  if (p.kind === 'deployment' || p.kind === 'user') return p.deployment;
  throw forbidden('edge tokens may only ingest and fetch snapshots');
}

export function assertEdge(p: Principal, region: string): void {
  if (p.kind !== 'edge') throw forbidden('this endpoint needs an edge token');
  if (p.region !== region)
    throw forbidden(`edge token of region ${p.region} may not act for region ${region}`);
}
