// The request-signing keys (src/core/request-signature.ts): imported and derived once per secret,
// and still the same HMACs as computed from scratch, however many secrets and regions pass through.
import { createHmac } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { deriveEdgeCredentials, hmacHex, signBody, verifyBody } from '../../src/core/request-signature.js';

const hmac = (secret: string, data: string | Buffer) =>
  createHmac('sha256', secret).update(data).digest('hex');

describe('request signatures', () => {
  test('an edge credential is HMAC(master, "sign:<region>") and the token HMAC(master, "token:<region>")', async () => {
    const c = await deriveEdgeCredentials('master-1', 'eu');
    expect(c.signingKey).toBe(hmac('master-1', 'sign:eu'));
    expect(c.token).toBe(`edge_eu_${hmac('master-1', 'token:eu').slice(0, 40)}`);
  });

  test('derived once: the same credentials again, another secret or region gets its own', async () => {
    const a = await deriveEdgeCredentials('master-1', 'us');
    expect(await deriveEdgeCredentials('master-1', 'us')).toBe(a);
    const other = await deriveEdgeCredentials('master-2', 'us');
    expect(other.signingKey).toBe(hmac('master-2', 'sign:us'));
    expect(other.signingKey).not.toBe(a.signingKey);
    expect((await deriveEdgeCredentials('master-1', 'apac')).signingKey).toBe(hmac('master-1', 'sign:apac'));
    // A cached answer cannot be changed by a caller.
    expect(() => Object.assign(a, { signingKey: 'x' })).toThrow(TypeError);
    expect((await deriveEdgeCredentials('master-1', 'us')).signingKey).toBe(hmac('master-1', 'sign:us'));
  });

  test('past the cache bound (forged regions, many secrets) every key is still the right one', async () => {
    for (let i = 0; i < 300; i++) {
      const region = `r${i}`;
      const c = await deriveEdgeCredentials(`m${i % 7}`, region);
      expect(c.signingKey).toBe(hmac(`m${i % 7}`, `sign:${region}`));
      expect(await hmacHex(`k${i}`, 'data')).toBe(hmac(`k${i}`, 'data'));
    }
    const eu = await deriveEdgeCredentials('master-1', 'eu');
    expect(eu.signingKey).toBe(hmac('master-1', 'sign:eu'));
  });

  test('a body signed with one key verifies with it and with no other', async () => {
    const body = new TextEncoder().encode('{"batch":1}');
    const sig = await signBody('key-a', 1700000000000, body);
    expect(sig).toBe(hmac('key-a', Buffer.concat([Buffer.from('1700000000000.'), Buffer.from(body)])));
    expect(await verifyBody('key-a', 1700000000000, body, sig.toUpperCase())).toBe(true);
    expect(await verifyBody('key-b', 1700000000000, body, sig)).toBe(false);
    expect(await verifyBody('key-a', 1700000000001, body, sig)).toBe(false);
  });
});
