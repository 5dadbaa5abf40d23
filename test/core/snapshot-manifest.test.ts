// The snapshot as a manifest and content-addressed parts (issue 21, item 1): an edge that fetches
// only the parts it does not hold, after any sequence of changes and any versions missed, holds
// exactly what a fresh full load gives, and never answers "no" for a record it should find.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { keyedHash64, normaliseAddress } from '../../src/core/keyed-hash.js';
import { filterHas, ShardNotLoadedError } from '../../src/core/membership-filter.js';
import {
  buildSnapshot,
  encodeSnapshot,
  type RoutingSnapshot,
  type SnapshotInput,
} from '../../src/core/snapshot.js';
import {
  decodeManifest,
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
interface World {
  records: Record<string, Map<string, Rec>>;
  suppressions: Record<string, Set<string>>;
  outbound: Record<string, Set<string>>;
}
const DEPLOYMENTS = ['contoso', 'fabrikam'] as const;
/** Small shards so that a few hundred records span many (central's target is 2^19 keys). */
const SHARD_TARGET = 16;

function inputOf(w: World, version: number): SnapshotInput {
  return {
    region: 'eu',
    version,
    builtAt: 1_700_000_000_000,
    hashKey: HASH_KEY,
    rulesEnabled: true,
    egress: 'full',
    shardTargetKeys: SHARD_TARGET,
    mailboxes: [{ address: 'alice@contoso.example', deployment: 'contoso', userId: 'u1', filter: 'records' }],
    forwarding: [{ address: 'fwd@router.example', deployment: 'contoso' }],
    deployments: DEPLOYMENTS.map((id) => ({
      id,
      token: DEFAULT_TOKEN_FORMAT,
      maxMessageBytes: 1_000_000,
      attachmentPolicy: 'regional' as const,
      smartMatch: false,
      suppressions: [...w.suppressions[id]!],
      records: [...w.records[id]!.values()],
      outbound: [...w.outbound[id]!].map((messageId) => ({ messageId })),
    })),
  };
}

function seedWorld(n: number): World {
  const w: World = {
    records: { contoso: new Map(), fabrikam: new Map() },
    suppressions: { contoso: new Set(), fabrikam: new Set() },
    outbound: { contoso: new Set(), fabrikam: new Set() },
  };
  for (let i = 0; i < n; i++) {
    const id = DEPLOYMENTS[i % 2]!;
    const address = `seed${i}@example.org`;
    w.records[id]!.set(address, {
      address,
      type: i % 5 === 0 ? 'user' : 'contact',
      emailEnabled: i % 3 !== 0,
    });
  }
  return w;
}

const change = fc.oneof(
  fc.record({
    kind: fc.constant('record' as const),
    dep: fc.constantFrom(...DEPLOYMENTS),
    n: fc.nat(400),
    type: fc.constantFrom<RecordType>('user', 'contact', 'account', 'lead'),
    emailEnabled: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('remove' as const), dep: fc.constantFrom(...DEPLOYMENTS), n: fc.nat(400) }),
  fc.record({
    kind: fc.constant('outbound' as const),
    dep: fc.constantFrom(...DEPLOYMENTS),
    n: fc.nat(1000),
  }),
  fc.record({ kind: fc.constant('suppress' as const), dep: fc.constantFrom(...DEPLOYMENTS), n: fc.nat(50) }),
);
type Change = typeof change extends fc.Arbitrary<infer T> ? T : never;

function apply(w: World, c: Change) {
  const address = `a${c.n}@example.${c.n % 7}.org`;
  if (c.kind === 'record')
    w.records[c.dep]!.set(address, { address, type: c.type, emailEnabled: c.emailEnabled });
  else if (c.kind === 'remove') {
    w.records[c.dep]!.delete(address);
    w.records[c.dep]!.delete(`seed${c.n}@example.org`);
  } else if (c.kind === 'outbound') w.outbound[c.dep]!.add(`<m${c.n}@crm.example>`);
  else w.suppressions[c.dep]!.add(c.n % 2 ? `@spam${c.n}.example` : `s${c.n}@example.com`);
}

/** An edge's region store: the parts it holds (by name) and what it fetched from central. */
class EdgeModel {
  held = new Map<string, Uint8Array>();
  manifest: SnapshotManifest | undefined;
  fetchedBytes = 0;
  fetched: string[] = [];
  /** Takes a published version: the manifest (over the wire), then only the parts it lacks. */
  take(manifestBytes: Uint8Array, central: Map<string, Uint8Array>) {
    const m = decodeManifest(manifestBytes);
    this.fetchedBytes += manifestBytes.length;
    for (const name of manifestParts(m)) {
      if (this.held.has(name)) continue;
      const bytes = central.get(name);
      if (!bytes) throw new Error(`central lacks ${name}`);
      this.held.set(name, bytes.slice());
      this.fetched.push(name);
      this.fetchedBytes += bytes.length;
    }
    this.manifest = m;
  }
}

/** Every classification input of a snapshot that a record lookup answers, for the given addresses. */
function lookups(s: RoutingSnapshot, addresses: string[]) {
  const out: string[] = [];
  for (const [id, d] of Object.entries(s.deployments))
    for (const a of addresses) {
      const key = keyedHash64(HASH_KEY, normaliseAddress(a));
      out.push(
        `${id} ${a} ${filterHas(d.records, key)} ${filterHas(d.emailEnabled, key)} ${filterHas(d.emailEnabledRecipients, key)}`,
      );
    }
  return out;
}

describe('snapshot manifest and content-addressed parts', () => {
  test('a manifest round-trips, and a corrupt one is refused with the problem named', () => {
    const { manifest } = splitSnapshot(buildSnapshot(inputOf(seedWorld(100), 3)));
    expect(decodeManifest(encodeManifest(manifest))).toEqual(manifest);
    const broken = JSON.parse(new TextDecoder().decode(encodeManifest(manifest)));
    broken.deployments.contoso.records.shards.pop();
    expect(() => decodeManifest(new TextEncoder().encode(JSON.stringify(broken)))).toThrow(
      /deployment "contoso" parts malformed/,
    );
    expect(() => decodeManifest(new TextEncoder().encode('{"format":9}'))).toThrow(/unsupported format 9/);
  });

  test('a one-record change costs one record shard and the manifest, not the snapshot', () => {
    const w = seedWorld(4000);
    const before = splitSnapshot(buildSnapshot(inputOf(w, 1)));
    apply(w, { kind: 'record', dep: 'contoso', n: 7, type: 'contact', emailEnabled: true });
    const after = splitSnapshot(buildSnapshot(inputOf(w, 2)));
    const fresh = manifestParts(after.manifest).filter((n) => !before.parts.has(n));
    expect(fresh).toHaveLength(1);
    const shardBytes = after.parts.get(fresh[0]!)!.length;
    const whole = encodeSnapshot(buildSnapshot(inputOf(w, 2))).length;
    expect(shardBytes).toBeLessThan(whole / 50);
  });

  test('a lazy record filter throws for a shard it does not hold, never answers "no"', () => {
    const w = seedWorld(400);
    const { manifest, parts } = splitSnapshot(buildSnapshot(inputOf(w, 1)));
    const s = snapshotFromManifest(
      manifest,
      (n) => parts.get(n),
      () => undefined,
    );
    const key = keyedHash64(HASH_KEY, 'seed1@example.org');
    expect(() => filterHas(s.deployments.fabrikam!.records, key)).toThrow(ShardNotLoadedError);
  });

  test('after random changes and missed versions, the parts fetched give exactly a fresh full load', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(change, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        (versions, seen, restarts) => {
          const w = seedWorld(300);
          const edge = new EdgeModel();
          const central = new Map<string, Uint8Array>();
          let latest: SnapshotManifest | undefined;
          const publish = (v: number) => {
            const { manifest, parts } = splitSnapshot(buildSnapshot(inputOf(w, v)));
            for (const [n, b] of parts) central.set(n, b);
            latest = manifest;
            return encodeManifest(manifest);
          };
          edge.take(publish(1), central);
          versions.forEach((changes, i) => {
            for (const c of changes) apply(w, c);
            const bytes = publish(i + 2);
            // A restart loses the isolate's memory; the region's copy (R2) keeps its parts.
            if (restarts[i]) edge.manifest = undefined;
            if (seen[i]) edge.take(bytes, central);
          });
          edge.take(encodeManifest(latest!), central);
          const fresh = buildSnapshot(inputOf(w, versions.length + 1));
          // Byte-identical: the whole snapshot assembled from the held parts is the fresh one.
          const assembled = snapshotFromManifest(edge.manifest!, (n) => edge.held.get(n));
          expect(encodeSnapshot(assembled)).toEqual(encodeSnapshot(fresh));
          // Set-identical classification inputs through the lazy filters, and no false negatives.
          const lazy = snapshotFromManifest(
            edge.manifest!,
            (n) => edge.held.get(n),
            (n) => edge.held.get(n),
          );
          const addresses = [
            ...DEPLOYMENTS.flatMap((id) => [...w.records[id]!.keys()]),
            ...Array.from({ length: 50 }, (_, i) => `absent${i}@nowhere.example`),
          ];
          expect(lookups(lazy, addresses)).toEqual(lookups(fresh, addresses));
          for (const id of DEPLOYMENTS)
            for (const r of w.records[id]!.values()) {
              const key = keyedHash64(HASH_KEY, normaliseAddress(r.address));
              if (r.type !== 'user') expect(filterHas(lazy.deployments[id]!.records, key)).toBe(true);
              if (r.emailEnabled) expect(filterHas(lazy.deployments[id]!.emailEnabled, key)).toBe(true);
            }
          // Nothing fetched that no published manifest named.
          for (const n of edge.fetched) expect(central.has(n)).toBe(true);
        },
      ),
      { numRuns: 25 },
    );
  });
});
