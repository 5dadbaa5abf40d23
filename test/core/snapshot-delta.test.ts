// Snapshots by change (issue 21, item 1; docs/decisions.md "Snapshots by change"): a shard that
// changed ships a delta over its base instead of a rebuilt shard. An edge that missed versions or
// restarted converges to exactly what a fresh full load of the latest manifest gives, a record
// added since the base is always found, and a record removed since is never found through its
// delta.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  DeltaFilterState,
  membersByShard,
  outboundMembers,
  recordMembers,
  shardMembers,
  withDeltaFilters,
} from '../../src/core/delta-filter-state.js';
import {
  diffMembers,
  encodeFilterDelta,
  filterDeltaEntries,
  filterDeltaTag,
  planShard,
  sortedMembers,
  validateFilterDelta,
} from '../../src/core/filter-delta.js';
import { keyedHash64, normaliseAddress } from '../../src/core/keyed-hash.js';
import {
  filterDeltasOf,
  filterHas,
  ShardNotLoadedError,
  shardBitsFor,
  shardOf,
} from '../../src/core/membership-filter.js';
import {
  buildSnapshot,
  decodeSnapshot,
  encodeSnapshot,
  type RoutingSnapshot,
  type SnapshotInput,
} from '../../src/core/snapshot.js';
import {
  decodeManifest,
  eagerParts,
  encodeManifest,
  manifestParts,
  type SnapshotManifest,
  snapshotFromManifest,
  splitSnapshot,
} from '../../src/core/snapshot-manifest.js';
import { DEFAULT_TOKEN_FORMAT } from '../../src/core/tracking-token.js';
import type { RecordType } from '../../src/core/types.js';
import { HASH_KEY } from './contoso-snapshot.js';

type Rec = { address: string; type: RecordType; emailEnabled: boolean };
const SHARD_TARGET = 64;

const members = (records: Iterable<Rec>) => recordMembers(HASH_KEY, records);

function input(records: Rec[], outbound: string[], version: number): SnapshotInput {
  return {
    region: 'eu',
    version,
    builtAt: 1_700_000_000_000,
    hashKey: HASH_KEY,
    rulesEnabled: true,
    egress: 'full',
    shardTargetKeys: SHARD_TARGET,
    mailboxes: [{ address: 'alice@contoso.example', deployment: 'contoso', userId: 'u1', filter: 'records' }],
    deployments: [
      {
        id: 'contoso',
        token: DEFAULT_TOKEN_FORMAT,
        maxMessageBytes: 1_000_000,
        attachmentPolicy: 'regional' as const,
        smartMatch: false,
        suppressions: [],
        records,
        outbound: outbound.map((messageId) => ({ messageId })),
      },
    ],
  };
}

/** A publisher keeping contoso's record and outbound filters as bases and deltas (the one rule). */
class DeltaPublisher {
  records: DeltaFilterState;
  outbound: DeltaFilterState;
  constructor(recs: Rec[], outbound: string[]) {
    const m = members(recs);
    this.records = new DeltaFilterState(m, shardBitsFor(m.hi.length, SHARD_TARGET), true);
    this.outbound = new DeltaFilterState(outboundMembers(HASH_KEY, outbound), 0, false);
  }
  /** Publishes the world now: every shard brought up to date (a delta, a new base or as it was). */
  publish(recs: Rec[], outbound: string[], version: number): RoutingSnapshot {
    const now = members(recs);
    for (let s = 0; s < 1 << this.records.bits; s++)
      this.records.update(s, shardMembers(now, this.records.bits, s));
    this.outbound.update(0, outboundMembers(HASH_KEY, outbound));
    return withDeltaFilters(
      buildSnapshot(input(recs, outbound, version)),
      'contoso',
      this.records,
      this.outbound,
    );
  }
}

function lookups(s: RoutingSnapshot, addresses: string[], ids: string[]) {
  const d = s.deployments.contoso!;
  return [
    ...addresses.map((a) => {
      const key = keyedHash64(HASH_KEY, normaliseAddress(a));
      return `${a} ${filterHas(d.records, key)} ${filterHas(d.emailEnabled, key)} ${filterHas(d.emailEnabledRecipients, key)}`;
    }),
    ...ids.map((id) => `${id} ${filterHas(d.outbound, keyedHash64(HASH_KEY, id.slice(1, -1)))}`),
  ];
}

