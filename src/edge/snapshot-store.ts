// The region's routing snapshot at the edge, as a manifest and content-addressed parts (issue 21;
// docs/decisions.md, "Snapshots by content hash"). Three tiers:
//   - central: `GET /api/v1/edge/snapshot/manifest` (ETag / 304) and `/parts/{name}`;
//   - the region's R2 bucket (`RAW`, in the region's jurisdiction), under `snapshot/`: the region's
//     current manifest under one fixed key and its parts under their names, never overwritten.
//     Every isolate of the region reads it; the isolate that first sees a new manifest copies the
//     parts the region lacks from central, then the manifest (so a manifest in R2 always has its
//     parts there): each change crosses from central to a region once, not once per isolate;
//   - this isolate's memory: the manifest, every deployment's JSON section and outbound filter,
//     and a bounded LRU of record filter shards. Classification loads the shards a message needs
//     (classifyWithShards): a cold isolate classifies after the manifest and one shard per lookup,
//     not the whole snapshot, and its memory is bounded whatever the record count.
// The cron collects parts neither the region's current nor its previous manifest names
// (collectSnapshotGarbage; docs/decisions.md, "The region's snapshot copy is collected").
import { isVerifiedForwardingAddress } from '../core/forwarding-address.js';
import { keyedHash, normaliseAddress } from '../core/keyed-hash.js';
import { ShardNotLoadedError } from '../core/membership-filter.js';
import type { RoutingSnapshot } from '../core/snapshot.js';
import {
  checkPart,
  decodeManifest,
  eagerParts,
  manifestParts,
  type SnapshotManifest,
  snapshotFromManifest,
} from '../core/snapshot-manifest.js';
import { centralFetch } from './central-client.js';
import type { EdgeBindings, EdgeConfig } from './config.js';

/** Refresh at least this often (design: ≤ 60 s); the cron, notices and ingest answers refresh sooner. */
export const SNAPSHOT_MAX_AGE_MS = 30_000;
/**
 * Bytes of decoded record filter shards one isolate keeps (LRU). A shard holds ≤ 2^20 addresses
 * (central re-shards past twice its 2^19 target), ≈ 1.5 MB; 16 MiB keeps every shard a burst of
 * messages touches while staying far inside the 128 MB isolate limit at any record count.
 */
export const SHARD_CACHE_BYTES = 16 * 1024 * 1024;
/**
 * Shard loads one classification may wait for. A lookup needs one shard per (deployment, address)
 * it consults: the sender and each recipient (envelope.ts caps recipients) in the bound deployment.
 */
const MAX_SHARD_LOADS = 1024;
/** Where the region's copy lives in its R2 bucket. */
const R2_MANIFEST = 'snapshot/manifest';
const R2_PARTS = 'snapshot/parts/';
/** The manifest the current one replaced: its parts are kept for isolates still reading it. */
const R2_PREVIOUS_MANIFEST = 'snapshot/manifest.previous';
/** When the collection last ran and the part key its listing stopped after. */
const R2_GC_STATE = 'snapshot/gc-state';
/** The collection runs at most this often (from the every-minute cron). */
export const SNAPSHOT_GC_INTERVAL_MS = 10 * 60_000;
/** R2 list pages per collection run; the next run lists on after the last key this one saw. */
export const SNAPSHOT_GC_LIST_PAGES = 5;
/** Keys per R2 list page: R2's own maximum, and the most one R2 delete call takes. */
const SNAPSHOT_GC_PAGE_KEYS = 1000;
/**
 * A part younger than this is never collected: it may be one a refresh has copied for a manifest
 * it has not swapped in yet. A refresh runs inside one invocation, and a Cron Trigger invocation
 * runs for at most 15 minutes (Cloudflare Workers limits; a fetch's waitUntil, at most 30 s).
 */
export const SNAPSHOT_GC_MIN_PART_AGE_MS = 15 * 60_000;

