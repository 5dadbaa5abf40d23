// Who may route which mailbox address (design §4, PUT /api/v1/mailboxes/:address): the one rule,
// shared by the mailbox API, the dashboard's route forms and bulk imports.
//   - an address in a domain (or subdomain) owned by another deployment: 409 `domain_owned_elsewhere`,
//     for every credential, admins included;
//   - a deployment token may route only addresses in its own deployment's domains: else 403
//     `domain_not_owned` (a deployment without domains cannot route through its token at all);
//   - admins may route addresses of domains nobody owns.
import { domainOf, normaliseAddress } from '../../core/keyed-hash.js';
import type { Db } from '../../db/client.js';
import { domainOwners } from '../../db/queries/domains.js';
import type { Principal } from '../context.js';
import { ApiError } from '../http/errors.js';

export interface RouteClaim {
  address: string;
  deployment: string;
}

/** The refusal for one claim given the owners of its domain, or undefined when it may be routed. */
export function routeClaimRefusal(
  principal: Principal,
  claim: RouteClaim,
  owners: Map<string, string>,
): ApiError | undefined {
  const domain = domainOf(normaliseAddress(claim.address));
  const owner = owners.get(domain);
  if (owner !== undefined && owner !== claim.deployment)
    return new ApiError(
      'domain_owned_elsewhere',
      `${claim.address} is in a domain owned by another deployment; only that deployment may route it`,
    );
  if (principal.kind === 'admin') return undefined;
  if (owner === undefined)
    return new ApiError(
      'domain_not_owned',
      `a deployment token may route only addresses in its deployment's domains; ${domain} is not one of ${claim.deployment}'s (an admin adds domains with PUT /api/v1/deployments/${claim.deployment})`,
    );
  return undefined;
}

/** Refusals for many claims at once (undefined entries may be routed), one owner lookup in all. */
export async function routeClaimRefusals(
  db: Db,
  principal: Principal,
  claims: RouteClaim[],
): Promise<Array<ApiError | undefined>> {
  const owners = await domainOwners(
    db,
    claims.map((c) => domainOf(normaliseAddress(c.address))),
  );
  return claims.map((c) => routeClaimRefusal(principal, c, owners));
}

/** Throws the refusal of a single claim. */
export async function assertMayRoute(db: Db, principal: Principal, claim: RouteClaim): Promise<void> {
  const [refusal] = await routeClaimRefusals(db, principal, [claim]);
  if (refusal) throw refusal;
}
