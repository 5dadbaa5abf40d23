// The one suppression rule (design §2), used by the snapshot builder and the classifier at the
// edge and by manual promotion at central: an entry is an address (`a@x.com`) or a domain, written
// `@x.com` or bare `x.com`; a domain covers itself and every subdomain.
import { domainOf, normaliseAddress } from './keyed-hash.js';

export interface SuppressionKey {
  kind: 'address' | 'domain';
  /** Normalised address, or lower-case domain without `@`. */
  value: string;
}

/** Reads a stored suppression entry; undefined for an empty one. */
export function parseSuppressionEntry(entry: string): SuppressionKey | undefined {
  const e = entry.trim().toLowerCase();
  if (e === '' || e === '@') return undefined;
  if (e.startsWith('@')) return { kind: 'domain', value: e.slice(1) };
  if (!e.includes('@')) return { kind: 'domain', value: e };
  const address = normaliseAddress(e);
  return address === '' ? undefined : { kind: 'address', value: address };
}

/** The keys that suppress a sender: its address, then its domain and each parent domain. */
export function suppressionKeysFor(sender: string): SuppressionKey[] {
  const address = normaliseAddress(sender);
  if (address === '') return [];
  const keys: SuppressionKey[] = [{ kind: 'address', value: address }];
  const labels = domainOf(address).split('.');
  for (let i = 0; i < labels.length - 1; i++) keys.push({ kind: 'domain', value: labels.slice(i).join('.') });
  return keys;
}

/** The stored entry spellings that a key matches (`a@x.com`; `@x.com` and `x.com`). */
export function entrySpellings(key: SuppressionKey): string[] {
  return key.kind === 'address' ? [key.value] : [`@${key.value}`, key.value];
}

/** The rule itself: the first key of the sender (address, then domains) that the list holds. */
export function suppressingKey(
  sender: string,
  listed: (key: SuppressionKey) => boolean,
): SuppressionKey | undefined {
  for (const k of suppressionKeysFor(sender)) if (listed(k)) return k;
  return undefined;
}

/** The stored entry that suppresses a sender (central names it when it refuses a promotion). */
export function suppressingEntry(entries: Iterable<string>, sender: string): string | undefined {
  const byKey = new Map<string, string>();
  for (const entry of entries) {
    const k = parseSuppressionEntry(entry);
    if (k && !byKey.has(`${k.kind}:${k.value}`)) byKey.set(`${k.kind}:${k.value}`, entry);
  }
  const k = suppressingKey(sender, (x) => byKey.has(`${x.kind}:${x.value}`));
  return k ? byKey.get(`${k.kind}:${k.value}`) : undefined;
}
