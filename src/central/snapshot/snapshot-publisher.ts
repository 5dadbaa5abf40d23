// Snapshot publishing in bounded memory (issue 13). Each deployment's part — record filter shards,
// outbound filter, suppressions and settings — is built once per change of that deployment and
// kept in R2 (`SNAPSHOTS`); a region's snapshot is an assembly of the parts of the deployments
// routed there, also kept in R2 and served from there. Records are read from D1 in pages of a hash
// range (their keyed hash is stored at write) straight into typed arrays; a change rebuilds only
// the filter shards whose hash buckets it touched. Rebuilds are debounced: a changed part is
// rebuilt once its changes have been quiet for `SNAPSHOT_QUIET_MS`, or during a continuous import
// at most once per `SNAPSHOT_MAX_STALE_MS`; until then edges keep getting the previous snapshot.
import { encodeBase64 } from '../../core/base64.js';
import {
  type DeltaEntries,
  encodeFilterDelta,
  filterDeltaEntries,
  planShard,
} from '../../core/filter-delta.js';
import { bytesToHex, keyedHash, normaliseAddress } from '../../core/keyed-hash.js';
import {
  buildTaggedMembershipFilterTyped,
  FilterScratch,
  SHARD_TARGET_KEYS,
  ShardedFilterWriter,
  shardBitsFor,
} from '../../core/membership-filter.js';
import { RELAY_SCOPE_PREFIX, relayTokenKey } from '../../core/relay-token.js';
import { deriveEdgeCredentials } from '../../core/request-signature.js';
import {
  decodeSnapshot,
  deploymentSnapshotOf,
  hashForwarding,
  hashSuppressions,
  type JsonDeployment,
  type JsonDeploymentSection,
  layoutAssembledSnapshot,
  type MailboxRoute,
  OutboundAccumulator,
  type PartLayout,
  type RelayTokenTarget,
  type RoutingSnapshot,
} from '../../core/snapshot.js';
import { encodeManifest, isPartName, splitSnapshot } from '../../core/snapshot-manifest.js';
import type { AttachmentPolicy, EgressPolicy, FilterMode } from '../../core/types.js';
import type { Db } from '../../db/client.js';
import { findDeployment } from '../../db/queries/deployments.js';
import { deploymentsRoutedIn, mailboxesInRegion, regionsOfDeployment } from '../../db/queries/mailboxes.js';
import { findRegion } from '../../db/queries/regions.js';
import {
  bumpSnapshotVersions,
  countRecordAddresses,
  dirtyBuckets,
  ensurePartRow,
  type OutboundCursor,
  outboundPage,
  partRowsOf,
  recordPartBuilt,
  recordPublished,
  regionConfigVersion,
  releasePartLease,
  shardKeyReader,
  storeRecordHashes,
  suppressionEntries,
  takePartLease,
  unhashedRecordAddresses,
} from '../../db/queries/snapshot-build.js';
import { addressHash, BUCKET_BITS } from '../../db/queries/snapshot-parts.js';
import { listActiveTokensByScopePrefix } from '../../db/queries/tokens.js';
import type { SnapshotShardEntry } from '../../db/schema.js';
import type { CentralBindings } from '../context.js';
import { ApiError } from '../http/errors.js';
import { type ForwardingKeys, forwardingKeys, snapshotForwarding } from '../services/forwarding.js';
import { getHashKey } from '../services/hash-key.js';
import { type SnapshotTuning, snapshotTuning } from './tuning.js';

/** Outbound messages per deployment the snapshot carries, newest first (the newest are what replies answer). */
export const OUTBOUND_WINDOW = 200_000;
/** Rows per D1 page when reading records or outbound mail. */
const PAGE_ROWS = 50_000;
/** A builder's lease; another isolate takes over a part whose builder vanished after this. */
const LEASE_MS = 5 * 60_000;

export { type SnapshotTuning, snapshotTuning } from './tuning.js';

export interface PublishedSnapshot {
  region: string;
  version: number;
  etag: string;
  key: string;
  bytes: number;
}

export interface PublisherContext {
  db: Db;
  bucket: R2Bucket;
  tuning: SnapshotTuning;
  /** Derives the forwarding addresses every region snapshot carries (design §4). */
  forwarding: ForwardingKeys;
  now?: () => number;
  /** Keys per filter shard (tests use small shards to exercise re-sharding and partial builds). */
  shardTargetKeys?: number;
  /**
   * Whether publishing rebuilds dirty parts (default) or only builds parts never built yet and
   * assembles. With the snapshot push on, an edge's poll does not rebuild: the kicks' consumer
   * does, off the request path, and the edge hears of the result by its notice (snapshot-kicks.ts).
   */
  buildParts?: boolean;
}

