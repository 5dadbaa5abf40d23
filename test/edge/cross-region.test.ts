// The edge's cross-region counters: every request to central and its answer, by kind, reported
// with the next heartbeat. Central cannot run inside the edge project, so a stand-in answers the
// edge's fetches here (the e2e suite and the bench count against the real central).
import { afterEach, describe, expect, test, vi } from 'vitest';
import { headerBytes, requestLineBytes, STATUS_LINE_BYTES } from '../../src/core/http-bytes.js';
import { type IngestBatch, SIGNATURE_HEADERS } from '../../src/core/wire.js';
import { postBatch } from '../../src/edge/central-batch.js';
import { centralFetch } from '../../src/edge/central-client.js';
import { readEdgeConfig } from '../../src/edge/config.js';
import { resetCrossRegionCounts, takeCrossRegionCounts } from '../../src/edge/cross-region.js';
import { edgeEnv } from './helpers.js';

const cfg = { ...readEdgeConfig(edgeEnv), centralUrl: 'http://central.example' };

/** A stand-in central: records each request (head and body as sent) and answers `answer()`. */
function standInCentral(answer: (req: Request) => Response) {
  const seen: { req: Request; body: Uint8Array }[] = [];
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init as RequestInit);
    seen.push({ req, body: new Uint8Array(await req.clone().arrayBuffer()) });
    return answer(req);
  });
  return seen;
}

async function inflateBatch(body: Uint8Array): Promise<IngestBatch> {
  const stream = new Blob([body as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new DecompressionStream('gzip'));
  return JSON.parse(await new Response(stream).text()) as IngestBatch;
}

const ingestAnswer = () => Response.json({ batchId: 'x', snapshotVersion: 1, results: [], receipts: 0 });

afterEach(() => {
  vi.restoreAllMocks();
  resetCrossRegionCounts();
});

describe('cross-region bytes at the edge', () => {
  test('a request to central counts its head and body as sent, and its answer as received, under its kind', async () => {
    takeCrossRegionCounts();
    const payload = new Uint8Array(1234);
    const seen = standInCentral(
      () => new Response('x'.repeat(500), { headers: { 'content-length': '500' } }),
    );
    const res = await centralFetch(cfg, '/api/v1/ingest', 'spool', { method: 'POST', body: payload });
    await res.text();
    const sent = seen[0]!;
    const head: Record<string, string> = { host: 'central.example', 'content-length': '1234' };
    sent.req.headers.forEach((v, k) => {
      head[k] = v;
    });
    const counts = takeCrossRegionCounts();
    expect(counts.spool.toCentral).toBe(
      requestLineBytes('POST', '/api/v1/ingest') + headerBytes(head) + 1234,
    );
    expect(counts.spool.toCentral).toBeGreaterThan(1234 + 3 * 64);
    expect(counts.spool.fromCentral).toBe(STATUS_LINE_BYTES + headerBytes(res.headers) + 500);
    expect(counts.ingest).toEqual({ toCentral: 0, fromCentral: 0 });
    expect(sent.req.headers.get(SIGNATURE_HEADERS.region)).toBe('us');
  });

  test('an answer without content-length is counted as its body is read', async () => {
    takeCrossRegionCounts();
    standInCentral(
      () =>
        new Response(
          new ReadableStream({
            start(c) {
              c.enqueue(new Uint8Array(700));
              c.enqueue(new Uint8Array(300));
              c.close();
            },
          }),
        ),
    );
    const res = await centralFetch(cfg, '/api/v1/edge/snapshot?region=us', 'snapshot');
    expect((await res.arrayBuffer()).byteLength).toBe(1000);
    const counts = takeCrossRegionCounts();
    expect(counts.snapshot.fromCentral).toBe(STATUS_LINE_BYTES + headerBytes(res.headers) + 1000);
  });

  test('the next heartbeat carries what was counted, once; a report without an answer is posted again under its id', async () => {
    takeCrossRegionCounts();
    let down = false;
    const seen = standInCentral(() => (down ? new Response('busy', { status: 503 }) : ingestAnswer()));
    await (await centralFetch(cfg, '/api/v1/edge/snapshot?region=us', 'snapshot')).arrayBuffer();
    const snapshotBytes = { ...takeCrossRegionCounts().snapshot };
    // The same bytes again, not yet reported, then heartbeats.
    await (await centralFetch(cfg, '/api/v1/edge/snapshot?region=us', 'snapshot')).arrayBuffer();

    // No answer: central may have stored the report or not, so it goes again under the same id
    // (central counts an id once, test/central/cross-region-stats.test.ts).
    down = true;
    await expect(postBatch(cfg, { items: [], receipts: [] }, 'heartbeat')).rejects.toThrow(/503/);
    down = false;
    await postBatch(cfg, { items: [], receipts: [] }, 'heartbeat');
    await postBatch(cfg, { items: [], receipts: [] }, 'heartbeat');

    const [failed, first, second] = await Promise.all(seen.slice(2).map((s) => inflateBatch(s.body)));
    expect(failed!.heartbeat?.crossRegion).toEqual({ snapshot: snapshotBytes });
    expect(failed!.heartbeat?.crossRegionId).toEqual(expect.any(String));
    expect(first!.heartbeat?.crossRegion).toEqual({ snapshot: snapshotBytes });
    expect(first!.heartbeat?.crossRegionId).toBe(failed!.heartbeat?.crossRegionId);
    // Once taken, a new report under a new id: the two heartbeats' own traffic, and nothing twice.
    expect(second!.heartbeat?.crossRegionId).not.toBe(first!.heartbeat?.crossRegionId);
    expect(second!.heartbeat?.crossRegion?.snapshot).toBeUndefined();
    expect(second!.heartbeat?.crossRegion?.heartbeat?.toCentral).toBe(
      seen[2]!.body.byteLength + headOf(seen[2]!) + seen[3]!.body.byteLength + headOf(seen[3]!),
    );
  });

  test('a report central refused for good is not posted again (it would be refused forever)', async () => {
    takeCrossRegionCounts();
    let refuse = true;
    const seen = standInCentral(() =>
      refuse ? Response.json({ error: { code: 'validation_failed' } }, { status: 400 }) : ingestAnswer(),
    );
    await (await centralFetch(cfg, '/api/v1/edge/snapshot?region=us', 'snapshot')).arrayBuffer();
    await expect(postBatch(cfg, { items: [], receipts: [] }, 'heartbeat')).rejects.toThrow(/400/);
    refuse = false;
    await postBatch(cfg, { items: [], receipts: [] }, 'heartbeat');
    const [refused, next] = await Promise.all(seen.slice(1).map((s) => inflateBatch(s.body)));
    expect(refused!.heartbeat?.crossRegion?.snapshot).toBeDefined();
    expect(next!.heartbeat?.crossRegionId).not.toBe(refused!.heartbeat?.crossRegionId);
    expect(next!.heartbeat?.crossRegion?.snapshot).toBeUndefined();
  });
});

function headOf(s: { req: Request; body: Uint8Array }): number {
  const head: Record<string, string> = {
    host: 'central.example',
    'content-length': String(s.body.byteLength),
  };
  s.req.headers.forEach((v, k) => {
    head[k] = v;
  });
  return requestLineBytes('POST', '/api/v1/ingest') + headerBytes(head);
}
