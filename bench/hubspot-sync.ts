// hubspot-sync: a first full sync of N HubSpot contacts (default 100,000, issue 20's target: ≤ 2 min)
// through the HubSpot adapter (src/central/connectors/hubspot.ts) against the local HubSpot fake
// (fakes/hubspot.ts), in Node, one pull after another as the connector framework calls it. It
// measures the adapter and the fake's HTTP API only: applying the pages to the record store (D1)
// is the framework's and not in this figure. Contacts' modification times are spread over 30 days,
// so the first window [0, now) is over the 10,000-result cap and gets halved.
// `npm run bench:hubspot [-- --contacts N]` → bench/results/hubspot-sync.json.
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HUBSPOT_FAKE_TOKEN, startHubspotFake } from '../fakes/hubspot.js';
import { ROOT } from '../scripts/network.js';
import { gitCommit } from './lib/results.js';

// The adapter is Workers code whose type graph (D1, CentralEnv) is not part of this Node project:
// it is loaded by path, with the slice of its contract this bench calls.
interface PullContext {
  deployment: string;
  settings: Record<string, unknown>;
  secrets: Record<string, string>;
  cache: {
    get(k: string): Promise<string | undefined>;
    put(k: string, v: string, ttl: number): Promise<void>;
  };
  now(): number;
}
interface PullPage {
  upserts: { type: string; id: string }[];
  nextCursor: string;
  done: boolean;
}
const adapterPath = '../src/central/connectors/hubspot.js';
const { hubspotAdapter } = (await import(adapterPath)) as {
  hubspotAdapter: { pull(ctx: PullContext, cursor: string | undefined): Promise<PullPage> };
};

const { values } = parseArgs({ options: { contacts: { type: 'string', default: '100000' } } });
const count = Number(values.contacts);
const fake = await startHubspotFake();
try {
  const base = `${fake.url}/t/bench`;
  const now = Date.now();
  await fetch(`${base}/__fake/seed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ bulkContacts: { count, from: now - 30 * 86_400_000, to: now - 60_000 } }),
  });
  const cache = new Map<string, string>();
  const ctx: PullContext = {
    deployment: 'bench',
    settings: { baseUrl: base },
    secrets: { accessToken: HUBSPOT_FAKE_TOKEN },
    cache: { get: async (k) => cache.get(k), put: async (k, v) => void cache.set(k, v) },
    now: () => Date.now(),
  };
  const ids = new Set<string>();
  let cursor: string | undefined;
  let pages = 0;
  const started = performance.now();
  for (;;) {
    const page = await hubspotAdapter.pull(ctx, cursor);
    pages++;
    for (const r of page.upserts) if (r.type === 'contact') ids.add(r.id);
    cursor = page.nextCursor;
    if (page.done) break;
  }
  const ms = performance.now() - started;
  const requests = ((await (await fetch(`${base}/__fake/log`)).json()) as unknown[]).length;
  if (ids.size !== count) throw new Error(`synced ${ids.size} of ${count} contacts`);
  const result = {
    commit: gitCommit(),
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg1: loadavg()[0] },
    contacts: count,
    seconds: Math.round(ms) / 1000,
    contactsPerSec: Math.round((count / ms) * 1000),
    pulls: pages,
    httpRequests: requests,
    target: { seconds: 120, met: ms <= 120_000 },
  };
  writeFileSync(join(ROOT, 'bench', 'results', 'hubspot-sync.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
} finally {
  await fake.close();
}
