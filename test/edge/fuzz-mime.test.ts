/// <reference types="vite/client" />
// Property-based fuzzing of the edge's message path (issue 11): generated and mutated MIME (random
// header blocks, broken multiparts, byte flips and truncations of the real fixtures) through
// email() and POST /api/v1/inbound. With a snapshot in place nothing may throw past the handler:
// every message is accepted, tossed with a receipt or refused with a reason.
import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import worker from '../../src/edge/index.js';
import { HEADER_NAMES } from '../support/header-names.js';
import { capturingEnv, ctx, emailMessage } from './helpers.js';
import { deploymentInput, installSnapshot, usSnapshotInput } from './snapshot-input.js';

const FWD = 'crm-0123456789abcdef01234567@us.edge.crm-router.example';

/** The real-world fixtures (test/fixtures/emails), as text. */
const FIXTURES: string[] = Object.values(
  import.meta.glob('../fixtures/emails/*.eml', { query: '?raw', import: 'default', eager: true }),
) as string[];

const headerValue = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.constantFrom(
    'alice@contoso.example',
    '"Alice" <alice@contoso.example>, bob@contoso.example',
    '=?utf-8?B?w6TDtsO8?= <x@y.example>',
    '=?iso-2022-jp?B?GyRCJEckOSRrGyhC?=',
    'multipart/mixed; boundary="b"',
    'message/rfc822',
    'multipart/report; report-type=delivery-status; boundary=r',
    'base64',
    'quoted-printable',
    '<a@b>',
    '<<<>>>',
    'CRM:0001001',
    '',
  ),
);

const generated = fc
  .record({
    headers: fc.array(fc.tuple(fc.constantFrom(...HEADER_NAMES), headerValue), { maxLength: 20 }),
    folded: fc.boolean(),
    body: fc.oneof(
      fc.string({ maxLength: 500 }),
      fc.constantFrom(
        '--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: alice@contoso.example\r\n\r\nhi\r\n--b--\r\n',
        '--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64\r\n',
        '--b\r\n--b\r\n--b',
        '=\r\n=XX=4',
      ),
    ),
  })
  .map(({ headers, folded, body }) =>
    new TextEncoder().encode(
      `${headers.map(([k, v]) => `${k}: ${folded ? v.replace(/ /g, '\r\n ') : v}`).join('\r\n')}\r\n\r\n${body}`,
    ),
  );

function toBytes(x: unknown): Uint8Array {
  return typeof x === 'string' ? new TextEncoder().encode(x) : (x as Uint8Array);
}

const mutated = fc
  .record({
    base: fc.integer({ min: 0, max: Math.max(0, FIXTURES.length - 1) }),
    flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }),
    cut: fc.option(fc.nat()),
  })
  .map(({ base, flips, cut }) => {
    const bytes = toBytes(FIXTURES[base] ?? '').slice();
    for (const [at, v] of flips) if (bytes.length) bytes[at % bytes.length] = v;
    return cut === null || !bytes.length ? bytes : bytes.subarray(0, cut % bytes.length);
  });

describe('fuzzing the edge message path', () => {
  beforeAll(async () => {
    await installSnapshot(
      usSnapshotInput({
        version: 3,
        mailboxes: [
          { address: 'alice@contoso.example', deployment: 'contoso', userId: 'u-a', filter: 'all' },
          { address: 'bob@contoso.example', deployment: 'contoso', userId: 'u-b', filter: 'records' },
        ],
        forwarding: [{ address: FWD, deployment: 'contoso' }],
        deployments: [
          deploymentInput('contoso', {
            smartMatch: true,
            suppressions: ['@spam.example'],
            records: [{ address: 'carol@example.org', type: 'contact', emailEnabled: true }],
            outbound: [{ messageId: '<a@b>', subject: 'Hello', to: ['carol@example.org', 'x@y.example'] }],
          }),
        ],
      }),
    );
  });

  test('the fixtures are there to mutate', () => {
    expect(FIXTURES.length).toBeGreaterThan(10);
  });

  test('email(): generated and mutated MIME never throws past the handler', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(generated, mutated),
        fc.constantFrom(FWD, 'crm@us.edge.localhost'),
        async (raw, to) => {
          const { bindings, sent } = capturingEnv();
          const { message, out } = emailMessage('sender@example.net', to, raw);
          await worker.email!(message, bindings, ctx);
          // Every message leaves a trace: an item, a receipt, or a permanent refusal with a reason.
          if (to !== FWD) expect(out.rejected).toMatch(/unknown-recipient/);
          expect(sent.length > 0 || out.rejected !== undefined).toBe(true);
        },
      ),
      { numRuns: 150, seed: 11 },
    );
  }, 120_000);

  test('POST /api/v1/inbound: generated and mutated MIME never gives a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(generated, mutated), async (raw) => {
        const { bindings } = capturingEnv();
        const res = await worker.fetch!(
          new Request(`http://edge.localhost/api/v1/inbound?to=${encodeURIComponent(FWD)}`, {
            method: 'POST',
            headers: { authorization: 'Bearer local-inbound-token' },
            body: raw as Uint8Array<ArrayBuffer>,
          }) as unknown as Request<unknown, IncomingRequestCfProperties>,
          bindings,
          ctx,
        );
        expect(res.status).toBeLessThan(500);
        await res.arrayBuffer();
      }),
      { numRuns: 100, seed: 11 },
    );
  }, 120_000);
});
