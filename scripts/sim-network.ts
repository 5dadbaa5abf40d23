// Network plumbing for the traffic simulator and the benchmarks: snapshot sync, a delay proxy
// that puts a real round-trip time on the edge → central path, and a private local network (fresh state, free ports) whose edges reach central through those proxies.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CentralClient, createCentralClient } from './central-client.js';
import {
  directUrl,
  freePort,
  LOCAL_ADMIN_TOKEN,
  type Log,
  REGIONS,
  type Region,
  startCentral,
  startCronTicker,
  startEdge,
  waitForHealth,
} from './network.js';
import { seedDemoData } from './seed.js';

export const HOME_REGION: Region = 'us';

/** The admin client of a (local) central. */
export function adminClient(centralUrl: string, token = LOCAL_ADMIN_TOKEN): CentralClient {
  return createCentralClient({ baseUrl: centralUrl, token });
}

/** Runs an edge's per-minute cron (snapshot refresh, heartbeat) once; a failure is retried by the caller's loop. */
async function tickEdge(url: string): Promise<void> {
  await fetch(`${url}/__scheduled?cron=${encodeURIComponent('* * * * *')}`, {
    signal: AbortSignal.timeout(15_000),
  })
    .then((r) => r.arrayBuffer())
    .catch(() => {});
}

/**
 * Makes every edge hold its region's current snapshot: triggers the edge's scheduled handler
 * (snapshot refresh) and waits until its /health reports the version central publishes, once
 * central has built every change made before the call.
 */
export async function syncSnapshots(
  api: CentralClient,
  edges: Partial<Record<Region, string>>,
  { timeoutMs = 60_000 }: { timeoutMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Changes made just before (outbound registrations, records) are in central's snapshot only once
  // built, after the publisher's quiet period; until then `snapshotVersion` is the old one, and an
  // edge holding it would classify without them.
  let regions = (await api.regions.list()).items;
  const ours = (r: { id: string }) => r.id in edges;
  while (regions.some((r) => ours(r) && r.snapshotPending)) {
    if (Date.now() > deadline)
      throw new Error(
        `central did not build the snapshots of ${regions
          .filter((r) => ours(r) && r.snapshotPending)
          .map((r) => r.id)
          .join(', ')} in time`,
      );
    // With the snapshot push off, an edge's poll is what builds them.
    await Promise.all(Object.values(edges).map((url) => url && tickEdge(url)));
    await new Promise((r) => setTimeout(r, 250));
    regions = (await api.regions.list()).items;
  }
  await Promise.all(
    Object.entries(edges).map(async ([region, url]) => {
      const want = regions.find((r) => r.id === region)?.snapshotVersion;
      if (want === undefined) throw new Error(`central has no region ${region}`);
      for (;;) {
        await tickEdge(url);
        const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5_000) })
          .then((r) => r.json() as Promise<{ snapshotVersion?: number }>)
          .catch(() => ({}) as { snapshotVersion?: number });
        if ((health.snapshotVersion ?? -1) >= want) return;
        if (Date.now() > deadline)
          throw new Error(`edge ${region} did not load snapshot version ${want} in time`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }),
  );
}

/**
 * `us-eu=80,us-apac=150,eu-apac=200` → round-trip ms between each region and the home region.
 * Pairs are unordered; a region paired with itself (or absent) gets 0.
 */