interface Held {
  manifest: SnapshotManifest;
  snapshot: RoutingSnapshot;
  etag: string;
  checkedAt: number;
  /** The deployments' JSON sections and outbound filters, by name. */
  eager: Map<string, Uint8Array>;
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

/** Decoded record filter shards by name, least recently used first (Map keeps insertion order). */
const shardCache = new Map<string, Uint8Array>();
let shardCacheBytes = 0;
/** Shards loaded for the classification running now (synchronous): never evicted under it. */
let pinned: Map<string, Uint8Array> | undefined;

function cachedShard(name: string): Uint8Array | undefined {
  const pin = pinned?.get(name);
  if (pin) return pin;
  const bytes = shardCache.get(name);
  if (bytes) {
    shardCache.delete(name);
    shardCache.set(name, bytes);
  }
  return bytes;
}

function cacheShard(name: string, bytes: Uint8Array) {
  if (shardCache.has(name)) return;
  shardCache.set(name, bytes);
  shardCacheBytes += bytes.length;
  for (const [n, b] of shardCache) {
    if (shardCacheBytes <= SHARD_CACHE_BYTES) break;
    shardCache.delete(n);
    shardCacheBytes -= b.length;
  }
}

/** What this isolate holds of the snapshot, in bytes (the bench's and /health's memory figure). */
export function heldSnapshotBytes(): { shards: number; eager: number } {
  let eager = 0;
  for (const b of held?.eager.values() ?? []) eager += b.length;
  return { shards: shardCacheBytes, eager };
}

export function heldSnapshotVersion(): number | undefined {
  return held?.snapshot.version;
}

/** The version this edge classifies with, reading the region's copy after a restart. */
export async function snapshotVersion(env: EdgeBindings, cfg?: EdgeConfig): Promise<number | undefined> {
  if (!held && cfg) held = await loadFromRegion(env, cfg).catch(() => undefined);
  return held?.snapshot.version;
}

/** Test and bench hook: forget this isolate's memory (the region's R2 copy stays). */
export function forgetHeldSnapshot(): void {
  held = undefined;
  shardCache.clear();
  shardCacheBytes = 0;
}

/** A counted GET to central (every byte of it crosses the region boundary). */
async function centralGet(cfg: EdgeConfig, path: string, headers: Record<string, string> = {}) {
  // centralFetch counts the request and the answer as cross-region traffic of kind `snapshot`.
  const res = await centralFetch(cfg, path, 'snapshot', { headers });
  const body = res.status === 304 ? new Uint8Array() : new Uint8Array(await res.arrayBuffer());
  return { res, body };
}

/** A part from the region's R2 copy, else from central (then kept in R2 for the region). */
async function readPart(env: EdgeBindings, cfg: EdgeConfig, name: string): Promise<Uint8Array> {
  const stored = await env.RAW.get(R2_PARTS + name);
  if (stored) {
    const bytes = new Uint8Array(await stored.arrayBuffer());
    try {
      return checkPart(name, bytes);
    } catch (err) {
      console.error('snapshot part in R2 is corrupt; fetching it again', err);
    }
  }
  const { res, body } = await centralGet(
    cfg,
    `/api/v1/edge/snapshot/parts/${name}?region=${encodeURIComponent(cfg.region)}`,
  );
  if (!res.ok)
    throw new Error(
      `snapshot part ${name}: central answered ${res.status} (superseded: the manifest is refreshed)`,
    );
  checkPart(name, body);
  await env.RAW.put(R2_PARTS + name, body);
  return body;
}

/** Makes a manifest this isolate's snapshot: its eager parts loaded (carried over by name), shards lazy. */
async function adopt(
  env: EdgeBindings,
  cfg: EdgeConfig,
  manifest: SnapshotManifest,
  etag: string,
  checkedAt: number,
): Promise<Held> {
  const eager = new Map<string, Uint8Array>();
  for (const name of eagerParts(manifest))
    eager.set(name, held?.eager.get(name) ?? (await readPart(env, cfg, name)));
  const snapshot = snapshotFromManifest(manifest, (n) => eager.get(n), cachedShard);
  return { manifest, snapshot, etag, checkedAt, eager };
}

interface RegionCopy {
  manifest: SnapshotManifest;
  etag: string;
  checkedAt: number;
  /** The R2 object's own etag (for the conditional replace). */
  objectEtag: string;
  /** The etag of the manifest this one replaced ('' for the region's first). */
  previousEtag: string;
}

async function readRegionCopy(env: Pick<EdgeBindings, 'RAW'>): Promise<RegionCopy | undefined> {
  const obj = await env.RAW.get(R2_MANIFEST);
  if (!obj) return undefined;
  try {
    return {
      manifest: decodeManifest(new Uint8Array(await obj.arrayBuffer())),
      etag: obj.customMetadata?.etag ?? '',
      checkedAt: Number(obj.customMetadata?.checkedAt ?? 0),
      objectEtag: obj.etag,
      previousEtag: obj.customMetadata?.previousEtag ?? '',
    };
  } catch (err) {
    console.error("the region's snapshot manifest is corrupt; ignoring it", err);
    return undefined;
  }
}

async function loadFromRegion(env: EdgeBindings, cfg: EdgeConfig): Promise<Held | undefined> {
  const copy = await readRegionCopy(env);
  return copy ? adopt(env, cfg, copy.manifest, copy.etag, copy.checkedAt) : undefined;
}

/**
 * Brings this isolate (and the region's copy) to central's current manifest. The region's copy
 * answers first: when another isolate checked central less than SNAPSHOT_MAX_AGE_MS ago, or
 * already holds `atLeast`, nothing crosses to central. Otherwise central is asked with the newest
 * ETag the region holds; a new manifest's missing parts (those the region's previous manifest did
 * not name) are copied into R2, then the manifest. Returns undefined when central is unreachable:
 * the caller keeps the old copy.
 */
export async function refreshSnapshot(
  env: EdgeBindings,
  cfg: EdgeConfig,
  trigger: RefreshTrigger,
  atLeast?: number,
): Promise<RoutingSnapshot | undefined> {
  if (inflight && Date.now() - inflightSince < cfg.centralTimeoutMs + 5_000) return inflight;
  inflightSince = Date.now();
  inflight = (async () => {
    try {
      const now = Date.now();
      const copy = await readRegionCopy(env);
      const take = async (manifest: SnapshotManifest, etag: string, checkedAt: number) => {
        if (held?.etag === etag) {
          held = { ...held, checkedAt };
          return held.snapshot;
        }
        held = await adopt(env, cfg, manifest, etag, checkedAt);
        lastChange = { version: manifest.version, trigger, at: now };
        return held.snapshot;
      };
      if (
        copy &&
        (atLeast !== undefined
          ? copy.manifest.version >= atLeast
          : trigger !== 'new-address' && now - copy.checkedAt < SNAPSHOT_MAX_AGE_MS)
      )
        return take(copy.manifest, copy.etag, copy.checkedAt);
      const known = copy?.etag ?? held?.etag;
      const { res, body } = await centralGet(
        cfg,
        `/api/v1/edge/snapshot/manifest?region=${encodeURIComponent(cfg.region)}`,
        known ? { 'if-none-match': known } : {},
      );
      if (res.status === 304 && copy) {
        await putRegionManifest(env, copy, encodeManifestBytes(copy.manifest), copy.etag, now);
        return take(copy.manifest, copy.etag, now);
      }
      if (res.status === 304 && held) {
        held = { ...held, checkedAt: now };
        return held.snapshot;
      }
      if (!res.ok) {
        console.error(
          `snapshot manifest fetch: central answered ${res.status}: ${new TextDecoder().decode(body)}`,
        );
        return undefined;
      }
      const manifest = decodeManifest(body);
      const etag = res.headers.get('etag') ?? `"${manifest.etag}"`;
      // The region's copy has every part its manifest names; copy the others from central.
      const inRegion = new Set(copy ? manifestParts(copy.manifest) : []);
      for (const name of manifestParts(manifest)) if (!inRegion.has(name)) await readPart(env, cfg, name);
      if (!copy || manifest.version >= copy.manifest.version)
        await putRegionManifest(env, copy, body, etag, now);
      return take(manifest, etag, now);
    } catch (err) {
      console.error('snapshot refresh failed (central unreachable?)', err);
      return undefined;
    } finally {
      inflight = undefined;
    }
  })();
  return inflight;
}

function encodeManifestBytes(m: SnapshotManifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(m));
}

