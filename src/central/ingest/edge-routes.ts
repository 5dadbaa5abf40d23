import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { deriveEdgeCredentials, verifyBody } from '../../core/request-signature.js';
import {
  type IngestBatch,
  ingestResponse,
  MAX_BATCH_BYTES,
  SIGNATURE_HEADERS,
  SIGNATURE_MAX_SKEW_MS,
} from '../../core/wire.js';
import type { Db } from '../../db/client.js';
import { batchIdClaimStatement, isBatchIdTaken } from '../../db/queries/ingest.js';
import { recordHeartbeat } from '../../db/queries/regions.js';
import type { Statement } from '../../db/queries/statements.js';
import { crossRegionBytesStatements } from '../../db/queries/stats.js';
import { readCentralConfig } from '../config.js';
import type { AppEnv } from '../context.js';
import { bearerSecurity, errorResponses, jsonResponse } from '../contract/openapi-helpers.js';
import { enqueueWebhook } from '../delivery/webhooks.js';
import { createRouter } from '../http/app-router.js';
import { assertEdge } from '../http/auth.js';
import { ApiError, badRequest, describeIssues, forbidden, validationFailed } from '../http/errors.js';
import { readBodyLimited, readLimited } from '../http/request-body.js';
import { recordCanaries } from '../services/stats.js';
import { regionMailboxesByHash } from '../snapshot/snapshot-publisher.js';
import { storeReportedDeadLetters } from './dead-letters.js';
import { ingest } from './ingest.js';
import { deadLetterClaimProblem } from './ingest-claims.js';
import { parseIngestBatch } from './plan.js';

/** Largest accepted batch after decompression (a gzip bomb is refused, not inflated). */
const MAX_INFLATED_BYTES = 32 * 1024 * 1024;

/**
 * Verifies an edge request: edge-scoped bearer token (checked by requireAuth), region header
 * matching the token, timestamp within ±5 minutes, HMAC-SHA-256 over `timestamp.body` with the
 * region's key. Returns the raw (still compressed) body.
 */
export async function verifyEdgeRequest(
  c: Context<AppEnv>,
  region: string,
  maxBytes: number,
): Promise<Uint8Array> {
  assertEdge(c.get('principal'), region);
  const claimed = c.req.header(SIGNATURE_HEADERS.region);
  if (claimed !== region) throw forbidden(`${SIGNATURE_HEADERS.region} does not match the token's region`);
  const timestamp = Number(c.req.header(SIGNATURE_HEADERS.timestamp));
  const signature = c.req.header(SIGNATURE_HEADERS.signature);
  if (!Number.isFinite(timestamp) || !signature)
    throw new ApiError('bad_signature', 'missing request signature');
  if (Math.abs(Date.now() - timestamp) > SIGNATURE_MAX_SKEW_MS)
    throw new ApiError('stale_timestamp', 'request timestamp is outside the 5-minute window');
  const body = await readBodyLimited(c, maxBytes, 'batch');
  const { signingKey } = await deriveEdgeCredentials(readCentralConfig(c.env).edgeKeySecret, region);
  if (!(await verifyBody(signingKey, timestamp, body, signature)))
    throw new ApiError('bad_signature', 'request signature does not verify with the region key');
  return body;
}