export function parseRtt(spec: string | undefined, home: Region = HOME_REGION): Record<Region, number> {
  const pairs = new Map<string, number>();
  for (const part of String(spec ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([a-z0-9-]+?)-([a-z0-9]+)=(\d+(?:\.\d+)?)$/i.exec(part);
    if (!m) throw new Error(`--rtt-ms: cannot read "${part}" (expected e.g. us-eu=80)`);
    pairs.set([m[1], m[2]].sort().join('|'), Number(m[3]));
  }
  return Object.fromEntries(
    REGIONS.map((r) => [r, r === home ? 0 : (pairs.get([r, home].sort().join('|')) ?? 0)]),
  ) as Record<Region, number>;
}

/**
 * An HTTP proxy that holds each request for `oneWayMs` before forwarding it and each answer for
 * `oneWayMs` before returning it: one round trip costs 2 × oneWayMs, as across regions. It counts
 * the bytes that cross it (the edge → central wire, after gzip).
 */
export interface DelayProxy {
  url: string;
  oneWayMs: number;
  counters: { requests: number; bytesUp: number; bytesDown: number };
  stop: () => Promise<void>;
}

export async function startDelayProxy({
  target,
  oneWayMs,
  port,
}: {
  target: string;
  oneWayMs: number;
  port?: number;
}): Promise<DelayProxy> {
  const targetUrl = new URL(target);
  const counters = { requests: 0, bytesUp: 0, bytesDown: 0 };
  const sleep = (ms: number) => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    counters.requests++;
    counters.bytesUp += body.length;
    await sleep(oneWayMs);
    const headers = { ...req.headers, host: targetUrl.host };
    const upstream = httpRequest(
      { host: targetUrl.hostname, port: targetUrl.port, method: req.method, path: req.url, headers },
      async (answer) => {
        const parts: Buffer[] = [];
        for await (const c of answer) parts.push(c);
        const out = Buffer.concat(parts);
        counters.bytesDown += out.length;
        await sleep(oneWayMs);
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        res.end(out);
      },
    );
    upstream.on('error', (err) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`delay proxy: ${err.message}`);
    });
    upstream.end(body);
  });
  const listenPort = port ?? (await freePort());
  await new Promise<void>((r) => server.listen(listenPort, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${listenPort}`,
    oneWayMs,
    counters,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      }),
  };
}

/**
 * Starts a private local network on free ports with fresh state, seeded with the demo data. With
 * `rttMs` (per region, round trip to the home region), each edge reaches central through its own
 * delay proxy — the edges are started with CENTRAL_URL pointing at the proxy.
 */
export interface SimNetwork {
  central: string;
  edges: Record<Region, string>;
  proxies: Partial<Record<Region, DelayProxy>>;
  stateDir: string;
  /** Process group of each worker's `wrangler dev` (wrangler, workerd, esbuild): `central`, `edge-<region>`. */
  processGroups: Record<string, number>;
  /**
   * Each edge's own workerd socket, behind wrangler dev's proxy worker (scripts/network.ts
   * `directUrl`): where the e2e bench sends its mail. Absent where it could not be found.
   */
  edgesDirect: Partial<Record<Region, string>>;
  /** Where the edges post to central (without `rttMs`): `central`, or its own socket with `centralDirect`. */
  centralForEdges: string;
  stop: () => Promise<void>;
}

export async function startSimNetwork({
  rttMs = {},
  log = () => {},
  seed = true,
  centralDirect = false,
}: {
  rttMs?: Partial<Record<Region, number>>;
  log?: Log;
  seed?: boolean;
  /**
   * Edges reach central at its own workerd socket, past wrangler dev's proxy worker (`directUrl`):
   * central starts first, then the edges. For the e2e bench, where the proxy's CPU competes with
   * the router's on the machine's cores.
   */
  centralDirect?: boolean;
} = {}): Promise<SimNetwork> {
  const stateDir = mkdtempSync(join(tmpdir(), 'crm-sim-'));
  const centralPort = await freePort();
  const centralUrl = `http://127.0.0.1:${centralPort}`;
  const proxies: Partial<Record<Region, DelayProxy>> = {};
  for (const region of REGIONS) {
    if ((rttMs[region] ?? 0) > 0)
      proxies[region] = await startDelayProxy({ target: centralUrl, oneWayMs: (rttMs[region] ?? 0) / 2 });
  }
  const ports = Object.fromEntries(
    await Promise.all(REGIONS.map(async (r) => [r, await freePort()] as const)),
  ) as Record<Region, number>;
  const started: { stop: () => Promise<void> }[] = [];
  const track = <T extends { stop: () => Promise<void> }>(p: T): T => {
    started.push(p);
    return p;
  };
  const stopAll = async () => {
    await Promise.all(started.map((p) => p.stop().catch(() => {})));
    await Promise.all(Object.values(proxies).map((p) => p.stop()));
    rmSync(stateDir, { recursive: true, force: true });
  };
  try {
    const centralStarted = startCentral({ port: centralPort, stateDir, log }).then(track);
    // Where the edges post: central's public port (its proxy worker) or, started first, its own socket.
    const centralTarget = centralDirect
      ? centralStarted.then(async (c) => (await directUrl(c)) ?? centralUrl)
      : Promise.resolve(centralUrl);
    const [central, edges] = await Promise.all([
      centralStarted,
      centralTarget.then((target) =>
        Promise.all(
          REGIONS.map((region) =>
            startEdge({
              region,
              port: ports[region],
              centralUrl: proxies[region]?.url ?? target,
              stateDir,
              log,
            }).then(track),
          ),
        ),
      ),
    ]);
    await waitForHealth(central.url);
    if (seed) await seedDemoData(central.url, LOCAL_ADMIN_TOKEN, log);
    const stopTicker = startCronTicker(edges.map((e) => e.url));
    const processGroups: Record<string, number> = {};
    for (const [name, worker] of [
      ['central', central],
      ...edges.map((e) => [`edge-${e.region}`, e] as const),
    ] as const)
      if (worker.child.pid !== undefined) processGroups[name] = worker.child.pid;
    const edgesDirect: Partial<Record<Region, string>> = {};
    for (const e of edges) {
      const url = await directUrl(e);
      if (url) edgesDirect[e.region] = url;
    }
    return {
      central: central.url,
      edges: Object.fromEntries(edges.map((e) => [e.region, e.url])) as Record<Region, string>,
      edgesDirect,
      centralForEdges: await centralTarget,
      proxies,
      stateDir,
      processGroups,
      async stop() {
        stopTicker();
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
