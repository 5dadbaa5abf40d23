// A filter kept as base shards and deltas in memory, changed shard by shard under the one rule
// (filter-delta.ts, planShard): what the bench's day model and the property tests publish
// version after version. Central keeps the same state in R2 and D1 (each shard's base filter and
// base members, and its delta) and applies the same rule to each shard a change touched
// (src/central/snapshot/snapshot-publisher.ts).
import { type DeltaEntries, planShard, sortedMembers } from './filter-delta.js';
import { keyedHash64, normaliseAddress } from './keyed-hash.js';
import {
  assembleShardedFilter,
  buildMembershipFilterTyped,
  buildTaggedMembershipFilterTyped,
  shardOf,
  withFilterDeltas,
} from './membership-filter.js';
import {
  deploymentSnapshotOf,
  heldDeltaSource,
  jsonDeploymentOf,
  OutboundAccumulator,
  type RoutingSnapshot,
  recordTag,
  snapshotEtag,
} from './snapshot.js';
import { DEFAULT_TOKEN_FORMAT } from './tracking-token.js';
import type { RecordType } from './types.js';

/** The members of shard `shard` (of `bits`) among sorted members: a contiguous run, since shards split by the high bits. */
export function shardMembers(all: DeltaEntries, bits: number, shard: number): DeltaEntries {
  // First index whose shard is ≥ shard, then first whose shard is > shard (binary searches).
  const first = (s: number) => {
    let lo = 0;
    let hi = all.hi.length;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (shardOf(all.hi[m] as number, bits) < s) lo = m + 1;
      else hi = m;
    }
    return lo;
  };
  const a = first(shard);
  const b = first(shard + 1);
  return { hi: all.hi.subarray(a, b), lo: all.lo.subarray(a, b), tags: all.tags.subarray(a, b) };
}

export class DeltaFilterState {
  private readonly baseMembers: DeltaEntries[] = [];
  private readonly baseShards: Uint8Array[] = [];
  private readonly deltas = new Map<number, Uint8Array>();
  /** Shards rebuilt as a new base by the last {@link update}s, and deltas written. */
  rebases = 0;

  /**
   * @param members sorted, distinct members (sortedMembers) with their tags
   * @param tagged a tagged record filter (sharded) or an untagged one (outbound: `bits` 0, tags 1)
   */
  constructor(
    members: DeltaEntries,
    readonly bits: number,
    readonly tagged: boolean,
  ) {
    if (!tagged && bits !== 0) throw new Error('an untagged filter is kept as one shard');
    for (let s = 0; s < 1 << bits; s++) this.rebase(s, shardMembers(members, bits, s));
  }

  private rebase(shard: number, now: DeltaEntries) {
    const copy = { hi: now.hi.slice(), lo: now.lo.slice(), tags: now.tags.slice() };
    this.baseMembers[shard] = copy;
    this.baseShards[shard] = this.tagged
      ? buildTaggedMembershipFilterTyped(copy.hi, copy.lo, copy.tags)
      : buildMembershipFilterTyped(copy.hi, copy.lo);
    this.deltas.delete(shard);
  }

  /** Shard `shard`'s members are now `now` (sorted, distinct): a delta over its base, or a new base. */
  update(shard: number, now: DeltaEntries): 'rebase' | 'delta' | 'same' {
    const base = this.baseMembers[shard];
    const bytes = this.baseShards[shard];
    if (!base || !bytes) throw new Error(`no shard ${shard}`);
    const plan = planShard(base, now, bytes.length);
    if (plan.rebase) {
      this.rebase(shard, now);
      this.rebases++;
      return 'rebase';
    }
    if (plan.delta) this.deltas.set(shard, plan.delta);
    else this.deltas.delete(shard);
    return plan.delta ? 'delta' : 'same';
  }

  /** The filter as published now: the base shards, with the deltas laid over them. */
  filter(): Uint8Array {
    const f = this.tagged
      ? assembleShardedFilter(this.baseShards, this.bits)
      : (this.baseShards[0] as Uint8Array).slice();
    return withFilterDeltas(f, heldDeltaSource(this.bits, new Map(this.deltas)));
  }

  /** Bytes of the deltas held now. */
  deltaBytes(): number {
    let n = 0;
    for (const d of this.deltas.values()) n += d.length;
    return n;
  }
}

/** The members of a record filter: each address's keyed hash with its tag (0-tag addresses left out). */
export function recordMembers(
  hashKey: string,
  records: Iterable<{ address: string; type: RecordType | string; emailEnabled: boolean }>,
): DeltaEntries {
  const hi: number[] = [];
  const lo: number[] = [];
  const tags: number[] = [];
  for (const r of records) {
    const address = normaliseAddress(r.address);
    const tag = recordTag(r.type, r.emailEnabled);
    if (address === '' || !tag) continue;
    const [h, l] = keyedHash64(hashKey, address);
    hi.push(h);
    lo.push(l);
    tags.push(tag);
  }
  return sortedMembers(hi, lo, tags);
}

/** The members of an outbound filter: each Message-ID's keyed hash (tag 1). */
export function outboundMembers(hashKey: string, messageIds: Iterable<string>): DeltaEntries {
  const acc = new OutboundAccumulator(hashKey, false, DEFAULT_TOKEN_FORMAT);
  for (const messageId of messageIds) acc.add({ messageId });
  return acc.members();
}

/**
 * `snapshot` with deployment `id`'s record and outbound filters replaced by the given states'
 * (bases with deltas), its ETag recomputed: a snapshot as central publishes it after changes.
 */
export function withDeltaFilters(
  snapshot: RoutingSnapshot,
  id: string,
  records: DeltaFilterState,
  outbound: DeltaFilterState,
): RoutingSnapshot {
  const d = snapshot.deployments[id];
  if (!d) throw new Error(`deployment ${id} is not in the snapshot`);
  const s: RoutingSnapshot = {
    ...snapshot,
    deployments: {
      ...snapshot.deployments,
      [id]: deploymentSnapshotOf(jsonDeploymentOf(d), records.filter(), outbound.filter()),
    },
  };
  s.etag = snapshotEtag(s);
  return s;
}
