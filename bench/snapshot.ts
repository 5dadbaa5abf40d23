// snapshot.*: a region snapshot carrying 1,000,000 CRM record addresses — encoded size, build
// time (keyed hashing + filter construction + encoding), false-positive rate over 1,000,000
// addresses that are not records, and a check that every record address is found.

import { MAILBOXES } from '../scripts/demo-data.js';
import { snapshotTuning } from '../src/central/snapshot/tuning.js';
import { keyedHash64, normaliseAddress, normaliseMessageId } from '../src/core/keyed-hash.js';
import { filterHas, shardBitsFor } from '../src/core/membership-filter.js';
import {
  buildSnapshot,
  decodeSnapshot,
  encodeSnapshot,
  type RoutingSnapshot,
  recordTag,
  type SnapshotInput,
} from '../src/core/snapshot.js';
import type { SnapshotManifest } from '../src/core/snapshot-manifest.js';
import { median, round } from './lib/stats.js';

const HASH_KEY = '9c8b7a6f5e4d3c2b1a09f8e7d6c5b4a3';

/**
 * Issue 21's day of a 10 M-record CRM: 100,000 record and outbound changes (taken as half each)
 * and 400,000 forwarded messages, three regions of which two are remote from central. The
 * outbound filter holds what a deployment keeps registered (its 200,000-Message-ID cap is the
 * upper bound; 50,000 is a few weeks of a 5,000-user company's CRM mail).
 */
export const DAY_MODEL = {
  changes: 100_000,
  recordShare: 0.5,
  messages: 400_000,
  remoteRegions: 2,
  outboundHeld: 50_000,
} as const;

function recordAddress(i: number): string {
  return `firstname${i}.lastname${(i * 7919) % 100_003}@company${i % 25_000}.example`;
}
function absentAddress(i: number): string {
  return `someone${i}.else${(i * 104_729) % 99_991}@elsewhere${i % 25_000}.example`;
}

export async function benchSnapshot({
  smoke = false,
  log = () => {},
  records = smoke ? 20_000 : 1_000_000,
  runs = smoke ? 1 : 3,
}: {
  smoke?: boolean;
  log?: (line: string) => void;
  records?: number;
  runs?: number;
} = {}) {
  const input: SnapshotInput = {
    region: 'eu',
    version: 1,
    builtAt: 1_790_000_000_000,
    hashKey: HASH_KEY,
    rulesEnabled: true,
    egress: 'metadata+subject',
    mailboxes: MAILBOXES.filter((m) => m.region === 'eu'),
    deployments: [
      {
        id: 'contoso',
        token: { prefix: 'CRM:', deploymentBase: 0, userDigits: 3, counterDigits: 3 },
        maxMessageBytes: 25 * 1024 * 1024,
        attachmentPolicy: 'regional',
        smartMatch: false,
        suppressions: ['@spam.example'],
        records: Array.from({ length: records }, (_, i) => ({
          address: recordAddress(i),
          type: i % 20 === 0 ? 'account' : i % 7 === 0 ? 'lead' : 'contact',
          emailEnabled: i % 10 !== 9,
        })),
        outbound: [],
      },
    ],
  };
  const buildTimes: number[] = [];
  let encoded: Uint8Array = new Uint8Array();
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    encoded = encodeSnapshot(buildSnapshot(input));
    buildTimes.push(performance.now() - t);
  }
  const decoded = decodeSnapshot(encoded);
  const filter = decoded.deployments.contoso?.records;
  if (!filter) throw new Error('snapshot lost deployment contoso');
  let falseNegatives = 0;
  for (let i = 0; i < records; i++)
    if (!filterHas(filter, keyedHash64(HASH_KEY, recordAddress(i)))) falseNegatives++;
  let falsePositives = 0;
  const probes = records;
  for (let i = 0; i < probes; i++)
    if (filterHas(filter, keyedHash64(HASH_KEY, absentAddress(i)))) falsePositives++;
  const result = {
    records,
    bytes: encoded.length,
    bytesPerRecord: round(encoded.length / records, 3),
    buildMs: round(median(buildTimes), 0),
    buildRuns: buildTimes.map((t) => round(t, 0)),
    falsePositiveRate: round(falsePositives / probes, 5),
    falsePositives,
    absentProbes: probes,
    falseNegatives,
  };
  if (falseNegatives !== 0) throw new Error(`snapshot filter has ${falseNegatives} false negatives`);
  log(
    `snapshot: ${records} records → ${result.bytes} bytes in ${result.buildMs} ms, FPR ${(result.falsePositiveRate * 100).toFixed(3)} %, 0 false negatives`,
  );
  return result;
}

