// Keyed hashing and normalisation of the identifiers that leave central only as hashes.
// SipHash-2-4 (Aumasson & Bernstein, 2012) with a 128-bit key: a keyed PRF, so an edge that
// holds the snapshot cannot confirm a guessed address without the region's hash key.
// Implemented on pairs of uint32 so it runs without BigInt in the hot path.

const HEX = '0123456789abcdef';

interface SipKey {
  k0h: number;
  k0l: number;
  k1h: number;
  k1l: number;
}

let cachedKeyHex = '';
let cachedKey: SipKey = { k0h: 0, k0l: 0, k1h: 0, k1l: 0 };

function readLE32(b: Uint8Array, i: number): number {
  return (
    ((b[i] as number) |
      ((b[i + 1] as number) << 8) |
      ((b[i + 2] as number) << 16) |
      ((b[i + 3] as number) << 24)) >>>
    0
  );
}

/** Parses a 32-hex-digit key. Throws on anything else: a wrong key is a configuration error. */
function parseKey(keyHex: string): SipKey {
  if (keyHex === cachedKeyHex) return cachedKey;
  if (!/^[0-9a-fA-F]{32}$/.test(keyHex)) {
    throw new Error('hash key must be 32 hexadecimal characters (16 bytes)');
  }
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = Number.parseInt(keyHex.slice(i * 2, i * 2 + 2), 16);
  const key = {
    k0l: readLE32(bytes, 0),
    k0h: readLE32(bytes, 4),
    k1l: readLE32(bytes, 8),
    k1h: readLE32(bytes, 12),
  };
  cachedKeyHex = keyHex;
  cachedKey = key;
  return key;
}

/** Reports whether `keyHex` is a usable hash key (32 hexadecimal characters). */
export function isHashKey(keyHex: string): boolean {
  return /^[0-9a-fA-F]{32}$/.test(keyHex);
}

let scratch = new Uint8Array(256);

/** UTF-8 encodes `value` into the shared scratch buffer; lone surrogates become U+FFFD as in TextEncoder. */
function encodeUtf8(value: string): number {
  const max = value.length * 3;
  if (scratch.length < max) scratch = new Uint8Array(Math.max(max, scratch.length * 2));
  const out = scratch;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    let c = value.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = c;
    } else if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < value.length ? value.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        out[n++] = 0xf0 | (c >> 18);
        out[n++] = 0x80 | ((c >> 12) & 0x3f);
        out[n++] = 0x80 | ((c >> 6) & 0x3f);
        out[n++] = 0x80 | (c & 0x3f);
      } else {
        out[n++] = 0xef;
        out[n++] = 0xbf;
        out[n++] = 0xbd;
      }
    } else {
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    }
  }
  return n;
}

// Result registers of the last sipHash call (avoids allocating a pair per hash).
let outHi = 0;
let outLo = 0;