async function inflate(body: Uint8Array, encoding: string | undefined): Promise<Uint8Array> {
  if (!encoding || encoding === 'identity') return body;
  if (encoding !== 'gzip') throw new ApiError('unsupported_media_type', `content-encoding ${encoding}`);
  const stream = new Blob([body as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new DecompressionStream('gzip'));
  try {
    return await readLimited(stream, MAX_INFLATED_BYTES, 'inflated batch');
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw badRequest('batch is not valid gzip');
  }
}

const ingestRoute = createRoute({
  method: 'post',
  path: '/ingest',
  tags: ['edge'],
  summary: 'Ingest a signed, gzip-compressed batch of items and receipts from an edge',
  description:
    'Edge scope only. Headers: `x-edge-region`, `x-edge-timestamp` (ms), `x-edge-signature` = hex HMAC-SHA-256 over `timestamp + "." + body` with the region key; `content-encoding: gzip`. Body: `IngestBatch` JSON.',
  security: bearerSecurity,
  responses: {
    200: jsonResponse(ingestResponse, 'per-item results and the current snapshot version'),
    409: jsonResponse(z.any(), 'batch id already ingested (replay)'),
    413: jsonResponse(z.any(), 'batch too large'),
    ...errorResponses,
  },
});

/** The batch's heartbeat and cross-region report, committed with its items (no transaction of their own). */
function heartbeatStatements(db: Db, batch: IngestBatch, now: number): Statement[] {
  if (!batch.heartbeat) return [];
  const { crossRegion, crossRegionId, ...heartbeat } = batch.heartbeat;
  return [
    recordHeartbeat(db, batch.region, { at: now, ...heartbeat }),
    ...(crossRegion
      ? crossRegionBytesStatements(db, batch.region, Math.floor(now / 60_000), crossRegion, crossRegionId)
      : []),
  ];
}

export const edgeRoutes = createRouter().openapi(ingestRoute, async (c) => {
  const principal = c.get('principal');
  if (principal.kind !== 'edge') throw forbidden('this endpoint needs an edge token');
  const raw = await verifyEdgeRequest(c, principal.region, MAX_BATCH_BYTES);
  const inflated = await inflate(raw, c.req.header('content-encoding'));
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(inflated));
  } catch {
    throw new ApiError('invalid_json', 'batch body is not valid JSON');
  }
  const parsed = parseIngestBatch(json);
  if (!parsed.success) throw validationFailed(describeIssues(parsed.error.issues));
  const batch = parsed.data;
  if (batch.region !== principal.region) throw forbidden('batch region does not match the edge token');
  const db = c.get('db');
  const now = Date.now();
  // One read batch (claims, the region's config version and the lookups, in `ingest`): a round trip
  // to D1 costs more than these reads. No snapshot build on the ingest path: the mailbox names are
  // cached per config version; the version answered is the one the batch was checked against.
  const outcome = await ingest(
    {
      db,
      region: batch.region,
      now,
      mailboxByHash: (version) => regionMailboxesByHash(db, batch.region, { version }),
      claimsOf: batch.region,
    },
    batch.items,
    batch.receipts,
    {
      bytesSent: raw.byteLength,
      commitFirst: [
        batchIdClaimStatement(db, {
          id: batch.batchId,
          region: batch.region,
          receivedAt: now,
          items: batch.items.length,
        }),
      ],
      commitLast: heartbeatStatements(db, batch, now),
    },
  ).catch((err: unknown) => {
    if (isBatchIdTaken(err))
      throw new ApiError('replayed_batch', `batch ${batch.batchId} was already ingested`);
    throw err;
  });
  const { claims } = outcome;
  if (!claims) throw new Error('ingest of an edge batch returned no claims');
  const deadLetterReports = (batch.deadLetters ?? []).filter((d) => {
    const problem = deadLetterClaimProblem(d.item, claims);
    if (problem) outcome.results.push({ id: d.id, status: 'rejected', reason: problem });
    return !problem;
  });
  if (deadLetterReports.length) await storeReportedDeadLetters(db, batch.region, deadLetterReports, now);
  if (batch.canaries?.length) {
    const refused = await recordCanaries(
      db,
      readCentralConfig(c.env).edgeKeySecret,
      batch.region,
      batch.canaries,
      now,
    );
    if (refused.length) console.warn(`ingest ${batch.region}: canaries ${refused.join(', ')} did not verify`);
  }
  c.executionCtx.waitUntil(enqueueWebhook(c.env, outcome.outboxIds));
  return c.json(
    {
      batchId: batch.batchId,
      snapshotVersion: outcome.regionVersion ?? 0,
      results: outcome.results,
      receipts: outcome.receiptsStored,
    },
    200,
  );
});
