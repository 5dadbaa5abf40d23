import { describe, expect, test } from 'vitest';
import { keyedHash, keyedHash64 } from '../../src/core/keyed-hash.js';
import { filterHas } from '../../src/core/membership-filter.js';
import {
  buildSnapshot,
  decodeSnapshot,
  encodeSnapshot,
  normaliseSubject,
  type SnapshotInput,
  threadIndexRootHash,
} from '../../src/core/snapshot.js';
import { DEFAULT_TOKEN_FORMAT } from '../../src/core/tracking-token.js';
import { testMaps } from '../support/maps.js';
import { contosoInput, HASH_KEY, OUTBOUND_THREAD_ROOT, REPLY_THREAD_INDEX } from './contoso-snapshot.js';

const has = (filter: Uint8Array, value: string) => filterHas(filter, keyedHash64(HASH_KEY, value));

describe('building a snapshot', () => {
  const s = buildSnapshot(contosoInput('records'));
  const d = s.deployments.contoso;
  if (!d) throw new Error('deployment missing');

  test('mailboxes are keyed by the hash of the normalised address', () => {
    expect(s.mailboxes).toEqual({
      [keyedHash(HASH_KEY, 'alice@contoso.example')]: {
        deployment: 'contoso',
        userId: 'user-0001',
        filter: 'records',
      },
    });
  });

  test('the records filter holds contacts, accounts and leads; users are not records', () => {
    for (const a of ['carol@example.org', 'dave@example.net', 'erin@example.com'])
      expect(has(d.records, a)).toBe(true);
    expect(has(d.records, 'bob@contoso.example')).toBe(false);
  });

  test('the email-enabled filter holds every enabled record, users included', () => {
    for (const a of ['carol@example.org', 'dave@example.net', 'bob@contoso.example']) {
      expect(has(d.emailEnabled, a)).toBe(true);
    }
    expect(has(d.emailEnabled, 'erin@example.com')).toBe(false);
  });

  test('outbound Message-IDs are normalised before hashing', () => {
    expect(has(d.outbound, 'out-1001@crm.contoso.example')).toBe(true);
  });

  test('suppressions split into address and domain hashes', () => {
    expect(d.suppressedAddresses).toEqual([keyedHash(HASH_KEY, 'spam@example.com')]);
    expect(d.suppressedDomains).toEqual([keyedHash(HASH_KEY, 'blocked.example.net')]);
  });

  test('Thread-Index values are reduced to their 22-byte conversation root', () => {
    expect(d.threadIndexes).toEqual([threadIndexRootHash(HASH_KEY, OUTBOUND_THREAD_ROOT)]);
    expect(threadIndexRootHash(HASH_KEY, REPLY_THREAD_INDEX)).toBe(d.threadIndexes[0]);
    expect(threadIndexRootHash(HASH_KEY, 'AQID')).toBeUndefined();
  });

  test('smart-match entries hold the hashes of the normalised subject and recipients', () => {
    expect(d.smart).toEqual([
      {
        subject: keyedHash(HASH_KEY, 'quote for 40 licences'),
        recipients: [
          keyedHash(HASH_KEY, 'carol@example.org'),
          keyedHash(HASH_KEY, 'procurement@example.org'),
        ].sort(),
      },
    ]);
    const off = contosoInput();
    (off.deployments[0] as SnapshotInput['deployments'][number]).smartMatch = false;
    expect(buildSnapshot(off).deployments.contoso?.smart).toEqual([]);
  });

  test('no plaintext address, domain or Message-ID appears anywhere in the encoded snapshot', () => {
    const text = Buffer.from(encodeSnapshot(s)).toString('latin1').toLowerCase();
    for (const secret of [
      'alice',
      'contoso.example',
      'carol',
      'example.org',
      'example.net',
      'spam@',
      'blocked',
      'out-1001',
      'quote for',
      'procurement',
    ]) {
      expect(text).not.toContain(secret);
    }
  });

  test('the same input in another order gives the same bytes and ETag', () => {
    const a = contosoInput('records');
    const b = contosoInput('records');
    const dep = b.deployments[0] as SnapshotInput['deployments'][number];
    dep.records.reverse();
    dep.suppressions.reverse();
    expect(buildSnapshot(b).etag).toBe(buildSnapshot(a).etag);
    expect(
      Buffer.from(encodeSnapshot(buildSnapshot(b))).equals(Buffer.from(encodeSnapshot(buildSnapshot(a)))),
    ).toBe(true);
    const changed = contosoInput('all');
    expect(buildSnapshot(changed).etag).not.toBe(buildSnapshot(a).etag);
  });

  test('a malformed hash key or token format is refused', () => {
    expect(() => buildSnapshot({ ...contosoInput(), hashKey: 'short' })).toThrow(/hashKey/);
    const bad = contosoInput();
    (bad.deployments[0] as SnapshotInput['deployments'][number]).token = {
      ...DEFAULT_TOKEN_FORMAT,
      userDigits: 0,
    };
    expect(() => buildSnapshot(bad)).toThrow(/user digits/);
  });
});

