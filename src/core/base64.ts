// Lenient Base64 decoding (RFC 2045 §6.8: "characters not found in the table must be ignored").

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

const TABLE = (() => {
  const t = new Int16Array(256).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) t[ALPHABET.charCodeAt(i)] = i;
  // URL-safe variants decode too: some clients emit them in encoded words.
  t[45] = 62; // -
  t[95] = 63; // _
  return t;
})();

/** Decodes Base64, skipping characters outside the alphabet and stopping at padding. Never throws. */
export function decodeBase64(input: string | Uint8Array): Uint8Array {
  // Two loops, one per input type: a loop that handles both is several times slower per byte.
  return typeof input === 'string' ? decodeBase64Text(input) : decodeBase64Bytes(input);
}

function decodeBase64Text(input: string): Uint8Array {
  const n = input.length;
  const out = new Uint8Array(Math.floor((n * 3) / 4) + 3);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < n; i++) {
    const c = input.charCodeAt(i);
    if (c === 61) break; // '='
    const v = c < 256 ? (TABLE[c] as number) : -1;
    if (v < 0) continue;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, o);
}

function decodeBase64Bytes(input: Uint8Array): Uint8Array {
  const n = input.length;
  const out = new Uint8Array(Math.floor((n * 3) / 4) + 3);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < n; i++) {
    const c = input[i] as number;
    if (c === 61) break; // '='
    const v = TABLE[c] as number;
    if (v < 0) continue;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, o);
}

/** Encodes bytes as standard Base64 with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  const a = (i: number): string => ALPHABET.charAt(i);
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const v = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out += a(v >> 18) + a((v >> 12) & 63) + a((v >> 6) & 63) + a(v & 63);
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const v = (bytes[i] as number) << 16;
    out += `${a(v >> 18)}${a((v >> 12) & 63)}==`;
  } else if (rest === 2) {
    const v = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8);
    out += `${a(v >> 18)}${a((v >> 12) & 63)}${a((v >> 6) & 63)}=`;
  }
  return out;
}
