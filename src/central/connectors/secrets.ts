// A connector's secrets at rest: AES-256-GCM under a key derived with HKDF-SHA-256 (RFC 5869) from
// central's master secret (EDGE_KEY_SECRET, from which the edges' keys and the webhook signing keys
// derive too). The deployment id is the additional authenticated data, so a ciphertext copied onto
// another deployment's row does not decrypt. Nothing here is logged or returned by the API.
import { decodeBase64 } from '../../core/base64.js';

/** Format version of the stored value; a new scheme gets a new prefix, old rows still decrypt. */
const FORMAT = 'v1';
/** HKDF `info`: binds the key to this one use (RFC 5869 §3.2). */
const HKDF_INFO = 'crm-edge-router connector secrets v1';
/** 96-bit nonce, the size GCM is specified for (NIST SP 800-38D §8.2); random per encryption. */
const IV_BYTES = 12;

const encoder = new TextEncoder();

function encodeBase64(bytes: Uint8Array): string {
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

async function secretsKey(masterSecret: string): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey('raw', encoder.encode(masterSecret), 'HKDF', false, [
    'deriveKey',
  ]);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(32), info: encoder.encode(HKDF_INFO) },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

/** Encrypts a deployment's secrets for storage. */
export async function encryptSecrets(
  masterSecret: string,
  deployment: string,
  secrets: Record<string, string>,
): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: encoder.encode(deployment) },
    await secretsKey(masterSecret),
    encoder.encode(JSON.stringify(secrets)),
  );
  return `${FORMAT}.${encodeBase64(iv)}.${encodeBase64(new Uint8Array(sealed))}`;
}

/** Decrypts what {@link encryptSecrets} stored; throws when the value was altered or moved. */
export async function decryptSecrets(
  masterSecret: string,
  deployment: string,
  stored: string | null | undefined,
): Promise<Record<string, string>> {
  if (!stored) return {};
  const [format, iv, sealed] = stored.split('.');
  if (format !== FORMAT || !iv || !sealed) throw new Error('connector secrets: unknown storage format');
  const plain = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: decodeBase64(iv), additionalData: encoder.encode(deployment) },
    await secretsKey(masterSecret),
    decodeBase64(sealed),
  );
  return JSON.parse(new TextDecoder().decode(plain)) as Record<string, string>;
}
