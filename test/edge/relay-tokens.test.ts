// POST /api/v1/inbound with a relay token (scope relay:<deployment>, relay-token.ts): accepted only
// while the region's snapshot carries it, and only for its deployment's forwarding addresses. The
// region's INBOUND_TOKEN stays the operator's token for every address.
import { beforeEach, describe, expect, test } from 'vitest';
import { relayTokenKey, tokenDigest } from '../../src/core/relay-token.js';
import { readEdgeConfig } from '../../src/edge/config.js';
import worker from '../../src/edge/index.js';
import { capturingEnv, ctx } from './helpers.js';
import { deploymentInput, installSnapshot, usSnapshotInput } from './snapshot-input.js';

const CONTOSO_FWD = 'crm-0123456789abcdef01234567@us.edge.crm-router.example';
const FABRIKAM_FWD = 'crm-fedcba9876543210fedcba98@us.edge.crm-router.example';
const CONTOSO_RELAY = `crt_${'c'.repeat(43)}`;
const REVOKED = `crt_${'r'.repeat(43)}`;

const raw = new TextEncoder().encode(
  [
    'From: buyer@customer.example',
    'To: ceo@contoso.example',
    'X-Forwarded-To: ceo@contoso.example',
    'Subject: Order',
    'Message-ID: <relay-token-1@customer.example>',
    '',
    'hello',
    '',
  ].join('\r\n'),
);

async function install(relayTokens: string[]) {
  const { bindings } = capturingEnv();
  const { signingKey } = readEdgeConfig(bindings);
  const keyed = Object.fromEntries(
    await Promise.all(
      relayTokens.map(async (t) => [
        await relayTokenKey(signingKey, tokenDigest(t)),
        { deployment: 'contoso', id: `tok_${t}` },
      ]),
    ),
  );
  await installSnapshot(
    usSnapshotInput({
      mailboxes: [
        { address: 'ceo@contoso.example', deployment: 'contoso', userId: 'c-ceo', filter: 'all' },
        { address: 'ann@fabrikam.example', deployment: 'fabrikam', userId: 'f-ann', filter: 'all' },
      ],
      forwarding: [
        { address: CONTOSO_FWD, deployment: 'contoso' },
        { address: FABRIKAM_FWD, deployment: 'fabrikam' },
      ],
      deployments: [deploymentInput('contoso'), deploymentInput('fabrikam')],
      relayTokens: keyed,
    }),
  );
}

async function inbound(token: string, to: string[]) {
  const { bindings, sent } = capturingEnv();
  const query = to.map((t) => `to=${encodeURIComponent(t)}`).join('&');
  const res = await worker.fetch!(
    new Request(`http://edge.localhost/api/v1/inbound?from=buyer%40customer.example&${query}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: raw,
    }) as Request<unknown, IncomingRequestCfProperties>,
    bindings,
    ctx,
  );
  return { status: res.status, json: (await res.json()) as Record<string, unknown>, sent };
}

describe('POST /api/v1/inbound with a relay token', () => {
  beforeEach(() => install([CONTOSO_RELAY]));

  test("is accepted for its own deployment's forwarding address", async () => {
    const res = await inbound(CONTOSO_RELAY, [CONTOSO_FWD]);
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ status: 'tracked' });
    expect(res.sent.filter((m) => m.kind === 'item').map((m) => m.deployment)).toEqual(['contoso']);
  });

  test("is refused (403) for another deployment's address, alone or beside its own, and nothing is queued", async () => {
    for (const to of [
      [FABRIKAM_FWD],
      [CONTOSO_FWD, FABRIKAM_FWD],
      ['nobody@us.edge.crm-router.example'],
      [],
    ]) {
      const res = await inbound(CONTOSO_RELAY, to);
      expect(res.status, JSON.stringify(to)).toBe(403);
      expect(res.json).toMatchObject({ error: { code: 'forbidden' } });
      expect(res.sent).toEqual([]);
    }
  });

  test('a token the snapshot does not carry (unknown, or revoked since) is 401', async () => {
    expect((await inbound(REVOKED, [CONTOSO_FWD])).status).toBe(401);
    await install([CONTOSO_RELAY, REVOKED]);
    expect((await inbound(REVOKED, [CONTOSO_FWD])).status).toBe(202);
    await install([CONTOSO_RELAY]);
    const after = await inbound(REVOKED, [CONTOSO_FWD]);
    expect(after.status).toBe(401);
    expect(after.sent).toEqual([]);
  });

  test("the region's INBOUND_TOKEN still delivers for every deployment's address", async () => {
    const { bindings } = capturingEnv();
    const res = await inbound(readEdgeConfig(bindings).inboundToken, [FABRIKAM_FWD]);
    expect(res.status).toBe(202);
  });
});
