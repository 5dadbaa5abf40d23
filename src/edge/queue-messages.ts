// What travels on the edge's delivery queue, and the one rule that packs values into groups by
// size (queue sends, central batches, spool drains and journal hand-overs all use it). The bottom
// of the delivery line: imports nothing of the edge.

import { utf8Length } from '../core/utf8.js';
import type { CanaryReport, IngestItem, Receipt } from '../core/wire.js';

/**
 * An item too large for a queue message (128 KB, Cloudflare Queues' limit) waits in the region's
 * R2 under `ref.key`; the consumer, in the same region, reads it back before posting to central.
 */
export interface ItemRef {
  kind: 'item-ref';
  id: string;
  deployment: string;
  ref: { region: string; key: string; size: number };
}

/** The body of one message on the edge's delivery queue (and its dead-letter queue). */
export type QueueMessage = IngestItem | Receipt | ItemRef | CanaryReport;

/** UTF-8 bytes of `value` as JSON: what a queue message or a request body carries. */
export const jsonBytes = (value: unknown): number => utf8Length(JSON.stringify(value));

/**
 * Groups `values`, in order, so that each group's summed size stays within every limit (bytes,
 * messages, items, …). A value over a limit on its own gets a group of its own: whether it may
 * be sent is its caller's rule, never a reason to drop it here.
 */
export function packBySize<T, K extends string>(
  values: Iterable<T>,
  limits: Record<K, number>,
  sizeOf: (value: T) => Record<K, number>,
): T[][] {
  const dims = Object.keys(limits) as K[];
  const groups: T[][] = [];
  let current: T[] = [];
  let total = {} as Record<K, number>;
  for (const value of values) {
    const size = sizeOf(value);
    if (current.length && dims.some((d) => total[d] + size[d] > limits[d])) {
      groups.push(current);
      current = [];
    }
    if (current.length === 0) total = { ...size };
    else for (const d of dims) total[d] += size[d];
    current.push(value);
  }
  if (current.length) groups.push(current);
  return groups;
}
