// A filter kept as base shards and deltas in memory, changed shard by shard under the one rule
// (filter-delta.ts, planShard): what the bench's day model and the property tests publish
// version after version. Central keeps the same state in R2 and D1 (each shard's base filter and
// base members, and its delta) and applies the same rule to each shard a change touched
// (src/central/snapshot/snapshot-publisher.ts).
import {
  type DeltaEntries,
  filterDeltaEntries as filterDeltaEntriesOf,
  planDelta,
  planShard,
  type ShardPlan,
  sortedMembers,
} from './filter-delta.js';
import { keyedHash64, normaliseAddress } from './keyed-hash.js';
import {
  assembleShardedFilter,
  buildMembershipFilterTyped,
  buildTaggedMembershipFilterTyped,
  partitionByShard,
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

/**
 * Unsorted keys (repeats allowed, tags OR-ed) as sorted members per shard, without sorting them
 * all at once: the keys are partitioned by shard and a shard is sorted when asked for.
 */
export function membersByShard(
  hi: Uint32Array,
  lo: Uint32Array,
  tags: Uint8Array,
  bits: number,
): (shard: number) => DeltaEntries {
  const p = partitionByShard(hi, lo, tags, bits);
  return (shard) => {
    const a = p.starts[shard] as number;
    const b = p.starts[shard + 1] as number;
    return sortedMembers(p.hi.subarray(a, b), p.lo.subarray(a, b), p.tags.subarray(a, b));
  };
}

export class DeltaFilterState {
  private readonly baseMembers: DeltaEntries[] = [];
  private readonly baseShards: Uint8Array[] = [];
  private readonly deltas = new Map<number, Uint8Array>();
  /** Shards rebuilt as a new base since this state was made. */
  rebases = 0;
  /** Bytes and count of the parts the last {@link flush} made (new deltas and bases). */
  lastNewBytes = 0;
  lastNewParts = 0;
  private readonly pending = new Map<number, Map<string, [number, number, number]>>();

  /**
   * @param members sorted, distinct members (sortedMembers) with their tags
   * @param tagged a tagged record filter (sharded) or an untagged one (outbound: `bits` 0, tags 1)
   */
  constructor(
    members: DeltaEntries | ((shard: number) => DeltaEntries),
    readonly bits: number,
    readonly tagged: boolean,
  ) {
    if (!tagged && bits !== 0) throw new Error('an untagged filter is kept as one shard');
    for (let s = 0; s < 1 << bits; s++)
      this.rebase(s, typeof members === 'function' ? members(s) : shardMembers(members, bits, s));
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
    this.pending.delete(shard);
    return this.apply(shard, planShard(base, now, bytes.length), () => now);
  }

  private apply(shard: number, plan: ShardPlan, now: () => DeltaEntries): 'rebase' | 'delta' | 'same' {
    if (plan.rebase) {
      this.rebase(shard, now());
      this.rebases++;
      this.lastNewBytes += this.baseShards[shard]?.length ?? 0;
      this.lastNewParts++;
      return 'rebase';
    }
    if (plan.delta) {
      this.deltas.set(shard, plan.delta);
      this.lastNewBytes += plan.delta.length;
      this.lastNewParts++;
    } else this.deltas.delete(shard);
    return plan.delta ? 'delta' : 'same';
  }

  /**
   * One key's tag is now `tag` (0: no longer a member). Changes wait for {@link flush}, which
   * applies the rule to each shard they touched: the day model's way of changing a few keys of a
   * 10 M-key filter without handing over every shard's members.
   */
  change(hi: number, lo: number, tag: number) {
    const shard = shardOf(hi, this.bits);
    let m = this.pending.get(shard);
    if (!m) {
      m = new Map();
      this.pending.set(shard, m);
    }
    m.set(`${hi >>> 0}:${lo >>> 0}`, [hi >>> 0, lo >>> 0, tag]);
  }

  /** Applies the changes since the last flush, shard by shard; returns the bytes of the new parts (deltas and bases). */
  flush(): number {
    this.lastNewBytes = 0;
    this.lastNewParts = 0;
    for (const [shard, changes] of this.pending) {
      const base = this.baseMembers[shard] as DeltaEntries;
      const bytes = this.baseShards[shard] as Uint8Array;
      // Every key changed since the base (the held delta's and the new ones) whose tag now differs from the base's.
      const now = new Map<string, [number, number, number]>();
      const held = this.deltas.get(shard);
      if (held) {
        const e = filterDeltaEntriesOf(held);
        for (let i = 0; i < e.hi.length; i++)
          now.set(`${e.hi[i]}:${e.lo[i]}`, [e.hi[i] as number, e.lo[i] as number, e.tags[i] as number]);
      }
      for (const [k, v] of changes) now.set(k, v);
      const hi: number[] = [];
      const lo: number[] = [];
      const tags: number[] = [];
      const sorted = [...now.values()].sort((a, b) => (a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1]));
      for (const [h, l, t] of sorted) {
        if ((baseTag(base, h, l) ?? 0) === t) continue;
        hi.push(h);
        lo.push(l);
        tags.push(t);
      }
      const delta = { hi: Uint32Array.from(hi), lo: Uint32Array.from(lo), tags: Uint8Array.from(tags) };
      this.apply(shard, planDelta(delta, bytes.length), () => mergeMembers(base, delta));
    }
    this.pending.clear();
    return this.lastNewBytes;
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

  /** The shards that carry a delta now. */
  deltaShards(): number[] {
    return [...this.deltas.keys()].sort((a, b) => a - b);
  }
}

/** The tag `base` (sorted members) gives a key, or undefined when it is not a member. */
function baseTag(base: DeltaEntries, hi: number, lo: number): number | undefined {
  let a = 0;
  let b = base.hi.length - 1;
  while (a <= b) {
    const m = (a + b) >>> 1;
    const h = base.hi[m] as number;
    const l = base.lo[m] as number;
    if (h === hi && l === lo) return base.tags[m];
    if (h < hi || (h === hi && l < lo)) a = m + 1;
    else b = m - 1;
  }
  return undefined;
}

/** `base` with `delta` applied (both sorted): the members now, tag-0 keys left out. */
function mergeMembers(base: DeltaEntries, delta: DeltaEntries): DeltaEntries {
  const hi: number[] = [];
  const lo: number[] = [];
  const tags: number[] = [];
  let i = 0;
  let j = 0;
  const push = (h: number, l: number, t: number) => {
    if (!t) return;
    hi.push(h);
    lo.push(l);
    tags.push(t);
  };
  while (i < base.hi.length || j < delta.hi.length) {
    const bh = base.hi[i] as number;
    const bl = base.lo[i] as number;
    const dh = delta.hi[j] as number;
    const dl = delta.lo[j] as number;
    const c = i >= base.hi.length ? 1 : j >= delta.hi.length ? -1 : bh !== dh ? bh - dh : bl - dl;
    if (c < 0) push(bh, bl, base.tags[i++] as number);
    else if (c > 0) push(dh, dl, delta.tags[j++] as number);
    else {
      push(dh, dl, delta.tags[j++] as number);
      i++;
    }
  }
  return { hi: Uint32Array.from(hi), lo: Uint32Array.from(lo), tags: Uint8Array.from(tags) };
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
