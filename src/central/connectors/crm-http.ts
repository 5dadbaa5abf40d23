// What every CRM adapter does with HTTP: one request with a deadline, and one classification of
// the answer into a `DeliveryResult` (types.ts): 401/403 pause, 429 waits for `Retry-After`, 5xx
// and timeouts back off, any other 4xx is a permanent refusal carrying the CRM's own reason.
import { ConnectorError, type DeliveryResult } from './types.js';

/** A CRM that has not answered in this long is treated as a timeout (retried with back-off). */
export const CRM_REQUEST_TIMEOUT_MS = 15_000;
/** 429 without a usable `Retry-After` (RFC 9110 §10.2.3): wait this long rather than hammer. */
export const DEFAULT_RETRY_AFTER_MS = 10_000;
/** A `Retry-After` beyond this is capped: the outbox re-checks rather than sleeping for hours. */
export const MAX_RETRY_AFTER_MS = 15 * 60_000;
/** How much of a CRM's error body a detail keeps (dead letters are read by people). */
const MAX_DETAIL_CHARS = 500;

export type CrmAnswer =
  | { ok: true; status: number; body: unknown; headers: Headers }
  | { ok: false; result: Exclude<DeliveryResult, { outcome: 'delivered' }> };

/** Thrown by `pull` when the CRM's answer stops a sync; `result` says whether to pause or retry. */
export class CrmPullError extends ConnectorError {
  constructor(readonly result: Exclude<DeliveryResult, { outcome: 'delivered' }>) {
    // The detail is ours or the CRM's JSON error message (never a raw body, never a secret): an
    // admin reads it as the connector's lastError.
    super(result.detail);
  }
}

/** RFC 9110 §10.2.3: delay-seconds or an HTTP-date; anything else falls back to the default. */
export function parseRetryAfter(value: string | null, now: number): number {
  if (value == null || value.trim() === '') return DEFAULT_RETRY_AFTER_MS;
  const v = value.trim();
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v) - now;
  if (!Number.isFinite(ms)) return DEFAULT_RETRY_AFTER_MS;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** The CRM's own words from a JSON error body: HubSpot's `message`, OData's `error.message`, OAuth's `error_description`. */
export function crmMessage(body: unknown, fallback: string): string {
  if (body && typeof body === 'object') {
    const b = body as {
      message?: unknown;
      error?: { message?: unknown } | string;
      error_description?: unknown;
    };
    if (typeof b.message === 'string') return b.message.slice(0, MAX_DETAIL_CHARS);
    if (b.error && typeof b.error === 'object' && typeof b.error.message === 'string')
      return b.error.message.slice(0, MAX_DETAIL_CHARS);
    if (typeof b.error_description === 'string') return b.error_description.slice(0, MAX_DETAIL_CHARS);
  }
  // A body that is not the CRM's JSON error is never quoted: the base URL is the tenant's to set,
  // and an arbitrary server's page must not reach a dead letter (as for webhooks, docs/decisions.md).
  return fallback;
}

/** Classifies a non-2xx answer (the body already read). */
export function classifyFailure(
  crm: string,
  status: number,
  body: unknown,
  headers: Headers,
  now: number,
): Exclude<DeliveryResult, { outcome: 'delivered' }> {
  const detail = `${crm} answered ${status}: ${crmMessage(body, 'no reason given')}`;
  if (status === 401 || status === 403) return { outcome: 'unauthorized', status, detail };
  if (status === 429)
    return {
      outcome: 'rate-limited',
      retryAfterMs: parseRetryAfter(headers.get('retry-after'), now),
      detail,
    };
  // 408 is the CRM saying it timed out waiting: as transient as a 5xx.
  if (status >= 500 || status === 408) return { outcome: 'retry', status, detail };
  return { outcome: 'refused', status, detail };
}

/** One request with a deadline; network errors and timeouts become `retry`, never a throw. */
export async function crmFetch(crm: string, url: string, init: RequestInit, now: number): Promise<CrmAnswer> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(CRM_REQUEST_TIMEOUT_MS) });
  } catch (err) {
    const why = err instanceof Error && err.name === 'TimeoutError' ? 'timed out' : 'unreachable';
    return {
      ok: false,
      result: {
        outcome: 'retry',
        detail: `${crm} ${why} (${err instanceof Error ? err.message : String(err)})`,
      },
    };
  }
  const text = await res.text();
  let body: unknown = text;
  if (text && (res.headers.get('content-type') ?? '').includes('json')) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (res.ok) return { ok: true, status: res.status, body, headers: res.headers };
  return { ok: false, result: classifyFailure(crm, res.status, body, res.headers, now) };
}