// ---------------------------------------------------------------------------------------------
// snapshot.oneChangeBytesPerRegion, snapshot.coldClassifyMs (design §6; issue 21): the region
// snapshot as the edges take it — a manifest and content-addressed parts, one copy per region in
// its R2 bucket, record shards loaded per message. The edge's own store (src/edge/snapshot-store.ts)
// runs here, once per modelled isolate: each isolate is a separate instance of the module (its
// own memory: held manifest, eager parts, shard LRU), all sharing the region's bucket (an
// in-memory R2) and one counter of cross-region bytes (src/edge/cross-region.ts). Central is the
// core splitter's output served as central's routes serve it; every request to it is counted.

/** The R2 operations the snapshot store uses, in memory (Node has no R2). */
class MemoryBucket {
  private objects = new Map<
    string,
    { bytes: Uint8Array; etag: string; customMetadata: Record<string, string> }
  >();
  private serial = 0;
  async get(key: string) {
    const o = this.objects.get(key);
    if (!o) return null;
    return {
      key,
      etag: o.etag,
      size: o.bytes.length,
      customMetadata: o.customMetadata,
      arrayBuffer: async () => o.bytes.slice().buffer,
    };
  }
  async put(
    key: string,
    value: Uint8Array,
    opts: { customMetadata?: Record<string, string>; onlyIf?: { etagMatches?: string } } = {},
  ) {
    const previous = this.objects.get(key);
    if (opts.onlyIf?.etagMatches !== undefined && previous?.etag !== opts.onlyIf.etagMatches) return null;
    const etag = `e${++this.serial}`;
    this.objects.set(key, { bytes: value.slice(), etag, customMetadata: opts.customMetadata ?? {} });
    return { key, etag };
  }
  /** Bytes held under a prefix (the region's copy). */
  bytesUnder(prefix: string) {
    let n = 0;
    for (const [k, o] of this.objects) if (k.startsWith(prefix)) n += o.bytes.length;
    return n;
  }
}

/** The region's settings and routes around the deployment (its filters come from the state). */
function regionInput(): SnapshotInput {
  const input: SnapshotInput = {
    region: 'eu',
    version: 1,
    builtAt: 1_790_000_000_000,
    hashKey: HASH_KEY,
    rulesEnabled: true,
    egress: 'metadata+subject',
    mailboxes: [
      { address: 'carol@contoso.example', deployment: 'contoso', userId: 'u-carol', filter: 'records' },
    ],
    forwarding: [{ address: 'fwd@eu.bench.example', deployment: 'contoso' }],
    deployments: [
      {
        id: 'contoso',
        token: { prefix: 'CRM:', deploymentBase: 0, userDigits: 3, counterDigits: 3 },
        maxMessageBytes: 25 * 1024 * 1024,
        attachmentPolicy: 'regional',
        smartMatch: false,
        suppressions: ['@spam.example'],
        records: [],
        outbound: [],
      },
    ],
  };
  return input;
}

