import type { Context } from 'hono';
import type { AppEnv } from './context.js';
import { payloadTooLarge } from './errors.js';

/**
 * Reads a request body up to `limit` bytes. A declared Content-Length over the limit is refused
 * before reading; an undeclared one is counted while streaming, so an oversize body is never
 * buffered whole.
 */
export async function readBodyLimited(c: Context<AppEnv>, limit: number, what: string): Promise<Uint8Array> {
  const declared = Number(c.req.header('content-length') ?? 0);
  if (declared > limit) throw payloadTooLarge(`${what} is ${declared} bytes; the limit is ${limit} bytes`);
  const stream = c.req.raw.body;
  if (!stream) return new Uint8Array();
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw payloadTooLarge(`${what} exceeds the limit of ${limit} bytes`);
    }
    parts.push(value);
  }
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

/** The media type of the request without parameters, lower case (`''` when absent). */
export function mediaType(c: Context<AppEnv>): string {
  return (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}
