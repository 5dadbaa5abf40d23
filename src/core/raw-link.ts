// Signed, expiring links to raw messages and attachments that stay in their region's R2 bucket.
// Central mints them (src/central/ingest/raw-links.ts) with the region's signing key, derived from
// its master secret; the edge serves `GET /raw/<key>?exp=<ms>&sig=<hex>` after checking them
// (src/edge/http/app.ts). sig = hex HMAC-SHA-256(region signing key, `raw:<key>:<exp>`).
import { hmacHex, timingSafeEqual } from './request-signature.js';

/** The signature of a link to `key` valid until `exp` (ms since the epoch). */
export function signRawLink(signingKey: string, key: string, exp: number): Promise<string> {
  return hmacHex(signingKey, `raw:${key}:${exp}`);
}

/** The link's URL on the region's edge: each key segment percent-encoded (RFC 3986 §3.3). */
export function rawLinkUrl(edgeUrl: string, key: string, exp: number, sig: string): string {
  const path = key.split('/').map(encodeURIComponent).join('/');
  return `${edgeUrl.replace(/\/+$/, '')}/raw/${path}?exp=${exp}&sig=${sig}`;
}

export interface RawLinkRequest {
  signingKey: string;
  key: string;
  /** The link's `exp` as a number (NaN when absent or not a number). */
  exp: number;
  sig: string;
}

/**
 * Why a request for a raw object must be refused (undefined: serve it). `unsigned`: no usable
 * `exp` or `sig`; `expired`: past `exp` at `now`; `bad-signature`: not the signature of this key and
 * expiry (compared in constant time). Expiry is checked first, as the edge always has.
 */
export async function rawLinkProblem(
  link: RawLinkRequest,
  now: number,
): Promise<'unsigned' | 'expired' | 'bad-signature' | undefined> {
  if (!Number.isFinite(link.exp) || !link.sig) return 'unsigned';
  if (link.exp < now) return 'expired';
  const expected = await signRawLink(link.signingKey, link.key, link.exp);
  return timingSafeEqual(expected, link.sig) ? undefined : 'bad-signature';
}
