// The region's canary (src/core/canary.ts): every CANARY_INTERVAL_MS a cron of its own sends a signed
// synthetic message through this edge's own HTTP ingress (`POST /api/v1/inbound`, the route a
// relay uses), so it takes the path real mail takes from there: ingress, pipeline, outbox queue,
// the signed POST to central. Central records its round trip; a canary that does not arrive leaves
// the region's canary stale, and a stale canary is never shown healthy.
import { canaryMessage } from '../core/canary.js';
import type { EdgeBindings, EdgeConfig } from './config.js';
import { app } from './http/app.js';

/** The canary's own cron trigger (wrangler.edge.toml), every CANARY_INTERVAL_MS (5 minutes). */
export const CANARY_CRON = '*/5 * * * *';

/**
 * Sends one canary through the ingress. The request goes to the loopback origin in-process (a
 * Worker cannot call its own route over the network), carrying the region operator's inbound token.
 */
export async function sendCanary(
  env: EdgeBindings,
  cfg: EdgeConfig,
  ctx: ExecutionContext,
  now = Date.now(),
): Promise<{ status: number; body: unknown }> {
  const { raw } = await canaryMessage(cfg.signingKey, cfg.region, now);
  const res = await app.fetch(
    new Request('http://127.0.0.1/api/v1/inbound', {
      method: 'POST',
      headers: { authorization: `Bearer ${cfg.inboundToken}`, 'content-type': 'message/rfc822' },
      body: raw as Uint8Array<ArrayBuffer>,
    }),
    env,
    ctx,
  );
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
