// The edge's snapshot store (issue 21, items 1–3) against a recording central that serves
// manifests and parts as central's routes do (the edge project has no central; the bytes it
// serves come from the same core splitter central publishes with). An isolate is modelled by
// forgetting this one's memory (the region's R2 copy stays, as it does across isolates).
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { keyedHash64 } from '../../src/core/keyed-hash.js';
import { filterHas } from '../../src/core/membership-filter.js';
import { buildSnapshot, type RoutingSnapshot, type SnapshotInput } from '../../src/core/snapshot.js';
import { encodeManifest, manifestParts, splitSnapshot } from '../../src/core/snapshot-manifest.js';
import type { RecordType } from '../../src/core/types.js';
import { readEdgeConfig } from '../../src/edge/config.js';
import { takeCrossRegionCounts } from '../../src/edge/cross-region.js';
import { processMessage } from '../../src/edge/pipeline.js';
import {
  classifyWithShards,
  currentSnapshot,
  forgetHeldSnapshot,
  heldSnapshotBytes,
  noteCentralVersion,
  refreshSnapshot,
} from '../../src/edge/snapshot-store.js';
import { capturingEnv, edgeEnv } from './helpers.js';
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