/**
 * Replaces the region's manifest only if it is still the one this isolate read (R2 conditional
 * put on its etag): of two isolates racing with a new version, one writes and the other's next
 * read takes it. A new version first keeps the manifest it replaces under R2_PREVIOUS_MANIFEST,
 * and the new one names that manifest's etag: the collection trusts the previous manifest only
 * when the two agree (a racing or failed swap leaves them apart, and nothing is collected).
 */
async function putRegionManifest(
  env: EdgeBindings,
  previous: RegionCopy | undefined,
  bytes: Uint8Array,
  etag: string,
  checkedAt: number,
) {
  const replaces = previous && previous.etag !== etag;
  if (replaces)
    await env.RAW.put(R2_PREVIOUS_MANIFEST, encodeManifestBytes(previous.manifest), {
      customMetadata: { etag: previous.etag },
    });
  const previousEtag = replaces ? previous.etag : (previous?.previousEtag ?? '');
  const written = await env.RAW.put(R2_MANIFEST, bytes, {
    customMetadata: { etag, checkedAt: String(checkedAt), previousEtag },
    ...(previous ? { onlyIf: { etagMatches: previous.objectEtag } } : {}),
  });
  if (!written) console.log('snapshot manifest: another isolate of the region wrote it first');
}

export interface SnapshotGcResult {
  /** False when the last run was less than SNAPSHOT_GC_INTERVAL_MS ago, or the copy is mid-swap. */
  ran: boolean;
  listed: number;
  deleted: number;
  /** True when the listing stopped at its page budget: the next run goes on after it. */
  more: boolean;
}