describe('filter deltas', () => {
  test('a delta round-trips, names what changed with its tag now, and a malformed one is refused', () => {
    const base = sortedMembers([5, 1, 9, 9], [0, 2, 7, 7], [1, 3, 2, 1]);
    expect([...base.hi]).toEqual([1, 5, 9]);
    expect([...base.tags]).toEqual([3, 1, 3]); // the repeated key's tags OR-ed
    const now = sortedMembers([1, 9, 0xffffffff], [2, 7, 1], [3, 1, 2]);
    const d = diffMembers(base, now);
    const bytes = encodeFilterDelta(d);
    expect(validateFilterDelta(bytes)).toBeUndefined();
    expect(filterDeltaTag(bytes, [5, 0])).toBe(0); // removed
    expect(filterDeltaTag(bytes, [9, 7])).toBe(1); // tag changed
    expect(filterDeltaTag(bytes, [0xffffffff, 1])).toBe(2); // added (unsigned order)
    expect(filterDeltaTag(bytes, [1, 2])).toBeUndefined(); // unchanged: the base answers
    expect(filterDeltaEntries(bytes).hi.length).toBe(3);
    const bad = bytes.slice();
    bad[8] = 0xff; // first key now sorts after the second
    bad[9] = 0xff;
    bad[10] = 0xff;
    bad[11] = 0xff;
    expect(validateFilterDelta(bad)).toBe('keys are not strictly increasing');
    expect(validateFilterDelta(bytes.subarray(0, bytes.length - 1))).toBe(
      'length does not match its key count',
    );
    expect(() =>
      encodeFilterDelta({ hi: Uint32Array.of(2, 1), lo: Uint32Array.of(0, 0), tags: Uint8Array.of(1, 1) }),
    ).toThrow(/strictly increasing/);
  });

  test('a shard rebases once its delta would have cost more than the shard, not before', () => {
    const base = sortedMembers(
      Array.from({ length: 4000 }, (_, i) => i * 1000),
      Array.from({ length: 4000 }, () => 1),
      Array.from({ length: 4000 }, () => 3),
    );
    const withAdds = (k: number) =>
      sortedMembers(
        [...base.hi, ...Array.from({ length: k }, (_, i) => i * 1000 + 1)],
        [...base.lo, ...Array.from({ length: k }, () => 1)],
        [...base.tags, ...Array.from({ length: k }, () => 3)],
      );
    const shardBytes = 30_000;
    expect(planShard(base, base, shardBytes)).toEqual({ rebase: false, delta: undefined });
    const small = planShard(base, withAdds(1), shardBytes);
    expect(small.rebase).toBe(false);
    expect(!small.rebase && small.delta?.length).toBe(8 + 9);
    // √(2·30000/9) ≈ 81.6 keys.
    expect(planShard(base, withAdds(81), shardBytes).rebase).toBe(false);
    expect(planShard(base, withAdds(82), shardBytes).rebase).toBe(true);
  });

  test('the whole encoding carries the deltas: decoded, a record added since the base is found', () => {
    const recs: Rec[] = Array.from({ length: 600 }, (_, i) => ({
      address: `r${i}@x.example`,
      type: 'contact',
      emailEnabled: true,
    }));
    const pub = new DeltaPublisher(recs, ['<a@crm.example>']);
    pub.publish(recs, ['<a@crm.example>'], 1);
    const later = [
      ...recs.slice(1),
      { address: 'new@x.example', type: 'lead' as const, emailEnabled: false },
    ];
    const s = pub.publish(later, ['<a@crm.example>', '<b@crm.example>'], 2);
    const bytes = encodeSnapshot(s);
    expect(bytes[3]).toBe(3); // format 3: a format-2 reader refuses it rather than answer from the bases
    const decoded = decodeSnapshot(bytes);
    expect(encodeSnapshot(decoded)).toEqual(bytes);
    const all = [...recs.map((r) => r.address), 'new@x.example', 'absent@x.example'];
    expect(lookups(decoded, all, ['<a@crm.example>', '<b@crm.example>'])).toEqual(
      lookups(s, all, ['<a@crm.example>', '<b@crm.example>']),
    );
    const key = keyedHash64(HASH_KEY, 'new@x.example');
    expect(filterHas(decoded.deployments.contoso!.records, key)).toBe(true);
    expect(filterHas(decoded.deployments.contoso!.emailEnabled, key)).toBe(false);
    expect(filterHas(decoded.deployments.contoso!.records, keyedHash64(HASH_KEY, 'r0@x.example'))).toBe(
      false,
    );
    expect(filterHas(decoded.deployments.contoso!.outbound, keyedHash64(HASH_KEY, 'b@crm.example'))).toBe(
      true,
    );
    // Without deltas the encoding stays format 2, byte for byte what it was.
    expect(encodeSnapshot(buildSnapshot(input(recs, [], 1)))[3]).toBe(2);
  });

  test('a one-record change costs a delta of one key and the manifest, not a shard', () => {
    const recs: Rec[] = Array.from({ length: 4000 }, (_, i) => ({
      address: `r${i}@x.example`,
      type: 'contact',
      emailEnabled: true,
    }));
    const pub = new DeltaPublisher(recs, []);
    const before = splitSnapshot(pub.publish(recs, [], 1));
    const after = splitSnapshot(
      pub.publish([...recs, { address: 'one@x.example', type: 'contact', emailEnabled: true }], [], 2),
    );
    const fresh = manifestParts(after.manifest).filter((n) => !before.parts.has(n));
    expect(fresh).toHaveLength(1);
    expect(after.parts.get(fresh[0]!)!.length).toBe(8 + 9);
    expect(after.manifest.format).toBe(2);
    const shard = before.parts.get(before.manifest.deployments.contoso!.records.shards[0]!)!;
    // Even against shards of 64 keys the change ships a tenth of one (at 10 M records: 30 KB).
    expect(shard.length).toBeGreaterThan(10 * 17);
  });

  test('a named delta that is not held throws, never lets the stale base answer', () => {
    const recs: Rec[] = Array.from({ length: 300 }, (_, i) => ({
      address: `r${i}@x.example`,
      type: 'contact',
      emailEnabled: true,
    }));
    const pub = new DeltaPublisher(recs, []);
    pub.publish(recs, [], 1);
    const { manifest, parts } = splitSnapshot(
      pub.publish([...recs, { address: 'z@x.example', type: 'contact', emailEnabled: true }], [], 2),
    );
    const deltaNames = new Set(Object.values(manifest.deployments.contoso!.records.deltas ?? {}));
    expect(deltaNames.size).toBe(1);
    const s = snapshotFromManifest(
      manifest,
      (n) => parts.get(n),
      (n) => (deltaNames.has(n) ? undefined : parts.get(n)),
    );
    const key = keyedHash64(HASH_KEY, 'z@x.example');
    expect(() => filterHas(s.deployments.contoso!.records, key)).toThrow(ShardNotLoadedError);
    // A manifest naming deltas in format 1 is refused (a format-1 writer never names them).
    const m = JSON.parse(new TextDecoder().decode(encodeManifest(manifest)));
    m.format = 1;
    expect(() => decodeManifest(new TextEncoder().encode(JSON.stringify(m)))).toThrow(/deltas malformed/);
  });

  test('after random changes, missed versions and restarts, the parts held give exactly a fresh full load, with no false negatives', () => {
    const change = fc.oneof(
      fc.record({
        kind: fc.constant('record' as const),
        n: fc.nat(700),
        type: fc.constantFrom<RecordType>('user', 'contact', 'account', 'lead'),
        emailEnabled: fc.boolean(),
      }),
      fc.record({ kind: fc.constant('remove' as const), n: fc.nat(700) }),
      fc.record({ kind: fc.constant('outbound' as const), n: fc.nat(300) }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.array(change, { minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 10 }),
        fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
        fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
        (versions, seen, restarts) => {
          const world = new Map<string, Rec>();
          for (let i = 0; i < 500; i++) {
            const address = `a${i}@example.${i % 7}.org`;
            world.set(address, {
              address,
              type: i % 5 === 0 ? 'user' : 'contact',
              emailEnabled: i % 3 !== 0,
            });
          }
          const outbound = new Set<string>(['<m0@crm.example>']);
          const ever = new Set(world.keys());
          const pub = new DeltaPublisher([...world.values()], [...outbound]);
          const central = new Map<string, Uint8Array>();
          let latest: SnapshotManifest | undefined;
          let published: RoutingSnapshot | undefined;
          const publish = (v: number) => {
            published = pub.publish([...world.values()], [...outbound], v);
            const { manifest, parts } = splitSnapshot(published);
            for (const [n, b] of parts) central.set(n, b);
            latest = manifest;
            return encodeManifest(manifest);
          };
          // The edge's region copy: parts by name, fetched only when a manifest names one it lacks.
          const held = new Map<string, Uint8Array>();
          let edgeManifest: SnapshotManifest | undefined;
          const take = (bytes: Uint8Array) => {
            edgeManifest = decodeManifest(bytes);
            for (const n of manifestParts(edgeManifest))
              if (!held.has(n)) held.set(n, central.get(n)!.slice());
          };
          take(publish(1));
          versions.forEach((changes, i) => {
            for (const c of changes) {
              const address = `a${c.n}@example.${c.n % 7}.org`;
              if (c.kind === 'record') {
                world.set(address, { address, type: c.type, emailEnabled: c.emailEnabled });
                ever.add(address);
              } else if (c.kind === 'remove') world.delete(address);
              else outbound.add(`<m${c.n}@crm.example>`);
            }
            const bytes = publish(i + 2);
            if (restarts[i]) edgeManifest = undefined;
            if (seen[i]) take(bytes);
          });
          take(encodeManifest(latest!));
          // Byte-identical: the snapshot assembled from the held parts is the one published.
          const full = snapshotFromManifest(edgeManifest!, (n) => held.get(n));
          expect(encodeSnapshot(full)).toEqual(encodeSnapshot(published!));
          // The lazy form (shards and deltas on demand) answers as the fresh full load.
          const lazy = snapshotFromManifest(
            edgeManifest!,
            (n) => (eagerParts(edgeManifest!).includes(n) ? held.get(n) : undefined),
            (n) => held.get(n),
          );
          const addresses = [...ever, ...Array.from({ length: 30 }, (_, i) => `absent${i}@nowhere.example`)];
          const ids = Array.from({ length: 310 }, (_, i) => `<m${i}@crm.example>`);
          expect(lookups(lazy, addresses, ids)).toEqual(lookups(full, addresses, ids));
          // No false negatives: every record and outbound message now is found in the views it belongs to.
          const d = lazy.deployments.contoso!;
          for (const r of world.values()) {
            const key = keyedHash64(HASH_KEY, normaliseAddress(r.address));
            if (r.type !== 'user') expect(filterHas(d.records, key)).toBe(true);
            if (r.emailEnabled) expect(filterHas(d.emailEnabled, key)).toBe(true);
          }
          for (const id of outbound)
            expect(filterHas(d.outbound, keyedHash64(HASH_KEY, id.slice(1, -1)))).toBe(true);
          // A record removed since its shard's base, named by the delta, is not found.
          const source = filterDeltasOf(d.records);
          for (const a of ever) {
            if (world.has(a) || !source) continue;
            const key = keyedHash64(HASH_KEY, normaliseAddress(a));
            const delta = source.delta(shardOf(key[0], source.bits));
            if (delta && filterDeltaTag(delta, key) === 0) expect(filterHas(d.records, key)).toBe(false);
          }
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe('the delta filter state', () => {
  test('changing keys one by one (change + flush) gives the same deltas and bases as handing over each shard', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.tuple(fc.nat(300), fc.constantFrom(0, 1, 2, 3)), { maxLength: 30 }), {
          minLength: 1,
          maxLength: 8,
        }),
        (rounds) => {
          const keyOf = (n: number): [number, number] => keyedHash64(HASH_KEY, `k${n}@x.example`);
          const world = new Map<number, number>();
          for (let n = 0; n < 200; n++) world.set(n, 1 + (n % 3));
          const entries = () => {
            const ks = [...world].filter(([, t]) => t).map(([n, t]) => [...keyOf(n), t] as const);
            return sortedMembers(
              ks.map((k) => k[0]),
              ks.map((k) => k[1]),
              ks.map((k) => k[2]),
            );
          };
          const m = entries();
          const a = new DeltaFilterState(m, 2, true);
          const b = new DeltaFilterState(membersByShard(m.hi, m.lo, m.tags, 2), 2, true);
          for (const round of rounds) {
            for (const [n, t] of round) {
              world.set(n, t);
              const [h, l] = keyOf(n);
              b.change(h, l, t);
            }
            const now = entries();
            for (let s = 0; s < 4; s++) a.update(s, shardMembers(now, 2, s));
            b.flush();
            expect(encodeSnapshotFilter(b.filter())).toEqual(encodeSnapshotFilter(a.filter()));
            expect(b.rebases).toBe(a.rebases);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});

/** A filter with its deltas as comparable bytes: the filter's own bytes and each delta's. */
function encodeSnapshotFilter(f: Uint8Array) {
  const source = filterDeltasOf(f);
  const deltas = source
    ? Array.from({ length: 1 << source.bits }, (_, i) => (source.name(i) ? [...(source.delta(i) ?? [])] : []))
    : [];
  return { bytes: [...f], deltas };
}
