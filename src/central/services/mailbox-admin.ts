// The rules for routing a mailbox, shared by PUT /api/v1/mailboxes/:address, the bulk
// POST /api/v1/mailboxes (CSV or JSON, all-or-nothing) and POST /api/v1/mailboxes/move: one
// implementation, so a bulk import can never route what a single PUT would refuse.

import { domainOf, normaliseAddress } from '../../core/keyed-hash.js';
import type { Db } from '../../db/client.js';
import { bumpConfigVersion } from '../../db/queries/config-version.js';
import { allDeploymentIds } from '../../db/queries/deployments.js';
import { domainOwners } from '../../db/queries/domains.js';
import { deleteMailbox, findMailboxes, upsertMailbox, upsertRoutes } from '../../db/queries/mailboxes.js';
import { allRegionIds } from '../../db/queries/regions.js';
import type { mailboxes } from '../../db/schema.js';
import type { Principal } from '../context.js';
import { assertDeploymentAdmin, deploymentScope } from '../http/auth.js';
import { ApiError, type ErrorCode } from '../http/errors.js';
import { type ChangeSite, configChanged } from '../snapshot/config-changed.js';
import { routeClaimRefusal } from './route-claims.js';

// Reads of routes, for both front ends.
export { findMailbox, listMailboxes } from '../../db/queries/mailboxes.js';

export interface MailboxRouteInput {
  address: string;
  region: string;
  deployment: string;
  userId: string;
  filter: string;
}

export type MailboxRow = typeof mailboxes.$inferSelect;

/** What the rules need to know, read once for a whole batch of routes. */
export interface RoutingFacts {
  regions: Set<string>;
  deployments: Set<string>;
  existing: Map<string, MailboxRow>;
  /** Owner deployment of each address's domain (its nearest owned parent), for route-claims.ts. */
  domainOwners: Map<string, string>;
}

export async function routingFacts(
  db: Db,
  routes: Array<{ address: string; region: string; deployment: string }>,
) {
  const addresses = [...new Set(routes.map((r) => r.address))];
  const existing = new Map((await findMailboxes(db, addresses)).map((r) => [r.address, r]));
  const [regions, deployments, owners] = await Promise.all([
    allRegionIds(db),
    allDeploymentIds(db),
    domainOwners(
      db,
      routes.map((r) => domainOf(normaliseAddress(r.address))),
    ),
  ]);
  return {
    regions,
    deployments,
    existing,
    domainOwners: owners,
  } satisfies RoutingFacts;
}

/**
 * Checks one route against the rules; returns `{ field, message, status }` for a refusal. The
 * principal must manage the target deployment and, when the address is already routed, the
 * deployment it is routed to now; the region and the deployment must exist.
 */
export function checkRoute(
  principal: Principal,
  route: MailboxRouteInput,
  facts: RoutingFacts,
): { field: string; message: string; status: 400 | 403 | 409; code?: ErrorCode } | undefined {
  const forbiddenMessage = (deployment: string) => {
    try {
      assertDeploymentAdmin(principal, deployment);
      return undefined;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  };
  const denied = forbiddenMessage(route.deployment);
  if (denied) return { field: 'deployment', message: denied, status: 403 };
  const current = facts.existing.get(route.address);
  if (current) {
    const other = forbiddenMessage(current.deployment);
    if (other)
      return {
        field: 'address',
        message: `${route.address} is routed to another deployment: ${other}`,
        status: 403,
      };
  }
  if (!facts.regions.has(route.region))
    return { field: 'region', message: `unknown region ${route.region}`, status: 400 };
  if (!facts.deployments.has(route.deployment))
    return { field: 'deployment', message: `unknown deployment ${route.deployment}`, status: 400 };
  // Who may route which address: the domain rule of route-claims.ts (403 / 409 with its own code).
  const claim = routeClaimRefusal(principal, route, facts.domainOwners);
  if (claim)
    return {
      field: 'address',
      message: claim.message,
      status: claim.code === 'domain_owned_elsewhere' ? 409 : 403,
      code: claim.code,
    };
  return undefined;
}

/** Throws the refusal of a single route as the API error PUT answers with. */
export function assertRoute(principal: Principal, route: MailboxRouteInput, facts: RoutingFacts): void {
  const problem = checkRoute(principal, route, facts);
  if (!problem) return;
  if (problem.code) throw new ApiError(problem.code, problem.message);
  if (problem.status === 403) throw new ApiError('forbidden', problem.message);
  throw new ApiError(
    problem.status === 409 ? 'conflict' : 'validation_failed',
    `${problem.field}: ${problem.message}`,
  );
}

/**
 * Writes checked routes in one transaction and marks the snapshots of every region they leave or
 * join stale. Returns the counts of created, moved (region changed) and otherwise updated routes.
 */
export async function writeRoutes(
  db: Db,
  site: ChangeSite,
  routes: MailboxRouteInput[],
  facts: RoutingFacts,
  now = Date.now(),
) {
  if (!routes.length) return { created: 0, moved: 0, updated: 0 };
  await upsertRoutes(db, routes, now);
  const touched = new Set<string>();
  let created = 0;
  let moved = 0;
  for (const r of routes) {
    touched.add(r.region);
    const before = facts.existing.get(r.address);
    if (!before) created++;
    else {
      touched.add(before.region);
      if (before.region !== r.region) moved++;
    }
  }
  await bumpConfigVersion(db, [...touched]);
  configChanged(site, 'routes');
  return { created, moved, updated: routes.length - created - moved };
}

/**
 * Routes one mailbox (PUT /api/v1/mailboxes/:address and the dashboard's form): the same rules
 * as a bulk import, then the upsert and the snapshot bump of the regions it leaves or joins.
 */
export async function routeMailbox(
  db: Db,
  site: ChangeSite,
  principal: Principal,
  route: MailboxRouteInput,
): Promise<{ row: MailboxRow; existing?: MailboxRow }> {
  const facts = await routingFacts(db, [route]);
  assertRoute(principal, route, facts);
  const existing = facts.existing.get(route.address);
  const row = await upsertMailbox(db, route);
  await bumpConfigVersion(
    db,
    existing && existing.region !== route.region ? [existing.region, route.region] : [route.region],
  );
  configChanged(site, 'routes');
  return { row, existing };
}

/**
 * Deletes a route (DELETE /api/v1/mailboxes/:address and the dashboard's form) when the principal
 * manages its deployment, and marks its region's snapshot stale. The caller has found the route
 * visible to the principal.
 */
export async function unrouteMailbox(
  db: Db,
  site: ChangeSite,
  principal: Principal,
  row: { address: string; region: string; deployment: string },
) {
  assertDeploymentAdmin(principal, row.deployment);
  await deleteMailbox(db, row.address);
  await bumpConfigVersion(db, [row.region]);
  configChanged(site, 'routes');
}

/** Admins see every route, deployment tokens their deployment's, user tokens only their own mailboxes. */
export function mayReadRoute(p: Principal, row: { deployment: string; userId: string }): boolean {
  const scope = deploymentScope(p);
  if (scope && row.deployment !== scope) return false;
  return p.kind !== 'user' || p.userId === row.userId;
}
