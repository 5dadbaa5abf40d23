// HMAC-SHA-256 over `timestamp + "." + body`, hex encoded. Used for every edge → central request
// and for the edge's short-lived raw-message links. Web Crypto only, so it runs in workerd and Node.

import { bytesToHex } from './keyed-hash.js';

const encoder = new TextEncoder();

/**
 * Imported HMAC keys by secret, so that a worker imports each of its few keys once and not on
 * every request (issue 21: two imports per ingest batch). Bounded: an unknown region named in a
 * forged token derives a key too, so the cache starts over rather than grow without end.
 */
const keys = new Map<string, Promise<CryptoKey>>();
const KEY_CACHE_SIZE = 64;

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    if (keys.size >= KEY_CACHE_SIZE) keys.clear();
    key = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
    ]);
    keys.set(secret, key);
    key.catch(() => keys.delete(secret));
  }
  return key;
}

export async function hmacHex(secret: string, data: Uint8Array | string): Promise<string> {
  const key = await hmacKey(secret);
  const bytes = typeof data === 'string' ? encoder.encode(data) : data;
  return bytesToHex(await crypto.subtle.sign('HMAC', key, bytes as Uint8Array<ArrayBuffer>));
}

/** Signs a request body: the signed message is `${timestamp}.` followed by the body bytes. */
export async function signBody(secret: string, timestamp: number, body: Uint8Array): Promise<string> {
  const prefix = encoder.encode(`${timestamp}.`);
  const message = new Uint8Array(prefix.length + body.length);
  message.set(prefix, 0);
  message.set(body, prefix.length);
  return hmacHex(secret, message);
}

/**
 * Constant-time string equality, the one comparison of secrets, tokens, signatures and MACs in
 * central and the edges: the time depends on the longer length only, never on where the strings
 * differ (`===` stops at the first difference and so leaks a guessed prefix through timing).
 */
export function timingSafeEqual(a: string, b: string): boolean {
  const n = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < n; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
}

/** The former name, for hex signatures and MACs: the same comparison. */
export const timingSafeEqualHex = timingSafeEqual;

export async function verifyBody(
  secret: string,
  timestamp: number,
  body: Uint8Array,
  signature: string,
): Promise<boolean> {
  return timingSafeEqualHex(await signBody(secret, timestamp, body), signature.toLowerCase());
}

const derived = new Map<string, Promise<{ readonly signingKey: string; readonly token: string }>>();

/**
 * Per-region credentials derived from one master secret, so central needs a single secret and each
 * edge only its own pair. Derivation: HMAC(master, "sign:<region>") and HMAC(master, "token:<region>").
 */
export function deriveEdgeCredentials(
  masterSecret: string,
  region: string,
): Promise<{ readonly signingKey: string; readonly token: string }> {
  // Derived once per region and secret: central derives them twice for every edge request.
  const at = `${region}\0${masterSecret}`;
  let creds = derived.get(at);
  if (!creds) {
    if (derived.size >= KEY_CACHE_SIZE) derived.clear();
    creds = (async () => {
      const signingKey = await hmacHex(masterSecret, `sign:${region}`);
      const mac = await hmacHex(masterSecret, `token:${region}`);
      return Object.freeze({ signingKey, token: `edge_${region}_${mac.slice(0, 40)}` });
    })();
    derived.set(at, creds);
    creds.catch(() => derived.delete(at));
  }
  return creds;
}

/**
 * Central → edge "your snapshot changed" notices (docs/decisions.md, "Snapshot push"), signed with
 * the region's signing key over `snapshot-notice.<timestamp>.<body>`: the prefix keeps a captured
 * edge → central signature from ever verifying as a notice, and the reverse.
 */
export const SNAPSHOT_NOTICE_PATH = '/api/v1/edge/snapshot-changed';
/** How far a notice's timestamp may be from the edge's clock. */
export const SNAPSHOT_NOTICE_SKEW_MS = 5 * 60_000;

export function signSnapshotNotice(signingKey: string, timestamp: number, body: string): Promise<string> {
  return hmacHex(signingKey, `snapshot-notice.${timestamp}.${body}`);
}

export async function verifySnapshotNotice(
  signingKey: string,
  timestamp: number,
  body: string,
  signature: string,
  now = Date.now(),
): Promise<boolean> {
  if (!Number.isFinite(timestamp) || Math.abs(now - timestamp) > SNAPSHOT_NOTICE_SKEW_MS) return false;
  return timingSafeEqualHex(await signSnapshotNotice(signingKey, timestamp, body), signature.toLowerCase());
}
