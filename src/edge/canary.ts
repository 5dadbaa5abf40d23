// The region's canary (src/core/canary.ts): every CANARY_INTERVAL_MS the cron sends a signed
// synthetic message through this edge's own HTTP ingress (`POST /api/v1/inbound`, the route a
// relay uses), so it takes the path real mail takes from there: ingress, pipeline, outbox queue,
// the signed POST to central. Central records its round trip; a canary that does not arrive leaves
// the region's canary stale, and a stale canary is never shown healthy.
import { CANARY_INTERVAL_MS, canaryMessage } from '../core/canary.js';
import type { EdgeBindings, EdgeConfig } from './config.js';
import { app } from './http/app.js';

/** Whether this cron minute sends the canary (the cron fires every minute, on every isolate alike). */
export function canaryDue(now: number): boolean {
  return Math.floor(now / 60_000) % Math.round(CANARY_INTERVAL_MS / 60_000) === 0;
}

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
