// The edge's snapshot store (issue 21, items 1–3) against a recording central that serves
// manifests and parts as central's routes do (the edge project has no central; the bytes it
// serves come from the same core splitter central publishes with). An isolate is modelled by
// forgetting this one's memory (the region's R2 copy stays, as it does across isolates).
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import {
  DeltaFilterState,
  outboundMembers,
  recordMembers,
  shardMembers,
  withDeltaFilters,
} from '../../src/core/delta-filter-state.js';
import { keyedHash64 } from '../../src/core/keyed-hash.js';
import { filterHas } from '../../src/core/membership-filter.js';
import { buildSnapshot, type RoutingSnapshot, type SnapshotInput } from '../../src/core/snapshot.js';
import { encodeManifest, manifestParts, splitSnapshot } from '../../src/core/snapshot-manifest.js';
import type { RecordType } from '../../src/core/types.js';
import { readEdgeConfig } from '../../src/edge/config.js';
import { takeCrossRegionCounts } from '../../src/edge/cross-region.js';
import worker from '../../src/edge/index.js';
import { processMessage } from '../../src/edge/pipeline.js';
import type * as Store from '../../src/edge/snapshot-store.js';
import {
  classifyWithShards,
  collectSnapshotGarbage,
  currentSnapshot,
  forgetHeldSnapshot,
  heldSnapshotBytes,
  noteCentralVersion,
  refreshSnapshot,
  SNAPSHOT_GC_INTERVAL_MS,
  SNAPSHOT_GC_MIN_PART_AGE_MS,
} from '../../src/edge/snapshot-store.js';
import { capturingEnv, ctx, edgeEnv } from './helpers.js';
import { deploymentInput, HASH_KEY, removeSnapshot, usSnapshotInput } from './snapshot-input.js';

const FWD = 'crm-0123456789abcdef01234567@us.edge.crm-router.example';
const cfg = readEdgeConfig(edgeEnv);
const waitUntil = (p: Promise<unknown>) => void p.catch(() => {});

/** A central that publishes snapshots and answers the edge's manifest and part requests. */
class RecordingCentral {
  manifest: Uint8Array | undefined;
  etag = '';
  parts = new Map<string, Uint8Array>();
  requests: string[] = [];
  bytesOut = 0;
  up = true;
  publish(s: RoutingSnapshot) {
    const { manifest, parts } = splitSnapshot(s);
    // Central keeps only the current manifest's parts (snapshot-publisher.ts).
    this.parts = new Map([...parts].map(([n, b]) => [n, b.slice()]));
    this.manifest = encodeManifest(manifest);
    this.etag = `"${s.etag}"`;
  }
  async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const req = new Request(input, init);
    const url = new URL(req.url);
    if (url.host !== 'central.test') throw new Error(`unexpected fetch ${req.url}`);
    if (!this.up) throw new TypeError('fetch failed: central unreachable');
    this.requests.push(url.pathname);
    if (url.pathname === '/api/v1/edge/snapshot/manifest') {
      if (req.headers.get('if-none-match') === this.etag) return new Response(null, { status: 304 });
      this.bytesOut += this.manifest!.length;
      return new Response(this.manifest!, { headers: { etag: this.etag } });
    }
    const name = url.pathname.match(/^\/api\/v1\/edge\/snapshot\/parts\/([0-9a-f]{32})$/)?.[1];
    const part = name ? this.parts.get(name) : undefined;
    if (!part)
      return Response.json(
        { error: { code: 'not_found', message: 'gone', requestId: 'x' } },
        { status: 404 },
      );
    this.bytesOut += part.length;
    return new Response(part);
  }
}

let central: RecordingCentral;
beforeEach(async () => {
  central = new RecordingCentral();
  vi.spyOn(globalThis, 'fetch').mockImplementation((i, init) => central.fetch(i, init));
  await removeSnapshot();
  takeCrossRegionCounts();
});
afterEach(() => {
  vi.restoreAllMocks();
});

function recordsOf(n: number, from = 0) {
  return Array.from({ length: n }, (_, i) => ({
    address: `person${from + i}@customer.example`,
    type: 'contact' as RecordType,
    emailEnabled: true,
  }));
}

