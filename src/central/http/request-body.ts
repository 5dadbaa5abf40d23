import type { Context } from 'hono';
import { readStreamLimited } from '../../core/stream-limit.js';
import type { AppEnv } from '../context.js';
import { ApiError, payloadTooLarge, validationFailed } from './errors.js';

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

/**
 * A bulk body that may be JSON or CSV (records, mailbox routes): the media type checked first (415),
 * the bytes read within `limit` (413), then decoded as strict UTF-8 (400).
 */
export async function readJsonOrCsvText(
  c: Context<AppEnv>,
  limit: number,
  what: string,
): Promise<{ isCsv: boolean; text: string }> {
  const type = mediaType(c);
  const isCsv = type === 'text/csv' || type === 'application/csv';
  if (!isCsv && !/^application\/([a-z.-]+\+)?json$/.test(type))
    throw new ApiError(
      'unsupported_media_type',
      `content-type must be application/json or text/csv, not "${type}"`,
    );
  const bytes = await readBodyLimited(c, limit, what);
  try {
    return { isCsv, text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes) };
  } catch {
    throw validationFailed('body: not valid UTF-8');
  }
}

/** A row of a bulk body: where it stands (CSV line or JSON index) and its raw value. */
export interface BodyRow {
  at: { line: number } | { index: number };
  value: unknown;
}

/** The rows of a JSON bulk body `{ <field>: [...] }` (400 when it is not JSON or has no such array). */
export function jsonBodyRows(text: string, field: 'records' | 'routes'): BodyRow[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError('invalid_json', 'body is not valid JSON');
  }
  const rows = (body as Record<string, unknown> | null)?.[field];
  if (!Array.isArray(rows)) throw validationFailed(`${field}: expected an array of ${field}`);
  return rows.map((value, index) => ({ at: { index }, value }));
}