export async function benchSnapshotIsolates({
  smoke = false,
  log = () => {},
  records = smoke ? 20_000 : 1_000_000,
  isolates = smoke ? 4 : 20,
  coldRuns = smoke ? 3 : 9,
  daySamples = smoke ? 2 : 24,
  dayRebuilds,
}: {
  smoke?: boolean;
  log?: (line: string) => void;
  records?: number;
  isolates?: number;
  coldRuns?: number;
  /** Rebuilds of the day model measured through the isolates (each a publish at `records` and a region's refresh). */
  daySamples?: number;
  /** Rebuilds simulated per day (default: the whole day's; a smoke run takes 200 and scales). */
  dayRebuilds?: number;
} = {}) {
  const { splitSnapshot, encodeManifest } = await import('../src/core/snapshot-manifest.js');
  const { classify } = await import('../src/core/classify.js');
  const { readMessageFacts } = await import('../src/core/message-facts.js');
  const { takeCrossRegionCounts } = await import('../src/edge/cross-region.js');
  // The store's surface used here (its module's types need the edge's generated binding types).
  interface Store {
    refreshSnapshot(env: never, cfg: never, trigger: string): Promise<unknown>;
    noteCentralVersion(
      env: never,
      cfg: never,
      version: number,
      trigger: string,
    ): Promise<unknown> | undefined;
    currentSnapshot(
      env: never,
      cfg: never,
      waitUntil: (p: Promise<unknown>) => void,
    ): Promise<RoutingSnapshot>;
    classifyWithShards<T>(env: never, cfg: never, run: () => T): Promise<T>;
    heldSnapshotVersion(): number | undefined;
    heldSnapshotBytes(): { shards: number; eager: number };
  }
  let instances = 0;
  // A fresh module instance is a fresh isolate's memory.
  const isolate = async (): Promise<Store> => import(`../src/edge/snapshot-store.ts?isolate=${++instances}`);

  const { DeltaFilterState, membersByShard, outboundMembers, withDeltaFilters } = await import(
    '../src/core/delta-filter-state.js'
  );
  const central = {
    manifest: new Uint8Array() as Uint8Array<ArrayBuffer>,
    manifestObject: undefined as SnapshotManifest | undefined,
    etag: '',
    parts: new Map<string, Uint8Array>(),
    requests: 0,
    lastNewParts: { records: 0, outbound: 0, meta: 0, count: 0 },
  };
  // The deployment's filters as central keeps them (docs/decisions.md "Snapshots by change"): each
  // record shard a base and, once changed, a delta over it; the outbound filter likewise. The
  // record keys are hashed once; changes go through the state's change/flush (the one rule).
  const tBuild = performance.now();
  const bits = shardBitsFor(records);
  const recHi = new Uint32Array(records);
  const recLo = new Uint32Array(records);
  const recTags = new Uint8Array(records).fill(recordTag('contact', true));
  for (let i = 0; i < records; i++) {
    const [h, l] = keyedHash64(HASH_KEY, normaliseAddress(recordAddress(i)));
    recHi[i] = h;
    recLo[i] = l;
  }
  const recordState = new DeltaFilterState(membersByShard(recHi, recLo, recTags, bits), bits, true);
  let outboundState = new DeltaFilterState(outboundMembers(HASH_KEY, []), 0, false);
  const buildMs = performance.now() - tBuild;
  const settings = buildSnapshot(regionInput());
  let wholeBytes = 0;
  const publish = (version: number) => {
    const s = withDeltaFilters({ ...settings, version }, 'contoso', recordState, outboundState);
    if (!wholeBytes) wholeBytes = encodeSnapshot(s).length;
    const { manifest, parts } = splitSnapshot(s);
    // What the new version's parts weigh that the previous version did not have, by kind.
    const d = manifest.deployments.contoso;
    const kindOf = (name: string) =>
      name === d?.outbound || name === d?.outboundDelta ? 'outbound' : name === d?.meta ? 'meta' : 'records';
    const newParts = { records: 0, outbound: 0, meta: 0, count: 0 };
    for (const [name, bytes] of parts)
      if (!central.parts.has(name)) {
        newParts[kindOf(name)] += bytes.length;
        newParts.count++;
      }
    central.lastNewParts = newParts;
    central.manifestObject = manifest;
    central.manifest = encodeManifest(manifest) as Uint8Array<ArrayBuffer>;
    central.etag = `"${s.etag}"`;
    central.parts = parts;
    return { version: s.version, shards: manifest.deployments.contoso?.records.shards.length ?? 0 };
  };
  const realFetch = globalThis.fetch;
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    central.requests++;
    if (url.pathname === '/api/v1/edge/snapshot/manifest')
      return req.headers.get('if-none-match') === central.etag
        ? new Response(null, { status: 304 })
        : new Response(central.manifest, { headers: { etag: central.etag } });
    const part = central.parts.get(url.pathname.split('/').pop() ?? '');
    return part ? new Response(part as Uint8Array<ArrayBuffer>) : new Response('{}', { status: 404 });
  }) as typeof fetch;
  try {
    const bucket = new MemoryBucket();
    const env = { RAW: bucket } as never;
    const cfg = {
      region: 'eu',
      centralUrl: 'http://central.bench',
      signingKey: 'bench-signing-key',
      token: 'bench-token',
      centralTimeoutMs: 30_000,
    } as never;
    const first = publish(1);
    // The region's first load (once per region, not per isolate).
    takeCrossRegionCounts();
    central.requests = 0;
    const pool: Store[] = [];
    for (let i = 0; i < isolates; i++) pool.push(await isolate());
    for (const s of pool) await s.refreshSnapshot(env, cfg, 'cron');
    const firstLoad = takeCrossRegionCounts().snapshot;
    const firstLoadRequests = central.requests;

    /** Central publishes `version`; one isolate hears the notice, the rest refresh on their own. */
    const takeVersion = async (version: number) => {
      await pool[0]?.noteCentralVersion(env, cfg, version, 'notice');
      for (const s of pool.slice(1)) await s.refreshSnapshot(env, cfg, 'max-age');
      for (const s of pool)
        if (s.heldSnapshotVersion() !== version)
          throw new Error(`an isolate did not take version ${version}`);
    };

    // One record added: central publishes (a delta over one shard), what crosses between the
    // region and central.
    const [addHi, addLo] = keyedHash64(HASH_KEY, normaliseAddress(recordAddress(records)));
    recordState.change(addHi, addLo, recordTag('contact', true));
    recordState.flush();
    const next = publish(2);
    central.requests = 0;
    await takeVersion(next.version);
    const change = takeCrossRegionCounts().snapshot;
    const changeRequests = central.requests;

    // A cold isolate's first classification: region copy warm, isolate memory empty.
    const raw = new TextEncoder().encode(
      `From: ${recordAddress(4242)}\r\nTo: carol@contoso.example\r\nX-Forwarded-To: carol@contoso.example\r\nSubject: order\r\nMessage-ID: <cold@bench.example>\r\n\r\nhello\r\n`,
    );
    const coldTimes: number[] = [];
    let held = { shards: 0, eager: 0 };
    for (let r = 0; r < coldRuns; r++) {
      const cold = await isolate();
      const t = performance.now();
      const snapshot = await cold.currentSnapshot(env, cfg, () => {});
      const facts = readMessageFacts(raw, { from: recordAddress(4242), to: 'fwd@eu.bench.example' });
      const decision = await cold.classifyWithShards(env, cfg, () =>
        classify(facts, snapshot, { now: Date.now(), deployment: 'contoso' }),
      );
      coldTimes.push(performance.now() - t);
      if (decision.reason !== 'tracked:sender-record')
        throw new Error(`cold isolate decided ${decision.reason}`);
      held = cold.heldSnapshotBytes();
    }

    // A day of the CRM (DAY_MODEL): its changes arrive spread over the day, the publisher rebuilds
    // after each quiet gap of `quietMs` (Poisson arrivals: changes × e^(−rate × quiet) rebuilds),
    // and each rebuild carries the changes since the last. Every rebuild of a warm-up day and of
    // the measured day goes through the filters' state (the rule that turns a shard's changes into
    // a delta or a new base); what each rebuild costs a region is the new version's manifest, its
    // new parts and the requests for them. `daySamples` rebuilds spread over the measured day are
    // published and taken by the 20 isolates, their bytes counted where they cross; the day's
    // total uses those measurements for the per-request bytes and checks that the manifest and
    // part bytes counted per rebuild are what crossed.
    const { quietMs } = snapshotTuning({});
    const rate = DAY_MODEL.changes / 86_400;
    const rebuildsPerDay = Math.round(DAY_MODEL.changes * Math.exp(-rate * (quietMs / 1000)));
    const changesPerRebuild = DAY_MODEL.changes / rebuildsPerDay;
    const recordChanges = Math.max(1, Math.round(changesPerRebuild * DAY_MODEL.recordShare));
    const outboundChanges = Math.max(1, Math.round(changesPerRebuild) - recordChanges);
    outboundState = new DeltaFilterState(
      outboundMembers(
        HASH_KEY,
        Array.from({ length: DAY_MODEL.outboundHeld }, (_, i) => `held-${i}@crm.bench.example`),
      ),
      0,
      false,
    );
    let version = next.version + 1;
    publish(version);
    await takeVersion(version);
    takeCrossRegionCounts();
    const changed = new Map<number, string>();
    const tagOf = recordTag('contact', true);
    /** One rebuild's changes applied to the state: `recordChanges` addresses changed, `outboundChanges` registered. */
    const rebuild = (k: number) => {
      for (let c = 0; c < recordChanges; c++) {
        const i = (k * 7_919_993 + c * 104_729 + 13) % records;
        const [oh, ol] = keyedHash64(HASH_KEY, normaliseAddress(changed.get(i) ?? recordAddress(i)));
        const address = `changed${k}-${c}.${i}@company${i % 25_000}.example`;
        changed.set(i, address);
        const [nh, nl] = keyedHash64(HASH_KEY, normaliseAddress(address));
        recordState.change(oh, ol, 0);
        recordState.change(nh, nl, tagOf);
      }
      for (let c = 0; c < outboundChanges; c++) {
        const [h, l] = keyedHash64(HASH_KEY, normaliseMessageId(`<day${k}-${c}@crm.bench.example>`));
        outboundState.change(h, l, 1);
      }
      const bytes = recordState.flush() + outboundState.flush();
      return { bytes, parts: recordState.lastNewParts + outboundState.lastNewParts };
    };
    /** The manifest's bytes for the state now: the last published manifest with today's delta names. */
    const manifestBytesNow = () => {
      const m = central.manifestObject as SnapshotManifest;
      const d = m.deployments.contoso as SnapshotManifest['deployments'][string];
      const name = '0'.repeat(32);
      const deltas = recordState.deltaShards();
      const outboundDelta = outboundState.deltaShards().length > 0;
      const { outboundDelta: _o, ...rest } = d;
      const { deltas: _d, ...records } = d.records;
      return encodeManifest({
        ...m,
        version,
        format: deltas.length || outboundDelta ? 2 : 1,
        deployments: {
          contoso: {
            ...rest,
            ...(outboundDelta ? { outboundDelta: name } : {}),
            records: {
              ...records,
              ...(deltas.length ? { deltas: Object.fromEntries(deltas.map((i) => [String(i), name])) } : {}),
            },
          },
        },
      }).length;
    };
    const simulated = Math.min(rebuildsPerDay, dayRebuilds ?? (smoke ? 200 : rebuildsPerDay));
    const sampleEvery = Math.max(1, Math.floor(simulated / daySamples));
    const samples: Array<{
      rebuild: number;
      crossedBytes: number;
      requests: number;
      manifestBytes: number;
      newPartBytes: number;
      newParts: number;
      countedManifestBytes: number;
    }> = [];
    let warmupRebases = 0;
    let dayBodyBytes = 0;
    let dayRequests = 0;
    const rebasesBefore = { records: 0, outbound: 0 };
    for (let k = 0; k < 2 * simulated; k++) {
      const measuredDay = k >= simulated;
      const dayIndex = k - simulated;
      const sampled =
        measuredDay && dayIndex % sampleEvery === sampleEvery - 1 && samples.length < daySamples;
      if (k === simulated) {
        warmupRebases = recordState.rebases + outboundState.rebases;
        rebasesBefore.records = recordState.rebases;
        rebasesBefore.outbound = outboundState.rebases;
      }
      if (sampled) {
        // The region holds the version before this rebuild (not counted), then takes this one.
        publish(++version);
        await takeVersion(version);
        takeCrossRegionCounts();
      }
      const made = rebuild(k);
      if (!measuredDay) continue;
      version++;
      const manifestBytes = manifestBytesNow();
      dayBodyBytes += manifestBytes + made.bytes;
      dayRequests += 1 + made.parts;
      if (!sampled) continue;
      publish(version);
      central.requests = 0;
      await takeVersion(version);
      const moved = takeCrossRegionCounts().snapshot;
      samples.push({
        rebuild: dayIndex,
        crossedBytes: moved.fromCentral + moved.toCentral,
        requests: central.requests,
        manifestBytes: central.manifest.length,
        newPartBytes:
          central.lastNewParts.records + central.lastNewParts.outbound + central.lastNewParts.meta,
        newParts: central.lastNewParts.count,
        countedManifestBytes: manifestBytes,
      });
      if (central.lastNewParts.records + central.lastNewParts.outbound !== made.bytes)
        throw new Error(
          `day model: the state counted ${made.bytes} B of new parts, the published version has ${central.lastNewParts.records + central.lastNewParts.outbound} B`,
        );
      if (Math.abs(central.manifest.length - manifestBytes) > 64)
        throw new Error(
          `day model: manifest counted ${manifestBytes} B, published ${central.manifest.length} B`,
        );
    }
    // Bytes a request costs beyond its bodies (request line, headers, signatures; both directions).
    const perRequest = median(
      samples.map((x) => (x.crossedBytes - x.manifestBytes - x.newPartBytes) / Math.max(1, x.requests)),
    );
    const snapshotBytesPerDayPerRegion = Math.round(
      ((dayBodyBytes + dayRequests * perRequest) * rebuildsPerDay) / simulated,
    );
    const dayModel = {
      changesPerDay: DAY_MODEL.changes,
      quietMs,
      rebuildsPerDay,
      recordChangesPerRebuild: recordChanges,
      outboundChangesPerRebuild: outboundChanges,
      outboundHeld: DAY_MODEL.outboundHeld,
      simulatedRebuilds: simulated,
      warmupRebuilds: simulated,
      warmupRebases,
      rebasesInDay: {
        records: recordState.rebases - rebasesBefore.records,
        outbound: outboundState.rebases - rebasesBefore.outbound,
      },
      shardsWithDeltaAtEnd: recordState.deltaShards().length,
      sampledRebuilds: samples.length,
      samples,
      bytesPerRequest: round(perRequest, 1),
      bytesPerRebuildPerRegion: round(snapshotBytesPerDayPerRegion / rebuildsPerDay, 0),
      bytesPerRebuildPerRegionSampledMedian: round(median(samples.map((x) => x.crossedBytes)), 0),
      snapshotBytesPerDayPerRegion,
    };
    log(
      `snapshot day model: ${DAY_MODEL.changes} changes/day → ${dayModel.rebuildsPerDay} rebuilds of ${recordChanges} record + ${outboundChanges} outbound changes; ${dayModel.bytesPerRebuildPerRegion} B per rebuild per region (sampled median ${dayModel.bytesPerRebuildPerRegionSampledMedian} B) → ${dayModel.snapshotBytesPerDayPerRegion} B per region per day`,
    );

    const result = {
      records,
      isolates,
      shards: next.shards,
      wholeSnapshotBytes: wholeBytes,
      buildMs: round(buildMs, 0),
      regionFirstLoadBytes: firstLoad.fromCentral + firstLoad.toCentral,
      regionFirstLoadRequests: firstLoadRequests,
      oneChangeBytesPerRegion: change.fromCentral + change.toCentral,
      oneChangeFromCentral: change.fromCentral,
      oneChangeToCentral: change.toCentral,
      oneChangeRequestsPerRegion: changeRequests,
      // What the same change cost before (every isolate downloaded the whole snapshot).
      oneChangeBytesPerRegionWholeSnapshot: isolates * wholeBytes,
      manifestBytes: central.manifest.length,
      coldClassifyMs: round(median(coldTimes), 2),
      coldClassifyRunsMs: coldTimes.map((t) => round(t, 2)),
      coldIsolateHeldBytes: held.shards + held.eager,
      regionCopyBytes: bucket.bytesUnder('snapshot/'),
      day: dayModel,
    };
    log(
      `snapshot isolates: ${records} records, ${isolates} isolates: one change ${result.oneChangeBytesPerRegion} B and ${changeRequests} requests per region (whole-snapshot design: ${result.oneChangeBytesPerRegionWholeSnapshot} B); cold first classification ${result.coldClassifyMs} ms holding ${result.coldIsolateHeldBytes} B`,
    );
    void first;
    return result;
  } finally {
    globalThis.fetch = realFetch;
  }
}