describe('encoding and decoding', () => {
  const s = buildSnapshot(contosoInput('email-enabled'));

  test('a snapshot survives a round trip', () => {
    const decoded = decodeSnapshot(encodeSnapshot(s));
    expect(decoded).toEqual(s);
  });

  test('the two record filters share their cells on the wire', () => {
    const d = s.deployments.contoso;
    if (!d) throw new Error('deployment missing');
    const bytes = encodeSnapshot(s);
    expect(bytes.length).toBeLessThan(d.records.length + d.emailEnabled.length + d.outbound.length + 2000);
  });

  test.each([
    ['truncated', (b: Uint8Array) => b.subarray(0, b.length - 20), /checksum|truncated/],
    ['one byte flipped', (b: Uint8Array) => b.map((x, i) => (i === 40 ? x ^ 1 : x)), /checksum/],
    ['a bad magic', (b: Uint8Array) => b.map((x, i) => (i === 0 ? 0 : x)), /bad magic/],
    ['an unknown format version', (b: Uint8Array) => b.map((x, i) => (i === 3 ? 9 : x)), /format version 9/],
    ['empty', () => new Uint8Array(0), /truncated/],
  ])('a payload that is %s is refused with a clear error', (_, damage, message) => {
    expect(() => decodeSnapshot(damage(encodeSnapshot(s)))).toThrow(message);
  });

  test('a million record addresses encode to at most 1.55 MB (in shards of at most 2^15 keys)', () => {
    const records: SnapshotInput['deployments'][number]['records'] = [];
    for (let i = 0; i < 1_000_000; i++) {
      records.push({
        address: `person${i}@customer${i % 5000}.example.com`,
        type: 'contact',
        emailEnabled: i % 10 !== 0,
      });
    }
    const input = contosoInput('records');
    (input.deployments[0] as SnapshotInput['deployments'][number]).records = records;
    const bytes = encodeSnapshot(buildSnapshot(input));
    expect(bytes.length).toBeLessThanOrEqual(1_550_000);
    const decoded = decodeSnapshot(bytes).deployments.contoso;
    expect(decoded && has(decoded.records, 'person123456@customer3456.example.com')).toBe(true);
    expect(decoded && has(decoded.emailEnabled, 'person10@customer10.example.com')).toBe(false);
    // A size check, not a timed one: a loaded machine may take many times the usual few seconds.
  }, 180_000);
});

describe('normaliseSubject', () => {
  testMaps(normaliseSubject, '%j normalises to %j', [
    ['RE: Quote', 'quote'],
    ['Re: RE: Fwd: Quote', 'quote'],
    ['AW: WG: Angebot', 'angebot'],
    ['SV: VS: Tarjous', 'tarjous'],
    ['TR: RE : Devis', 'devis'],
    ['RV: ENC: Orçamento', 'orçamento'],
    ['R: RIF: Preventivo', 'preventivo'],
    ['回复：报价', '报价'],
    ['回覆: 報價', '報價'],
    ['转发: 答复: 报价', '报价'],
    ['Отв: Пересл: Предложение', 'предложение'],
    ['ΑΠ: ΣΧΕΤ: Προσφορά', 'προσφορά'],
    ['Re[2]: Quote', 'quote'],
    ['Re(3): Quote', 'quote'],
    ['[EXTERNAL] RE: Quote', 'quote'],
    ['  Quote   for\t40  ', 'quote for 40'],
    ['Fwd: Quote (fwd)', 'quote'],
    ['Regarding the quote', 'regarding the quote'],
    ['Reply', 'reply'],
  ]);
});

describe('assembling a snapshot from built parts', () => {
  test('decodes to the same filters and sections as building it at once', async () => {
    const { encodeAssembledSnapshot, jsonDeploymentOf } = await import('../../src/core/snapshot.js');
    const { withTagMask } = await import('../../src/core/membership-filter.js');
    const s = buildSnapshot(contosoInput('email-enabled'));
    const d = s.deployments.contoso!;
    const combined = withTagMask(d.records, 3);
    const bytes = encodeAssembledSnapshot({ ...s, etag: 'e' }, [
      {
        id: 'contoso',
        meta: jsonDeploymentOf(d),
        records: combined,
        outbound: d.outbound,
      },
    ]);
    const back = decodeSnapshot(bytes);
    expect(back.deployments.contoso).toEqual(d);
    expect(has(back.deployments.contoso!.emailEnabledRecipients, 'carol@example.org')).toBe(true);
    expect(has(back.deployments.contoso!.emailEnabledRecipients, 'bob@contoso.example')).toBe(false);
    expect(has(back.deployments.contoso!.emailEnabled, 'bob@contoso.example')).toBe(true);
  });
});
