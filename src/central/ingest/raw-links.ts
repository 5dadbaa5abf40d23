// Signed, expiring links to raw messages and attachments that stay in their region's R2 bucket.
// The edge serves `GET /raw/<key>?exp=<ms>&sig=<hex>` where sig = HMAC-SHA-256(region signing key,
// `raw:<key>:<exp>`) (see src/edge/index.ts); central holds the master secret the key derives from.
import { deriveEdgeCredentials, hmacHex } from '../../core/request-signature.js';
import type { Db } from '../../db/client.js';
import { findRegion } from '../../db/queries/regions.js';
import { readCentralConfig } from '../config.js';
import type { CentralBindings } from '../context.js';

/** Default lifetime of a link: long enough to click, short enough that a leaked URL soon dies. */
export const RAW_LINK_TTL_MS = 15 * 60 * 1000;

export interface RawLink {
  url: string;
  expiresAt: number;
}

/** A link to `key` in `region`, or undefined when the region's edge URL is not known yet. */
export async function mintRawLink(
  env: CentralBindings,
  db: Db,
  region: string,
  key: string,
  ttlMs = RAW_LINK_TTL_MS,
  now = Date.now(),
): Promise<RawLink | undefined> {
  const row = await findRegion(db, region);
  if (!row?.edgeUrl) return undefined;
  const { signingKey } = await deriveEdgeCredentials(readCentralConfig(env).edgeKeySecret, region);
  const expiresAt = now + ttlMs;
  const sig = await hmacHex(signingKey, `raw:${key}:${expiresAt}`);
  const path = key.split('/').map(encodeURIComponent).join('/');
  return { url: `${row.edgeUrl.replace(/\/+$/, '')}/raw/${path}?exp=${expiresAt}&sig=${sig}`, expiresAt };
}
