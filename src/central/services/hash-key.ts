import { bytesToHex } from '../../core/keyed-hash.js';
import type { Db } from '../../db/client.js';
import { ensureSetting } from '../../db/queries/settings.js';

let cached: string | undefined;

/**
 * The router-wide key for the keyed hashes in snapshots and receipts (addresses, Message-IDs).
 * Generated once at random and kept in D1; one key for all regions so that a Message-ID looked
 * up at central matches the receipts of every edge.
 */
export async function getHashKey(db: Db): Promise<string> {
  if (cached) return cached;
  const hex = bytesToHex(crypto.getRandomValues(new Uint8Array(16)));
  cached = await ensureSetting(db, 'hash_key', hex);
  return cached;
}
