// Per-deployment, per-region forwarding addresses (design §4). An address is derived from the
// central secret, the deployment, the region and the deployment's forwarding generation:
// `crm-<24 hex>@<region>.edge.<EDGE_MAIL_DOMAIN>` (96 unguessable bits). Nothing is stored but the
// generation, so the local demo deployments keep stable addresses and every region gets one the
// moment it exists. Rotation bumps the generation; the previous addresses keep working for
// FORWARDING_GRACE_MS, enforced by the edge from the `expiresAt` in its snapshot.
import { hmacHex } from '../../core/request-signature.js';
import { generateRuleScript, type RuleScriptInput } from '../../core/rule-scripts.js';
import type { Db } from '../../db/client.js';
import { bumpConfigVersion } from '../../db/queries/config-version.js';
import type { DeploymentRow } from '../../db/queries/deployments.js';
import { bumpForwardingGeneration, listDeployments } from '../../db/queries/deployments.js';
import { listRegionIds } from '../../db/queries/regions.js';
import { readCentralConfig } from '../config.js';
import type { CentralBindings } from '../context.js';

/** How long rotated-out forwarding addresses keep working. */
export const FORWARDING_GRACE_MS = 7 * 24 * 60 * 60 * 1000;

export interface ForwardingKeys {
  edgeKeySecret: string;
  edgeMailDomain: string;
}

export function forwardingKeys(env: CentralBindings): ForwardingKeys {
  const { edgeKeySecret, edgeMailDomain } = readCentralConfig(env);
  return { edgeKeySecret, edgeMailDomain };
}

/** The forwarding address of a deployment in a region for one generation. */
export async function forwardingAddress(
  keys: ForwardingKeys,
  deployment: string,
  region: string,
  generation: number,
): Promise<string> {
  const mac = await hmacHex(keys.edgeKeySecret, `forwarding:${deployment}:${region}:${generation}`);
  return `crm-${mac.slice(0, 24)}@${region.toLowerCase()}.edge.${keys.edgeMailDomain}`;
}

type ForwardingRow = Pick<DeploymentRow, 'id' | 'forwardingGeneration' | 'forwardingRotatedAt'>;

/** `{ region: address }` of a deployment's current forwarding addresses, for every region. */
export async function currentForwardingAddresses(
  db: Db,
  keys: ForwardingKeys,
  deployment: ForwardingRow,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const region of await listRegionIds(db))
    out[region] = await forwardingAddress(keys, deployment.id, region, deployment.forwardingGeneration);
  return out;
}

/**
 * The region's forwarding addresses for its snapshot: every deployment's current address, and the
 * previous generation's while it is within its grace period (with its expiry).
 */
export async function snapshotForwarding(
  db: Db,
  keys: ForwardingKeys,
  region: string,
  now = Date.now(),
): Promise<Array<{ address: string; deployment: string; expiresAt?: number }>> {
  const out: Array<{ address: string; deployment: string; expiresAt?: number }> = [];
  for (const d of await listDeployments(db)) {
    out.push({
      address: await forwardingAddress(keys, d.id, region, d.forwardingGeneration),
      deployment: d.id,
    });
    const expiresAt = (d.forwardingRotatedAt ?? 0) + FORWARDING_GRACE_MS;
    if (d.forwardingGeneration > 0 && d.forwardingRotatedAt !== null && expiresAt > now)
      out.push({
        address: await forwardingAddress(keys, d.id, region, d.forwardingGeneration - 1),
        deployment: d.id,
        expiresAt,
      });
  }
  return out;
}

/** Issues new forwarding addresses for a deployment; the current ones keep working for 7 days. */
export async function rotateForwardingAddresses(db: Db, id: string, now = Date.now()) {
  const row = await bumpForwardingGeneration(db, id, now);
  if (row) await bumpConfigVersion(db, 'all');
  return row;
}

/**
 * Forwarding rules for a region's mailboxes: one script in which each mailbox forwards to its own
 * deployment's address in the region (the edge accepts no other). Shared by
 * GET /api/v1/regions/:id/rules and the Regions page.
 */
export async function regionRuleScript(
  keys: ForwardingKeys,
  input: Omit<RuleScriptInput, 'edgeAddress' | 'mailboxes'> & {
    mailboxes: Array<{ address: string; deployment: string }>;
    deployments: Array<Pick<DeploymentRow, 'id' | 'forwardingGeneration'>>;
  },
): Promise<{ script: string; forwardingAddresses: Record<string, string> }> {
  const forwardingAddresses: Record<string, string> = {};
  const targets: Record<string, string> = {};
  for (const id of [...new Set(input.mailboxes.map((m) => m.deployment))].sort()) {
    const generation = input.deployments.find((d) => d.id === id)?.forwardingGeneration ?? 0;
    forwardingAddresses[id] = await forwardingAddress(keys, id, input.region, generation);
  }
  for (const m of input.mailboxes) targets[m.address] = forwardingAddresses[m.deployment]!;
  const { deployments: _d, mailboxes, ...rest } = input;
  const first = Object.values(forwardingAddresses)[0];
  const script = generateRuleScript({
    ...rest,
    edgeAddress: first ?? `(no mailbox routed in ${input.region})`,
    mailboxes: mailboxes.map((m) => m.address),
    targets,
  });
  return { script, forwardingAddresses };
}
