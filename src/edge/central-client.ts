import { headerBytes, requestLineBytes, STATUS_LINE_BYTES } from '../core/http-bytes.js';
import { signBody } from '../core/request-signature.js';
import { SIGNATURE_HEADERS } from '../core/wire.js';
import type { EdgeConfig } from './config.js';
import { type CrossRegionKind, countCrossRegion } from './cross-region.js';

/**
 * A signed request to central: edge bearer token + HMAC over `timestamp.body` with the region key.
 * A central that does not answer within `cfg.centralTimeoutMs` counts as unreachable (the request
 * is aborted and throws), so a hanging central cannot hold a queue consumer or a drain forever.
 *
 * Its bytes are counted as cross-region traffic of `kind` (design §6): the request line, headers
 * and body as sent (compressed when the caller compressed it), and the answer's status line,
 * headers and body (by its `content-length` when given, else as the body is read).
 */
export async function centralFetch(
  cfg: EdgeConfig,
  path: string,
  kind: CrossRegionKind,
  init: { method?: string; body?: Uint8Array; headers?: Record<string, string> } = {},
): Promise<Response> {
  const timestamp = Date.now();
  const body = init.body ?? new Uint8Array();
  const signature = await signBody(cfg.signingKey, timestamp, body);
  const method = init.method ?? 'GET';
  const sendsBody = method !== 'GET';
  const url = `${cfg.centralUrl}${path}`;
  const headers = {
    authorization: `Bearer ${cfg.token}`,
    [SIGNATURE_HEADERS.region]: cfg.region,
    [SIGNATURE_HEADERS.timestamp]: String(timestamp),
    [SIGNATURE_HEADERS.signature]: signature,
    ...init.headers,
  };
  const host = new URL(url).host;
  countCrossRegion(
    kind,
    'toCentral',
    requestLineBytes(method, path) +
      // The runtime adds `host` and, for a body, `content-length`.
      headerBytes({ host, ...headers, ...(sendsBody ? { 'content-length': String(body.byteLength) } : {}) }) +
      (sendsBody ? body.byteLength : 0),
  );
  const res = await fetch(url, {
    method,
    headers,
    body: sendsBody ? (body as Uint8Array<ArrayBuffer>) : undefined,
    signal: AbortSignal.timeout(cfg.centralTimeoutMs),
  });
  return countedAnswer(res, kind);
}

/** Counts an answer's bytes as they come from central. */
function countedAnswer(res: Response, kind: CrossRegionKind): Response {
  countCrossRegion(kind, 'fromCentral', STATUS_LINE_BYTES + headerBytes(res.headers));
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (Number.isSafeInteger(declared)) {
    countCrossRegion(kind, 'fromCentral', declared);
    return res;
  }
  if (!res.body) return res;
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      countCrossRegion(kind, 'fromCentral', chunk.byteLength);
      controller.enqueue(chunk);
    },
  });
  return new Response(res.body.pipeThrough(counter), res);
}

export async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
