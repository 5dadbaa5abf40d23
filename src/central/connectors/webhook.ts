// The connector kind `webhook`: a signed JSON POST of the activity to the tenant's own endpoint.
// Signed like edge requests: `x-crm-router-signature` = hex HMAC-SHA-256 over `timestamp.body` with
// the deployment's webhook secret (derived from central's master secret, never stored: the
// framework hands it over as the secret `signingKey`); `x-crm-router-delivery` is the outbox row
// id, stable across retries (for dedupe). The answer's body is never read: a tenant (or a
// redirect's target) must not read answers back through central, so the result carries the status
// and a fixed phrase of ours. Redirects are never followed (the tenant chose the URL, not where it
// points next).
import { hmacHex } from '../../core/request-signature.js';
import type { ConnectorAdapter, ConnectorContext, DeliveryResult } from './types.js';

/**
 * The key a deployment's CRM uses to verify webhook signatures: derived from the central secret and
 * the deployment's secret generation (never stored). Shown to admins only, once: when the webhook
 * URL is first set and on rotation (POST /api/v1/deployments/:id/webhook-secret/rotate).
 */
export function webhookSecret(edgeKeySecret: string, deployment: string, generation = 0): Promise<string> {
  return hmacHex(
    edgeKeySecret,
    generation === 0 ? `webhook:${deployment}` : `webhook:${deployment}:${generation}`,
  );
}

/** One attempt waits this long for the endpoint's answer. */
export const WEBHOOK_TIMEOUT_MS = 15_000;
/** A `Retry-After` beyond this is capped: the outbox's own backoff never waits longer (1 h). */
const MAX_RETRY_AFTER_MS = 3600_000;

/**
 * A redirect (never followed), 410 Gone and every 4xx but 408 and 429 are permanent: the CRM will
 * not take it by retrying.
 */
export function isPermanentWebhookStatus(status: number): boolean {
  if (status >= 300 && status < 400) return true;
  return status === 410 || (status >= 400 && status < 500 && status !== 408 && status !== 429);
}

/** `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const text = header.trim();
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

function webhookUrl(ctx: ConnectorContext): string {
  const url = ctx.settings.url;
  if (typeof url !== 'string' || !url) throw new Error('webhook connector without a URL');
  return url;
}

async function signedPost(ctx: ConnectorContext, body: string, delivery: string) {
  const timestamp = ctx.now();
  const signature = await hmacHex(ctx.secrets.signingKey ?? '', `${timestamp}.${body}`);
  return fetch(webhookUrl(ctx), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-crm-router-timestamp': String(timestamp),
      'x-crm-router-signature': signature,
      'x-crm-router-delivery': delivery,
    },
    body,
    redirect: 'manual',
    signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
  });
}

function noAnswer(err: unknown): string {
  return (err as Error).name === 'TimeoutError'
    ? `no answer within ${WEBHOOK_TIMEOUT_MS / 1000} s`
    : 'no answer (the connection failed)';
}

/** Classifies an answer of the endpoint (its body unread). */
function classify(res: Response, now: number): DeliveryResult {
  const status = res.status;
  if (status >= 200 && status < 300) return { outcome: 'delivered', status };
  if (status >= 300 && status < 400)
    return {
      outcome: 'refused',
      status,
      detail: `the CRM answered with a redirect (HTTP ${status}); redirects are not followed`,
    };
  const detail = `the CRM answered HTTP ${status}`;
  // The endpoint refuses our signature or credentials: retrying cannot help until someone fixes
  // them, and failing every delivery meanwhile would bury them in dead letters; the connector pauses.
  if (status === 401 || status === 403) return { outcome: 'unauthorized', status, detail };
  if (status === 429) {
    const after = retryAfterMs(res.headers.get('retry-after'), now);
    if (after !== undefined) return { outcome: 'rate-limited', retryAfterMs: after, detail };
  }
  if (isPermanentWebhookStatus(status)) return { outcome: 'refused', status, detail };
  return { outcome: 'retry', status, detail };
}

export const webhookAdapter: ConnectorAdapter = {
  kind: 'webhook',

  async test(ctx) {
    const body = JSON.stringify({ event: 'connector.test', delivery: `test-${ctx.now()}` });
    try {
      const res = await signedPost(ctx, body, `test-${ctx.now()}`);
      await res.body?.cancel();
      const result = classify(res, ctx.now());
      if (result.outcome === 'delivered')
        return { ok: true, detail: `the endpoint answered HTTP ${res.status}` };
      return {
        ok: false,
        detail:
          result.outcome === 'unauthorized'
            ? `${result.detail}: it refused the signature (is it verifying with the current webhook secret?)`
            : result.detail,
      };
    } catch (err) {
      return { ok: false, detail: noAnswer(err) };
    }
  },

  async deliver(ctx, input) {
    const body = JSON.stringify({
      event: input.event ?? (input.existing ? 'activity.merged' : 'activity.accepted'),
      delivery: input.deliveryId,
      activity: input.activity,
    });
    try {
      const res = await signedPost(ctx, body, input.deliveryId);
      await res.body?.cancel();
      return classify(res, ctx.now());
    } catch (err) {
      return { outcome: 'retry', detail: noAnswer(err) };
    }
  },
};
