// The edge tests' snapshots: a region us input from a few fields, installed as the edge's current one.
import { buildSnapshot, type RoutingSnapshot, type SnapshotInput } from '../../src/core/snapshot.js';
import { encodeManifest, splitSnapshot } from '../../src/core/snapshot-manifest.js';
import { forgetHeldSnapshot } from '../../src/edge/snapshot-store.js';
import { edgeEnv } from './helpers.js';

export const HASH_KEY = '000102030405060708090a0b0c0d0e0f';

/** A deployment of a test snapshot: the default token format, nothing suppressed, no records. */
export function deploymentInput(
  id: string,
  over: Partial<SnapshotInput['deployments'][number]> = {},
): SnapshotInput['deployments'][number] {
  return {
    id,
    token: { prefix: 'CRM:', deploymentBase: 0, userDigits: 3, counterDigits: 3 },
    maxMessageBytes: 1_000_000,
    attachmentPolicy: 'regional',
    smartMatch: false,
    suppressions: [],
    records: [],
    outbound: [],
    ...over,
  };
}

/** A region us snapshot with rules on and full egress; the test names its routes and deployments. */
export function usSnapshotInput(
  over: Pick<SnapshotInput, 'mailboxes' | 'forwarding' | 'deployments'> & Partial<SnapshotInput>,
): SnapshotInput {
  return {
    region: 'us',
    version: 1,
    builtAt: 1,
    hashKey: HASH_KEY,
    rulesEnabled: true,
    egress: 'full',
    ...over,
  };
}

/**
 * Makes a built snapshot the region's current one, as a fetch from central would leave it: its
 * manifest and parts in the region's R2 copy (`snapshot/`), this isolate's memory forgotten.
 */
export async function installBuilt(snapshot: RoutingSnapshot, checkedAt = Date.now()) {
  forgetHeldSnapshot();
  const { manifest, parts } = splitSnapshot(snapshot);
  for (const [name, bytes] of parts) await edgeEnv.RAW.put(`snapshot/parts/${name}`, bytes);
  await edgeEnv.RAW.put('snapshot/manifest', encodeManifest(manifest), {
    customMetadata: { etag: `"${snapshot.etag}"`, checkedAt: String(checkedAt) },
  });
  return snapshot;
}

/** Builds the snapshot and makes it the edge's current one (as a fetch from central would). */
export async function installSnapshot(input: SnapshotInput) {
  return installBuilt(buildSnapshot(input));
}

/** The region holds no snapshot at all (a fresh edge). */
export async function removeSnapshot() {
  forgetHeldSnapshot();
  const listed = await edgeEnv.RAW.list({ prefix: 'snapshot/' });
  if (listed.objects.length) await edgeEnv.RAW.delete(listed.objects.map((o) => o.key));
}
