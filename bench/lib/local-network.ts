// The start-up the CRM connector benchmarks share: central and the chosen edges with
// `scripts/network.ts` (the code of `npm start`) on free ports and a fresh state folder, demo data
// seeded, an admin client; a deployment connected to a CRM through the API and its first sync
// waited for; and the HubSpot fake (fakes/hubspot.ts) in this process with its control calls.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fakeControl } from '../../fakes/control.js';
import { startHubspotFake } from '../../fakes/hubspot.js';
import { createCentralClient } from '../../scripts/central-client.js';
import {
  type EdgeWorker,
  freePort,
  LOCAL_ADMIN_TOKEN,
  ROOT,
  startCentral,
  startCronTicker,
  startEdges,
  type Worker,
} from '../../scripts/network.js';
import type { Region } from '../../scripts/regions.js';
import { seedDemoData } from '../../scripts/seed.js';

export type CentralApi = ReturnType<typeof createCentralClient>;
export type Log = (line: string) => void;

/** A log line with the wall time and the seconds since the bench started. */
export function benchLogger(): { log: Log; quiet: Log } {
  const t0 = Date.now();
  const log: Log = (line) =>
    console.log(`[${new Date().toISOString()} +${((Date.now() - t0) / 1000).toFixed(0)}s] ${line}`);
  // wrangler's output: only what looks like a failure.
  const quiet: Log = (line) => {
    if (/error|fail/i.test(line)) log(line.slice(0, 300));
  };
  return { log, quiet };
}

export interface BenchNetwork {
  central: Worker;
  edges: Partial<Record<Region, EdgeWorker>>;
  api: CentralApi;
  stateDir: string;
  ports: Record<string, number>;
  /** With `cronIntervalMs`: when the ticker fired first (it fires every interval from then). */
  cronStartedAt?: number;
  stop: () => Promise<void>;
}

/**
 * Central and `regions`' edges, demo data seeded. `cronIntervalMs` unset: the runner's own cron
 * tickers (`npm start`'s, every 15 s); set: both central's and the edges' per-minute cron ticked at
 * that interval instead (60_000 is the deployed `* * * * *` cadence).
 */
export async function startBenchNetwork({
  name,
  regions,
  log,
  cronIntervalMs,
}: {
  name: string;
  regions: readonly Region[];
  log: Log;
  cronIntervalMs?: number;
}): Promise<BenchNetwork> {
  const stateRoot = process.env.CRM_STATE_DIR ?? join(ROOT, '.wrangler', 'state');
  mkdirSync(stateRoot, { recursive: true });
  const stateDir = mkdtempSync(join(stateRoot, `${name}-`));
  const ports: Record<string, number> = {
    central: Number(process.env.CENTRAL_PORT ?? (await freePort())),
  };
  for (const r of regions)
    ports[r] = Number(process.env[`EDGE_${r.toUpperCase()}_PORT`] ?? (await freePort()));
  log(`state ${stateDir}, ports ${JSON.stringify(ports)}`);
  const ownCron = cronIntervalMs !== undefined;
  const [central, edges] = await Promise.allSettled([
    startCentral({ port: ports.central as number, stateDir, log, cron: !ownCron }),
    startEdges({
      ports,
      centralUrl: `http://127.0.0.1:${ports.central}`,
      stateDir,
      log,
      regions,
      cron: !ownCron,
    }),
  ]);
  if (central.status === 'rejected' || edges.status === 'rejected') {
    await Promise.all([
      central.status === 'fulfilled' ? central.value.stop() : undefined,
      edges.status === 'fulfilled' ? edges.value.stop() : undefined,
    ]);
    rmSync(stateDir, { recursive: true, force: true });
    throw central.status === 'rejected' ? central.reason : (edges as PromiseRejectedResult).reason;
  }
  const cronStartedAt = ownCron ? Date.now() : undefined;
  const stopTicker = ownCron
    ? startCronTicker([central.value.url, ...edges.value.edges.map((e) => e.url)], cronIntervalMs)
    : () => {};
  const stop = async () => {
    stopTicker();
    await Promise.all([edges.value.stop(), central.value.stop()]);
    rmSync(stateDir, { recursive: true, force: true });
  };
  try {
    await seedDemoData(central.value.url, LOCAL_ADMIN_TOKEN, () => {});
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    central: central.value,
    edges: Object.fromEntries(edges.value.edges.map((e) => [e.region, e])),
    api: createCentralClient({ baseUrl: central.value.url, token: LOCAL_ADMIN_TOKEN }),
    stateDir,
    ports,
    ...(cronStartedAt !== undefined ? { cronStartedAt } : {}),
    stop,
  };
}

/** `PUT …/connector`, then `POST …/connector/sync`. */
export async function connectCrm(
  api: CentralApi,
  deployment: string,
  connector: { kind: string; settings: object; secrets: object },
): Promise<void> {
  await api.call('PUT', `/api/v1/deployments/${deployment}/connector`, { body: connector });
  await api.call('POST', `/api/v1/deployments/${deployment}/connector/sync`);
}

/** Polls the record store (`GET …/records?address=`) every second until record `id` holds `address`. */
export async function waitForRecord(
  api: CentralApi,
  deployment: string,
  address: string,
  id: string,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await api.call(
      'GET',
      `/api/v1/deployments/${deployment}/records?address=${encodeURIComponent(address)}`,
    )) as { items: { id: string }[] };
    if (found.items.some((r) => r.id === id)) return;
    if (Date.now() > deadline) throw new Error(`record ${id} (${address}) never reached the record store`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** The HubSpot fake in this process, one tenant (`/t/<tenant>`), and its `/__fake/<name>` controls. */
export async function startHubspotTenant(tenant = 'bench') {
  const fake = await startHubspotFake();
  const crm = `${fake.url}/t/${tenant}`;
  const control = <T = unknown>(name: string, body?: unknown): Promise<T> => fakeControl<T>(crm, name, body);
  return { crm, control, close: () => fake.close() };
}
