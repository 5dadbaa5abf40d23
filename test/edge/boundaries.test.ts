// Issue 11 at the edge: mail only for forwarding addresses (boundary 2), bound to that address's
// deployment (boundary 1), and raw content never rendered on the edge's origin (boundary 8).
import { beforeEach, describe, expect, test } from 'vitest';
import { signRawLink } from '../../src/core/raw-link.js';
import type { IngestItem } from '../../src/core/wire.js';
import { readEdgeConfig } from '../../src/edge/config.js';
import worker from '../../src/edge/index.js';
import { processMessage } from '../../src/edge/pipeline.js';
import { capturingEnv, ctx, edgeEnv, emailMessage } from './helpers.js';
import { deploymentInput, installSnapshot, usSnapshotInput } from './snapshot-input.js';

const CONTOSO_FWD = 'crm-0123456789abcdef01234567@us.edge.crm-router.example';
const FABRIKAM_FWD = 'crm-fedcba9876543210fedcba98@us.edge.crm-router.example';

const deployment = (id: string, base: number) =>
  deploymentInput(id, { token: { prefix: 'CRM:', deploymentBase: base, userDigits: 3, counterDigits: 3 } });

async function install() {
  await installSnapshot(
    usSnapshotInput({
      version: 11,
      mailboxes: [
        { address: 'ceo@contoso.example', deployment: 'contoso', userId: 'c-ceo', filter: 'all' },
        { address: 'ann@fabrikam.example', deployment: 'fabrikam', userId: 'f-ann', filter: 'all' },
      ],
      forwarding: [
        { address: CONTOSO_FWD, deployment: 'contoso' },
        { address: FABRIKAM_FWD, deployment: 'fabrikam' },
      ],
      deployments: [deployment('contoso', 1), deployment('fabrikam', 2)],
    }),
  );
}

/** A stranger's message "forwarded by" contoso's CEO (every forwarding header forged). */
const forged = new TextEncoder().encode(
  [
    'From: attacker@evil.example',
    'To: ceo@contoso.example',
    'X-Forwarded-To: ceo@contoso.example',
    'X-Forwarded-For: ceo@contoso.example',
    'Delivered-To: ceo@contoso.example',
    'Subject: Invoice',
    'Message-ID: <forged-1@evil.example>',
    '',
    'pay me',
    '',
  ].join('\r\n'),
);

describe('edge boundaries', () => {
  beforeEach(install);

  test('forged-forward mail to a non-forwarding address is rejected permanently as unknown-recipient (email())', async () => {
    const { bindings, sent } = capturingEnv();
    for (const to of [
      'crm@us.edge.localhost',
      'ceo@contoso.example',
      'anything@us.edge.crm-router.example',
    ]) {
      const { message, out } = emailMessage('attacker@evil.example', to, forged);
      await worker.email!(message, bindings, ctx);
      expect(out.rejected).toMatch(/unknown-recipient/);
    }
    expect(sent.filter((m) => m.kind === 'item')).toEqual([]);
    expect(sent.map((m) => m.reason)).toEqual([
      'unknown-recipient',
      'unknown-recipient',
      'unknown-recipient',
    ]);
    // The receipt names no deployment or mailbox: the message was bound to none.
    expect(sent[0]).not.toHaveProperty('deployment');
    expect(sent[0]).not.toHaveProperty('mailboxHash');
  });

  test('POST /api/v1/inbound answers 400 unknown-recipient for any other envelope recipient, or none', async () => {
    const { bindings, sent } = capturingEnv();
    for (const query of ['?to=crm%40us.edge.localhost', '']) {
      const res = await worker.fetch!(
        new Request(`http://edge.localhost/api/v1/inbound${query}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${readEdgeConfig(bindings).inboundToken}` },
          body: forged,
        }) as Request<unknown, IncomingRequestCfProperties>,
        bindings,
        ctx,
      );
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string; requestId: string } };
      expect(body.error.code).toBe('unknown-recipient');
      expect(body.error.requestId).toBeTruthy();
    }
    expect(sent.every((m) => m.kind === 'receipt' && m.reason === 'unknown-recipient')).toBe(true);
  });

  test("mail sent to fabrikam's forwarding address never becomes a contoso item, whatever its headers say", async () => {
    const { bindings, sent } = capturingEnv();
    const raw = new TextEncoder().encode(
      'From: ann@fabrikam.example\r\nTo: partner@example.net\r\nCc: ceo@contoso.example\r\nX-Forwarded-To: ann@fabrikam.example\r\nSubject: x\r\nMessage-ID: <cc-1@fabrikam.example>\r\n\r\nhi\r\n',
    );
    const result = await processMessage(
      bindings,
      readEdgeConfig(bindings),
      raw,
      { from: 'ann@fabrikam.example', to: FABRIKAM_FWD },
      () => {},
    );
    expect(result.status).toBe('tracked');
    const items = sent.filter((m): m is IngestItem => m.kind === 'item');
    expect(items.map((i) => [i.deployment, i.mailboxes])).toEqual([['fabrikam', ['ann@fabrikam.example']]]);
  });

  test("the forged forward sent to contoso's own address is accepted only as contoso's (the address is the secret)", async () => {
    const { bindings, sent } = capturingEnv();
    const result = await processMessage(
      bindings,
      readEdgeConfig(bindings),
      forged,
      { from: 'attacker@evil.example', to: CONTOSO_FWD.toUpperCase() },
      () => {},
    );
    expect(result.reject).toBeUndefined();
    expect(sent.every((m) => m.kind !== 'item' || m.deployment === 'contoso')).toBe(true);
  });

  test('raw content is served as a sandboxed download, never rendered on the edge origin', async () => {
    const key = 'att/test-copy/1';
    await edgeEnv.RAW.put(key, '<script>alert(1)</script>', { httpMetadata: { contentType: 'text/html' } });
    const exp = Date.now() + 60_000;
    const sig = await signRawLink(readEdgeConfig(edgeEnv).signingKey, key, exp);
    const res = await worker.fetch!(
      new Request(`http://edge.localhost/raw/${encodeURIComponent(key)}?exp=${exp}&sig=${sig}`) as Request<
        unknown,
        IncomingRequestCfProperties
      >,
      edgeEnv,
      ctx,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="1"$/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toBe('sandbox');
    await res.arrayBuffer();
  });
});
