import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { classify, type LoopHistory } from '../../src/core/classify.js';
import { keyedHash, keyedHash64, keyedHashBytes } from '../../src/core/keyed-hash.js';
import { buildMembershipFilter, filterHas } from '../../src/core/membership-filter.js';
import { readMessageFacts } from '../../src/core/message-facts.js';
import { buildSnapshot, decodeSnapshot, encodeSnapshot, normaliseSubject } from '../../src/core/snapshot.js';
import { findTrackingToken, formatTrackingToken } from '../../src/core/tracking-token.js';
import { FILTER_MODES, type TokenFormat } from '../../src/core/types.js';
import { HEADER_NAMES } from '../support/header-names.js';
import { contosoSnapshot, HASH_KEY, OUTBOUND_MESSAGE_ID, REPLY_THREAD_INDEX } from './contoso-snapshot.js';

const NOW = 1_710_300_000_000;
const snapshots = FILTER_MODES.map((mode) => contosoSnapshot(mode));

const headerValue = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.constantFrom(
    'Alice <alice@contoso.example>',
    'carol@example.org, "x" <dave@example.net>',
    OUTBOUND_MESSAGE_ID,
    REPLY_THREAD_INDEX,
    'RE: Quote  CRM:0001001',
    '=?UTF-8?B?w6lsw6h2ZQ==?= =?ISO-2022-JP?B?GyRCOzNFREJATzobKEI=?=',
    'multipart/mixed; boundary="b"',
    'multipart/report; report-type=delivery-status; boundary=r',
    'message/rfc822',
    'auto-replied',
    'bulk',
    '<>',
    'Tue, 12 Mar 2024 09:14:58 +0000',
  ),
);

/** Header-shaped messages: known and random fields, folding, a body with MIME-looking lines. */
const messageBytes = fc
  .tuple(
    fc.array(fc.tuple(fc.constantFrom(...HEADER_NAMES), headerValue, fc.boolean()), { maxLength: 14 }),
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.constantFrom('\r\n', '\n'),
  )
  .map(([fields, body, eol]) => {
    const head = fields
      .map(([name, value, fold]) => `${name}: ${fold ? value.replace(' ', `${eol} `) : value}`)
      .join(eol);
    const mime = `--b${eol}Content-Type: message/rfc822${eol}${eol}From: alice@contoso.example${eol}Subject: x${eol}${eol}`;
    return new TextEncoder().encode(`${head}${eol}${eol}${mime}${body}${eol}--b--${eol}`);
  });

const options = fc.record({
  promoted: fc.boolean(),
  loop: fc.array(fc.integer({ min: NOW - 20 * 60_000, max: NOW + 1000 }), { maxLength: 5 }),
});

function runBoth(raw: Uint8Array, mode: number, promoted: boolean, sightings: number[]) {
  const loopHistory: LoopHistory = { get: () => sightings };
  const facts = readMessageFacts(raw, { from: 'x@example.net', to: 'crm@us.edge.localhost' });
  const decision = classify(facts, snapshots[mode % snapshots.length] as (typeof snapshots)[number], {
    now: NOW,
    promoted,
    loopHistory,
  });
  return { facts, decision };
}

