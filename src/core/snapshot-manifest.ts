// A region's routing snapshot as a small manifest and content-addressed parts (issue 21;
// docs/decisions.md, "Snapshots by content hash"). The manifest carries what every message needs
// (version, settings, routes, forwarding addresses, relay tokens) and, per deployment, the names of
// its parts: its JSON section (token format, limits, suppressions, Thread-Index and smart-match
// hashes), its outbound filter and each shard of its record filter. A part's name is the SHA-256
// of its bytes, so a part never changes under its name: an edge fetches only the names it does not
// hold, and a one-record change costs the changed shard and the manifest. Loading parts by name
// and checking them against it makes any set of held parts, from any earlier version, converge to
// exactly the snapshot a fresh full load gives.
import { validateFilterDelta } from './filter-delta.js';
import { sha256Hex } from './keyed-hash.js';
import {
  assembleShardedFilter,
  createLazyShardedFilter,
  type DeltaSource,
  filterDeltasOf,
  MAX_SHARD_BITS,
  shardsOf,
  tagMaskFlags,
  validateMembershipFilter,
  withFilterDeltas,
} from './membership-filter.js';
import {
  checkJsonDeployment,
  type DeploymentSnapshot,
  deltasOfSource,
  deploymentSnapshotOf,
  type JsonDeployment,
  jsonDeploymentOf,
  type RoutingSnapshot,
  readSnapshotHeader,
} from './snapshot.js';

/**
 * Format of the manifest's JSON; a reader refuses any other. Format 2 is format 1 with deltas
 * over the filters (`records.deltas`, `outboundDelta`; docs/decisions.md "Snapshots by change"),
 * written only when a deployment has some: a format-1 reader must not answer from stale bases.
 */
export const MANIFEST_FORMAT = 1;
export const MANIFEST_FORMAT_WITH_DELTAS = 2;
/**
 * Largest manifest a reader accepts. The manifest is fetched whole on every change; its size is
 * the routes and forwarding addresses (≈ 90 bytes each) plus 35 bytes per part name.
 */
export const MAX_MANIFEST_BYTES = 8 * 1024 * 1024;
/** Hex digits of a part name: 128 bits of SHA-256 (a collision would need 2^64 parts). */
const PART_NAME = /^[0-9a-f]{32}$/;

/** The parts of one deployment, by name. */
export interface ManifestDeployment {
  /** The deployment's JSON section ({@link JsonDeployment}) as UTF-8 JSON. */
  meta: string;
  /** The outbound Message-ID filter (its base: Message-IDs registered since are in `outboundDelta`). */
  outbound: string;
  /** The delta over the outbound filter, when it has one. */
  outboundDelta?: string;
  /**
   * The combined (tagged) record filter: `2^bits` shards, shard i holding keys with shardOf(hi) = i,
   * and by shard index the delta over a shard that changed since it was built.
   */
  records: { bits: number; keys: number; shards: string[]; deltas?: Record<string, string> };
}

export interface SnapshotManifest extends Omit<RoutingSnapshot, 'deployments'> {
  format: typeof MANIFEST_FORMAT | typeof MANIFEST_FORMAT_WITH_DELTAS;
  deployments: Record<string, ManifestDeployment>;
}

/** The name of a part: the first 32 hex digits of the SHA-256 of its bytes. */
export function partName(bytes: Uint8Array): string {
  return sha256Hex(bytes).slice(0, 32);
}

/** Whether `name` is a well-formed part name (routes and stores refuse anything else). */
export function isPartName(name: string): boolean {
  return PART_NAME.test(name);
}

function fail(problem: string): never {
  throw new Error(`corrupt snapshot manifest: ${problem}`);
}

function byId<T>(entries: Array<[string, T]>): Record<string, T> {
  return Object.fromEntries(entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

/** The bytes of a deployment's JSON section as a part. */
export function metaPart(meta: JsonDeployment): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(jsonDeploymentOf(meta)));
}

/**
 * Splits a whole snapshot into its manifest and parts (name → bytes; views of the snapshot's
 * buffers, not copies). The one implementation of the layout: central splits what it publishes
 * with it, the tests and the bench split what they build.
 */
