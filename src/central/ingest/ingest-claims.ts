// What a signed edge batch may claim (issue 11, boundary 5): an edge speaks for its own region
// only. Every item, receipt, raw/attachment reference and dead letter must name the batch's
// signed region, and a deployment that has a mailbox routed in that region. Anything else is
// answered `rejected` with the reason and stored nowhere (no activity, disposition or dead letter).
import type { IngestItem, Receipt } from '../../core/wire.js';
import type { Db } from '../../db/client.js';
import { regionClaimQueries } from '../../db/queries/ingest.js';

export interface RegionClaims {
  /** The region whose key signed the batch. */
  region: string;
  /** Deployments with at least one mailbox routed in that region. */
  routedDeployments: Set<string>;
  /**
   * Every deployment that exists. A claim for a deployment that does not exist at all is left to
   * ingestion's unknown-deployment rule (dead-lettered, replayable once the deployment is created).
   */
  knownDeployments: Set<string>;
}

/** The claims of `region` from the rows of `regionClaimQueries`. */
export function regionClaimsOf(
  region: string,
  [routed, all]: readonly [{ id: string }[], { id: string }[]],
): RegionClaims {
  return {
    region,
    routedDeployments: new Set(routed.map((r) => r.id)),
    knownDeployments: new Set(all.map((r) => r.id)),
  };
}

export async function loadRegionClaims(db: Db, region: string): Promise<RegionClaims> {
  return regionClaimsOf(region, await db.batch(regionClaimQueries(db, region)));
}

function deploymentProblem(deployment: string | undefined, claims: RegionClaims): string | undefined {
  if (deployment === undefined || claims.routedDeployments.has(deployment)) return undefined;
  if (!claims.knownDeployments.has(deployment)) return undefined;
  return `claim: deployment ${deployment} has no mailbox routed in region ${claims.region}`;
}

function regionProblem(what: string, region: string, claims: RegionClaims): string | undefined {
  return region === claims.region
    ? undefined
    : `claim: ${what} names region ${region}, but the batch is signed by region ${claims.region}`;
}

/** Why an item claims more than its edge may, or undefined. */
export function itemClaimProblem(item: IngestItem, claims: RegionClaims): string | undefined {
  return (
    regionProblem('the item', item.region, claims) ??
    (item.raw ? regionProblem('the raw message reference', item.raw.region, claims) : undefined) ??
    item.attachments
      .map((a) => (a.ref ? regionProblem('an attachment reference', a.ref.region, claims) : undefined))
      .find((p) => p !== undefined) ??
    deploymentProblem(item.deployment, claims)
  );
}

export function receiptClaimProblem(receipt: Receipt, claims: RegionClaims): string | undefined {
  return (
    regionProblem('the receipt', receipt.region, claims) ?? deploymentProblem(receipt.deployment, claims)
  );
}

/** A dead letter carries what the edge failed to deliver: its region and deployment claims count too. */
export function deadLetterClaimProblem(item: unknown, claims: RegionClaims): string | undefined {
  if (!item || typeof item !== 'object') return undefined;
  const i = item as { region?: unknown; deployment?: unknown; raw?: unknown; attachments?: unknown };
  if (i.region !== undefined && i.region !== claims.region)
    return regionProblem('the dead letter', String(i.region), claims);
  const raw = i.raw as { region?: unknown } | undefined;
  if (raw && typeof raw === 'object' && raw.region !== undefined && raw.region !== claims.region)
    return regionProblem('the raw message reference', String(raw.region), claims);
  if (Array.isArray(i.attachments))
    for (const a of i.attachments) {
      const ref = (a as { ref?: { region?: unknown } } | null)?.ref;
      if (ref && typeof ref === 'object' && ref.region !== undefined && ref.region !== claims.region)
        return regionProblem('an attachment reference', String(ref.region), claims);
    }
  return typeof i.deployment === 'string' ? deploymentProblem(i.deployment, claims) : undefined;
}
