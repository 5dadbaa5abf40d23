// Raw links minted for a region (the rule: src/core/raw-link.ts; central holds the master secret
// the region's signing key derives from) and who may see which stored copies.
import { rawLinkUrl, signRawLink } from '../../core/raw-link.js';
import { deriveEdgeCredentials } from '../../core/request-signature.js';
import type { Db } from '../../db/client.js';
import { listMailboxes } from '../../db/queries/mailboxes.js';
import { findRegion } from '../../db/queries/regions.js';
import { readCentralConfig } from '../config.js';
import type { CentralBindings, Principal } from '../context.js';

/** Most routes of one user read for its visibility (a user forwards from a handful of mailboxes). */
const MAX_USER_MAILBOXES = 5000;

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
  const sig = await signRawLink(signingKey, key, expiresAt);
  return { url: rawLinkUrl(row.edgeUrl, key, expiresAt, sig), expiresAt };
}

/**
 * The mailboxes whose activities and raw copies a principal may see: a `user:` token's own routes
 * (mailboxes routed to its user), undefined for admin and deployment tokens (every one of the
 * deployment they may read).
 */
export async function principalMailboxes(db: Db, p: Principal): Promise<ReadonlySet<string> | undefined> {
  if (p.kind !== 'user') return undefined;
  const rows = await listMailboxes(db, {
    deployment: p.deployment,
    userId: p.userId,
    limit: MAX_USER_MAILBOXES,
  });
  return new Set(rows.map((r) => r.address));
}

/**
 * The stored copies (`activity.content` entries) a principal may open (issue 19, item 9): every
 * copy for admin and deployment tokens (`own` undefined); for a user token only the copies one of
 * its own mailboxes forwarded (`forwardedBy`). A copy naming no forwarder (stored before the rule,
 * or its forwarder unknown) is the deployment's alone.
 */
export function visibleCopies(content: unknown, own: ReadonlySet<string> | undefined): unknown[] {
  if (!Array.isArray(content)) return [];
  if (!own) return content;
  return content.filter((copy) => {
    const by = (copy as { forwardedBy?: unknown } | null)?.forwardedBy;
    return Array.isArray(by) && by.some((m) => typeof m === 'string' && own.has(m));
  });
}
