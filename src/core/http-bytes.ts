// Bytes of an HTTP/1.1 message's head as it crosses the network (RFC 9112 §3, §4, §5): what the
// cross-region counters add to the body's bytes (design §6, `crossRegion`). HTTP/2 compresses
// headers (HPACK), so on such a hop this is an upper bound.

/** `METHOD path HTTP/1.1\r\n`. */
export function requestLineBytes(method: string, path: string): number {
  return method.length + 1 + path.length + 11;
}

/** `HTTP/1.1 200 OK\r\n` (a three-digit status and a two-letter reason phrase). */
export const STATUS_LINE_BYTES = 17;

/** `name: value\r\n` per field and the blank line that ends the head. */
export function headerBytes(headers: Headers | Record<string, string>): number {
  let n = 2;
  const add = (value: string, name: string) => {
    n += name.length + value.length + 4;
  };
  if (headers instanceof Headers) headers.forEach(add);
  else for (const [name, value] of Object.entries(headers)) add(value, name);
  return n;
}