/**
 * Deletes the region's parts that neither its current manifest nor the previous one names, older
 * than SNAPSHOT_GC_MIN_PART_AGE_MS: without it the bucket grows by the changed parts of every
 * version. The previous manifest's parts stay for isolates that still classify with it (an
 * isolate takes a new manifest on its next refresh, within SNAPSHOT_MAX_AGE_MS). An isolate
 * holding an older one finds a part missing in R2, asks central (which keeps only the current
 * parts: 404) and fails that message temporarily until its refresh — never classifies without it.
 * Runs at most once per SNAPSHOT_GC_INTERVAL_MS and lists at most SNAPSHOT_GC_LIST_PAGES pages.
 */
export async function collectSnapshotGarbage(
  env: Pick<EdgeBindings, 'RAW'>,
  now: number,
  opts: { pages?: number; pageKeys?: number } = {},
): Promise<SnapshotGcResult> {
  const result: SnapshotGcResult = { ran: false, listed: 0, deleted: 0, more: false };
  const state = await readGcState(env.RAW);
  if (state && now - state.at < SNAPSHOT_GC_INTERVAL_MS) return result;
  const current = await readRegionCopy(env);
  if (!current) return result;
  const keep = new Set(manifestParts(current.manifest));
  if (current.previousEtag) {
    const obj = await env.RAW.get(R2_PREVIOUS_MANIFEST);
    if (obj?.customMetadata?.etag !== current.previousEtag) return result;
    for (const name of manifestParts(decodeManifest(new Uint8Array(await obj.arrayBuffer())))) keep.add(name);
  }
  result.ran = true;
  let startAfter = state?.startAfter;
  for (let pages = opts.pages ?? SNAPSHOT_GC_LIST_PAGES; ; ) {
    if (pages-- <= 0) {
      result.more = true;
      break;
    }
    const page = await env.RAW.list({
      prefix: R2_PARTS,
      limit: opts.pageKeys ?? SNAPSHOT_GC_PAGE_KEYS,
      ...(startAfter ? { startAfter } : {}),
    });
    result.listed += page.objects.length;
    const garbage = page.objects
      .filter(
        (o) =>
          !keep.has(o.key.slice(R2_PARTS.length)) &&
          now - o.uploaded.getTime() >= SNAPSHOT_GC_MIN_PART_AGE_MS,
      )
      .map((o) => o.key);
    if (garbage.length) await env.RAW.delete(garbage);
    result.deleted += garbage.length;
    startAfter = page.objects.at(-1)?.key;
    if (!page.truncated) {
      startAfter = undefined;
      break;
    }
  }
  await env.RAW.put(R2_GC_STATE, JSON.stringify({ at: now, ...(startAfter ? { startAfter } : {}) }));
  return result;
}

