// Signed edge batches for the central tests: what a region's edge posts to /api/v1/ingest.
import { SELF } from 'cloudflare:test';
import { deriveEdgeCredentials, signBody } from '../../src/core/request-signature.js';
import type { IngestBatch, IngestItem } from '../../src/core/wire.js';
import { BASE } from './helpers.js';

/** The edge key secret of the test configuration (vitest.config.ts). */
export const EDGE_SECRET = 'test-edge-secret';

export async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** How to get a batch wrong on purpose (all default to a correctly signed batch of `region`). */
export interface SendOptions {
  region?: string;
  tokenRegion?: string;
  keyRegion?: string;
  timestamp?: number;
  tamper?: boolean;
  token?: string | null;
  rawBody?: Uint8Array;
  /** How the request reaches central (default: the test worker, `SELF`). */
  fetcher?: (url: string, init: RequestInit) => Promise<Response>;
}

/** Posts a batch as the region's edge (its real derived token and signing key). */
export async function sendBatch(batch: Partial<IngestBatch> & { region?: string }, opts: SendOptions = {}) {
  const region = opts.region ?? batch.region ?? 'us';
  const full: IngestBatch = {
    batchId: crypto.randomUUID(),
    region,
    sentAt: Date.now(),
    items: [],
    receipts: [],
    ...batch,
  };
  const body = opts.rawBody ?? (await gzip(new TextEncoder().encode(JSON.stringify(full))));
  const timestamp = opts.timestamp ?? Date.now();
  const { signingKey } = await deriveEdgeCredentials(EDGE_SECRET, opts.keyRegion ?? region);
  const { token } = await deriveEdgeCredentials(EDGE_SECRET, opts.tokenRegion ?? region);
  let signature = await signBody(signingKey, timestamp, body);
  if (opts.tamper) signature = signature.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  const headers: Record<string, string> = {
    'content-encoding': 'gzip',
    'content-type': 'application/json',
    'x-edge-region': region,
    'x-edge-timestamp': String(timestamp),
    'x-edge-signature': signature,
  };
  const bearer = opts.token === undefined ? token : opts.token;
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const res = await (opts.fetcher ?? ((url, init) => SELF.fetch(url, init)))(`${BASE}/api/v1/ingest`, {
    method: 'POST',
    headers,
    body: body as Uint8Array<ArrayBuffer>,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, batchId: full.batchId };
}

let n = 0;
/**
 * An item builder: every item gets a fresh id and Message-ID (`<prefix>-<n>…`), tracked by
 * filter mode `all` with full egress, then `base()` and the item's own overrides on top.
 */
export function itemMaker(prefix: string, base: () => Partial<IngestItem> = () => ({})) {
  return (over: Partial<IngestItem> = {}): IngestItem => {
    n++;
    return {
      kind: 'item',
      id: `${prefix}-${n}-${crypto.randomUUID().slice(0, 8)}`,
      region: 'us',
      deployment: 'contoso',
      messageId: `${prefix}-${n}-${Date.now()}@customer.example`,
      contentHash: 'b'.repeat(64),
      receivedAt: Date.now() - 10,
      sizeBytes: 100,
      mailboxes: ['alice@contoso.example'],
      reason: 'tracked:all',
      correlation: { method: 'all', detail: 'all' },
      egress: 'full',
      to: [],
      cc: [],
      attachments: [],
      ...base(),
      ...over,
    };
  };
}
