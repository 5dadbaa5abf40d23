// Forwarding addresses an edge can verify on its own (design §4; issue 19, item 11):
// `crm-<id><check>@<region>.edge.<domain>`. Central draws the id from its master secret; the check
// is an HMAC of the id under the region's signing key, which the region's edge holds
// (EDGE_SIGNING_KEY, derived by `deriveEdgeCredentials`). An edge whose snapshot does not carry an
// address yet (a deployment created a moment ago) can tell one central may have issued from a
// made-up one: the first deserves a temporary failure, the second a permanent `unknown-recipient`.
import { hmacHex, timingSafeEqualHex } from './request-signature.js';

/** Hex digits of the id: 48 bits drawn from central's secret. */
export const FORWARDING_ID_HEX = 12;
/**
 * Hex digits of the check: 48 bits under the region key. With the id, 96 bits a sender must
 * guess to reach a deployment; 48 to make an edge answer "try later" instead of "no such address".
 */
export const FORWARDING_CHECK_HEX = 12;

const LOCAL_PART = new RegExp(`^crm-([0-9a-f]{${FORWARDING_ID_HEX}})([0-9a-f]{${FORWARDING_CHECK_HEX}})$`);

async function checkOf(signingKey: string, id: string): Promise<string> {
  return (await hmacHex(signingKey, `forwarding-check:${id}`)).slice(0, FORWARDING_CHECK_HEX);
}

/** The forwarding address of `id` in `region`, its check made with that region's signing key. */
export async function forwardingAddressOf(
  signingKey: string,
  id: string,
  region: string,
  domain: string,
): Promise<string> {
  return `crm-${id}${await checkOf(signingKey, id)}@${region.toLowerCase()}.edge.${domain}`;
}

/**
 * Whether `address` (normalised: lower case, no display name) has the shape of a forwarding
 * address of `region` and its check verifies under the region's signing key.
 */
export async function isVerifiedForwardingAddress(
  signingKey: string,
  region: string,
  address: string,
): Promise<boolean> {
  const at = address.lastIndexOf('@');
  if (at < 0 || !address.slice(at + 1).startsWith(`${region.toLowerCase()}.edge.`)) return false;
  const m = LOCAL_PART.exec(address.slice(0, at));
  if (!m) return false;
  return timingSafeEqualHex(await checkOf(signingKey, m[1] as string), m[2] as string);
}
