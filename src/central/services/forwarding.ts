// Per-deployment, per-region forwarding addresses (design §4). An address is derived from the
// central secret, the deployment, the region and the deployment's forwarding generation:
// `crm-<12 hex id><12 hex check>@<region>.edge.<EDGE_MAIL_DOMAIN>` (96 unguessable bits), the
// check made with the region's signing key so that the region's edge can tell an address issued
// after its snapshot from a made-up one (src/core/forwarding-address.ts; issue 19, item 11).
// Nothing is stored but the generation, so the local demo deployments keep stable addresses and
// every region gets one the moment it exists. Rotation bumps the generation; the previous
// addresses keep working for FORWARDING_GRACE_MS, enforced by the edge from the `expiresAt` in
// its snapshot. The addresses issued before issue 19 (`crm-<24 hex>`, all from the secret) stay
// accepted as aliases of the same generation.
import { FORWARDING_ID_HEX, forwardingAddressOf } from '../../core/forwarding-address.js';
import { deriveEdgeCredentials, hmacHex } from '../../core/request-signature.js';
import { generateRuleScript, type RuleScriptInput } from '../../core/rule-scripts.js';
import type { Db } from '../../db/client.js';
import type { DeploymentRow } from '../../db/queries/deployments.js';
import { listDeployments } from '../../db/queries/deployments.js';
import { listRegionIds } from '../../db/queries/regions.js';
import { readCentralConfig } from '../config.js';
import type { CentralBindings } from '../context.js';

/** How long rotated-out forwarding addresses keep working. */
export const FORWARDING_GRACE_MS = 7 * 24 * 60 * 60 * 1000;
/**
 * Retired generations a snapshot still lists (expired), so the edge refuses their addresses for
 * good instead of taking them for addresses newer than its snapshot; older ones fail temporarily
 * until the sending server gives up. Bounds the snapshot: two entries per retired generation.
 */
export const RETIRED_GENERATIONS_LISTED = 10;

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
  const { signingKey } = await deriveEdgeCredentials(keys.edgeKeySecret, region);
  return forwardingAddressOf(signingKey, mac.slice(0, FORWARDING_ID_HEX), region, keys.edgeMailDomain);
}

/** The address the same generation had before issue 19 (24 hex digits of the secret's MAC): an alias. */
export async function legacyForwardingAddress(
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
 * The region's forwarding addresses for its snapshot: every deployment's current address (and its
 * pre-issue-19 alias), the previous generation's with the end of its grace period, and up to
 * RETIRED_GENERATIONS_LISTED older ones as already expired.
 */
export async function snapshotForwarding(
  db: Db,
  keys: ForwardingKeys,
  region: string,
  now = Date.now(),
): Promise<Array<{ address: string; deployment: string; expiresAt?: number }>> {
  const out: Array<{ address: string; deployment: string; expiresAt?: number }> = [];
  const add = async (deployment: string, generation: number, expiresAt?: number) => {
    const entry = { deployment, ...(expiresAt !== undefined ? { expiresAt } : {}) };
    out.push({ address: await forwardingAddress(keys, deployment, region, generation), ...entry });
    out.push({ address: await legacyForwardingAddress(keys, deployment, region, generation), ...entry });
  };
  for (const d of await listDeployments(db)) {
    const g = d.forwardingGeneration;
    await add(d.id, g);
    if (g === 0 || d.forwardingRotatedAt === null) continue;
    // The previous generation works until its grace ends (the edge enforces `expiresAt`); the
    // older ones ended at the latest rotation (rotating twice within a week ends the oldest).
    const graceEnd = d.forwardingRotatedAt + FORWARDING_GRACE_MS;
    await add(d.id, g - 1, graceEnd > now ? graceEnd : d.forwardingRotatedAt);
    for (let old = g - 2; old >= Math.max(0, g - 1 - RETIRED_GENERATIONS_LISTED); old--)
      await add(d.id, old, d.forwardingRotatedAt);
  }
  return out;
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
