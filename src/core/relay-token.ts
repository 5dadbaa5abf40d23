// Per-relay inbound tokens (issue 19): a token of scope `relay:<deployment>` lets one customer's
// SMTP relay (or HTTP pusher) deliver to the edges, for that deployment's forwarding addresses only,
// and is revoked on its own. The edge cannot ask central per message, so each region's snapshot
// carries a keyed hash of every active relay token: HMAC-SHA-256 under the region's signing key
// (which the snapshot does not carry, unlike its SipHash key) of the token's SHA-256 (which is all
// central stores). A revoked token leaves the next snapshot.
import { sha256Hex } from './keyed-hash.js';
import { hmacHex } from './request-signature.js';
import type { RelayTokenTarget, RoutingSnapshot } from './snapshot.js';

/** The scope prefix of relay tokens: `relay:<deployment>`. */
export const RELAY_SCOPE_PREFIX = 'relay:';

/** SHA-256 of a token as hex: what central stores of every API token. */
export function tokenDigest(token: string): string {
  return sha256Hex(new TextEncoder().encode(token));
}

/** The snapshot key of a relay token, from its digest and the region's signing key. */
export function relayTokenKey(signingKey: string, digest: string): Promise<string> {
  return hmacHex(signingKey, `relay-token:${digest}`);
}

/** The relay token a bearer token is in the region's snapshot, or undefined. */
export async function findRelayToken(
  snapshot: Pick<RoutingSnapshot, 'relayTokens'>,
  signingKey: string,
  token: string,
): Promise<RelayTokenTarget | undefined> {
  const tokens = snapshot.relayTokens;
  if (!tokens) return undefined;
  const key = await relayTokenKey(signingKey, tokenDigest(token));
  return Object.hasOwn(tokens, key) ? tokens[key] : undefined;
}
