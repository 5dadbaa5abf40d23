// A forwarding address the edge's snapshot does not carry yet (issue 19, item 11): when it verifies
// against the region's key it could be real (a deployment created a moment ago), so the edge
// answers with a temporary failure and the sending server retries; anything else is still refused
// permanently as unknown-recipient.
import { beforeEach, describe, expect, test } from 'vitest';
import { forwardingAddressOf } from '../../src/core/forwarding-address.js';
import type { IngestItem } from '../../src/core/wire.js';
import { readEdgeConfig } from '../../src/edge/config.js';
import worker from '../../src/edge/index.js';
import { processMessage } from '../../src/edge/pipeline.js';
import { capturingEnv, ctx, emailMessage } from './helpers.js';
import { deploymentInput, installSnapshot, usSnapshotInput } from './snapshot-input.js';

const DOMAIN = 'crm-router.example';
const KNOWN = 'crm-0123456789abcdef01234567@us.edge.crm-router.example';
/** The us edge's signing key in the test configuration (vitest.config.ts). */
const US_KEY = 'test-signing-key-us';

const message = new TextEncoder().encode(
  'From: buyer@customer.example\r\nTo: ann@newco.example\r\nX-Forwarded-To: ann@newco.example\r\nSubject: Hi\r\nMessage-ID: <new-1@customer.example>\r\n\r\nhello\r\n',
);

/** An edge whose snapshot knows contoso only (newco was created after it was built). */
async function staleSnapshot(extra: Array<{ address: string; deployment: string; expiresAt?: number }> = []) {
  await installSnapshot(
    usSnapshotInput({
      mailboxes: [{ address: 'ann@newco.example', deployment: 'newco', userId: 'n-ann', filter: 'all' }],
      forwarding: [{ address: KNOWN, deployment: 'contoso' }, ...extra],
      deployments: [deploymentInput('contoso'), deploymentInput('newco')],
    }),
  );
}

const inbound = (to: string, bindings: ReturnType<typeof capturingEnv>['bindings']) =>
  worker.fetch!(
    new Request(
      `http://edge.localhost/api/v1/inbound?from=buyer%40customer.example&to=${encodeURIComponent(to)}`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${readEdgeConfig(bindings).inboundToken}` },
        body: message,
      },
    ) as Request<unknown, IncomingRequestCfProperties>,
    bindings,
    ctx,
  );

describe('a forwarding address the snapshot does not carry yet', () => {
  beforeEach(() => staleSnapshot());

  test('its verified address is a temporary failure: email() throws and never rejects', async () => {
    const address = await forwardingAddressOf(US_KEY, 'a1b2c3d4e5f6', 'us', DOMAIN);
    expect(address).toMatch(/^crm-a1b2c3d4e5f6[0-9a-f]{12}@us\.edge\.crm-router\.example$/);
    const { bindings, sent } = capturingEnv();
    const { message: m, out } = emailMessage('buyer@customer.example', address, message);
    await expect(worker.email!(m, bindings, ctx)).rejects.toThrow(/not in this edge's snapshot yet/);
    expect(out.rejected).toBeUndefined();
    expect(sent.filter((x) => x.kind === 'item')).toEqual([]);
  });

  test('its verified address answers 503 with retry-after on POST /api/v1/inbound (the relay says 451)', async () => {
    const address = await forwardingAddressOf(US_KEY, '00ff00ff00ff', 'us', DOMAIN);
    const { bindings } = capturingEnv();
    const res = await inbound(address, bindings);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unavailable');
  });

  test('the same shape with a wrong check, or another region’s address, is refused permanently', async () => {
    const good = await forwardingAddressOf(US_KEY, 'a1b2c3d4e5f6', 'us', DOMAIN);
    const badCheck = good.replace(
      /^(crm-a1b2c3d4e5f6[0-9a-f]{11})([0-9a-f])/,
      (_, head: string, last: string) => head + (last === '0' ? '1' : '0'),
    );
    const otherRegion = await forwardingAddressOf(US_KEY, 'a1b2c3d4e5f6', 'eu', DOMAIN);
    for (const to of [badCheck, otherRegion, 'crm-ffffffffffffffffffffffff@us.edge.crm-router.example']) {
      const { bindings, sent } = capturingEnv();
      const { message: m, out } = emailMessage('buyer@customer.example', to, message);
      await worker.email!(m, bindings, ctx);
      expect(out.rejected, to).toMatch(/unknown-recipient/);
      expect(sent.map((x) => x.reason)).toEqual(['unknown-recipient']);
      const res = await inbound(to, capturingEnv().bindings);
      expect(res.status, to).toBe(400);
    }
  });

  test('a verified address the snapshot lists as retired (rotated out, expired) is refused permanently', async () => {
    const retired = await forwardingAddressOf(US_KEY, 'abcdefabcdef', 'us', DOMAIN);
    await staleSnapshot([{ address: retired, deployment: 'newco', expiresAt: 1 }]);
    const { bindings } = capturingEnv();
    const { message: m, out } = emailMessage('buyer@customer.example', retired, message);
    await worker.email!(m, bindings, ctx);
    expect(out.rejected).toMatch(/unknown-recipient/);
  });

  test('once the snapshot carries it, the same address is accepted', async () => {
    const address = await forwardingAddressOf(US_KEY, 'a1b2c3d4e5f6', 'us', DOMAIN);
    await staleSnapshot([{ address, deployment: 'newco' }]);
    const { bindings, sent } = capturingEnv();
    const result = await processMessage(
      bindings,
      readEdgeConfig(bindings),
      message,
      { from: 'buyer@customer.example', to: address },
      () => {},
    );
    expect(result.status).toBe('tracked');
    expect(sent.filter((x): x is IngestItem => x.kind === 'item').map((i) => i.deployment)).toEqual([
      'newco',
    ]);
  });
});
