// The edge's client of central's batch endpoint (`POST /api/v1/ingest`, design §3): one signed,
// gzip-compressed batch of items, receipts and dead-letter reports with the heartbeat, its answer
// parsed, and what a failure means (central unavailable: keep everything and try later; central
// refused the request: a permanent answer). Built on central-client.ts; used by the queue
// consumer, the spool drain, the journal hand-over and the heartbeats.
import { timeOrderedId } from '../core/time-ordered-id.js';
import {
  type CanaryReport,
  type IngestBatch,
  type IngestItem,
  type IngestResponse,
  ingestResponse,
  MAX_ITEMS_PER_BATCH,
  MAX_RECEIPTS_PER_BATCH,
  type Receipt,
} from '../core/wire.js';
import { backlogEstimate } from './backlog.js';
import { centralFetch, gzip } from './central-client.js';
import type { EdgeConfig } from './config.js';
import {
  type CrossRegionKind,
  type CrossRegionReport,
  settleCrossRegionReport,
  takeCrossRegionReport,
} from './cross-region.js';
import { jsonBytes } from './queue-messages.js';
import { heldSnapshotVersion } from './snapshot-store.js';

/**
 * JSON bytes of one batch's items and receipts before gzip: under central's request limit
 * (`MAX_BATCH_BYTES` in src/core/wire.ts, 4 MiB of body) even if gzip gains nothing, with room
 * for the batch envelope and the heartbeat.
 */
export const MAX_REQUEST_JSON_BYTES = 3 * 1024 * 1024;

/** What one batch may hold: central's schema limits (src/core/wire.ts) and the byte bound above. */
export const CENTRAL_BATCH_LIMITS = {
  bytes: MAX_REQUEST_JSON_BYTES,
  items: MAX_ITEMS_PER_BATCH,
  receipts: MAX_RECEIPTS_PER_BATCH,
} as const;

/** The share of `CENTRAL_BATCH_LIMITS` one item or receipt takes. */
export function batchShare(value: IngestItem | Receipt | CanaryReport) {
  return {
    bytes: jsonBytes(value),
    items: value.kind === 'item' ? 1 : 0,
    receipts: value.kind === 'receipt' ? 1 : 0,
  };
}

/** Central answered, but not 2xx. */
export class CentralAnswerError extends Error {
  constructor(
    readonly status: number,
    body: string,
  ) {
    super(`central answered ${status}: ${body.slice(0, 500)}`);
  }
}

/**
 * Whether a failed post means "central is not taking anything right now" (keep everything, try
 * again later): no answer at all (network error, timeout, an answer body that is no ingest
 * response), 5xx, 408 or 429. Any other status is central refusing this request for good.
 */
export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof CentralAnswerError)) return true;
  return err.status >= 500 || err.status === 408 || err.status === 429;
}

/**
 * Posts one batch (an empty one is a heartbeat) and returns central's answer: one result per
 * item (accepted, merged or rejected — all final). Throws `CentralAnswerError` on a non-2xx
 * answer and anything else when central did not answer. Its bytes count as cross-region traffic
 * of `kind`; the heartbeat carries the cross-region report (src/edge/cross-region.ts): the counts
 * since the last one, or the last one again under its id when its batch got no answer.
 */
export async function postBatch(
  cfg: EdgeConfig,
  parts: Pick<IngestBatch, 'items' | 'receipts' | 'deadLetters' | 'heartbeat' | 'canaries'>,
  kind: CrossRegionKind,
): Promise<IngestResponse> {
  const report = takeCrossRegionReport();
  try {
    const answer = await postBatchCounted(cfg, parts, kind, report);
    if (report) settleCrossRegionReport(report.id, 'answered');
    return answer;
  } catch (err) {
    if (report) settleCrossRegionReport(report.id, isUnavailable(err) ? 'unanswered' : 'refused');
    throw err;
  }
}

async function postBatchCounted(
  cfg: EdgeConfig,
  parts: Pick<IngestBatch, 'items' | 'receipts' | 'deadLetters' | 'heartbeat' | 'canaries'>,
  kind: CrossRegionKind,
  report: CrossRegionReport | undefined,
): Promise<IngestResponse> {
  const batch: IngestBatch = {
    batchId: timeOrderedId(Date.now()),
    region: cfg.region,
    sentAt: Date.now(),
    items: parts.items,
    receipts: parts.receipts,
    ...(parts.deadLetters ? { deadLetters: parts.deadLetters } : {}),
    ...(parts.canaries?.length ? { canaries: parts.canaries } : {}),
    heartbeat: {
      queueDepth: backlogEstimate(),
      ...parts.heartbeat,
      ...(heldSnapshotVersion() !== undefined ? { snapshotVersion: heldSnapshotVersion() } : {}),
      ...(cfg.publicUrl ? { edgeUrl: cfg.publicUrl } : {}),
      ...(report ? { crossRegion: report.counts, crossRegionId: report.id } : {}),
    },
  };
  const body = await gzip(new TextEncoder().encode(JSON.stringify(batch)));
  const res = await centralFetch(cfg, '/api/v1/ingest', kind, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
  });
  if (!res.ok) throw new CentralAnswerError(res.status, await res.text());
  return ingestResponse.parse(await res.json());
}
