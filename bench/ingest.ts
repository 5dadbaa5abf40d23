// ingest.*: batched ingestion into central's local D1 through the real endpoint — signed,
// gzip-compressed batches POSTed to /api/v1/ingest as an edge does — against the baseline of one
// item per request (one insert per item).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createCentralClient } from '../scripts/central-client.js';
import { type DemoMailbox, demoRecords, MAILBOXES } from '../scripts/demo-data.js';
import {
  directUrl,
  freePort,
  LOCAL_ADMIN_TOKEN,
  LOCAL_EDGE_KEY_SECRET,
  startCentral,
} from '../scripts/network.js';
import { seedDemoData, writeDemoDeployment, writeDemoRegions } from '../scripts/seed.js';
import { createRng, type Rng } from '../scripts/traffic.js';
import { deriveEdgeCredentials, signBody } from '../src/core/request-signature.js';
import { timeOrderedId } from '../src/core/time-ordered-id.js';
import type { IngestItem } from '../src/core/wire.js';
import { median, round } from './lib/stats.js';

type Credentials = { signingKey: string; token: string };

const REGION = 'eu';

/** A CRM-bound item as an edge builds it under `metadata+subject`: from a CRM contact to a mailbox. */
function makeItem(rng: Rng, runId: string, n: number): IngestItem {
  const mailbox: DemoMailbox = rng.pick(
    MAILBOXES.filter((m) => m.region === REGION && m.deployment === 'contoso'),
  );
  const contacts = demoRecords('contoso').filter((r) => r.type === 'contact');
  const from = rng.pick(contacts).emails[0] as string;
  const now = Date.now();
  // The copy id as an edge mints it (src/edge/ingest-item.ts), so counted_ids sees the edge's keys.
  const id = timeOrderedId(now);
  const attachments = Array.from({ length: rng.int(0, 2) }, (_, i) => ({
    filename: `file-${i}.pdf`,
    contentType: 'application/pdf',
    size: rng.int(10_000, 2_000_000),
    ref: { region: REGION, key: `att/${id}/${i}`, size: rng.int(10_000, 2_000_000) },
  }));
  return {
    kind: 'item',
    id,
    region: REGION,
    deployment: 'contoso',
    messageId: `bench-ingest-${runId}-${n}@customer.example`,
    contentHash: randomUUID().replaceAll('-', '').repeat(2),
    receivedAt: now,
    sizeBytes: rng.int(2_000, 3_000_000),
    mailboxes: [mailbox.address],
    reason: 'tracked:sender-record',
    correlation: {
      method: 'sender-record',
      detail: 'the sender matches an email-enabled CRM record (email-enabled filter)',
    },
    egress: 'metadata+subject',
    from: { address: from, name: 'Customer Contact' },
    to: [{ address: mailbox.address }],
    cc: rng.chance(0.3) ? [{ address: rng.pick(contacts).emails[0] as string }] : [],
    subject: `Order ${n}: renewal of the support contract`,
    date: now - 5000,
    inReplyTo: [],
    references: [],
    attachments,
    raw: { region: REGION, key: `raw/2026-01-01/${id}.eml`, size: 100_000 },
  };
}

/** A batch's body as an edge sends it: JSON, gzip-compressed (built before the timed send). */
function batchBody(items: IngestItem[]): Buffer<ArrayBuffer> {
  const batch = {
    batchId: timeOrderedId(Date.now()),
    region: REGION,
    sentAt: Date.now(),
    items,
    receipts: [],
  };
  return gzipSync(Buffer.from(JSON.stringify(batch)));
}

