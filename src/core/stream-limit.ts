// Reads a byte stream fully, refusing more than a limit without buffering the excess.

/**
 * Reads `stream` to the end. Returns undefined as soon as more than `limit` bytes arrived (the
 * stream is cancelled). `sizeHint` (e.g. a declared length) pre-sizes the buffer so a message is
 * copied once, not grown and copied again: peak memory stays near the message size.
 */
export async function readStreamLimited(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  sizeHint = 0,
): Promise<Uint8Array | undefined> {
  if (sizeHint > limit) {
    await stream.cancel();
    return undefined;
  }
  let out = new Uint8Array(sizeHint > 0 ? sizeHint : 64 * 1024);
  let length = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (length + value.byteLength > limit) {
      await reader.cancel();
      return undefined;
    }
    if (length + value.byteLength > out.byteLength) {
      const bigger = new Uint8Array(Math.min(limit, Math.max(out.byteLength * 2, length + value.byteLength)));
      bigger.set(out.subarray(0, length));
      out = bigger;
    }
    out.set(value, length);
    length += value.byteLength;
  }
  return length === out.byteLength ? out : out.subarray(0, length);
}
