import { signBody } from '../core/request-signature.js';
import { SIGNATURE_HEADERS } from '../core/wire.js';
import type { EdgeConfig } from './config.js';

/**
 * A signed request to central: edge bearer token + HMAC over `timestamp.body` with the region key.
 * A central that does not answer within `cfg.centralTimeoutMs` counts as unreachable (the request
 * is aborted and throws), so a hanging central cannot hold a queue consumer or a drain forever.
 */
export async function centralFetch(
  cfg: EdgeConfig,
  path: string,
  init: { method?: string; body?: Uint8Array; headers?: Record<string, string> } = {},
): Promise<Response> {
  const timestamp = Date.now();
  const body = init.body ?? new Uint8Array();
  const signature = await signBody(cfg.signingKey, timestamp, body);
  return fetch(`${cfg.centralUrl}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      authorization: `Bearer ${cfg.token}`,
      [SIGNATURE_HEADERS.region]: cfg.region,
      [SIGNATURE_HEADERS.timestamp]: String(timestamp),
      [SIGNATURE_HEADERS.signature]: signature,
      ...init.headers,
    },
    body: init.method && init.method !== 'GET' ? (body as Uint8Array<ArrayBuffer>) : undefined,
    signal: AbortSignal.timeout(cfg.centralTimeoutMs),
  });
}

export async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
