// Queue consumer: delivers items and receipts to central in signed, gzip-compressed batches, acks
// per item from central's answer, retries the rest with capped exponential backoff and jitter.
import { type IngestBatch, ingestResponse, type IngestItem, type Receipt } from '../core/wire.js';
import { backlogEstimate, noteSettled } from './backlog.js';
import { centralFetch, gzip } from './central-client.js';
import type { EdgeBindings, EdgeConfig } from './config.js';
import { heldSnapshotVersion, noteCentralVersion } from './snapshot-store.js';

export type OutboxMessage = IngestItem | Receipt;

/** Keep each POST well under central's 4 MiB limit. */
const MAX_REQUEST_JSON_BYTES = 3 * 1024 * 1024;
/** Retry delays are capped so that a backlog drains within 2 minutes of central's return. */
export const MAX_RETRY_DELAY_SECONDS = 30;

/**
 * Exponential backoff with jitter, computed from the attempt count and the message id so that a
 * retried batch spreads out deterministically: min(cap, 2^(attempt-1)) scaled into [50 %, 100 %].
 */
export function retryDelaySeconds(attempts: number, id: string): number {
  const base = Math.min(MAX_RETRY_DELAY_SECONDS, 2 ** Math.max(0, attempts - 1));
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  h = Math.imul(h ^ attempts, 16777619) >>> 0;
  const jitter = 0.5 + (h / 0xffffffff) * 0.5;
  return Math.max(1, Math.round(base * jitter));
}

function splitBySize<T>(values: T[], max: number): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const v of values) {
    const s = JSON.stringify(v).length;
    if (current.length && size + s > max) {
      groups.push(current);
      current = [];
      size = 0;
    }
    current.push(v);
    size += s;
  }
  if (current.length) groups.push(current);
  return groups;
}

export async function postBatch(
  cfg: EdgeConfig,
  parts: Pick<IngestBatch, 'items' | 'receipts' | 'deadLetters' | 'heartbeat'>,
) {
  const batch: IngestBatch = {
    batchId: crypto.randomUUID(),
    region: cfg.region,
    sentAt: Date.now(),
    items: parts.items,
    receipts: parts.receipts,
    ...(parts.deadLetters ? { deadLetters: parts.deadLetters } : {}),
    heartbeat: {
      queueDepth: backlogEstimate(),
      ...parts.heartbeat,
      ...(heldSnapshotVersion() !== undefined ? { snapshotVersion: heldSnapshotVersion() } : {}),
      ...(cfg.publicUrl ? { edgeUrl: cfg.publicUrl } : {}),
    },
  };
  const body = await gzip(new TextEncoder().encode(JSON.stringify(batch)));
  const res = await centralFetch(cfg, '/api/v1/ingest', {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
  });
  if (!res.ok) throw new Error(`central answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
  return ingestResponse.parse(await res.json());
}

export async function deliverOutbox(
  batch: MessageBatch<OutboxMessage>,
  env: EdgeBindings,
  cfg: EdgeConfig,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<void> {
  const groups = splitBySize([...batch.messages], MAX_REQUEST_JSON_BYTES);
  for (const group of groups) {
    const items = group.filter((m) => m.body.kind === 'item');
    const receipts = group.filter((m) => m.body.kind !== 'item');
    try {
      const answer = await postBatch(cfg, {
        items: items.map((m) => m.body),
        receipts: receipts.map((m) => m.body as Receipt),
      });
      const byId = new Map(answer.results.map((r) => [r.id, r]));
      let settled = receipts.length;
      for (const m of items) {
        // accepted, merged and rejected are all final answers (rejected items are dead-lettered at central).
        if (byId.has(m.body.id)) {
          m.ack();
          settled++;
        } else m.retry({ delaySeconds: retryDelaySeconds(m.attempts, m.id) });
      }
      for (const m of receipts) m.ack();
      noteSettled(settled);
      const refresh = noteCentralVersion(env, cfg, answer.snapshotVersion);
      if (refresh) waitUntil(refresh);
    } catch (err) {
      console.error(`outbox ${cfg.region}: delivery failed, will retry`, err);
      for (const m of group) m.retry({ delaySeconds: retryDelaySeconds(m.attempts, m.id) });
    }
  }
}

/** Messages that exhausted their retries are reported to central's dead letters (replayable there). */
export async function deliverDeadLetters(batch: MessageBatch<OutboxMessage>, cfg: EdgeConfig): Promise<void> {
  const items = batch.messages.filter((m) => m.body.kind === 'item');
  const receipts = batch.messages.filter((m) => m.body.kind !== 'item');
  try {
    await postBatch(cfg, {
      items: [],
      receipts: receipts.map((m) => m.body as Receipt),
      deadLetters: items.map((m) => ({
        id: (m.body as IngestItem).id,
        item: m.body,
        error: `delivery to central failed after ${m.attempts} attempts`,
        attempts: m.attempts,
      })),
    });
    batch.ackAll();
    noteSettled(batch.messages.length);
  } catch (err) {
    console.error(`dead-letter report ${cfg.region} failed, will retry`, err);
    for (const m of batch.messages) m.retry({ delaySeconds: retryDelaySeconds(m.attempts, m.id) });
  }
}
