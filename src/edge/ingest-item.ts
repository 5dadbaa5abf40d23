// The edge's side of the one item builder (src/core/ingest-item.ts): the region's R2 bucket is
// where the raw message, attachments, long bodies and long party lists stay.

import type { Target } from '../core/classify.js';
import { buildItems, type PutBudget, type RegionalStore, type SharedRawCopy } from '../core/ingest-item.js';
import type { MessageFacts } from '../core/message-facts.js';
import type { RoutingSnapshot } from '../core/snapshot.js';
import { timeOrderedId } from '../core/time-ordered-id.js';
import type { IngestItem } from '../core/wire.js';
import type { EdgeBindings, EdgeConfig } from './config.js';

export {
  copyPrefix,
  MAX_PARTIES_PER_ROLE,
  SHARED_OWNER,
  TEXT_INLINE_BYTES,
  utf8Prefix,
} from '../core/ingest-item.js';

/** The region's R2 bucket as the item builder's store. */
export function regionalStore(env: Pick<EdgeBindings, 'RAW'>, region: string): RegionalStore {
  return {
    region,
    put: async (key, value, meta) => {
      await env.RAW.put(key, value, {
        httpMetadata: {
          contentType: meta.contentType,
          ...(meta.contentDisposition ? { contentDisposition: meta.contentDisposition } : {}),
        },
        ...(meta.custom ? { customMetadata: meta.custom } : {}),
      });
    },
  };
}

export function buildIngestItems(
  env: Pick<EdgeBindings, 'RAW'>,
  cfg: Pick<EdgeConfig, 'region'>,
  snapshot: RoutingSnapshot,
  raw: Uint8Array,
  facts: MessageFacts,
  targets: Target[],
  now: number,
  opts: { rawCopy?: SharedRawCopy; attachmentPuts?: PutBudget } = {},
): Promise<IngestItem[]> {
  return buildItems({
    region: cfg.region,
    store: regionalStore(env, cfg.region),
    snapshot,
    raw,
    facts,
    targets,
    now,
    copyId: timeOrderedId(now),
    ...(opts.rawCopy ? { rawCopy: opts.rawCopy } : {}),
    ...(opts.attachmentPuts ? { attachmentPuts: opts.attachmentPuts } : {}),
  });
}
