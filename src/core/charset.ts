// Byte → text decoding for header values. Mail arrives in every charset ever registered; an
// unknown or unsupported label must degrade to Latin-1 rather than throw (RFC 2047 §6.3 asks a
// reader to show undecodable words as they are; a readable approximation serves routing better).

const decoders = new Map<string, TextDecoder | null>();

function decoderFor(label: string): TextDecoder | null {
  const cached = decoders.get(label);
  if (cached !== undefined) return cached;
  let decoder: TextDecoder | null = null;
  try {
    decoder = new TextDecoder(label);
  } catch {
    decoder = null;
  }
  if (decoders.size < 256) decoders.set(label, decoder);
  return decoder;
}

/** Bytes decoded per step by `decodeLatin1` (bounds its scratch copy). */
const LATIN1_CHUNK = 64 * 1024;
const asciiDecoder = new TextDecoder('utf-8');
// UTF-16 code units 0–255 are the Latin-1 characters: widening the bytes lets the native decoder
// do the work (String.fromCharCode over the bytes costs many times more per byte).
const utf16Decoder = decoderFor('utf-16le');

/** Each byte as the code point of the same value (ISO-8859-1). */
export function decodeLatin1(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let out = '';
  for (let i = start; i < end; i += LATIN1_CHUNK) {
    const chunk = bytes.subarray(i, Math.min(end, i + LATIN1_CHUNK));
    let ascii = true;
    for (let k = 0; k < chunk.length; k++) {
      if ((chunk[k] as number) >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) out += asciiDecoder.decode(chunk);
    else if (utf16Decoder) out += utf16Decoder.decode(Uint16Array.from(chunk));
    else
      for (let k = 0; k < chunk.length; k += 8192)
        out += String.fromCharCode.apply(null, chunk.subarray(k, k + 8192) as unknown as number[]);
  }
  return out;
}

/** Normalises a MIME charset label: RFC 2231 language suffix removed, lower case, common aliases. */
export function charsetLabel(charset: string): string {
  let label = charset.trim().toLowerCase();
  const star = label.indexOf('*');
  if (star >= 0) label = label.slice(0, star);
  label = label.replace(/^["']|["']$/g, '');
  if (label === 'utf8') return 'utf-8';
  if (label === 'ascii' || label === 'us-ascii' || label === 'ansi_x3.4-1968') return 'utf-8';
  return label;
}

/** Decodes `bytes` in `charset` (any WHATWG label); falls back to Latin-1. Never throws. */
export function decodeBytes(bytes: Uint8Array, charset: string): string {
  const label = charsetLabel(charset);
  const decoder = label === '' ? null : decoderFor(label);
  if (!decoder) return decodeLatin1(bytes);
  try {
    return decoder.decode(bytes);
  } catch {
    return decodeLatin1(bytes);
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Decodes raw header bytes: UTF-8 when valid (RFC 6532), otherwise Latin-1. Never throws. */
export function decodeHeaderBytes(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    if ((bytes[i] as number) >= 0x80) {
      ascii = false;
      break;
    }
  }
  // ASCII is valid UTF-8: the native decoder reads it several times faster than character codes.
  if (ascii) return strictUtf8.decode(bytes.subarray(start, end));
  try {
    return strictUtf8.decode(bytes.subarray(start, end));
  } catch {
    return decodeLatin1(bytes, start, end);
  }
}
