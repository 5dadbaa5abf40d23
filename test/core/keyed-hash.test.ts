import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import {
  bytesToHex,
  domainOf,
  HEX_BYTE,
  hash64ToHex,
  keyedHash,
  keyedHash64,
  keyedHashBytes,
  normaliseAddress,
  normaliseMessageId,
  sha256Hex,
} from '../../src/core/keyed-hash.js';
import { testMaps } from '../support/maps.js';

const REFERENCE_KEY = '000102030405060708090a0b0c0d0e0f';
const sequence = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);

describe('SipHash-2-4', () => {
  // Reference vectors of the SipHash paper (Appendix A / vectors.h), as 64-bit integers.
  test.each([
    [0, '726fdb47dd0e0e31'],
    [1, '74f839c593dc67fd'],
    [7, 'ab0200f58b01d137'],
    [8, '93f5f5799a932462'],
    [15, 'a129ca6149be45e5'],
    [63, '958a324ceb064572'],
  ])('the reference vector for message 00..%i matches', (length, expected) => {
    expect(keyedHashBytes(REFERENCE_KEY, sequence(length))).toBe(expected);
  });

  test('strings hash as their UTF-8 bytes', () => {
    expect(keyedHash(REFERENCE_KEY, '')).toBe('726fdb47dd0e0e31');
    const text = 'rené@exämple.com 😀';
    expect(keyedHash(REFERENCE_KEY, text)).toBe(
      keyedHashBytes(REFERENCE_KEY, new TextEncoder().encode(text)),
    );
  });

  test('a lone surrogate hashes like TextEncoder encodes it (U+FFFD)', () => {
    expect(keyedHash(REFERENCE_KEY, 'a\ud800b')).toBe(keyedHash(REFERENCE_KEY, 'a\ufffdb'));
  });

  test('keyedHash64 is the same 64 bits as two uint32', () => {
    const pair = keyedHash64(REFERENCE_KEY, 'alice@contoso.example');
    expect(hash64ToHex(pair)).toBe(keyedHash(REFERENCE_KEY, 'alice@contoso.example'));
    expect(pair.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff)).toBe(true);
  });

  test('the key matters, and a malformed key is refused', () => {
    expect(keyedHash(REFERENCE_KEY, 'x')).not.toBe(keyedHash('ffffffffffffffffffffffffffffffff', 'x'));
    expect(() => keyedHash('abc', 'x')).toThrow(/32 hexadecimal/);
  });
});

describe('normalisation', () => {
  testMaps(normaliseAddress, 'the address %j normalises to %j', [
    ['  Alice@Contoso.Example ', 'alice@contoso.example'],
    ['Alice Adams <Alice@Contoso.Example>', 'alice@contoso.example'],
    ['"Adams, Alice" <alice@contoso.example>', 'alice@contoso.example'],
    ['alice@contoso.example (Alice Adams)', 'alice@contoso.example'],
    ['mailto:alice@contoso.example', 'alice@contoso.example'],
    ['<@relay.example.net:alice@contoso.example>', 'alice@contoso.example'],
  ]);

  testMaps(normaliseMessageId, 'the Message-ID %j normalises to %j', [
    [' <AbC.123@Mail.Example.com> ', 'abc.123@mail.example.com'],
    ['abc@example.com', 'abc@example.com'],
    ['<abc@\r\n example.com>', 'abc@example.com'],
  ]);

  test('domainOf takes the part after the last @', () => {
    expect(domainOf('a@Sub.Example.COM')).toBe('sub.example.com');
    expect(domainOf('"a@b"@example.com')).toBe('example.com');
    expect(domainOf('nodomain')).toBe('');
  });
});

describe('SHA-256', () => {
  test.each([0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 100_000])('%i bytes hash as node:crypto does', (n) => {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff);
    expect(sha256Hex(bytes)).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  test('hashes of different lengths one after another share nothing (its scratch space is reused)', () => {
    const lengths = [130, 3, 64, 0, 119, 56, 1000, 55, 128, 1];
    for (const n of [...lengths, ...lengths.reverse()]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff);
      expect(sha256Hex(bytes), `${n} bytes`).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
  });

  test('the FIPS 180-2 "abc" vector', () => {
    expect(sha256Hex(new TextEncoder().encode('abc'))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  test('a 25 MiB message hashes correctly', () => {
    const big = new Uint8Array(25 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
    expect(sha256Hex(big)).toBe(createHash('sha256').update(big).digest('hex'));
  });
});

describe('bytesToHex', () => {
  const naive = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');

  test('each of the 256 byte values is two lower-case hex digits', () => {
    expect(HEX_BYTE).toHaveLength(256);
    for (let b = 0; b < 256; b++) {
      const bytes = Uint8Array.of(b);
      expect(bytesToHex(bytes)).toBe(naive(bytes));
      expect(HEX_BYTE[b]).toBe(naive(bytes));
    }
  });

  test('empty input is the empty string', () => {
    expect(bytesToHex(new Uint8Array(0))).toBe('');
    expect(bytesToHex(new ArrayBuffer(0))).toBe('');
  });

  test('random arrays of random lengths match the naive encoder', () => {
    for (let round = 0; round < 200; round++) {
      const length = crypto.getRandomValues(new Uint16Array(1))[0] as number;
      const bytes = crypto.getRandomValues(new Uint8Array(length % 1025));
      expect(bytesToHex(bytes)).toBe(naive(bytes));
    }
  });

  test('an ArrayBuffer and a subarray view encode their own bytes', () => {
    const bytes = crypto.getRandomValues(new Uint8Array(64));
    expect(bytesToHex(bytes.buffer)).toBe(naive(bytes));
    expect(bytesToHex(bytes.subarray(10, 30))).toBe(naive(bytes.subarray(10, 30)));
  });
});
