// The region snapshot as edges fetch it since issue 21: the manifest (ETag / 304) and the parts it
// names, by content hash (docs/decisions.md, "Snapshots by content hash"). Edge scope, signed like
// every edge request. The whole snapshot (`GET /api/v1/edge/snapshot`) is still served for edges
// deployed before the manifest.
import { createRoute, z } from '@hono/zod-openapi';
import { recordHeartbeat } from '../../db/queries/regions.js';
import { bearerSecurity, errorResponses } from '../contract/openapi-helpers.js';
import { createRouter } from '../http/app-router.js';
import { ApiError, notFound } from '../http/errors.js';
import { verifyEdgeRequest } from '../ingest/edge-routes.js';
import { snapshotPushEnabled } from './edge-notice.js';
import {
  getRegionSnapshot,
  publisherContext,
  readPublishedManifest,
  readRegionPart,
} from './snapshot-publisher.js';

const regionQuery = z.object({ region: z.string().min(1).max(32) });

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

export const edgeSnapshotRoutes = createRouter()
  .openapi(manifestRoute, async (c) => {
    const { region } = c.req.valid('query');
    await verifyEdgeRequest(c, region, 0);
    const db = c.get('db');
    // As for the whole snapshot: with the push on, a poll never builds a part (snapshot-kicks.ts).
    const ctx = publisherContext(c.env, db, { buildParts: !snapshotPushEnabled(c.env) });
    const snapshot = await getRegionSnapshot(ctx, region);
    if (!snapshot) throw notFound(`region ${region} does not exist`);
    await recordHeartbeat(db, region, { at: Date.now() });
    const etag = `"${snapshot.etag}"`;
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