/** SipHash-2-4 of `bytes[0..length)`; the 64-bit result lands in outHi/outLo. */
function sipHash(key: SipKey, bytes: Uint8Array, length: number): void {
  // v0 = k0 ^ "somepseudorandomlygeneratedbytes" (four 64-bit words, split into halves)
  let v0h = (key.k0h ^ 0x736f6d65) >>> 0;
  let v0l = (key.k0l ^ 0x70736575) >>> 0;
  let v1h = (key.k1h ^ 0x646f7261) >>> 0;
  let v1l = (key.k1l ^ 0x6e646f6d) >>> 0;
  let v2h = (key.k0h ^ 0x6c796765) >>> 0;
  let v2l = (key.k0l ^ 0x6e657261) >>> 0;
  let v3h = (key.k1h ^ 0x74656462) >>> 0;
  let v3l = (key.k1l ^ 0x79746573) >>> 0;
  let t = 0;
  let s = 0;

  const fullEnd = length - (length & 7);
  let mh = 0;
  let ml = 0;
  // One pass per 8-byte block (the last one padded) with two SipRounds, then one more pass, the
  // finalisation, with four: the round is written out once, on local 32-bit halves (no state
  // array, no call per quarter round — this runs a million times per snapshot build).
  for (let i = 0; i <= fullEnd + 8; i += 8) {
    const final = i > fullEnd;
    if (final) {
      v2l ^= 0xff;
    } else {
      if (i < fullEnd) {
        ml = readLE32(bytes, i);
        mh = readLE32(bytes, i + 4);
      } else {
        // Last block: remaining bytes, length mod 256 in the top byte.
        const rem = length & 7;
        ml = 0;
        mh = (length & 0xff) << 24;
        for (let j = 0; j < rem; j++) {
          const b = bytes[i + j] as number;
          if (j < 4) ml |= b << (8 * j);
          else mh |= b << (8 * (j - 4));
        }
        ml >>>= 0;
        mh >>>= 0;
      }
      v3h ^= mh;
      v3l ^= ml;
    }
    for (let r = final ? 4 : 2; r > 0; r--) {
      s = (v0l + v1l) >>> 0;
      v0h = (v0h + v1h + (s < v0l >>> 0 ? 1 : 0)) >>> 0;
      v0l = s;
      t = v1h;
      v1h = ((v1h << 13) | (v1l >>> 19)) >>> 0;
      v1l = ((v1l << 13) | (t >>> 19)) >>> 0;
      v1h ^= v0h;
      v1l ^= v0l;
      t = v0h;
      v0h = v0l;
      v0l = t;
      s = (v2l + v3l) >>> 0;
      v2h = (v2h + v3h + (s < v2l >>> 0 ? 1 : 0)) >>> 0;
      v2l = s;
      t = v3h;
      v3h = ((v3h << 16) | (v3l >>> 16)) >>> 0;
      v3l = ((v3l << 16) | (t >>> 16)) >>> 0;
      v3h ^= v2h;
      v3l ^= v2l;
      s = (v0l + v3l) >>> 0;
      v0h = (v0h + v3h + (s < v0l >>> 0 ? 1 : 0)) >>> 0;
      v0l = s;
      t = v3h;
      v3h = ((v3h << 21) | (v3l >>> 11)) >>> 0;
      v3l = ((v3l << 21) | (t >>> 11)) >>> 0;
      v3h ^= v0h;
      v3l ^= v0l;
      s = (v2l + v1l) >>> 0;
      v2h = (v2h + v1h + (s < v2l >>> 0 ? 1 : 0)) >>> 0;
      v2l = s;
      t = v1h;
      v1h = ((v1h << 17) | (v1l >>> 15)) >>> 0;
      v1l = ((v1l << 17) | (t >>> 15)) >>> 0;
      v1h ^= v2h;
      v1l ^= v2l;
      t = v2h;
      v2h = v2l;
      v2l = t;
    }
    if (!final) {
      v0h ^= mh;
      v0l ^= ml;
    }
  }
  outHi = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
  outLo = (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
}

function hex32(x: number): string {
  let out = '';
  for (let shift = 28; shift >= 0; shift -= 4) out += HEX[(x >>> shift) & 15];
  return out;
}

/**
 * SipHash-2-4 of the UTF-8 bytes of `value` under the 16-byte key `keyHex` (32 hex characters).
 * Returns the 64-bit result as 16 lower-case hex characters, most significant first
 * (the reference vector for key 00..0f and the empty message is `726fdb47dd0e0e31`).
 */
export function keyedHash(keyHex: string, value: string): string {
  const key = parseKey(keyHex);
  const length = encodeUtf8(value);
  sipHash(key, scratch, length);
  return hex32(outHi) + hex32(outLo);
}

/** The same hash as {@link keyedHash}, as two uint32 (`[high, low]`), the key type of membership filters. */
export function keyedHash64(keyHex: string, value: string): [hi: number, lo: number] {
  const key = parseKey(keyHex);
  const length = encodeUtf8(value);
  sipHash(key, scratch, length);
  return [outHi, outLo];
}

/** SipHash-2-4 of raw bytes, as 16 hex characters (same output convention as {@link keyedHash}). */
export function keyedHashBytes(keyHex: string, bytes: Uint8Array): string {
  sipHash(parseKey(keyHex), bytes, bytes.length);
  return hex32(outHi) + hex32(outLo);
}

/** Converts a `[hi, lo]` pair to the 16-hex-character form of {@link keyedHash}. */
export function hash64ToHex(hash: readonly [number, number]): string {
  return hex32(hash[0] >>> 0) + hex32(hash[1] >>> 0);
}

/** Parses the 16-hex-character form of {@link keyedHash} back to `[hi, lo]`; undefined if malformed. */
export function hexToHash64(hex: string): [number, number] | undefined {
  if (!/^[0-9a-f]{16}$/.test(hex)) return undefined;
  return [Number.parseInt(hex.slice(0, 8), 16), Number.parseInt(hex.slice(8), 16)];
}

const PLAIN_ADDRESS = /^[^\s<>()":@]+@[^\s<>()":@]+$/;

/**
 * Normalises an e-mail address for matching: trims, drops a display name, comments and angle
 * brackets, removes a `mailto:` scheme and lower-cases. Address matching ignores case (design §2),
 * even though RFC 5321 lets the local part be case-sensitive: no real mail system relies on it.
 */
export function normaliseAddress(s: string): string {
  // Fast path: a bare address (the common case when central hashes a million record addresses).
  if (PLAIN_ADDRESS.test(s) && !s.endsWith('.')) return s.toLowerCase();
  let v = s.trim();
  const open = v.lastIndexOf('<');
  if (open >= 0) {
    const close = v.indexOf('>', open + 1);
    v = v.slice(open + 1, close >= 0 ? close : undefined);
  } else if (v.includes('(')) {
    v = v.replace(/\([^()]*\)/g, '');
  }
  v = v.replace(/\s+/g, '');
  if (v.slice(0, 7).toLowerCase() === 'mailto:') v = v.slice(7);
  // Obsolete source route (RFC 5322 §4.4): `@relay1,@relay2:user@domain`.
  if (v.startsWith('@') && v.includes(':')) v = v.slice(v.lastIndexOf(':') + 1);
  if (v.endsWith('.')) v = v.slice(0, -1);
  return v.toLowerCase();
}

/** Normalises a Message-ID: no whitespace, no angle brackets, lower case. */
export function normaliseMessageId(s: string): string {
  return s.replace(/[\s<>]+/g, '').toLowerCase();
}

/** Domain part of an address (after the last `@`), lower-cased; `''` if there is none. */
export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 0) return '';
  return address
    .slice(at + 1)
    .replace(/[>\s]+$/, '')
    .toLowerCase();
}