export function publisherContext(
  env: CentralBindings,
  db: Db,
  opts: { buildParts?: boolean } = {},
): PublisherContext {
  return {
    db,
    bucket: env.SNAPSHOTS,
    tuning: snapshotTuning(env),
    forwarding: forwardingKeys(env),
    ...(opts.buildParts === false ? { buildParts: false } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Write side: what changed.

// ---------------------------------------------------------------------------------------------
// Building a deployment's part.

interface PartRow {
  deployment: string;
  dataVersion: number;
  builtVersion: number;
  changedAt: number;
  builtAt: number;
  shardBits: number;
  shards: SnapshotShardEntry[] | null;
  partKey: string | null;
  partHash: string | null;
}

/** Whether the debounce lets a dirty part be rebuilt now. */
export function mayRebuild(
  p: Pick<PartRow, 'dataVersion' | 'builtVersion' | 'changedAt' | 'builtAt' | 'partKey'>,
  now: number,
  t: SnapshotTuning,
): boolean {
  if (p.builtVersion >= p.dataVersion && p.partKey) return false;
  if (!p.partKey) return true;
  return now - p.changedAt >= t.quietMs || now - p.builtAt >= t.maxStaleMs;
}

/** Growable pair of typed arrays for keys and tags. */
class KeyBuffer {
  hi: Uint32Array;
  lo: Uint32Array;
  tags: Uint8Array;
  n = 0;
  constructor(capacity: number) {
    const c = Math.max(1024, capacity);
    this.hi = new Uint32Array(c);
    this.lo = new Uint32Array(c);
    this.tags = new Uint8Array(c);
  }
  /** Empties the buffer for the next shard, keeping (and growing to) `capacity`. */
  reset(capacity: number) {
    this.n = 0;
    if (this.hi.length < capacity) {
      this.hi = new Uint32Array(capacity);
      this.lo = new Uint32Array(capacity);
      this.tags = new Uint8Array(capacity);
    }
  }
  push(hi: number, lo: number, tag: number) {
    if (this.n === this.hi.length) {
      const c = this.n * 2;
      const h = new Uint32Array(c);
      const l = new Uint32Array(c);
      const t = new Uint8Array(c);
      h.set(this.hi);
      l.set(this.lo);
      t.set(this.tags);
      this.hi = h;
      this.lo = l;
      this.tags = t;
    }
    this.hi[this.n] = hi;
    this.lo[this.n] = lo;
    this.tags[this.n] = tag;
    this.n++;
  }
}

const SHARD_SPAN = (bits: number) => 2 ** (32 - bits);

/** Hashes record_emails rows written before hashes were stored (bounded batches). */
async function backfillHashes(db: Db, deployment: string, hashKey: string): Promise<number> {
  let done = 0;
  for (;;) {
    const results = await unhashedRecordAddresses(db, deployment, 2000);
    if (!results.length) return done;
    const rows = results.map((x) => {
      const h = addressHash(hashKey, x.address);
      return { r: x.r, hi: h.hi, lo: h.lo };
    });
    await storeRecordHashes(db, rows);
    done += rows.length;
  }
}

/** The unsigned 32-bit value of the 8 lower-case hex digits of `s` at `o` (no substring per key). */
function hexWord(s: string, o: number): number {
  let v = 0;
  for (let i = o; i < o + 8; i++) {
    const c = s.charCodeAt(i);
    v = v * 16 + (c <= 57 ? c - 48 : c - 87);
  }
  return v;
}

/** What a part's shard builds reuse: the key buffer and the filter's working arrays (one set per part). */
interface ShardWork {
  keys: KeyBuffer;
  scratch: FilterScratch;
}

/**
 * Reads one shard's members from D1 into `work.keys` in pages of at most PAGE_ROWS distinct
 * addresses (keyset over the covering hash index, so sorted by key; the tags of an address held
 * by several records are OR-ed).
 */
async function readShardKeys(
  db: Db,
  deployment: string,
  bits: number,
  shard: number,
  expected: number,
  work: ShardWork,
) {
  const span = SHARD_SPAN(bits);
  const start = shard * span;
  const end = start + span;
  const keys = work.keys;
  keys.reset(Math.ceil(expected * 1.05));
  const readPage = shardKeyReader(db, deployment, PAGE_ROWS);
  let lastHi = start - 1;
  let lastLo = 0xffffffff;
  // Phase times for the build's log line. The clock of a Worker advances only across I/O, so each
  // CPU phase ends with a yield to the event loop before it is read.
  let d1Ms = 0;
  let parseMs = 0;
  let pages = 0;
  for (;;) {
    const t0 = Date.now();
    const text = await readPage(lastHi, lastLo, end);
    const t1 = Date.now();
    let n = 0;
    for (let o = 0; o + 17 <= text.length; o += 17, n++) {
      const hi = hexWord(text, o);
      const lo = hexWord(text, o + 8);
      const tag = text.charCodeAt(o + 16) - 48;
      if (tag) keys.push(hi, lo, tag);
      lastHi = hi;
      lastLo = lo;
    }
    // Back to the event loop once per page: local D1 and R2 answer in-process, so without this
    // workerd never polls for outside events and the isolate serves nothing else (no request, not
    // even its inspector) until the whole build is done (bench/README.md, "Isolate memory").
    await new Promise((r) => setTimeout(r, 0));
    d1Ms += t1 - t0;
    parseMs += Date.now() - t1;
    pages++;
    if (n < PAGE_ROWS) break;
  }
  return { rows: keys.n, pages, d1Ms, parseMs };
}

/** The members read into `work.keys`, as delta entries (views). */
function membersOf(work: ShardWork): DeltaEntries {
  const k = work.keys;
  return { hi: k.hi.subarray(0, k.n), lo: k.lo.subarray(0, k.n), tags: k.tags.subarray(0, k.n) };
}

/** Builds the filter of the members read into `work.keys`. */
async function buildShardFilter(work: ShardWork) {
  const t2 = Date.now();
  const m = membersOf(work);
  const filter = buildTaggedMembershipFilterTyped(m.hi, m.lo, m.tags, work.scratch);
  await new Promise((r) => setTimeout(r, 0));
  return { filter, filterMs: Date.now() - t2 };
}

/** The members of a base kept in R2 (encoded as a delta from nothing), or undefined when gone. */
async function readMembers(bucket: R2Bucket, key: string): Promise<DeltaEntries | undefined> {
  const obj = await bucket.get(key);
  return obj ? filterDeltaEntries(new Uint8Array(await obj.arrayBuffer())) : undefined;
}

/** R2 key of a deployment's outbound base: u32 filter length, the base filter, its members. */
const outboundBaseKey = (deployment: string) => `parts/${deployment}/outbound-base`;

/**
 * The outbound filter a part carries: the deployment's outbound base and the delta from it to
 * the Message-IDs registered now, or a new base when {@link planShard} says so (the one rule, as
 * for record shards). The base lives under one key per deployment: a built part holds a copy of
 * the base filter it was built with, so replacing the base never changes a published part.
 */
async function outboundWithDelta(
  bucket: R2Bucket,
  deployment: string,
  now: DeltaEntries,
  filterNow: Uint8Array,
): Promise<{ filter: Uint8Array; delta?: Uint8Array }> {
  const key = outboundBaseKey(deployment);
  const obj = await bucket.get(key);
  if (obj) {
    const bytes = new Uint8Array(await obj.arrayBuffer());
    const length = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
    const base = bytes.subarray(4, 4 + length);
    const plan = planShard(filterDeltaEntries(bytes.subarray(4 + length)), now, base.length);
    if (!plan.rebase) return { filter: base, ...(plan.delta ? { delta: plan.delta } : {}) };
  }
  const members = encodeFilterDelta(now);
  const out = new Uint8Array(4 + filterNow.length + members.length);
  new DataView(out.buffer).setUint32(0, filterNow.length, true);
  out.set(filterNow, 4);
  out.set(members, 4 + filterNow.length);
  await bucket.put(key, out);
  return { filter: filterNow };
}

async function sha256(bytes: Uint8Array): Promise<string> {
  return bytesToHex(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

/**
 * Encodes a part (u32 JSON length, JSON, u32 record filter length, sharded record filter, u32
 * outbound filter length, outbound filter) whose record filter is assembled from the base shards
 * kept in R2, straight into the part's buffer. The JSON carries the deltas over the changed shards
 * and over the outbound filter (docs/decisions.md "Snapshots by change").
 */
async function encodePartFromShards(
  bucket: R2Bucket,
  meta: JsonDeployment,
  shards: SnapshotShardEntry[],
  bits: number,
  outbound: { filter: Uint8Array; delta?: Uint8Array },
): Promise<Uint8Array> {
  const sizes: number[] = [];
  for (const s of shards) {
    if (s.bytes !== undefined) {
      sizes.push(s.bytes);
      continue;
    }
    const head = await bucket.head(s.key);
    if (!head) throw new Error(`snapshot shard ${s.key} is missing from R2`);
    sizes.push(head.size);
  }
  const records: Record<string, string> = {};
  for (let i = 0; i < shards.length; i++) {
    const key = shards[i]?.delta;
    if (!key) continue;
    const obj = await bucket.get(key);
    if (!obj) throw new Error(`snapshot shard delta ${key} is missing from R2`);
    records[String(i)] = encodeBase64(new Uint8Array(await obj.arrayBuffer()));
  }
  const section: JsonDeploymentSection = {
    ...meta,
    ...(Object.keys(records).length || outbound.delta
      ? {
          deltas: {
            bits,
            records,
            ...(outbound.delta ? { outbound: encodeBase64(outbound.delta) } : {}),
          },
        }
      : {}),
  };
  const outboundFilter = outbound.filter;
  const writer = new ShardedFilterWriter(bits, sizes);
  const json = new TextEncoder().encode(JSON.stringify(section));
  const out = new Uint8Array(12 + json.length + writer.bytes + outboundFilter.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, json.length, true);
  out.set(json, 4);
  let o = 4 + json.length;
  v.setUint32(o, writer.bytes, true);
  for (let i = 0; i < shards.length; i++) {
    const obj = await bucket.get((shards[i] as { key: string }).key);
    if (!obj) throw new Error(`snapshot shard ${shards[i]?.key} is missing from R2`);
    writer.write(out, o + 4, i, new Uint8Array(await obj.arrayBuffer()));
    await new Promise((r) => setTimeout(r, 0)); // to the event loop, as in readShardKeys
  }
  writer.finish(out, o + 4);
  o += 4 + writer.bytes;
  v.setUint32(o, outboundFilter.length, true);
  out.set(outboundFilter, o + 4);
  return out;
}

/** A stored part by its layout: JSON section, and where its two filters sit in its R2 object. */
interface StoredPart extends PartLayout {
  key: string;
  recordsOffset: number;
  outboundOffset: number;
}

/** The layout of a stored part (u32 JSON length, JSON, u32 record filter length, record filter, u32 outbound length, outbound), read with three small range reads. */
async function storedPartLayout(bucket: R2Bucket, id: string, key: string): Promise<StoredPart | undefined> {
  const read = async (offset: number, length: number) => {
    const obj = await bucket.get(key, { range: { offset, length } });
    return obj ? new Uint8Array(await obj.arrayBuffer()) : undefined;
  };
  const u32 = (b: Uint8Array, o: number) =>
    new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(o, true);
  const head = await read(0, 4);
  if (!head || head.length < 4) return undefined;
  const jl = u32(head, 0);
  const json = await read(4, jl + 4);
  if (!json || json.length < jl + 4) return undefined;
  const meta = JSON.parse(new TextDecoder().decode(json.subarray(0, jl))) as JsonDeployment;
  const recordsLength = u32(json, jl);
  const recordsOffset = 4 + jl + 4;
  const tail = await read(recordsOffset + recordsLength, 4);
  if (!tail || tail.length < 4) return undefined;
  const outboundLength = u32(tail, 0);
  return {
    id,
    key,
    meta,
    recordsLength,
    outboundLength,
    recordsOffset,
    outboundOffset: recordsOffset + recordsLength + 4,
  };
}

/** Streams `dst.length` bytes of an R2 object from `offset` into `dst`; false when the object is gone. */
async function streamRange(bucket: R2Bucket, key: string, offset: number, dst: Uint8Array): Promise<boolean> {
  if (dst.length === 0) return true;
  const obj = await bucket.get(key, { range: { offset, length: dst.length } });
  if (!obj) return false;
  const reader = obj.body.getReader();
  let o = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (o + value.length > dst.length) throw new Error(`part ${key}: more bytes than its layout says`);
    dst.set(value, o);
    o += value.length;
  }
  if (o !== dst.length) throw new Error(`part ${key}: ${o} of ${dst.length} bytes at ${offset}`);
  return true;
}

/**
 * Everything of a deployment's part but its record filter, read fresh from D1: settings, the
 * hashed suppression list, and the outbound window (newest first) as filter, Thread-Index roots
 * and smart-match entries. The part builder adds the record filter; a promotion classifies with
 * it as it is (a promotion never consults the record filter).
 */
export async function deploymentSettings(
  db: Db,
  hashKey: string,
  dep: NonNullable<Awaited<ReturnType<typeof findDeployment>>>,
): Promise<{ meta: JsonDeployment; outbound: Uint8Array; outboundMembers: () => DeltaEntries }> {
  const deployment = dep.id;
  const supp = await suppressionEntries(db, deployment);
  const token = {
    prefix: dep.tokenPrefix,
    deploymentBase: dep.tokenBase,
    userDigits: dep.tokenUserDigits,
    counterDigits: dep.tokenCounterDigits,
  };
  const out = new OutboundAccumulator(hashKey, dep.smartMatch, token);
  // Newest first (keyset pages over created_at, message_id): past the window it is the oldest
  // registrations that stop correlating by In-Reply-To, never the replies people wait for.
  let after: OutboundCursor | undefined;
  let read = 0;
  while (read < OUTBOUND_WINDOW) {
    const page = await outboundPage(db, deployment, after, Math.min(5000, OUTBOUND_WINDOW - read));
    for (const o of page)
      out.add({
        messageId: o.messageId,
        threadIndex: o.threadIndex ?? undefined,
        subject: o.subject ?? undefined,
        to: o.to ?? undefined,
      });
    read += page.length;
    if (page.length < 5000) break;
    const last = page[page.length - 1]!;
    after = { createdAt: last.createdAt, messageId: last.messageId };
  }
  const meta: JsonDeployment = {
    token,
    maxMessageBytes: dep.maxMessageBytes,
    attachmentPolicy: dep.attachmentPolicy as AttachmentPolicy,
    smartMatch: dep.smartMatch,
    ...(dep.retentionDays ? { retentionDays: dep.retentionDays } : {}),
    ...hashSuppressions(hashKey, supp),
    threadIndexes: out.threadIndexes(),
    smart: out.smart(),
  };
  // The members (sorted keys) only for a part build's delta: a promotion never asks for them.
  return { meta, outbound: out.filter(), outboundMembers: () => out.members() };
}

/** The record filter of a promotion's view: empty, since a promotion bypasses the filter modes. */
const NO_RECORDS = buildTaggedMembershipFilterTyped(
  new Uint32Array(0),
  new Uint32Array(0),
  new Uint8Array(0),
);

/**
 * What a manual promotion classifies with (`classify(…, { promoted: true })`): the snapshot the
 * promoting mailbox's region carries for the deployment, narrowed to that one mailbox, built from
 * D1 at the time of the promotion by the part builder's own {@link deploymentSettings} (so a
 * suppression added a moment ago counts). The record filter stays empty: building it is the heavy
 * part of a snapshot and a promotion never consults it (docs/decisions.md).
 */
export async function promotionSnapshot(
  db: Db,
  dep: NonNullable<Awaited<ReturnType<typeof findDeployment>>>,
  mailbox: { address: string; userId: string; filter: string; region: string },
  region: { rulesEnabled: boolean; egress: string } | undefined,
  now: number,
): Promise<RoutingSnapshot> {
  const hashKey = await getHashKey(db);
  const { meta, outbound: outboundFilter } = await deploymentSettings(db, hashKey, dep);
  return {
    version: 0,
    etag: '',
    region: mailbox.region,
    builtAt: now,
    hashKey,
    rulesEnabled: region?.rulesEnabled ?? false,
    egress: (region?.egress ?? 'metadata+subject') as EgressPolicy,
    mailboxes: {
      [keyedHash(hashKey, normaliseAddress(mailbox.address))]: {
        deployment: dep.id,
        userId: mailbox.userId,
        filter: mailbox.filter as FilterMode,
      },
    },
    forwarding: {},
    deployments: { [dep.id]: deploymentSnapshotOf(meta, NO_RECORDS, outboundFilter) },
  };
}

export interface PartBuildStats {
  deployment: string;
  version: number;
  shardBits: number;
  rebuiltShards: number;
  records: number;
  bytes: number;
  ms: number;
}

/**
 * Builds a deployment's part if it is dirty, the debounce allows it and no other isolate holds the
 * lease. Returns what was built, or undefined when nothing was (current, debounced, or leased).
 */
export async function buildDeploymentPart(
  ctx: PublisherContext,
  deployment: string,
  opts: { force?: boolean } = {},
): Promise<PartBuildStats | undefined> {
  const { db, bucket } = ctx;
  const now = ctx.now?.() ?? Date.now();
  const current = (await ensurePartRow(db, deployment, now)) as PartRow;
  if (!opts.force && !mayRebuild(current, now, ctx.tuning)) return undefined;
  // A publish that does not build (an edge's poll with the push on) still builds a part that was
  // never built: a region's snapshot must not leave a deployment out until the first kick has run.
  if (ctx.buildParts === false && current.partKey) return undefined;
  const leased = await takePartLease(db, deployment, now + LEASE_MS, now);
  if (leased === undefined) return undefined;
  const started = Date.now();
  try {
    const version = leased;
    const hashKey = await getHashKey(db);
    const dep = await findDeployment(db, deployment);
    if (!dep) return undefined;

    // Which shards to rebuild: the dirty buckets' shards, or all of them (first build, unhashed
    // rows, or a deployment that outgrew its shard count).
    const dirty = await dirtyBuckets(db, deployment, version);
    const target = ctx.shardTargetKeys ?? SHARD_TARGET_KEYS;
    let bits = current.shardBits;
    let shards = current.shards ?? [];
    // Full rebuild (fresh shard count from an exact count) on the first build, with unhashed rows,
    // or when half the hash buckets changed (a bulk import: every shard is dirty anyway).
    let full =
      !current.shards ||
      shards.length !== 1 << bits ||
      dirty.some((bucket) => bucket < 0) ||
      dirty.length >= (1 << BUCKET_BITS) / 2;
    if (full) await backfillHashes(db, deployment, hashKey);
    const replaced: string[] = [];
    let records = 0;
    let rebuilt = 0;
    let rebased = 0;
    // Where the build's time goes (ms), logged once per build: cheap sums of Date.now() deltas.
    const phases = {
      prepare: Date.now() - started,
      d1Pages: 0,
      d1Ms: 0,
      parseMs: 0,
      filterMs: 0,
      r2PutMs: 0,
    };
    // One key buffer and one set of filter scratch for every shard of this build (freed with it).
    const work: ShardWork = { keys: new KeyBuffer(0), scratch: new FilterScratch() };
    for (let pass = 0; pass < 2; pass++) {
      if (full) {
        const n = await countRecordAddresses(db, deployment);
        bits = shardBitsFor(n, target);
        replaced.push(...shards.flatMap((x) => [x.key, x.members ?? '', x.delta ?? '']));
        shards = new Array(1 << bits)
          .fill(null)
          .map((): SnapshotShardEntry => ({ key: '', keys: Math.ceil(n / (1 << bits)) }));
      }
      const toBuild: number[] = full
        ? shards.map((_, i) => i)
        : [...new Set(dirty.map((bucket) => bucket >>> (BUCKET_BITS - bits)))].sort((a, b) => a - b);
      for (const s of toBuild) {
        const prev = full ? undefined : shards[s];
        const read = await readShardKeys(db, deployment, bits, s, prev?.keys ?? shards[s]?.keys ?? 0, work);
        phases.d1Pages += read.pages;
        phases.d1Ms += read.d1Ms;
        phases.parseMs += read.parseMs;
        // A shard that changed since its base ships a delta over it, unless a new base costs less
        // (planShard); a shard with no base members kept (built before deltas) gets a new base.
        const base = prev?.members && prev.bytes ? await readMembers(bucket, prev.members) : undefined;
        const plan =
          base && prev?.bytes ? planShard(base, membersOf(work), prev.bytes) : { rebase: true as const };
        const tPut = Date.now();
        if (plan.rebase) {
          const { filter, filterMs } = await buildShardFilter(work);
          phases.filterMs += filterMs;
          const key = `parts/${deployment}/shards/${bits}-${s}-${version}`;
          const members = `${key}.members`;
          await bucket.put(key, filter);
          await bucket.put(members, encodeFilterDelta(membersOf(work)));
          if (shards[s]) replaced.push(shards[s].key, shards[s].members ?? '', shards[s].delta ?? '');
          shards[s] = { key, keys: read.rows, bytes: filter.length, members };
          rebased++;
        } else if (prev) {
          const { delta: _old, ...kept } = prev;
          if (prev.delta) replaced.push(prev.delta);
          if (plan.delta) {
            const delta = `parts/${deployment}/deltas/${bits}-${s}-${version}`;
            await bucket.put(delta, plan.delta);
            shards[s] = { ...kept, keys: read.rows, delta };
          } else shards[s] = { ...kept, keys: read.rows };
        }
        phases.r2PutMs += Date.now() - tPut;
        rebuilt++;
      }
      records = shards.reduce((sum, x) => sum + x.keys, 0);
      // A shard that grew past twice its target: re-shard the deployment (bounded memory).
      if (full || !shards.some((x) => x.keys > 2 * target)) break;
      full = true;
    }

    const tSettings = Date.now();
    const settings = await deploymentSettings(db, hashKey, dep);
    const outbound = await outboundWithDelta(
      bucket,
      deployment,
      settings.outboundMembers(),
      settings.outbound,
    );
    const settingsMs = Date.now() - tSettings;
    // The part is written in one buffer of its final size: the record filter's shards are copied
    // into it from R2 one at a time (one shard and the part in memory, not every shard, an
    // assembled filter and a copy of it in the part).
    const tEncode = Date.now();
    const part = await encodePartFromShards(bucket, settings.meta, shards, bits, outbound);
    const encodeMs = Date.now() - tEncode;
    const partHash = (await sha256(part)).slice(0, 32);
    const hashMs = Date.now() - tEncode - encodeMs;
    const partKey = `parts/${deployment}/part-${version}-${partHash}`;
    const tPartPut = Date.now();
    await bucket.put(partKey, part);
    const partPutMs = Date.now() - tPartPut;
    const ms = Date.now() - started;
    console.log(
      `snapshot part built ${JSON.stringify({ deployment, version, ms, shards: rebuilt, rebased, outboundDelta: outbound.delta?.length ?? 0, records, bytes: part.length, ...phases, settingsMs, encodeMs, hashMs, partPutMs, scratchBytes: work.scratch.heldBytes })}`,
    );
    await recordPartBuilt(db, deployment, version, {
      builtAt: ctx.now?.() ?? Date.now(),
      shardBits: bits,
      shards,
      partKey,
      partHash,
      partBytes: part.length,
      buildMs: ms,
    });
    // Regions carrying the deployment reassemble with a newer version.
    const regionIds = await regionsOfDeployment(db, deployment);
    await bumpSnapshotVersions(db, regionIds);
    const stale = [...replaced];
    if (current.partKey && current.partKey !== partKey) stale.push(current.partKey);
    const keep = new Set(shards.flatMap((s) => [s.key, s.members ?? '', s.delta ?? '']));
    const drop = [...new Set(stale)].filter((k) => k && !keep.has(k));
    if (drop.length) await bucket.delete(drop);
    return {
      deployment,
      version,
      shardBits: bits,
      rebuiltShards: rebuilt,
      records,
      bytes: part.length,
      ms,
    };
  } catch (err) {
    await releasePartLease(db, deployment);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Assembling and serving a region's snapshot.

const inflight = new Map<string, Promise<PublishedSnapshot | undefined>>();
const mailboxCache = new Map<string, { version: number; map: Map<string, string> }>();

/**
 * keyed hash → mailbox address of a region's routes (to name the mailbox of a receipt), cached per
 * region config version. `version`: the region's version read already (ingest reads it with its
 * lookups), so a cached map costs no read at all.
 */
export async function regionMailboxesByHash(
  db: Db,
  regionId: string,
  known?: { version: number | undefined },
): Promise<Map<string, string>> {
  const version = known ? known.version : await regionConfigVersion(db, regionId);
  const hit = mailboxCache.get(regionId);
  if (hit && version !== undefined && hit.version === version) return hit.map;
  const hashKey = await getHashKey(db);
  const routed = await mailboxesInRegion(db, regionId);
  const map = new Map(routed.map((m) => [keyedHash(hashKey, m.address), m.address]));
  if (version !== undefined) mailboxCache.set(regionId, { version, map });
  return map;
}

/**
 * The region's current snapshot (its R2 key, ETag and version): rebuilds the parts the debounce
 * lets through, reassembles when the region's config version moved on, else answers from the row.
 */
export async function getRegionSnapshot(
  ctx: PublisherContext,
  regionId: string,
): Promise<PublishedSnapshot | undefined> {
  // A poll that does not build never waits on a publish that does (a 10 M-record build takes 15 s
  // alone and far longer next to an import): they are shared per region and per kind.
  const slot = `${regionId}:${ctx.buildParts === false ? 'assemble' : 'build'}`;
  const running = inflight.get(slot);
  if (running) return running;
  const p = publish(ctx, regionId).finally(() => inflight.delete(slot));
  inflight.set(slot, p);
  return p;
}

async function publish(ctx: PublisherContext, regionId: string): Promise<PublishedSnapshot | undefined> {
  const { db } = ctx;
  for (const deployment of await deploymentsRoutedIn(db, regionId))
    await buildDeploymentPart(ctx, deployment);
  const region = await findRegion(db, regionId);
  if (!region) return undefined;
  if (region.publishedKey && region.publishedEtag && region.publishedVersion === region.configVersion)
    return {
      region: regionId,
      version: region.publishedVersion,
      etag: region.publishedEtag,
      key: region.publishedKey,
      bytes: region.publishedBytes ?? 0,
    };
  return assemble(ctx, regionId, region.configVersion);
}

async function assemble(
  ctx: PublisherContext,
  regionId: string,
  version: number,
): Promise<PublishedSnapshot | undefined> {
  const { db, bucket } = ctx;
  const region = await findRegion(db, regionId);
  if (!region) return undefined;
  const hashKey = await getHashKey(db);
  const routes = await mailboxesInRegion(db, regionId);
  const depIds = [...new Set(routes.map((m) => m.deployment))].sort();
  const partRows = await partRowsOf(db, depIds);
  const mailboxEntries: Array<[string, MailboxRoute]> = [];
  const seen = new Set<string>();
  for (const m of routes) {
    const address = normaliseAddress(m.address);
    if (address === '') continue;
    const hash = keyedHash(hashKey, address);
    if (seen.has(hash)) continue;
    seen.add(hash);
    mailboxEntries.push([
      hash,
      { deployment: m.deployment, userId: m.userId, filter: m.filter as FilterMode },
    ]);
  }
  mailboxEntries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  // Each part by its JSON section and filter lengths (small range reads); the filters themselves
  // are streamed from R2 into the snapshot's buffer below, so the snapshot is the only copy held.
  const parts: StoredPart[] = [];
  const hashes: string[] = [];
  for (const id of depIds) {
    const row = partRows.find((p) => p.deployment === id);
    if (!row?.partKey) continue; // not built yet (leased by another isolate): its mailboxes answer no-route
    const part = await storedPartLayout(bucket, id, row.partKey);
    if (!part) continue;
    parts.push(part);
    hashes.push(`${id}:${row.partHash}`);
  }
  const header = {
    version,
    region: regionId,
    builtAt: Date.now(),
    hashKey,
    rulesEnabled: region.rulesEnabled,
    egress: region.egress as EgressPolicy,
    mailboxes: Object.fromEntries(mailboxEntries),
    // Every deployment's forwarding addresses for this region, hashed (rotated-out ones with expiry).
    forwarding: hashForwarding(hashKey, await snapshotForwarding(db, ctx.forwarding, regionId)),
    relayTokens: await snapshotRelayTokens(db, ctx.forwarding, regionId),
  };
  const etag = (
    await sha256(new TextEncoder().encode(JSON.stringify({ ...header, builtAt: 0, parts: hashes })))
  ).slice(0, 32);
  const layout = layoutAssembledSnapshot({ ...header, etag }, parts);
  for (const part of parts) {
    const recordsAt = layout.recordsAt(part.id);
    const outboundAt = layout.outboundAt(part.id);
    const read =
      (await streamRange(
        bucket,
        part.key,
        part.recordsOffset,
        layout.out.subarray(recordsAt, recordsAt + part.recordsLength),
      )) &&
      (await streamRange(
        bucket,
        part.key,
        part.outboundOffset,
        layout.out.subarray(outboundAt, outboundAt + part.outboundLength),
      ));
    // The part was replaced (and its object deleted) by a build since this assembly read its row.
    if (!read) throw new ApiError('unavailable', `the snapshot of ${regionId} is being rebuilt; retry`);
  }
  const bytes = layout.seal();
  const key = `regions/${regionId}/${version}-${etag}`;
  await bucket.put(key, bytes);
  const previous = region.publishedKey;
  await recordPublished(db, regionId, {
    publishedKey: key,
    publishedEtag: etag,
    publishedVersion: version,
    publishedBytes: bytes.length,
  });
  if (previous && previous !== key) await bucket.delete([previous, manifestKeyOf(previous)]);
  return { region: regionId, version, etag, key, bytes: bytes.length };
}

// ---------------------------------------------------------------------------------------------
// The published snapshot as a manifest and content-addressed parts (docs/decisions.md,
// "Snapshots by content hash"): what edges fetch, one changed part at a time.

/** The R2 key of a published snapshot's manifest (deleted with the snapshot). */
function manifestKeyOf(snapshotKey: string): string {
  return `${snapshotKey}.manifest`;
}

/** The R2 key of a region's part: per region, so that a region's superseded parts can be dropped alone. */
export function regionPartKey(region: string, name: string): string {
  return `regions/${region}/parts/${name}`;
}

const manifestsInflight = new Map<string, Promise<Uint8Array | undefined>>();

/**
 * The manifest of a published snapshot (encoded). Split once per published version from the
 * assembled snapshot by the one splitter (core/snapshot-manifest.ts): the parts it names are put
 * under the region's prefix first (those already there are kept: same name, same bytes), then the
 * manifest, so a manifest in R2 always has its parts there. Parts the previous manifest named and
 * this one does not are deleted; an edge still reading the previous one gets 404 for such a part
 * and fetches the manifest again.
 */
export async function readPublishedManifest(
  ctx: PublisherContext,
  s: PublishedSnapshot,
): Promise<Uint8Array | undefined> {
  const key = manifestKeyOf(s.key);
  const stored = await ctx.bucket.get(key);
  if (stored) return new Uint8Array(await stored.arrayBuffer());
  const running = manifestsInflight.get(key);
  if (running) return running;
  const p = splitPublished(ctx, s, key).finally(() => manifestsInflight.delete(key));
  manifestsInflight.set(key, p);
  return p;
}

async function splitPublished(
  ctx: PublisherContext,
  s: PublishedSnapshot,
  key: string,
): Promise<Uint8Array | undefined> {
  const { bucket } = ctx;
  const body = await readPublishedSnapshot(ctx, s);
  if (!body) return undefined;
  const { manifest, parts } = splitSnapshot(decodeSnapshot(new Uint8Array(await body.arrayBuffer())));
  const listed = await bucket.list({ prefix: `regions/${s.region}/parts/` });
  const held = new Set(listed.objects.map((o) => o.key));
  let cursor = listed.truncated ? listed.cursor : undefined;
  while (cursor) {
    const more = await bucket.list({ prefix: `regions/${s.region}/parts/`, cursor });
    for (const o of more.objects) held.add(o.key);
    cursor = more.truncated ? more.cursor : undefined;
  }
  for (const [name, bytes] of parts) {
    const partKey = regionPartKey(s.region, name);
    if (held.has(partKey)) continue;
    await bucket.put(partKey, bytes);
    await new Promise((r) => setTimeout(r, 0)); // to the event loop, as in readShardKeys
  }
  const encoded = encodeManifest(manifest);
  await bucket.put(key, encoded);
  const current = new Set(parts.keys());
  const superseded = [...held].filter((k) => !current.has(k.slice(k.lastIndexOf('/') + 1)));
  // R2 deletes at most 1,000 keys per call.
  for (let i = 0; i < superseded.length; i += 1000) await bucket.delete(superseded.slice(i, i + 1000));
  return encoded;
}

/** A part of the region's current manifest, or undefined (superseded, or never one of its parts). */
export async function readRegionPart(ctx: PublisherContext, region: string, name: string) {
  if (!isPartName(name)) return undefined;
  return (await ctx.bucket.get(regionPartKey(region, name))) ?? undefined;
}

/** The bytes of a published snapshot (reassembled if its object vanished). */
export async function readPublishedSnapshot(
  ctx: PublisherContext,
  s: PublishedSnapshot,
): Promise<R2ObjectBody | undefined> {
  const obj = await ctx.bucket.get(s.key);
  if (obj) return obj;
  const again = await assemble(ctx, s.region, s.version);
  return again ? ((await ctx.bucket.get(again.key)) ?? undefined) : undefined;
}

/**
 * The active relay tokens as a region's snapshot carries them (relay-token.ts): keyed by the HMAC,
 * under the region's signing key, of the SHA-256 central stores; nothing an edge could present.
 */
export async function snapshotRelayTokens(
  db: Db,
  keys: ForwardingKeys,
  region: string,
): Promise<Record<string, RelayTokenTarget>> {
  const rows = await listActiveTokensByScopePrefix(db, RELAY_SCOPE_PREFIX);
  if (rows.length === 0) return {};
  const { signingKey } = await deriveEdgeCredentials(keys.edgeKeySecret, region);
  const out: Record<string, RelayTokenTarget> = {};
  for (const row of rows)
    out[await relayTokenKey(signingKey, row.hash)] = {
      deployment: row.scope.slice(RELAY_SCOPE_PREFIX.length),
      id: row.id,
    };
  return out;
}
