// Forwarding addresses an edge can verify with its own key (issue 19, item 11): central issues
// addresses whose check verifies under the region's derived signing key; the snapshot keeps the
// pre-issue-19 address of each generation as an alias, and lists retired generations as expired.
import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import type { CentralBindings } from '../../src/central/context.js';
import {
  forwardingKeys,
  legacyForwardingAddress,
  snapshotForwarding,
} from '../../src/central/services/forwarding.js';
import { isVerifiedForwardingAddress } from '../../src/core/forwarding-address.js';
import { deriveEdgeCredentials } from '../../src/core/request-signature.js';
import { forwardingDeployment } from '../../src/core/snapshot.js';
import { createDb } from '../../src/db/client.js';
import { EDGE_SECRET } from './edge-batch.js';
import { api, edgeSnapshot, freshBasics } from './helpers.js';

const bindings = env as unknown as CentralBindings;

describe('verifiable forwarding addresses', () => {
  beforeEach(freshBasics);

  test("a new deployment's address verifies under its region's key only", async () => {
    await api('PUT', '/api/v1/deployments/newco', { body: { name: 'NewCo' } });
    const { forwardingAddresses } = (await api('GET', '/api/v1/deployments/newco')).json;
    const eu = (await deriveEdgeCredentials(EDGE_SECRET, 'eu')).signingKey;
    const us = (await deriveEdgeCredentials(EDGE_SECRET, 'us')).signingKey;
    expect(await isVerifiedForwardingAddress(eu, 'eu', forwardingAddresses.eu)).toBe(true);
    expect(await isVerifiedForwardingAddress(us, 'us', forwardingAddresses.us)).toBe(true);
    expect(await isVerifiedForwardingAddress(us, 'us', forwardingAddresses.eu)).toBe(false);
    expect(await isVerifiedForwardingAddress(eu, 'eu', forwardingAddresses.eu.replace('crm-', 'crm-0'))).toBe(
      false,
    );
  });

  test('the address issued before issue 19 keeps working as an alias of its generation', async () => {
    const keys = forwardingKeys(bindings);
    const legacy = await legacyForwardingAddress(keys, 'contoso', 'eu', 0);
    const current = (await api('GET', '/api/v1/deployments/contoso')).json.forwardingAddresses.eu;
    expect(legacy).not.toBe(current);
    const snapshot = await edgeSnapshot('eu');
    expect(forwardingDeployment(snapshot, legacy, Date.now())).toBe('contoso');
    expect(forwardingDeployment(snapshot, current, Date.now())).toBe('contoso');
  });

  test('retired generations stay listed as expired, so an edge refuses them for good', async () => {
    const addresses: string[] = [
      (await api('GET', '/api/v1/deployments/contoso')).json.forwardingAddresses.eu,
    ];
    for (let i = 0; i < 3; i++)
      addresses.push(
        (await api('POST', '/api/v1/deployments/contoso/forwarding-addresses/rotate')).json
          .forwardingAddresses.eu,
      );
    const listed = await snapshotForwarding(createDb(bindings.DB), forwardingKeys(bindings), 'eu');
    const now = Date.now();
    const entry = (a: string) => listed.find((l) => l.address === a);
    expect(entry(addresses[3]!)).toEqual({ address: addresses[3], deployment: 'contoso' });
    expect(entry(addresses[2]!)?.expiresAt).toBeGreaterThan(now);
    for (const retired of [addresses[0]!, addresses[1]!])
      expect(entry(retired)?.expiresAt).toBeLessThanOrEqual(now);
  });
});