// SHA-256 (FIPS 180-4), synchronous, for content hashes on the edge where crypto.subtle would
// force an async boundary into otherwise synchronous code.
const K256 = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

function sha256Blocks(state: Int32Array, w: Int32Array, bytes: Uint8Array, end: number): void {
  let h0 = state[0] as number;
  let h1 = state[1] as number;
  let h2 = state[2] as number;
  let h3 = state[3] as number;
  let h4 = state[4] as number;
  let h5 = state[5] as number;
  let h6 = state[6] as number;
  let h7 = state[7] as number;
  for (let off = 0; off < end; off += 64) {
    for (let i = 0; i < 16; i++) {
      const j = off + i * 4;
      w[i] =
        ((bytes[j] as number) << 24) |
        ((bytes[j + 1] as number) << 16) |
        ((bytes[j + 2] as number) << 8) |
        (bytes[j + 3] as number);
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15] as number;
      const y = w[i - 2] as number;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = ((w[i - 16] as number) + s0 + (w[i - 7] as number) + s1) | 0;
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    let f = h5;
    let g = h6;
    let h = h7;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (h + S1 + ch + (K256[i] as number) + (w[i] as number)) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }
  state[0] = h0;
  state[1] = h1;
  state[2] = h2;
  state[3] = h3;
  state[4] = h4;
  state[5] = h5;
  state[6] = h6;
  state[7] = h7;
}

const SHA256_IV = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];
// Scratch space of `sha256Hex`, reused: it is synchronous, so no two calls share it at once (ingest
// hashes two short strings per item, and allocating three typed arrays was a third of each).
const SHA256_STATE = new Int32Array(8);
const SHA256_W = new Int32Array(64);
const SHA256_TAIL = new Uint8Array(128);
/** Lower-case hex of every byte value: `HEX_BYTE[0x2a]` is `'2a'`. */
export const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, b) =>
  b.toString(16).padStart(2, '0'),
);

/** `bytes` as lower-case hex, two characters a byte (the one bytes → hex encoder of src). */
export function bytesToHex(bytes: Uint8Array | ArrayBuffer): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let out = '';
  for (let i = 0; i < view.length; i++) out += HEX_BYTE[view[i] as number] as string;
  return out;
}

/** SHA-256 of `bytes` as 64 lower-case hex characters (synchronous, pure JS). */
export function sha256Hex(bytes: Uint8Array): string {
  const state = SHA256_STATE;
  state.set(SHA256_IV);
  const fullEnd = bytes.length - (bytes.length % 64);
  sha256Blocks(state, SHA256_W, bytes, fullEnd);
  // Padding: 0x80, zeros, then the bit length as a 64-bit big-endian integer.
  const rem = bytes.length - fullEnd;
  const n = rem < 56 ? 64 : 128;
  const tail = SHA256_TAIL.subarray(0, n);
  tail.fill(0);
  tail.set(bytes.subarray(fullEnd));
  tail[rem] = 0x80;
  const bitLength = bytes.length * 8;
  const hiBits = Math.floor(bitLength / 0x100000000);
  const loBits = bitLength >>> 0;
  tail[n - 8] = hiBits >>> 24;
  tail[n - 7] = hiBits >>> 16;
  tail[n - 6] = hiBits >>> 8;
  tail[n - 5] = hiBits;
  tail[n - 4] = loBits >>> 24;
  tail[n - 3] = loBits >>> 16;
  tail[n - 2] = loBits >>> 8;
  tail[n - 1] = loBits;
  sha256Blocks(state, SHA256_W, tail, n);
  let out = '';
  for (let i = 0; i < 8; i++) {
    const x = state[i] as number;
    out += `${HEX_BYTE[(x >>> 24) & 255]}${HEX_BYTE[(x >>> 16) & 255]}${HEX_BYTE[(x >>> 8) & 255]}${HEX_BYTE[x & 255]}`;
  }
  return out;
}