export function splitSnapshot(s: RoutingSnapshot): {
  manifest: SnapshotManifest;
  parts: Map<string, Uint8Array>;
} {
  const parts = new Map<string, Uint8Array>();
  const add = (bytes: Uint8Array) => {
    const name = partName(bytes);
    parts.set(name, bytes);
    return name;
  };
  const deployments: Array<[string, ManifestDeployment]> = [];
  let withDeltas = false;
  for (const [id, d] of Object.entries(s.deployments)) {
    const records = shardsOf(d.records);
    const recordDeltas = deltasOfSource(filterDeltasOf(d.records));
    const outboundDelta = deltasOfSource(filterDeltasOf(d.outbound)).get(0);
    if (recordDeltas.size || outboundDelta) withDeltas = true;
    deployments.push([
      id,
      {
        meta: add(metaPart(d)),
        outbound: add(d.outbound),
        ...(outboundDelta ? { outboundDelta: add(outboundDelta) } : {}),
        records: {
          bits: records.bits,
          keys: records.keyCount,
          shards: records.shards.map(add),
          ...(recordDeltas.size
            ? { deltas: Object.fromEntries([...recordDeltas].map(([i, b]) => [String(i), add(b)])) }
            : {}),
        },
      },
    ]);
  }
  const { deployments: _, ...header } = s;
  const format = withDeltas ? MANIFEST_FORMAT_WITH_DELTAS : MANIFEST_FORMAT;
  return { manifest: { format, ...header, deployments: byId(deployments) }, parts };
}

/** Every part name a manifest refers to (each once). */
export function manifestParts(m: SnapshotManifest): string[] {
  const names = new Set<string>();
  for (const d of Object.values(m.deployments)) {
    names.add(d.meta);
    names.add(d.outbound);
    if (d.outboundDelta) names.add(d.outboundDelta);
    for (const s of d.records.shards) names.add(s);
    for (const s of Object.values(d.records.deltas ?? {})) names.add(s);
  }
  return [...names];
}

/** The parts every message of a deployment needs before classifying (record shards and their deltas are read on demand). */
export function eagerParts(m: SnapshotManifest): string[] {
  const names = new Set<string>();
  for (const d of Object.values(m.deployments)) {
    names.add(d.meta);
    names.add(d.outbound);
    if (d.outboundDelta) names.add(d.outboundDelta);
  }
  return [...names];
}

export function encodeManifest(m: SnapshotManifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(m));
}

