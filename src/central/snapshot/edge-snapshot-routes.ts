// The region snapshot as edges fetch it: the manifest (ETag / 304) and the parts it names, by
// content hash (docs/decisions.md, "Snapshots by content hash"), and the whole snapshot for edges
// deployed before the manifest. Edge scope, signed like every edge request.
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { recordHeartbeat } from '../../db/queries/regions.js';
import type { AppEnv } from '../context.js';
import { bearerSecurity, errorResponses } from '../contract/openapi-helpers.js';
import { createRouter } from '../http/app-router.js';
import { ApiError, notFound } from '../http/errors.js';
import { verifyEdgeRequest } from '../ingest/edge-routes.js';
import { snapshotPushEnabled } from './edge-notice.js';
import {
  getRegionSnapshot,
  publisherContext,
  readPublishedManifest,
  readPublishedSnapshot,
  readRegionPart,
} from './snapshot-publisher.js';

const regionQuery = z.object({ region: z.string().min(1).max(32) });

const snapshotRoute = createRoute({
  method: 'get',
  path: '/edge/snapshot',
  tags: ['edge'],
  summary: "The region's routing snapshot (binary), or 304 when `If-None-Match` matches",
  security: bearerSecurity,
  request: { query: regionQuery },
  responses: {
    200: {
      description: 'the encoded snapshot',
      content: { 'application/octet-stream': { schema: z.any() } },
    },
    304: { description: 'not modified' },
    ...errorResponses,
  },
});

const manifestRoute = createRoute({
  method: 'get',
  path: '/edge/snapshot/manifest',
  tags: ['edge'],
  summary: "The region's snapshot manifest (JSON), or 304 when `If-None-Match` matches",
  description:
    'Edge scope, signed. The manifest carries the version, settings, routes and forwarding addresses, and per deployment the content hashes of its parts (JSON section, outbound filter, record filter shards); fetch the parts you do not hold from `/edge/snapshot/parts/{name}`.',
  security: bearerSecurity,
  request: { query: regionQuery },
  responses: {
    200: { description: 'the manifest', content: { 'application/json': { schema: z.any() } } },
    304: { description: 'not modified' },
    ...errorResponses,
  },
});

const partRoute = createRoute({
  method: 'get',
  path: '/edge/snapshot/parts/{name}',
  tags: ['edge'],
  summary: 'One part of the region snapshot by its content hash (binary; immutable)',
  description:
    "Edge scope, signed. `name` is the first 32 hex digits of the SHA-256 of the part's bytes. 404 when the region's current manifest no longer names it: fetch the manifest again.",
  security: bearerSecurity,
  request: {
    query: regionQuery,
    params: z.object({ name: z.string().regex(/^[0-9a-f]{32}$/, 'a part name is 32 lower-case hex digits') }),
  },
  responses: {
    200: { description: 'the part', content: { 'application/octet-stream': { schema: z.any() } } },
    ...errorResponses,
  },
});

/**
 * The region's current snapshot for a signed edge poll (the poll counts as a heartbeat), or 404.
 * With the snapshot push on, parts are built by the kicks' consumer, never in an edge's poll: the
 * poll is answered with what is published (reassembled when only routes changed).
 */
async function polledSnapshot(c: Context<AppEnv>, region: string) {
  await verifyEdgeRequest(c, region, 0);
  const db = c.get('db');
  const ctx = publisherContext(c.env, db, { buildParts: !snapshotPushEnabled(c.env) });
  const snapshot = await getRegionSnapshot(ctx, region);
  if (!snapshot) throw notFound(`region ${region} does not exist`);
  await recordHeartbeat(db, region, { at: Date.now() });
  return { ctx, snapshot, etag: `"${snapshot.etag}"` };
}

export const edgeSnapshotRoutes = createRouter()
  .openapi(snapshotRoute, async (c) => {
    const { region } = c.req.valid('query');
    const { ctx, snapshot, etag } = await polledSnapshot(c, region);
    if (c.req.header('if-none-match') === etag) return c.body(null, 304, { etag });
    const body = await readPublishedSnapshot(ctx, snapshot);
    if (!body) throw new ApiError('unavailable', `the snapshot of ${region} is being rebuilt`);
    return c.body(body.body, 200, {
      etag,
      'content-type': 'application/octet-stream',
      'content-length': String(body.size),
      'x-snapshot-version': String(snapshot.version),
    });
  })
  .openapi(manifestRoute, async (c) => {
    const { region } = c.req.valid('query');
    const { ctx, snapshot, etag } = await polledSnapshot(c, region);
    if (c.req.header('if-none-match') === etag) return c.body(null, 304, { etag });
    const manifest = await readPublishedManifest(ctx, snapshot);
    if (!manifest) throw new ApiError('unavailable', `the snapshot of ${region} is being rebuilt`);
    return c.body(manifest as Uint8Array<ArrayBuffer>, 200, {
      etag,
      'content-type': 'application/json',
      'x-snapshot-version': String(snapshot.version),
    });
  })
  .openapi(partRoute, async (c) => {
    const { region } = c.req.valid('query');
    const { name } = c.req.valid('param');
    await verifyEdgeRequest(c, region, 0);
    const part = await readRegionPart(publisherContext(c.env, c.get('db')), region, name);
    if (!part) throw notFound(`snapshot part ${name} is not in the current manifest of ${region}`);
    return c.body(part.body, 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(part.size),
      // Content-addressed: the bytes under a name never change.
      'cache-control': 'private, max-age=31536000, immutable',
    });
  });