describe('properties', () => {
  test('reading and classifying arbitrary bytes never throws and is deterministic', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.nat(), options, (raw, mode, o) => {
        const a = runBoth(raw, mode, o.promoted, o.loop);
        const b = runBoth(raw.slice(), mode, o.promoted, o.loop);
        expect(a).toEqual(b);
        expect(a.decision.crmBound).toBe(a.decision.reason.startsWith('tracked:'));
      }),
      { numRuns: 300 },
    );
  });

  test('reading and classifying header-shaped messages never throws, is deterministic and consistent', () => {
    fc.assert(
      fc.property(messageBytes, fc.nat(), options, (raw, mode, o) => {
        const a = runBoth(raw, mode, o.promoted, o.loop);
        const b = runBoth(raw, mode, o.promoted, o.loop);
        expect(a).toEqual(b);
        const d = a.decision;
        expect(d.crmBound).toBe(d.targets.some((t) => t.crmBound));
        for (const t of d.targets) expect(t.crmBound).toBe(t.reason.startsWith('tracked:'));
        if (d.targets.length > 0) expect(d.loopKeys.length).toBeGreaterThan(0);
      }),
      { numRuns: 400 },
    );
  });

  test('the membership filter has no false negatives', () => {
    const key = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }));
    fc.assert(
      fc.property(fc.array(key, { maxLength: 400 }), (keys) => {
        const f = buildMembershipFilter(keys);
        for (const k of keys) expect(filterHas(f, k)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  test('tracking tokens round-trip through any subject', () => {
    const format = fc.record({
      prefix: fc.stringMatching(/^[A-Za-z#:_\-äß]{1,20}$/),
      deploymentBase: fc.integer({ min: 0, max: 2147483647 }),
      userDigits: fc.integer({ min: 1, max: 9 }),
      counterDigits: fc.integer({ min: 1, max: 9 }),
    });
    fc.assert(
      fc.property(
        format,
        fc.nat(),
        fc.nat(),
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.string({ unit: 'binary', maxLength: 40 }),
        (f: TokenFormat, u, c, before, after) => {
          const userNumber = u % 10 ** f.userDigits;
          const counter = c % 10 ** f.counterDigits;
          const token = formatTrackingToken(f, userNumber, counter);
          fc.pre(!before.toLowerCase().includes(f.prefix.toLowerCase()));
          const found = findTrackingToken(f, `${before} ${token} ${after}`);
          expect(found).toEqual({ token, userNumber, counter });
        },
      ),
      { numRuns: 500 },
    );
  });

  test('keyedHash is deterministic, 16 hex characters, and the hash of the UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 100 }), (s) => {
        const h = keyedHash(HASH_KEY, s);
        expect(h).toMatch(/^[0-9a-f]{16}$/);
        expect(keyedHash(HASH_KEY, s)).toBe(h);
        expect(keyedHashBytes(HASH_KEY, new TextEncoder().encode(s))).toBe(h);
        const [hi, lo] = keyedHash64(HASH_KEY, s);
        expect(hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0')).toBe(h);
      }),
      { numRuns: 500 },
    );
  });

  test('snapshots survive encode/decode for arbitrary inputs', () => {
    const address = fc.emailAddress();
    fc.assert(
      fc.property(
        fc.array(address, { maxLength: 5 }),
        fc.array(fc.tuple(address, fc.constantFrom('user', 'contact', 'account', 'lead'), fc.boolean()), {
          maxLength: 30,
        }),
        fc.array(fc.string({ maxLength: 30 }), { maxLength: 10 }),
        fc.boolean(),
        (mailboxes, records, ids, smartMatch) => {
          const base = contosoSnapshot();
          const s = buildSnapshot({
            region: 'eu',
            version: 3,
            builtAt: 1,
            hashKey: HASH_KEY,
            rulesEnabled: true,
            egress: 'metadata',
            mailboxes: mailboxes.map((a) => ({
              address: a,
              deployment: 'd',
              userId: 'u',
              filter: 'all' as const,
            })),
            deployments: [
              {
                id: 'd',
                token: base.deployments.contoso?.token ?? {
                  prefix: 'CRM:',
                  deploymentBase: 0,
                  userDigits: 3,
                  counterDigits: 3,
                },
                maxMessageBytes: 1000,
                attachmentPolicy: 'inline',
                smartMatch,
                suppressions: mailboxes.slice(0, 2),
                records: records.map(([a, type, emailEnabled]) => ({ address: a, type, emailEnabled })),
                outbound: ids.map((id) => ({ messageId: id, subject: id, to: mailboxes })),
              },
            ],
          });
          expect(decodeSnapshot(encodeSnapshot(s))).toEqual(s);
          const d = s.deployments.d;
          for (const [a, type, enabled] of records) {
            if (type !== 'user')
              expect(filterHas(d?.records as Uint8Array, keyedHash64(HASH_KEY, a.toLowerCase()))).toBe(true);
            if (enabled)
              expect(filterHas(d?.emailEnabled as Uint8Array, keyedHash64(HASH_KEY, a.toLowerCase()))).toBe(
                true,
              );
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  test('subject normalisation is idempotent', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        expect(normaliseSubject(normaliseSubject(s))).toBe(normaliseSubject(s));
      }),
      { numRuns: 500 },
    );
  });
});