/** Decodes and checks a manifest. Throws an Error naming the problem on a corrupt payload. */
export function decodeManifest(bytes: Uint8Array): SnapshotManifest {
  if (bytes.length > MAX_MANIFEST_BYTES) fail(`larger than ${MAX_MANIFEST_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch (e) {
    fail(`unreadable (${e instanceof Error ? e.message : String(e)})`);
  }
  if (parsed === null || typeof parsed !== 'object') fail('not an object');
  const { format } = parsed as { format?: unknown };
  if (format !== MANIFEST_FORMAT && format !== MANIFEST_FORMAT_WITH_DELTAS)
    fail(`unsupported format ${String(format)}`);
  const { order: _, deployments, ...header } = readSnapshotHeader({ ...parsed, order: [] });
  if (deployments === null || typeof deployments !== 'object' || Array.isArray(deployments))
    fail('deployments missing');
  const out: Array<[string, ManifestDeployment]> = [];
  for (const [id, v] of Object.entries(deployments)) {
    if (id === '__proto__') fail('deployment id "__proto__" is reserved');
    const d = v as Partial<ManifestDeployment> | null;
    const r = d?.records;
    if (
      !d ||
      typeof d.meta !== 'string' ||
      !PART_NAME.test(d.meta) ||
      typeof d.outbound !== 'string' ||
      !PART_NAME.test(d.outbound) ||
      !r ||
      !Number.isInteger(r.bits) ||
      r.bits < 0 ||
      r.bits > MAX_SHARD_BITS ||
      !Number.isInteger(r.keys) ||
      r.keys < 0 ||
      !Array.isArray(r.shards) ||
      r.shards.length !== 1 << r.bits ||
      !r.shards.every((s) => typeof s === 'string' && PART_NAME.test(s))
    )
      fail(`deployment "${id}" parts malformed`);
    const deltas = r.deltas;
    if (
      (deltas !== undefined || d.outboundDelta !== undefined) &&
      (format !== MANIFEST_FORMAT_WITH_DELTAS ||
        (d.outboundDelta !== undefined &&
          (typeof d.outboundDelta !== 'string' || !PART_NAME.test(d.outboundDelta))) ||
        (deltas !== undefined &&
          (deltas === null ||
            typeof deltas !== 'object' ||
            Array.isArray(deltas) ||
            !Object.entries(deltas).every(
              ([k, v]) =>
                /^\d+$/.test(k) && Number(k) < 1 << r.bits && typeof v === 'string' && PART_NAME.test(v),
            ))))
    )
      fail(`deployment "${id}" deltas malformed`);
    out.push([
      id,
      {
        meta: d.meta,
        outbound: d.outbound,
        ...(d.outboundDelta !== undefined ? { outboundDelta: d.outboundDelta } : {}),
        records: {
          bits: r.bits,
          keys: r.keys,
          shards: r.shards,
          ...(deltas !== undefined ? { deltas: { ...deltas } } : {}),
        },
      },
    ]);
  }
  return { format: format as SnapshotManifest['format'], ...header, deployments: byId(out) };
}

/** Checks that `bytes` are the part named `name`; throws otherwise (a truncated or altered copy). */
export function checkPart(name: string, bytes: Uint8Array): Uint8Array {
  if (partName(bytes) !== name) throw new Error(`snapshot part ${name}: content does not match its name`);
  return bytes;
}

/** A deployment's JSON section from its part, checked. */
export function decodeMetaPart(id: string, bytes: Uint8Array): JsonDeployment {
  let meta: JsonDeployment;
  try {
    meta = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch (e) {
    fail(`deployment "${id}" JSON section unreadable (${e instanceof Error ? e.message : String(e)})`);
  }
  if (meta === null || typeof meta !== 'object') fail(`deployment "${id}" JSON section is not an object`);
  checkJsonDeployment(id, meta);
  return jsonDeploymentOf(meta);
}

/** A delta source whose deltas are parts, checked the first time each is read. */
function deltaSource(
  id: string,
  bits: number,
  name: (i: number) => string,
  load: (name: string) => Uint8Array | undefined,
): DeltaSource {
  const checked = new WeakSet<Uint8Array>();
  return {
    bits,
    name,
    delta(i) {
      const n = name(i);
      const bytes = n ? load(n) : undefined;
      if (bytes && !checked.has(bytes)) {
        const problem = validateFilterDelta(bytes);
        if (problem) fail(`deployment "${id}" delta ${n}: ${problem}`);
        checked.add(bytes);
      }
      return bytes;
    },
  };
}

/**
 * The snapshot a manifest describes. `part(name)` gives the bytes of the deployments' JSON
 * sections and outbound filters (it must hold them all; checked here). Record filters:
 * - with `shard`, lazy: a lookup asks `shard(name)` for its one shard and throws
 *   ShardNotLoadedError when it is not held (the caller loads it and classifies again);
 * - without, assembled from `part(name)` of every shard: the fresh full load.
 */
export function snapshotFromManifest(
  m: SnapshotManifest,
  part: (name: string) => Uint8Array | undefined,
  shard?: (name: string) => Uint8Array | undefined,
): RoutingSnapshot {
  const need = (name: string) => {
    const bytes = part(name);
    if (!bytes) throw new Error(`snapshot part ${name} is not loaded`);
    return bytes;
  };
  const deployments: Record<string, DeploymentSnapshot> = {};
  for (const [id, d] of Object.entries(m.deployments)) {
    const meta = decodeMetaPart(id, need(d.meta));
    const outbound = need(d.outbound);
    const problem = validateMembershipFilter(outbound);
    if (problem) fail(`deployment "${id}" outbound: ${problem}`);
    const names = d.records.shards;
    const records = shard
      ? createLazyShardedFilter(
          { bits: d.records.bits, shard: (i) => shard(names[i] as string), name: (i) => names[i] as string },
          tagMaskFlags(3),
          d.records.keys,
        )
      : assembleShardedFilter(names.map(need), d.records.bits);
    const deltaNames = d.records.deltas ?? {};
    if (!shard) for (const n of Object.values(deltaNames)) need(n);
    if (Object.keys(deltaNames).length) {
      // Record deltas load with their shards: on demand in the lazy form, all of them otherwise.
      const load = shard ?? need;
      withFilterDeltas(
        records,
        deltaSource(id, d.records.bits, (i) => deltaNames[String(i)] ?? '', load),
      );
    }
    if (d.outboundDelta) {
      const name = d.outboundDelta;
      withFilterDeltas(
        outbound,
        deltaSource(id, 0, () => name, need),
      );
    }
    deployments[id] = deploymentSnapshotOf(meta, records, outbound);
  }
  const { format: _, deployments: __, ...header } = m;
  return { ...header, deployments };
}
