import type { Context } from 'hono';
import type { AppEnv } from './context.js';
import { readStreamLimited } from '../core/stream-limit.js';
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
  return readLimited(stream, limit, what);
}

/** Reads a stream up to `limit` bytes; more is a 413 naming `what`. */
export async function readLimited(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  what: string,
): Promise<Uint8Array> {
  const bytes = await readStreamLimited(stream, limit);
  if (!bytes) throw payloadTooLarge(`${what} exceeds the limit of ${limit} bytes`);
  return bytes;
}

/** The media type of the request without parameters, lower case (`''` when absent). */
export function mediaType(c: Context<AppEnv>): string {
  return (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}