async function readGcState(bucket: R2Bucket): Promise<{ at: number; startAfter?: string } | undefined> {
  const obj = await bucket.get(R2_GC_STATE);
  if (!obj) return undefined;
  try {
    const v = JSON.parse(await obj.text()) as { at?: unknown; startAfter?: unknown };
    if (typeof v.at !== 'number') return undefined;
    return { at: v.at, ...(typeof v.startAfter === 'string' ? { startAfter: v.startAfter } : {}) };
  } catch {
    return undefined;
  }
}

/**
 * The snapshot to classify with: memory, else the region's copy, else central. Refreshes in the
 * background when stale. Throws only when no snapshot exists at all (the message is then refused
 * temporarily and the sending server retries). Its record filters are lazy: classify through
 * {@link classifyWithShards}.
 */
export async function currentSnapshot(
  env: EdgeBindings,
  cfg: EdgeConfig,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<RoutingSnapshot> {
  if (!held)
    held = await loadFromRegion(env, cfg).catch((err) => {
      console.error("the region's snapshot copy could not be read", err);
      return undefined;
    });
  if (!held) {
    const fetched = await refreshSnapshot(env, cfg, 'first-use');
    if (!fetched) throw new Error(`edge ${cfg.region}: no routing snapshot yet and central is unreachable`);
    return fetched;
  }
  if (Date.now() - held.checkedAt > SNAPSHOT_MAX_AGE_MS) waitUntil(refreshSnapshot(env, cfg, 'max-age'));
  return held.snapshot;
}

/**
 * Runs a (synchronous) classification, loading each record filter shard it asks for and running it
 * again, until it needs none it lacks. A shard that cannot be loaded throws (temporary failure:
 * the sender retries), never "not a record" (design §2: no false negatives).
 */
export async function classifyWithShards<T>(env: EdgeBindings, cfg: EdgeConfig, run: () => T): Promise<T> {
  const pins = new Map<string, Uint8Array>();
  for (;;) {
    pinned = pins;
    let missing: string;
    try {
      return run();
    } catch (err) {
      if (!(err instanceof ShardNotLoadedError)) throw err;
      missing = err.shard;
    } finally {
      pinned = undefined;
    }
    if (pins.has(missing) || pins.size >= MAX_SHARD_LOADS)
      throw new Error(
        `edge ${cfg.region}: record filter shard ${missing} asked for again; temporary failure`,
      );
    const bytes = shardCache.get(missing) ?? (await readPart(env, cfg, missing));
    cacheShard(missing, bytes);
    pins.set(missing, bytes);
  }
}

/** Called with the version central reports in each ingest answer (and in a notice). */
export function noteCentralVersion(
  env: EdgeBindings,
  cfg: EdgeConfig,
  version: number,
  trigger: RefreshTrigger = 'ingest-answer',
): Promise<unknown> | undefined {
  if (held && version > held.snapshot.version) return refreshSnapshot(env, cfg, trigger, version);
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