async function postBatch(central: string, creds: Credentials, body: Buffer<ArrayBuffer>) {
  const timestamp = Date.now();
  const signature = await signBody(creds.signingKey, timestamp, body);
  const res = await fetch(`${central}/api/v1/ingest`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${creds.token}`,
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'x-edge-region': REGION,
      'x-edge-timestamp': String(timestamp),
      'x-edge-signature': signature,
    },
    body,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`ingest answered ${res.status}: ${text.slice(0, 300)}`);
  const answer = JSON.parse(text);
  const bad = answer.results.filter((r: { status: string }) => r.status !== 'accepted');
  if (bad.length) throw new Error(`ingest did not accept ${bad.length} items: ${JSON.stringify(bad[0])}`);
  return answer;
}

/**
 * What `makeItem` needs in central, for a central that holds other data already (bench:scale):
 * the demo regions and the contoso deployment (scripts/seed.ts), written again harmlessly.
 */
export async function seedIngestFixtures(central: string, token: string) {
  const api = createCentralClient({ baseUrl: central, token });
  await writeDemoRegions(api);
  await writeDemoDeployment(api, 'contoso');
}

/**
 * Items per second over `batches` batches of `size` items, `inFlight` requests at a time (1: one
 * edge consumer sending one batch after another; more: several regions, or a consumer's concurrent
 * invocations, posting at once).
 */
export async function measure(
  central: string,
  creds: Credentials,
  rng: Rng,
  runId: string,
  { size, batches, inFlight = 1 }: { size: number; batches: number; inFlight?: number },
) {
  let n = 0;
  await postBatch(central, creds, batchBody(Array.from({ length: size }, () => makeItem(rng, runId, n++)))); // warm-up
  // Built and compressed before the clock starts: the edge's work, not central's. Signed at send.
  const prepared = Array.from({ length: batches }, () =>
    batchBody(Array.from({ length: size }, () => makeItem(rng, runId, n++))),
  );
  const perBatch: number[] = [];
  const t = performance.now();
  let next = 0;
  const sender = async () => {
    while (next < prepared.length) {
      const s = performance.now();
      await postBatch(central, creds, prepared[next++] as Buffer<ArrayBuffer>);
      perBatch.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, inFlight) }, sender));
  const seconds = (performance.now() - t) / 1000;
  return { itemsPerSec: (size * batches) / seconds, medianBatchMs: median(perBatch) };
}

/**
 * Runs against `central` (a running central with the demo data) or starts its own central on a
 * free port with a fresh state folder and seeds the demo data through the admin API. Its own
 * central is measured on its own workerd socket, past wrangler dev's proxy (production has none),
 * as the e2e bench measures (`centralSocket`).
 */
export async function benchIngest({
  central,
  smoke = false,
  log = () => {},
}: {
  central?: string | undefined;
  smoke?: boolean;
  log?: (line: string) => void;
} = {}) {
  let own: { stop: () => Promise<void> } | undefined;
  let stateDir: string | undefined;
  try {
    // What is measured: the given central as given, or our own on its workerd socket.
    let target: { url: string; socket: 'workerd' | 'wrangler-proxy' };
    if (central) target = { url: central, socket: 'wrangler-proxy' };
    else {
      stateDir = mkdtempSync(join(tmpdir(), 'crm-bench-ingest-'));
      const started = await startCentral({ port: await freePort(), stateDir, log: () => {} });
      own = started;
      await seedDemoData(started.url, LOCAL_ADMIN_TOKEN, () => {});
      const direct = await directUrl(started);
      target = direct ? { url: direct, socket: 'workerd' } : { url: started.url, socket: 'wrangler-proxy' };
    }
    const creds = await deriveEdgeCredentials(LOCAL_EDGE_KEY_SECRET, REGION);
    const rng = createRng('bench-ingest');
    const runId = Date.now().toString(36);
    const rounds = smoke ? 1 : 3;
    const batched: number[] = [];
    const bySize: Record<number, { itemsPerSec: number; medianBatchMs: number }> = {};
    for (const size of smoke ? [100] : [100, 250, 500]) {
      const runs: { itemsPerSec: number; medianBatchMs: number }[] = [];
      for (let r = 0; r < rounds; r++)
        runs.push(
          await measure(target.url, creds, rng, `${runId}-${size}-${r}`, {
            size,
            batches: smoke ? 2 : Math.ceil(5000 / size),
          }),
        );
      bySize[size] = {
        itemsPerSec: round(median(runs.map((x) => x.itemsPerSec)), 0),
        medianBatchMs: round(median(runs.map((x) => x.medianBatchMs)), 1),
      };
      if (size === (smoke ? 100 : 250)) batched.push(...runs.map((x) => x.itemsPerSec));
    }
    const single: number[] = [];
    for (let r = 0; r < rounds; r++)
      single.push(
        (await measure(target.url, creds, rng, `${runId}-1-${r}`, { size: 1, batches: smoke ? 20 : 300 }))
          .itemsPerSec,
      );
    const itemsPerSec = median(batched);
    const oneByOne = median(single);
    const result = {
      itemsPerSec: round(itemsPerSec, 0),
      batchSize: smoke ? 100 : 250,
      oneByOneItemsPerSec: round(oneByOne, 0),
      speedup: round(itemsPerSec / oneByOne, 1),
      centralSocket: target.socket,
      bySize,
      runs: { batched: batched.map((x) => round(x, 0)), oneByOne: single.map((x) => round(x, 0)) },
    };
    log(
      `ingest: ${result.itemsPerSec} items/s in batches of ${result.batchSize}, ${result.oneByOneItemsPerSec} items/s one by one (${result.speedup}×)`,
    );
    return result;
  } finally {
    await own?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  }
}
