// Relay tokens in the region snapshot (relay-token.ts): keyed under the region's signing key,
// carried through the encoding, found by the bearer token alone.
import { describe, expect, test } from 'vitest';
import { findRelayToken, relayTokenKey, tokenDigest } from '../../src/core/relay-token.js';
import { buildSnapshot, decodeSnapshot, encodeSnapshot } from '../../src/core/snapshot.js';
import { contosoInput } from './contoso-snapshot.js';

const SIGNING_KEY = 'region-signing-key';

describe('relay tokens in the snapshot', () => {
  test('an active token is found by its plaintext, under the region key only', async () => {
    const key = await relayTokenKey(SIGNING_KEY, tokenDigest('crt_relay-one'));
    const snapshot = decodeSnapshot(
      encodeSnapshot(
        buildSnapshot({ ...contosoInput(), relayTokens: { [key]: { deployment: 'contoso', id: 'tok_1' } } }),
      ),
    );
    expect(snapshot.relayTokens).toEqual({ [key]: { deployment: 'contoso', id: 'tok_1' } });
    expect(await findRelayToken(snapshot, SIGNING_KEY, 'crt_relay-one')).toEqual({
      deployment: 'contoso',
      id: 'tok_1',
    });
    expect(await findRelayToken(snapshot, SIGNING_KEY, 'crt_relay-two')).toBeUndefined();
    expect(await findRelayToken(snapshot, 'another-region-key', 'crt_relay-one')).toBeUndefined();
    // Nothing in the snapshot is the token or what central stores of it.
    const bytes = new TextDecoder().decode(encodeSnapshot(snapshot));
    expect(bytes).not.toContain('crt_relay-one');
    expect(bytes).not.toContain(tokenDigest('crt_relay-one'));
  });

  test('a snapshot without relay tokens encodes as before and finds none', async () => {
    const plain = buildSnapshot(contosoInput());
    expect(plain.relayTokens).toBeUndefined();
    expect(buildSnapshot({ ...contosoInput(), relayTokens: {} }).etag).toBe(plain.etag);
    expect(await findRelayToken(decodeSnapshot(encodeSnapshot(plain)), SIGNING_KEY, 'x')).toBeUndefined();
  });
});
