import { isVerifiedForwardingAddress } from '../core/forwarding-address.js';
import { keyedHash, normaliseAddress } from '../core/keyed-hash.js';
import { decodeSnapshot, type RoutingSnapshot } from '../core/snapshot.js';
import { centralFetch } from './central-client.js';
import type { EdgeBindings, EdgeConfig } from './config.js';

/** Refresh at least this often (design: ≤ 60 s); the cron and the ingest answers refresh sooner. */
export const SNAPSHOT_MAX_AGE_MS = 30_000;
const KV_KEY = 'snapshot:current';

interface Held {
  snapshot: RoutingSnapshot;
  etag: string;
  checkedAt: number;
}

let held: Held | undefined;

/** What made this edge fetch a snapshot: shown on /health with the last change it took. */
export type RefreshTrigger = 'first-use' | 'max-age' | 'ingest-answer' | 'cron' | 'notice' | 'new-address';
let lastChange: { version: number; trigger: RefreshTrigger; at: number } | undefined;

/** The last new snapshot this isolate took: its version, what fetched it, and when. */
export function lastSnapshotChange() {
  return lastChange;
}
let inflight: Promise<RoutingSnapshot | undefined> | undefined;
/**
 * When `inflight` started. A promise belongs to the request that created it: if that request's
 * context ends first (a waitUntil cut short), the promise never settles, so it is shared only
 * while young enough to still be running (the fetch itself times out after centralTimeoutMs).
 */
let inflightSince = 0;

export function heldSnapshotVersion(): number | undefined {
  return held?.snapshot.version;
}

/** The version this edge classifies with, reading the last good copy from KV after a restart. */
export async function snapshotVersion(env: EdgeBindings): Promise<number | undefined> {
  if (!held) held = await loadFromKv(env);
  return held?.snapshot.version;
}

/** Test hook: forget the in-memory copy (KV keeps the last good one). */
export function forgetHeldSnapshot(): void {
  held = undefined;
}

async function loadFromKv(env: EdgeBindings): Promise<Held | undefined> {
  const { value, metadata } = await env.SNAPSHOTS.getWithMetadata<{ etag: string; checkedAt: number }>(
    KV_KEY,
    {
      type: 'arrayBuffer',
    },
  );
  if (!value || !metadata) return undefined;
  try {
    return {
      snapshot: decodeSnapshot(new Uint8Array(value)),
      etag: metadata.etag,
      checkedAt: metadata.checkedAt,
    };
  } catch (err) {
    console.error('stored snapshot is corrupt; ignoring it', err);
    return undefined;
  }
}

/**
 * Fetches the region's snapshot from central (`If-None-Match`), keeps it in memory and as the last
 * good copy in KV. Returns undefined when central is unreachable: the caller keeps the old copy.
 */
export async function refreshSnapshot(
  env: EdgeBindings,
  cfg: EdgeConfig,
  trigger: RefreshTrigger,
): Promise<RoutingSnapshot | undefined> {
  if (inflight && Date.now() - inflightSince < cfg.centralTimeoutMs + 5_000) return inflight;
  inflightSince = Date.now();
  inflight = (async () => {
    try {
      const res = await centralFetch(
        cfg,
        `/api/v1/edge/snapshot?region=${encodeURIComponent(cfg.region)}`,
        'snapshot',
        {
          headers: held ? { 'if-none-match': held.etag } : {},
        },
      );
      const now = Date.now();
      if (res.status === 304 && held) {
        held = { ...held, checkedAt: now };
        return held.snapshot;
      }
      if (!res.ok) {
        console.error(`snapshot fetch: central answered ${res.status}: ${await res.text()}`);
        return undefined;
      }
      const bytes = new Uint8Array(await res.arrayBuffer());
      const snapshot = decodeSnapshot(bytes);
      const etag = res.headers.get('etag') ?? `"${snapshot.etag}"`;
      held = { snapshot, etag, checkedAt: now };
      lastChange = { version: snapshot.version, trigger, at: now };
      await env.SNAPSHOTS.put(KV_KEY, bytes, { metadata: { etag, checkedAt: now } });
      return snapshot;
    } catch (err) {
      console.error('snapshot fetch failed (central unreachable?)', err);
      return undefined;
    } finally {
      inflight = undefined;
    }
  })();
  return inflight;
}

/**
 * The snapshot to classify with: memory, else the last good copy in KV, else a fetch. Refreshes in
 * the background when stale. Throws only when no snapshot exists at all (the message is then
 * refused temporarily and the sending server retries).
 */
export async function currentSnapshot(
  env: EdgeBindings,
  cfg: EdgeConfig,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<RoutingSnapshot> {
  if (!held) held = await loadFromKv(env);
  if (!held) {
    const fetched = await refreshSnapshot(env, cfg, 'first-use');
    if (!fetched) throw new Error(`edge ${cfg.region}: no routing snapshot yet and central is unreachable`);
    return fetched;
  }
  if (Date.now() - held.checkedAt > SNAPSHOT_MAX_AGE_MS) waitUntil(refreshSnapshot(env, cfg, 'max-age'));
  return held.snapshot;
}

/** Called with the version central reports in each ingest answer. */
export function noteCentralVersion(
  env: EdgeBindings,
  cfg: EdgeConfig,
  version: number,
): Promise<unknown> | undefined {
  if (held && version > held.snapshot.version) return refreshSnapshot(env, cfg, 'ingest-answer');
  return undefined;
}

/**
 * Whether an envelope recipient the snapshot does not bind may be a forwarding address central
 * issued after the snapshot was built (issue 19, item 11): it verifies against this region's
 * signing key (src/core/forwarding-address.ts) and the snapshot has no entry for it at all. A
 * rotated-out address keeps its entry (with its expiry) and is refused for good.
 */
export async function mayBeNewForwardingAddress(
  snapshot: RoutingSnapshot,
  cfg: Pick<EdgeConfig, 'signingKey' | 'region'>,
  envelopeTo: string | undefined,
): Promise<boolean> {
  const address = normaliseAddress(envelopeTo ?? '');
  if (address === '') return false;
  if (Object.hasOwn(snapshot.forwarding ?? {}, keyedHash(snapshot.hashKey, address))) return false;
  return isVerifiedForwardingAddress(cfg.signingKey, cfg.region, address);
}