function input(version: number, records: SnapshotInput['deployments'][number]['records']): SnapshotInput {
  return usSnapshotInput({
    version,
    shardTargetKeys: 64,
    mailboxes: [
      { address: 'carol@contoso.example', deployment: 'contoso', userId: 'u-carol', filter: 'records' },
    ],
    forwarding: [{ address: FWD, deployment: 'contoso' }],
    deployments: [deploymentInput('contoso', { records })],
  });
}

let sent = 0;
/** A distinct message each time (identical copies would be tossed as a loop). */
function message(from: string) {
  sent++;
  return new TextEncoder().encode(
    `From: ${from}\r\nTo: carol@contoso.example\r\nX-Forwarded-To: carol@contoso.example\r\nSubject: order ${sent}\r\nMessage-ID: <m-${sent}@customer.example>\r\n\r\nhello ${sent}\r\n`,
  );
}

async function classifyAs(from: string) {
  const { bindings } = capturingEnv();
  return processMessage(bindings, readEdgeConfig(bindings), message(from), { from, to: FWD }, waitUntil);
}

describe('the edge snapshot store', () => {
  test('a change crosses to the region once: the first isolate fetches the changed shard, the others read R2', async () => {
    const records = recordsOf(2000);
    central.publish(buildSnapshot(input(1, records)));
    await refreshSnapshot(edgeEnv, cfg, 'cron');
    const wholeFirst = central.bytesOut;
    records.push(...recordsOf(1, 5000));
    const next = buildSnapshot(input(2, records));
    central.publish(next);
    central.requests = [];
    central.bytesOut = 0;
    takeCrossRegionCounts();
    // Isolate 1 hears of version 2 (a notice) and brings the region to it.
    await noteCentralVersion(edgeEnv, cfg, 2, 'notice');
    const shardBytes = central.bytesOut - central.manifest!.length;
    expect(central.requests).toEqual([
      '/api/v1/edge/snapshot/manifest',
      expect.stringMatching(/^\/api\/v1\/edge\/snapshot\/parts\//),
    ]);
    expect(shardBytes).toBeLessThan(wholeFirst / 10);
    const counted = takeCrossRegionCounts().snapshot;
    expect(counted.fromCentral).toBeGreaterThanOrEqual(central.bytesOut);
    expect(counted.toCentral).toBeGreaterThan(0);
    // Isolates 2..5 (fresh memory) take version 2 from the region's copy: nothing crosses.
    for (let i = 0; i < 4; i++) {
      forgetHeldSnapshot();
      expect((await currentSnapshot(edgeEnv, cfg, waitUntil)).version).toBe(2);
      await noteCentralVersion(edgeEnv, cfg, 2, 'notice');
      expect((await classifyAs('person5000@customer.example')).reason).toBe('tracked:sender-record');
    }
    expect(central.requests).toHaveLength(2);
    expect(takeCrossRegionCounts().snapshot).toEqual({ toCentral: 0, fromCentral: 0 });
  });

  test('a change published as a delta crosses as the manifest and a few bytes; cold isolates load the delta with the shard', async () => {
    const records = recordsOf(3000);
    const base = buildSnapshot(input(1, records));
    const m = recordMembers(HASH_KEY, records);
    const bits = splitSnapshot(base).manifest.deployments.contoso!.records.bits;
    const state = new DeltaFilterState(m, bits, true);
    const outbound = new DeltaFilterState(outboundMembers(HASH_KEY, []), 0, false);
    central.publish(withDeltaFilters(base, 'contoso', state, outbound));
    await refreshSnapshot(edgeEnv, cfg, 'cron');
    // One record added, one removed: each shard it touches gets a delta over its base.
    const now = [...records.slice(1), ...recordsOf(1, 9000)];
    const members = recordMembers(HASH_KEY, now);
    for (let i = 0; i < 1 << bits; i++) state.update(i, shardMembers(members, bits, i));
    expect(state.rebases).toBe(0);
    central.publish(withDeltaFilters(buildSnapshot(input(2, now)), 'contoso', state, outbound));
    central.requests = [];
    central.bytesOut = 0;
    await noteCentralVersion(edgeEnv, cfg, 2, 'notice');
    expect(central.bytesOut - central.manifest!.length).toBeLessThanOrEqual(2 * (8 + 9));
    for (let i = 0; i < 3; i++) {
      forgetHeldSnapshot();
      expect((await classifyAs('person9000@customer.example')).reason).toBe('tracked:sender-record');
      // Removed, and named as removed by its shard's delta: not a record (no base filter answer).
      expect((await classifyAs('person0@customer.example')).reason).not.toBe('tracked:sender-record');
      expect((await classifyAs('person1@customer.example')).reason).toBe('tracked:sender-record');
    }
    expect(central.requests.filter((r) => r.includes('/parts/'))).toHaveLength(
      Object.keys(JSON.parse(new TextDecoder().decode(central.manifest!)).deployments.contoso.records.deltas)
        .length,
    );
  });

  test('a cold isolate classifies after the manifest and the one shard the sender needs', async () => {
    const s = buildSnapshot(input(1, recordsOf(3000)));
    central.publish(s);
    await refreshSnapshot(edgeEnv, cfg, 'cron');
    forgetHeldSnapshot();
    expect((await classifyAs('person17@customer.example')).reason).toBe('tracked:sender-record');
    const held = heldSnapshotBytes();
    const shards = splitSnapshot(s).manifest.deployments.contoso!.records.shards.length;
    expect(shards).toBeGreaterThan(16);
    const largestShard = Math.max(
      ...splitSnapshot(s).manifest.deployments.contoso!.records.shards.map(
        (n) => splitSnapshot(s).parts.get(n)!.length,
      ),
    );
    expect(held.shards).toBeGreaterThan(0);
    expect(held.shards).toBeLessThanOrEqual(largestShard);
  });

  test('a shard that can be loaded from nowhere is a temporary failure, never "no record"', async () => {
    const s = buildSnapshot(input(1, recordsOf(500)));
    central.publish(s);
    await refreshSnapshot(edgeEnv, cfg, 'cron');
    forgetHeldSnapshot();
    const { manifest } = splitSnapshot(s);
    await edgeEnv.RAW.delete(manifest.deployments.contoso!.records.shards.map((n) => `snapshot/parts/${n}`));
    central.up = false;
    await expect(classifyAs('person3@customer.example')).rejects.toThrow(/central unreachable|fetch failed/);
    // With central back, the region's copy heals and the message is tracked.
    central.up = true;
    expect((await classifyAs('person3@customer.example')).reason).toBe('tracked:sender-record');
  });

  test('after random changes, missed versions and restarts the store classifies exactly as a fresh full load', async () => {
    const arbitrary = fc.array(
      fc.record({
        adds: fc.array(fc.nat(3000), { maxLength: 5 }),
        removes: fc.array(fc.nat(400), { maxLength: 3 }),
        seen: fc.boolean(),
        restart: fc.boolean(),
      }),
      { minLength: 1, maxLength: 5 },
    );
    await fc.assert(
      fc.asyncProperty(arbitrary, async (steps) => {
        await removeSnapshot();
        const records = new Map(recordsOf(400).map((r) => [r.address, r]));
        central.publish(buildSnapshot(input(1, [...records.values()])));
        await refreshSnapshot(edgeEnv, cfg, 'cron');
        let version = 1;
        for (const step of steps) {
          for (const n of step.adds) {
            const address = `new${n}@customer.example`;
            records.set(address, { address, type: 'contact', emailEnabled: true });
          }
          for (const n of step.removes) records.delete(`person${n}@customer.example`);
          central.publish(buildSnapshot(input(++version, [...records.values()])));
          if (step.restart) forgetHeldSnapshot();
          if (step.seen) await noteCentralVersion(edgeEnv, cfg, version, 'notice');
        }
        forgetHeldSnapshot();
        await refreshSnapshot(edgeEnv, cfg, 'new-address');
        const fresh = buildSnapshot(input(version, [...records.values()]));
        const edge = await currentSnapshot(edgeEnv, cfg, waitUntil);
        expect(edge.version).toBe(version);
        const probe = [
          ...records.keys(),
          ...Array.from({ length: 30 }, (_, i) => `person${i}@customer.example`),
          ...Array.from({ length: 30 }, (_, i) => `absent${i}@nowhere.example`),
        ];
        const answers = async (s: RoutingSnapshot) => {
          const d = s.deployments.contoso!;
          const out: boolean[] = [];
          for (const a of probe) {
            const key = keyedHash64(HASH_KEY, a);
            out.push(await classifyWithShards(edgeEnv, cfg, () => filterHas(d.records, key)));
          }
          return out;
        };
        const got = await answers(edge);
        expect(got).toEqual(await answers(fresh));
        // No false negatives: every record of the final version is found.
        probe.forEach((a, i) => {
          if (records.has(a)) expect(got[i]).toBe(true);
        });
        // The region's copy names only parts it holds.
        const held = await edgeEnv.RAW.list({ prefix: 'snapshot/parts/' });
        const names = new Set(held.objects.map((o) => o.key.slice('snapshot/parts/'.length)));
        for (const n of manifestParts(splitSnapshot(fresh).manifest)) expect(names.has(n)).toBe(true);
      }),
      { numRuns: 12 },
    );
  });
});

/**
 * Two more isolates of the region: further instances of the store module (their own memory, the
 * same R2). Vite loads a module once per specifier, query included; TypeScript does not resolve
 * the query, and Vite only resolves literal specifiers.
 */
const otherIsolates = async () => ({
  // @ts-expect-error a query-suffixed specifier (see above)
  onPrevious: (await import('../../src/edge/snapshot-store.js?isolate=previous')) as typeof Store,
  // @ts-expect-error a query-suffixed specifier (see above)
  onFirst: (await import('../../src/edge/snapshot-store.js?isolate=first')) as typeof Store,
});

/** The part names the region's R2 copy holds. */
async function partsInRegion(): Promise<Set<string>> {
  const names = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await edgeEnv.RAW.list({ prefix: 'snapshot/parts/', ...(cursor ? { cursor } : {}) });
    for (const o of page.objects) names.add(o.key.slice('snapshot/parts/'.length));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return names;
}

const partsOf = (...snapshots: RoutingSnapshot[]) =>
  new Set(snapshots.flatMap((s) => manifestParts(splitSnapshot(s).manifest)));

/** A moment when every part written so far is old enough to be collected. */
const partsAged = () => Date.now() + SNAPSHOT_GC_MIN_PART_AGE_MS + 60_000;

/**
 * Publishes versions 1..k, each adding three records (so some record shards change each time), and
 * brings the region's copy to each through this isolate; `onVersion` runs after each.
 */
async function changeKTimes(k: number, onVersion: (v: number) => Promise<void> = async () => {}) {
  const records = recordsOf(400);
  const versions: RoutingSnapshot[] = [];
  /** The record addresses of each version (index v - 1). */
  const addresses: string[][] = [];
  for (let v = 1; v <= k; v++) {
    if (v > 1) records.push(...recordsOf(3, 1000 + v * 10));
    const s = buildSnapshot(input(v, records));
    versions.push(s);
    addresses.push(records.map((r) => r.address));
    central.publish(s);
    if (v === 1) await refreshSnapshot(edgeEnv, cfg, 'cron');
    else await noteCentralVersion(edgeEnv, cfg, v, 'notice');
    await onVersion(v);
  }
  return { versions, addresses };
}

/** Looks every address up through one isolate's store: true, false, or 'failed' (temporary). */
async function lookUpAll(store: typeof Store, snapshot: RoutingSnapshot, addresses: string[]) {
  const d = snapshot.deployments.contoso!;
  const out: (boolean | 'failed')[] = [];
  for (const a of addresses) {
    const key = keyedHash64(HASH_KEY, a);
    out.push(
      await store
        .classifyWithShards(edgeEnv, cfg, () => filterHas(d.records, key))
        .catch(() => 'failed' as const),
    );
  }
  return out;
}

describe("the region's snapshot copy is collected", () => {
  test('after K changes the bucket holds only the current and previous parts, and an isolate still on the previous manifest classifies from R2 alone', async () => {
    const { onPrevious, onFirst } = await otherIsolates();
    onPrevious.forgetHeldSnapshot();
    onFirst.forgetHeldSnapshot();
    const K = 6;
    const { versions, addresses } = await changeKTimes(K, async (v) => {
      if (v === 1) expect((await onFirst.currentSnapshot(edgeEnv, cfg, waitUntil)).version).toBe(1);
      if (v === K - 1)
        expect((await onPrevious.currentSnapshot(edgeEnv, cfg, waitUntil)).version).toBe(K - 1);
    });
    const current = versions[K - 1]!;
    const previous = versions[K - 2]!;
    const keep = partsOf(current, previous);
    const before = await partsInRegion();
    expect(before.size).toBeGreaterThan(keep.size);

    const run = await collectSnapshotGarbage(edgeEnv, partsAged());
    expect(run).toEqual({ ran: true, listed: before.size, deleted: before.size - keep.size, more: false });
    expect(await partsInRegion()).toEqual(keep);

    // Central unreachable: whatever the isolates classify now comes from R2.
    central.up = false;
    const got = await lookUpAll(
      onPrevious,
      await onPrevious.currentSnapshot(edgeEnv, cfg, waitUntil),
      addresses[K - 2]!,
    );
    expect(got).toEqual(addresses[K - 2]!.map(() => true));

    // An isolate still on version 1 lost parts nobody names any more: those lookups fail
    // (temporarily, the sender retries), none answers "no record".
    const first = await onFirst.currentSnapshot(edgeEnv, cfg, waitUntil);
    expect(first.version).toBe(1);
    const firstAddresses = addresses[0]!;
    const stale = await lookUpAll(onFirst, first, firstAddresses);
    expect(stale).not.toContain(false);
    expect(stale).toContain('failed');
    // Central's answer for a superseded part is 404: still a temporary failure, never "no record".
    central.up = true;
    expect(await lookUpAll(onFirst, first, firstAddresses)).not.toContain(false);
    // Its next refresh takes the current manifest, and everything is found again.
    await onFirst.refreshSnapshot(edgeEnv, cfg, 'new-address');
    const now = await onFirst.currentSnapshot(edgeEnv, cfg, waitUntil);
    expect(now.version).toBe(K);
    expect(await lookUpAll(onFirst, now, addresses[K - 1]!)).toEqual(addresses[K - 1]!.map(() => true));
  });

  test('a part younger than the minimum age is kept: it may belong to a manifest not swapped in yet', async () => {
    await changeKTimes(4);
    const before = await partsInRegion();
    expect(await collectSnapshotGarbage(edgeEnv, Date.now())).toMatchObject({ ran: true, deleted: 0 });
    expect(await partsInRegion()).toEqual(before);
  });

  test('it runs at most once per interval and lists a bounded number of pages per run, going on where it stopped', async () => {
    const { versions } = await changeKTimes(5);
    const keep = partsOf(versions[4]!, versions[3]!);
    const before = await partsInRegion();
    let now = partsAged();
    const opts = { pages: 1, pageKeys: 3 };
    const first = await collectSnapshotGarbage(edgeEnv, now, opts);
    expect(first).toMatchObject({ ran: true, listed: 3, more: true });
    expect(await collectSnapshotGarbage(edgeEnv, now + SNAPSHOT_GC_INTERVAL_MS - 1, opts)).toEqual({
      ran: false,
      listed: 0,
      deleted: 0,
      more: false,
    });
    let listed = first.listed;
    let runs = 1;
    for (let more = first.more; more; runs++) {
      now += SNAPSHOT_GC_INTERVAL_MS;
      const r = await collectSnapshotGarbage(edgeEnv, now, opts);
      expect(r.ran).toBe(true);
      expect(r.listed).toBeLessThanOrEqual(3);
      listed += r.listed;
      more = r.more;
    }
    // One pass over the bucket, each part listed once, three at a time.
    expect(listed).toBe(before.size);
    expect(runs).toBeGreaterThanOrEqual(Math.ceil(before.size / 3));
    expect(await partsInRegion()).toEqual(keep);
  });

  test('the every-minute cron runs the collection, and the next cron within the interval does not', async () => {
    await changeKTimes(2);
    const controller = { cron: '* * * * *', scheduledTime: Date.now(), noRetry() {} } as ScheduledController;
    await worker.scheduled!(controller, edgeEnv, ctx);
    expect(await collectSnapshotGarbage(edgeEnv, Date.now())).toMatchObject({ ran: false });
    expect(await collectSnapshotGarbage(edgeEnv, Date.now() + SNAPSHOT_GC_INTERVAL_MS)).toMatchObject({
      ran: true,
    });
  });
});
