// `npm run bench:scale`: a real company's data on the local network (issue 13). Writes
// bench/results/scale.json. Everything runs against `wrangler dev` (workerd, local D1 and R2):
//   records    — imports N records (default 10 M) through POST /api/v1/deployments/:id/records in
//                5,000-row requests while an "edge" polls the snapshot every 30 s; import rate per
//                million; at each checkpoint (1 M, N) the snapshot build time and the workerd
//                process RSS sampled every 25 ms during the build; a one-record change until the
//                snapshot holds it; the edge's load and decode of the N-record snapshot; record
//                lookup by exact address.
//   activities — 1 M activities written straight into central's local D1 file (node:sqlite, the
//                rows ingest writes), then GET /api/v1/activities list / search / by Message-ID
//                and GET /api/v1/stats p50/p95 over HTTP; bytes per activity, party and
//                disposition measured with SQLite's dbstat in a scratch database.
// Flags: --phase records|activities|all|resume (default all), --records N, --activities N, --fresh;
// with resume: --build-only (the build alone), --skip-build; --heap-gc (a full GC before each heap
// sample during a build: the live peak instead of what the isolate holds, slower).
import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createCentralClient } from '../scripts/central-client.js';
import {
  deriveEdgeCredentials,
  directUrl,
  LOCAL_ADMIN_TOKEN,
  LOCAL_EDGE_KEY_SECRET,
  ROOT,
  startCentral,
  startEdge,
  type Worker,
} from '../scripts/network.js';
import { createRng } from '../scripts/traffic.js';
import { keyedHash64 } from '../src/core/keyed-hash.js';
import { filterHas } from '../src/core/membership-filter.js';
import { signBody } from '../src/core/request-signature.js';
import { decodeSnapshot } from '../src/core/snapshot.js';
import { measure, seedIngestFixtures } from './ingest.js';
import { LATEST_RESULTS, refreshHeadlineTable } from './lib/readme-table.js';

type Json = Record<string, unknown>;

const args = process.argv.slice(2);
const flag = (name: string, d?: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : d;
};
const PHASE = flag('phase', 'all') as 'records' | 'activities' | 'all' | 'resume';
const RECORDS = Number(flag('records', '10000000'));
const ACTIVITIES = Number(flag('activities', '1000000'));
const CHUNK = 5000;
/** Rounds of 20 ingest batches per in-flight setting: the median of five, so one round that meets a merge of the full-text index or a WAL checkpoint is not the figure. */
const INGEST_ROUNDS = 5;
/** `--deadline HH:MM` (UTC): stop importing at the next million after it and measure what was reached. */
const DEADLINE = flag('deadline');
function pastDeadline(): boolean {
  if (!DEADLINE) return false;
  const [h, m] = DEADLINE.split(':').map(Number);
  const now = new Date();
  return now.getUTCHours() * 60 + now.getUTCMinutes() >= (h as number) * 60 + (m as number);
}
const STATE = process.env.CRM_STATE_DIR ?? '/tmp/scale-state';
const CENTRAL_PORT = Number(process.env.CENTRAL_PORT ?? 8841);
const EDGE_EU_PORT = Number(process.env.EDGE_EU_PORT ?? 8843);
const EDGE_US_PORT = Number(process.env.EDGE_US_PORT ?? 8842);
const OUT = flag('out', join(ROOT, 'bench', 'results', 'scale.json')) as string;
const DEP = 'bench';

const log = (...a: unknown[]) => console.log(new Date().toISOString().slice(11, 19), ...a);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
function pct(values: number[], p: number) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

let base = '';
/** An admin API call through the typed client (throws on a non-2xx answer). */
async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const client = createCentralClient({ baseUrl: base, token: LOCAL_ADMIN_TOKEN });
  const options =
    typeof body === 'string'
      ? { raw: body, contentType: headers['content-type'] ?? 'application/json' }
      : { body };
  return ((await client.call<Json | undefined>(method, path, options)) ?? {}) as Json;
}

/** GET the region's snapshot (or `path` under it) as its edge would (signed with the local edge secret). */
async function edgeFetch(region: string, etag?: string, path = '') {
  const { signingKey, token } = await deriveEdgeCredentials(LOCAL_EDGE_KEY_SECRET, region);
  const ts = Date.now();
  const sig = await signBody(signingKey, ts, new Uint8Array());
  return fetch(`${base}/api/v1/edge/snapshot${path}?region=${region}`, {
    headers: {
      authorization: `Bearer ${token}`,
      'x-edge-region': region,
      'x-edge-timestamp': String(ts),
      'x-edge-signature': sig,
      ...(etag ? { 'if-none-match': etag } : {}),
    },
  });
}

/** PIDs of the workerd processes under a wrangler process group. */
function workerdPids(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      try {
        if (readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'workerd') out.push(c);
      } catch {
        /* gone */
      }
      walk(c);
    }
  };
  walk(rootPid);
  return out;
}
function rssMb(pids: number[]): number {
  let kb = 0;
  for (const p of pids) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      kb += Number(m?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return kb / 1024;
}
/** How often the building isolate's heap is asked for during a build (ms; answered when it yields). */
const HEAP_INTERVAL_MS = 50;
const HEAP_GC = args.includes('--heap-gc');

/**
 * Runs `fn` while sampling the RSS of `pids` every 25 ms; with an inspector port, also the central
 * isolate's heap just before, every {@link HEAP_INTERVAL_MS} during, and right after `fn`.
 */
async function sampled<T>(pids: number[], fn: () => Promise<T>, inspectorPort?: number) {
  // A failing inspector costs the heap figures, not the run.
  const heap = inspectorPort
    ? await isolateHeap(inspectorPort).catch((err) => {
        log(`inspector unavailable: ${String(err)}`);
        return undefined;
      })
    : undefined;
  const heapBefore = await heap?.usage().catch((err) => {
    log(`isolate heap before the build: ${String(err)}`);
    return undefined;
  });
  const before = rssMb(pids);
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMb(pids));
  }, 25);
  const t0 = performance.now();
  // One Runtime.getHeapUsage in flight at a time, the next HEAP_INTERVAL_MS after the answer.
  const samples: Array<HeapUsage & { atMs: number; rttMs: number }> = [];
  let running = true;
  const sampler = heap
    ? (async () => {
        while (running) {
          const sent = performance.now();
          if (HEAP_GC) await heap.collectGarbage().catch(() => undefined);
          const u = await heap.usage().catch(() => undefined);
          // Only what the isolate answered while the build was still running counts.
          if (u && running)
            samples.push({ ...u, atMs: round(sent - t0, 0), rttMs: round(performance.now() - sent, 0) });
          await new Promise((r) => setTimeout(r, HEAP_INTERVAL_MS));
        }
      })()
    : undefined;
  try {
    const value = await fn();
    const ms = performance.now() - t0;
    running = false;
    const heapAfter = await heap?.usage().catch((err) => {
      log(`isolate heap after the build: ${String(err)}`);
      return undefined;
    });
    await sampler;
    return {
      value,
      ms,
      rssBeforeMb: before,
      rssPeakMb: Math.max(peak, rssMb(pids)),
      heapBefore,
      heapDuring: heap ? heapPeak(samples) : undefined,
      heapAfter,
      partBuilds: heap?.builds ?? [],
    };
  } finally {
    running = false;
    clearInterval(timer);
    heap?.close();
  }
}

/**
 * The peak of the heap samples taken during a build: JS heap used, committed, ArrayBuffer backing
 * stores (live or not yet collected), and their sum at one sample (`peakTotalMb`: used +
 * ArrayBuffers; `peakCommittedTotalMb`: committed + ArrayBuffers, what the isolate held from
 * the system), with the sample count and the gaps between answers.
 */
function heapPeak(samples: Array<HeapUsage & { atMs: number; rttMs: number }>) {
  if (!samples.length) return { samples: 0, requestedIntervalMs: HEAP_INTERVAL_MS, gcBeforeEach: HEAP_GC };
  const gaps = samples
    .slice(1)
    .map((s, i) => s.atMs + s.rttMs - ((samples[i]?.atMs ?? 0) + (samples[i]?.rttMs ?? 0)));
  const top = (f: (s: HeapUsage) => number) => samples.reduce((a, s) => (f(s) > f(a) ? s : a));
  const total = top((s) => s.usedMb + s.arrayBuffersMb);
  const committedTotal = top((s) => s.committedMb + s.arrayBuffersMb);
  return {
    samples: samples.length,
    requestedIntervalMs: HEAP_INTERVAL_MS,
    gcBeforeEach: HEAP_GC,
    medianGapMs: round(pct(gaps, 50), 0),
    maxGapMs: round(Math.max(0, ...gaps), 0),
    firstAtMs: samples[0]?.atMs,
    lastAtMs: samples[samples.length - 1]?.atMs,
    peakUsedMb: top((s) => s.usedMb).usedMb,
    peakCommittedMb: top((s) => s.committedMb).committedMb,
    peakArrayBuffersMb: top((s) => s.arrayBuffersMb).arrayBuffersMb,
    peakTotalMb: round(total.usedMb + total.arrayBuffersMb),
    peakTotalAtMs: total.atMs,
    peakCommittedTotalMb: round(committedTotal.committedMb + committedTotal.arrayBuffersMb),
  };
}

interface HeapUsage {
  usedMb: number;
  committedMb: number;
  arrayBuffersMb: number;
}

/**
 * The central worker's V8 heap, read through wrangler's inspector (Chrome DevTools protocol,
 * `Runtime.getHeapUsage`): `usedSize` is the isolate's JS heap, `totalSize` what V8 committed for
 * it, `backingStorageSize` the ArrayBuffer/typed-array memory it holds (including buffers dropped
 * but not yet collected). That is the building isolate's own memory, unlike the workerd process
 * RSS, which also carries local D1 (SQLite and its Durable Object isolate), R2 and wrangler's proxy
 * workers. workerd dispatches inspector messages on the isolate's thread, and that thread only
 * picks them up when it has no local work queued; local D1 and R2 run in the same process and
 * thread, so a build that only awaited them would answer nothing until it ended. The part builder
 * yields to the event loop once per D1 page and per shard copied (src/central/snapshot/
 * snapshot-publisher.ts), so the heap is sampled during the build. wrangler's proxy does not
 * pass `HeapProfiler.collectGarbage` on, so ArrayBuffers are counted until V8 collects them.
 */
async function isolateHeap(inspectorPort: number) {
  const targets = (await (
    await fetch(`http://127.0.0.1:${inspectorPort}/json`, { signal: AbortSignal.timeout(3000) })
  ).json()) as Array<{ webSocketDebuggerUrl?: string }>;
  const url = targets.find((t) => t.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
  if (!url) throw new Error('no inspector target for central');
  // wrangler's inspector proxy wants a local Origin (a browser's DevTools sends one).
  const ws = new WebSocket(url, { headers: { origin: 'http://localhost' } } as never);
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true });
    ws.addEventListener('error', reject, { once: true });
    setTimeout(() => reject(new Error('inspector did not open')), 5000);
  });
  let id = 0;
  const waiting = new Map<number, (v: Json) => void>();
  // The part builder's `snapshot part built {…}` console line (its phase times), which wrangler's
  // `--log-level warn` keeps out of central.log: the inspector gets every console call.
  const builds: Json[] = [];
  ws.addEventListener('message', (e) => {
    const m = JSON.parse(String(e.data)) as {
      id?: number;
      result?: Json;
      method?: string;
      params?: { type?: string; args?: Array<{ value?: unknown }> };
    };
    if (m.id !== undefined) waiting.get(m.id)?.(m.result ?? {});
    const text = m.method === 'Runtime.consoleAPICalled' ? m.params?.args?.[0]?.value : undefined;
    if (typeof text === 'string' && text.startsWith('snapshot part built {'))
      builds.push(JSON.parse(text.slice('snapshot part built '.length)) as Json);
  });
  const call = (method: string, timeoutMs = 120_000) =>
    new Promise<Json>((resolve, reject) => {
      const n = ++id;
      const timer = setTimeout(() => {
        waiting.delete(n);
        reject(new Error(`${method}: no answer`));
      }, timeoutMs);
      waiting.set(n, (v) => {
        clearTimeout(timer);
        waiting.delete(n);
        resolve(v);
      });
      ws.send(JSON.stringify({ id: n, method }));
    });
  await call('Runtime.enable', 10_000);
  return {
    /** The part builds the isolate logged since the connection opened (their phase times). */
    builds,
    /** A full GC of the isolate (`HeapProfiler.collectGarbage`). */
    collectGarbage: () => call('HeapProfiler.collectGarbage', 5000),
    /** JS heap used, committed, and ArrayBuffer backing stores of the isolate, MB. */
    async usage(): Promise<HeapUsage> {
      const u = (await call('Runtime.getHeapUsage')) as {
        usedSize?: number;
        totalSize?: number;
        backingStorageSize?: number;
      };
      const mb = (x?: number) => round((x ?? 0) / 2 ** 20);
      return {
        usedMb: mb(u.usedSize),
        committedMb: mb(u.totalSize),
        arrayBuffersMb: mb(u.backingStorageSize),
      };
    },
    close: () => ws.close(),
  };
}

function centralDbFile(): string {
  const dir = join(STATE, 'central', 'v3', 'd1', 'miniflare-D1DatabaseObject');
  const f = readdirSync(dir).find((x) => x.endsWith('.sqlite') && x !== 'metadata.sqlite');
  if (!f) throw new Error(`no D1 sqlite file under ${dir}`);
  return join(dir, f);
}

/** wrangler's own output (warnings, errors, a crashed or restarted runtime) goes to STATE/<name>.log. */
function wranglerLog(name: string) {
  mkdirSync(STATE, { recursive: true });
  const file = join(STATE, `${name}.log`);
  return (line: string) => appendFileSync(file, `${new Date().toISOString()} ${line}\n`);
}

/** Import requests wrangler's proxy answered "restarted mid-request" (retried once; the upsert is idempotent). */
const restarts: Array<{ at: string; done: number }> = [];

const address = (i: number) => `contact${i}.n${(i * 7919) % 100_003}@company${i % 50_000}.example`;

function loadResults(): Json {
  return existsSync(OUT) ? (JSON.parse(readFileSync(OUT, 'utf8')) as Json) : {};
}
function saveResults(patch: Json) {
  const all = {
    ...loadResults(),
    ...patch,
    machine: {
      loadAverage: loadavg().map((x) => round(x, 2)),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGb: round(totalmem() / 2 ** 30),
    },
    commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim(),
    at: new Date().toISOString(),
  };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(all, null, 2)}\n`);
}

/** The bench deployment's part row: whether it is built at its data version, and how long that took. */
function partRow() {
  const db = new DatabaseSync(centralDbFile(), { readOnly: true });
  try {
    return db
      .prepare(
        'select data_version as dataVersion, built_version as builtVersion, build_ms as buildMs from snapshot_parts where deployment = ?',
      )
      .get(DEP) as { dataVersion: number; builtVersion: number; buildMs: number } | undefined;
  } finally {
    db.close();
  }
}

async function snapshotBuild(pids: number[], label: string, inspectorPort?: number) {
  // The part is rebuilt off the request path once the debounce's quiet period is over: by the
  // snapshot kick the last import request queued, or by central's cron (ticked here once at 4 s,
  // as production's once-a-minute tick would, for the resume phase, which marks the part dirty
  // behind central's back). Sampled from before either can start until the part row is built at
  // its data version; then the edge's fetch.
  const m = await sampled(
    pids,
    async () => {
      const t0 = performance.now();
      let ticked = false;
      for (;;) {
        const p = partRow();
        if (p && p.builtVersion >= p.dataVersion) break;
        if (performance.now() - t0 > 600_000) throw new Error('the part was not built within 10 minutes');
        if (!ticked && performance.now() - t0 > 4000) {
          ticked = true;
          void fetch(`${base}/__scheduled?cron=${encodeURIComponent('* * * * *')}`)
            .then((r) => r.arrayBuffer())
            .catch(() => {});
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      const res = await edgeFetch('eu');
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (res.status !== 200)
        throw new Error(`snapshot fetch: ${res.status} ${new TextDecoder().decode(bytes)}`);
      return { status: res.status, bytes, version: Number(res.headers.get('x-snapshot-version')) };
    },
    inspectorPort,
  );
  const db = new DatabaseSync(centralDbFile(), { readOnly: true });
  const part = db
    .prepare('select build_ms, shard_bits, part_bytes from snapshot_parts where deployment = ?')
    .get(DEP) as { build_ms: number; shard_bits: number; part_bytes: number } | undefined;
  db.close();
  const out = {
    at: label,
    builtAndServedMs: round(m.ms),
    partBuildMs: part?.build_ms,
    shardBits: part?.shard_bits,
    snapshotBytes: m.value.bytes.length,
    rssBeforeMb: round(m.rssBeforeMb),
    rssPeakMb: round(m.rssPeakMb),
    rssDeltaMb: round(m.rssPeakMb - m.rssBeforeMb),
    isolateHeapBefore: m.heapBefore,
    isolateHeapDuring: m.heapDuring,
    isolateHeapAfter: m.heapAfter,
    partBuildPhases: m.partBuilds.at(-1),
  };
  log('snapshot build', out);
  return { ...out, bytes: m.value.bytes };
}

/** Central on STATE without its cron ticker (builds are the kicks' and the bench's own ticks), and its workerd pids. */
async function startBenchCentral() {
  const central = await startCentral({
    port: CENTRAL_PORT,
    stateDir: STATE,
    log: wranglerLog('central'),
    cron: false,
  });
  base = central.url;
  return { central, pids: workerdPids(central.child.pid as number) };
}

async function recordsPhase() {
  rmSync(STATE, { recursive: true, force: true });
  const { central, pids } = await startBenchCentral();
  log(`central on ${base}, workerd pids ${pids.join(',')}`);
  const result: Json = { records: RECORDS, chunk: CHUNK };
  try {
    await api('PUT', '/api/v1/regions/eu', { name: 'EU', rulesEnabled: true });
    await api('PUT', `/api/v1/deployments/${DEP}`, { name: 'Bench' });
    await api('PUT', '/api/v1/mailboxes/owner@bench.example', {
      region: 'eu',
      deployment: DEP,
      userId: 'u-1',
    });

    // An edge polling every 30 s during the import, as the real ones do.
    const polls: Array<{ t: number; status: number; version: number; ms: number }> = [];
    let etag: string | undefined;
    const startPoller = () => {
      let on = true;
      const loop = (async () => {
        while (on) {
          const t1 = performance.now();
          const res = await edgeFetch('eu', etag);
          await res.arrayBuffer();
          if (res.status === 200) etag = res.headers.get('etag') ?? undefined;
          polls.push({
            t: Date.now(),
            status: res.status,
            version: Number(res.headers.get('x-snapshot-version')),
            ms: round(performance.now() - t1),
          });
          for (let i = 0; i < 300 && on; i++) await new Promise((r) => setTimeout(r, 100));
        }
      })();
      return async () => {
        on = false;
        await loop;
      };
    };
    let stopPoller = startPoller();

    const perMillion: Array<{ million: number; rowsPerSec: number; maxRequestMs: number }> = [];
    const checkpoints: Json[] = [];
    let t0 = performance.now();
    let maxMs = 0;
    const inflight = new Set<Promise<void>>();
    let target = RECORDS;
    for (let start = 0; start < target; start += CHUNK) {
      const n = Math.min(CHUNK, target - start);
      const records = Array.from({ length: n }, (_, k) => ({
        type: 'contact',
        id: `c-${start + k}`,
        emails: [address(start + k)],
      }));
      const p = (async () => {
        const r0 = performance.now();
        try {
          await api('POST', `/api/v1/deployments/${DEP}/records`, { records });
        } catch (err) {
          if (!String(err).includes('restarted mid-request')) throw err;
          restarts.push({ at: new Date().toISOString(), done: start });
          log(`workerd restarted mid-request at ${start} (see ${STATE}/central.log); retrying the chunk`);
          await new Promise((r) => setTimeout(r, 2000));
          await api('POST', `/api/v1/deployments/${DEP}/records`, { records });
        }
        maxMs = Math.max(maxMs, performance.now() - r0);
      })();
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      if (inflight.size >= 2) await Promise.race(inflight);
      const done = start + n;
      if (done % 1_000_000 === 0 && done < target && pastDeadline()) {
        log(`deadline ${DEADLINE} passed: stopping the import at ${done}`);
        target = done;
      }
      if (done % 1_000_000 === 0 || done === target) {
        await Promise.all(inflight);
        const rows = done % 1_000_000 === 0 ? 1_000_000 : done % 1_000_000;
        const sec = (performance.now() - t0) / 1000;
        perMillion.push({
          million: Math.ceil(done / 1_000_000),
          rowsPerSec: Math.round(rows / sec),
          maxRequestMs: Math.round(maxMs),
        });
        log(`records ${done}: ${Math.round(rows / sec)} rows/s, slowest request ${Math.round(maxMs)} ms`);
        saveResults({ scaleProgress: { done, perMillion, polls: polls.length } });
        if (done === 1_000_000 || done === target) {
          await stopPoller();
          const { bytes: _b, ...c } = await snapshotBuild(pids, `${done}`, central.inspectorPort);
          checkpoints.push({ records: done, ...c });
          saveResults({ scaleProgress: { done, perMillion, checkpoints } });
          if (done !== target) stopPoller = startPoller();
        }
        t0 = performance.now();
        maxMs = 0;
      }
    }
    await stopPoller();
    const builds = polls.filter((p) => p.status === 200).length;
    result.recordsImported = target;
    result.import = {
      firstMillionRowsPerSec: perMillion[0]?.rowsPerSec,
      lastMillionRowsPerSec: perMillion[perMillion.length - 1]?.rowsPerSec,
      lastOverFirst: round(
        (perMillion[perMillion.length - 1]?.rowsPerSec ?? 0) / (perMillion[0]?.rowsPerSec ?? 1),
        3,
      ),
      perMillion,
      edgePollsDuringImport: polls.length,
      workerdRestarts: restarts,
      snapshotsServedDuringImport: builds,
      slowestPollMs: Math.max(0, ...polls.map((p) => p.ms)),
    };
    result.snapshotBuild = checkpoints;

    await afterImport(result, target, pids);
    saveResults({ recordsPhase: result });
  } finally {
    await central.stop();
  }
}

/** Edge load/decode, one-record changes until every edge holds them, lookup by address. */
async function afterImport(result: Json, target: number, _pids: number[]) {
  // The deployment is routed in two regions, so "every edge" is two: eu (from the import) and us.
  await api('PUT', '/api/v1/regions/us', { name: 'US', rulesEnabled: true });
  await api('PUT', '/api/v1/mailboxes/owner-us@bench.example', {
    region: 'us',
    deployment: DEP,
    userId: 'u-2',
  });
  // Edge: load (fetch) and decode the full snapshot in Node; then each edge worker's own first
  // refresh on workerd. The edges then stay up, idle (no cron ticker, no traffic), for the changes.
  const l0 = performance.now();
  const res = await edgeFetch('eu');
  const bytes = new Uint8Array(await res.arrayBuffer());
  const loadMs = performance.now() - l0;
  const decodes: number[] = [];
  for (let i = 0; i < 3; i++) {
    const d0 = performance.now();
    decodeSnapshot(bytes);
    decodes.push(performance.now() - d0);
  }
  const edges: Array<Awaited<ReturnType<typeof startEdge>>> = [];
  type Health = { snapshotVersion: number | null; lastSnapshotChange: { trigger: string } | null };
  const edgeHealth = async (url: string) => (await (await fetch(`${url}/health`)).json()) as Health;
  try {
    for (const [region, port] of [
      ['eu', EDGE_EU_PORT],
      ['us', EDGE_US_PORT],
    ] as const) {
      // A fresh edge state: its first tick is a full load (fetch + decode + KV put), not a 304.
      rmSync(join(STATE, `edge-${region}`), { recursive: true, force: true });
      edges.push(await startEdge({ region, port, centralUrl: base, stateDir: STATE, log: () => {} }));
    }
    const refreshMs: Record<string, number> = {};
    for (const edge of edges) {
      const e0 = performance.now();
      await (await fetch(`${edge.url}/__scheduled?cron=${encodeURIComponent('* * * * *')}`)).text();
      refreshMs[edge.region] = round(performance.now() - e0);
    }
    result.edge = {
      snapshotBytes: bytes.length,
      loadMs: round(loadMs),
      decodeMsNode: round(Math.min(...decodes)),
      workerdRefreshMs: refreshMs.eu,
      workerdRefreshMsByRegion: refreshMs,
      workerdSnapshotVersion: (await edgeHealth(edges[0]!.url)).snapshotVersion,
      note: 'loadMs: HTTP fetch from central; decodeMsNode: decodeSnapshot in Node (V8, as in workerd), best of 3; workerdRefreshMs: an edge worker (wrangler dev) cron tick = fetch + decode + KV put + heartbeat',
    };
    log('edge', result.edge);
    // The ticks' heartbeats told central the edges' URLs: the push has somewhere to go.
    for (const edge of edges)
      for (let i = 0; i < 100 && !(await api('GET', `/api/v1/regions/${edge.region}`)).edgeUrl; i++)
        await new Promise((r) => setTimeout(r, 100));

    // One-record changes: time from the write's answer until each idle edge holds a snapshot with
    // the record (its /health version moves; the record is checked in central's snapshot of that
    // version). Central runs without its cron ticker here and the edges have none: only the push
    // can bring the change.
    const changes: Array<{
      writeMs: number;
      edgeHoldsAfterMs: Record<string, number>;
      triggers: Record<string, string | undefined>;
      partRebuildMs: number;
    }> = [];
    for (let n = 0; n < 5; n++) {
      const fresh = `one.more.${n}.${Date.now()}@change.example`;
      const before = new Map<string, number>();
      for (const edge of edges) before.set(edge.region, (await edgeHealth(edge.url)).snapshotVersion ?? 0);
      const w0 = performance.now();
      await api('POST', `/api/v1/deployments/${DEP}/records`, {
        records: [{ type: 'contact', id: `c-${fresh}`, emails: [fresh] }],
      });
      const written = performance.now();
      const held = new Map<string, { ms: number; h: Health }>();
      while (held.size < edges.length && performance.now() - written < 120_000) {
        for (const edge of edges) {
          if (held.has(edge.region)) continue;
          const h = await edgeHealth(edge.url);
          if ((h.snapshotVersion ?? 0) > (before.get(edge.region) ?? 0))
            held.set(edge.region, { ms: round(performance.now() - written), h });
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      if (held.size < edges.length) throw new Error(`not every edge took change ${n} within 120 s`);
      for (const [region, { h }] of held) {
        const s = decodeSnapshot(new Uint8Array(await (await edgeFetch(region)).arrayBuffer()));
        if (
          s.version !== h.snapshotVersion ||
          !filterHas(s.deployments[DEP]!.records, keyedHash64(s.hashKey, fresh))
        )
          throw new Error(
            `change ${n}: ${region}'s version ${h.snapshotVersion} lacks the record (central at ${s.version})`,
          );
      }
      changes.push({
        writeMs: round(written - w0),
        edgeHoldsAfterMs: Object.fromEntries([...held].map(([r, v]) => [r, v.ms])),
        triggers: Object.fromEntries([...held].map(([r, v]) => [r, v.h.lastSnapshotChange?.trigger])),
        partRebuildMs: partRow()?.buildMs ?? Number.NaN,
      });
      log(`one-record change ${n}`, changes[changes.length - 1]);
    }
    const all = changes.map((c) => Math.max(...Object.values(c.edgeHoldsAfterMs)));
    result.oneRecordChange = {
      edges: edges.map((e) => e.region),
      changes,
      everyEdgeHoldsAfterP50Ms: round(pct(all, 50)),
      everyEdgeHoldsAfterMaxMs: round(Math.max(...all)),
      note: "time from the write's answer until each idle edge (no cron ticker, no traffic, central's cron ticker off) holds a snapshot with the record, /health polled every 100 ms; includes the 3 s quiet period of the debounce, the kick's delay, the part rebuild, the notices and the edges' fetch + decode; triggers: what made each edge fetch",
    };
    log('one-record change', result.oneRecordChange);
  } finally {
    for (const edge of edges) await edge.stop();
  }

  // Lookup by exact address (index), 200 random records.
  const lat: number[] = [];
  for (let i = 0; i < 200; i++) {
    const k = Math.floor(Math.random() * target);
    const q0 = performance.now();
    const r = await api(
      'GET',
      `/api/v1/deployments/${DEP}/records?address=${encodeURIComponent(address(k).toUpperCase())}`,
    );
    lat.push(performance.now() - q0);
    if ((r.items as unknown[]).length !== 1)
      throw new Error(`lookup of ${address(k)} found ${(r.items as unknown[]).length}`);
  }
  const base0: number[] = [];
  for (let i = 0; i < 100; i++) {
    const q0 = performance.now();
    await api('GET', '/api/v1/regions/eu');
    base0.push(performance.now() - q0);
  }
  result.lookupByAddress = {
    baselineRegionGetP50Ms: round(pct(base0, 50)),
    baselineRegionGetP95Ms: round(pct(base0, 95)),
    records: target,
    p50Ms: round(pct(lat, 50)),
    p95Ms: round(pct(lat, 95)),
    samples: lat.length,
  };
  log('lookup', result.lookupByAddress);
}

/**
 * `--phase resume`: central on the state an interrupted records phase left (no wipe): the
 * snapshot build over every record imported, then {@link afterImport}.
 */
async function resumePhase() {
  const { central, pids } = await startBenchCentral();
  try {
    const db = new DatabaseSync(centralDbFile(), { readOnly: true });
    const target = (
      db.prepare('select count(*) as n from records where deployment = ?').get(DEP) as { n: number }
    ).n;
    db.close();
    log(`resuming on ${target} records`);
    const result: Json = { records: target, resumed: true };
    if (args.includes('--skip-build')) {
      await afterImport(result, target, pids);
      saveResults({ resumeAfterImport: result });
      return;
    }
    // Every bucket dirty, as after an import: a full build.
    const w = new DatabaseSync(centralDbFile());
    w.exec(
      `insert or replace into snapshot_dirty (deployment, bucket, version) select '${DEP}', -1, data_version from snapshot_parts where deployment = '${DEP}'`,
    );
    w.exec(
      `update snapshot_parts set data_version = data_version + 1, changed_at = 0 where deployment = '${DEP}'`,
    );
    w.close();
    const { bytes: _b, ...build } = await snapshotBuild(pids, `${target}`, central.inspectorPort);
    result.snapshotBuild = [{ records: target, ...build }];
    // `--build-only`: the build alone (faster iterations on the builder).
    if (!args.includes('--build-only')) await afterImport(result, target, pids);
    saveResults({ resumePhase: result });
  } finally {
    await central.stop();
  }
}

// ---------------------------------------------------------------------------------------------

const WORDS = [
  'invoice',
  'renewal',
  'meeting',
  'quote',
  'contract',
  'support',
  'order',
  'licence',
  'project',
  'update',
];

function activityRow(i: number, t0: number, parties: number) {
  const from = address(i % 1_000_000);
  const list = [{ role: 'from', address: from, recordType: 'contact', recordId: `c-${i % 1_000_000}` }];
  for (let p = 1; p < parties; p++)
    list.push({
      role: p === 1 ? 'to' : 'cc',
      address: `user${(i + p) % 5000}@bench.example`,
      recordType: 'user',
      recordId: `u-${(i + p) % 5000}`,
    });
  const mid = `m${i}.${(i * 2654435761) % 1e9}@mail.company${i % 50_000}.example`;
  return [
    `a-${i.toString(36).padStart(8, '0')}`,
    DEP,
    mid,
    `<${mid}>`,
    `RE: ${WORDS[i % 10]} ${WORDS[(i >> 3) % 10]} #${i % 9973}`,
    from,
    `Contact ${i % 1_000_000}`,
    JSON.stringify(list),
    'tracked:sender-record',
    'sender-record',
    'the sender matches an email-enabled CRM record (email-enabled filter)',
    JSON.stringify([`user${i % 5000}@bench.example`]),
    JSON.stringify(['eu']),
    'metadata+subject',
    JSON.stringify([{ region: 'eu', key: `raw/${i}.eml`, attachments: [] }]),
    4000 + (i % 20_000),
    t0 + i * 1000,
    t0 + i * 1000 + 800,
    t0 + i * 1000 + 800,
    i + 1,
  ];
}
const ACTIVITY_INSERT = `insert into activities (id, deployment, dedupe_key, message_id, subject, from_address, from_name, parties,
  reason, correlation_method, correlation_detail, mailboxes, regions, egress, content, size_bytes, received_at, ingested_at, updated_at, seq)
  values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const DISPOSITION_INSERT = `insert into dispositions (id, region, reason, detail, mailbox, deployment, message_id_hash, mailbox_hash, size_bytes, at)
  values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** Bytes of a table, its indexes and, for activities, its full-text index (the FTS5 shadow tables). */
function tableBytes(db: DatabaseSync, table: string): number {
  const r = db
    .prepare(
      `select sum(pgsize) as b from dbstat where name = ?1
         or name in (select name from sqlite_master where type = 'index' and tbl_name = ?1)
         or name in (select name from sqlite_master where type = 'table' and name like ?1 || '!_fts!_%' escape '!')`,
    )
    .get(table) as { b: number };
  return r.b ?? 0;
}

function measureBytes() {
  mkdirSync(STATE, { recursive: true });
  const file = join(STATE, 'bytes.sqlite');
  rmSync(file, { force: true });
  const db = new DatabaseSync(file);
  for (const f of readdirSync(join(ROOT, 'migrations'))
    .filter((x) => x.endsWith('.sql'))
    .sort())
    db.exec(readFileSync(join(ROOT, 'migrations', f), 'utf8').replaceAll('--> statement-breakpoint', ''));
  const N = 100_000;
  const t0 = Date.parse('2026-01-01');
  const ins = db.prepare(ACTIVITY_INSERT);
  db.exec('begin');
  for (let i = 0; i < N; i++) ins.run(...(activityRow(i, t0, 3) as never[]));
  db.exec('commit');
  const three = tableBytes(db, 'activities');
  db.exec('delete from activities; vacuum');
  db.exec('begin');
  for (let i = 0; i < N; i++) ins.run(...(activityRow(i, t0, 6) as never[]));
  db.exec('commit');
  const six = tableBytes(db, 'activities');
  const dis = db.prepare(DISPOSITION_INSERT);
  db.exec('begin');
  for (let i = 0; i < N; i++)
    dis.run(
      `d-${i}`,
      'eu',
      'filter:no-record-match',
      'neither the sender nor a To/Cc recipient matches',
      `user${i % 5000}@bench.example`,
      DEP,
      (i * 2654435761).toString(16).padStart(16, '0').slice(0, 16),
      (i % 5000).toString(16).padStart(16, '0'),
      3000 + (i % 9000),
      t0 + i * 500,
    );
  db.exec('commit');
  const disp = tableBytes(db, 'dispositions');
  db.close();
  rmSync(file, { force: true });
  return {
    bytesPerActivity3Parties: Math.round(three / N),
    bytesPerParty: Math.round((six - three) / N / 3),
    bytesPerDisposition: Math.round(disp / N),
    method:
      'SQLite dbstat (table + its indexes + its FTS5 index) over 100,000 rows of the shapes ingest writes (egress metadata+subject, no body text), in a scratch database with the migrations applied',
  };
}

/**
 * Waits until the snapshot work that seeding queued is done: no region's snapshot pending (the
 * kick ran and rebuilt the parts) and each region's manifest served as its edge asks for it (which
 * joins the kick's split of the published snapshot, several seconds of central's CPU at 10 M
 * records). Seeding the ingest fixtures changes routes, records and regions; measured without this
 * wait, that rebuild landed in the fourth round of every committed run (rounds of 1,030 and 1,357
 * items/s), a cost of the seeding and not of ingest. Returns the milliseconds it took.
 */
async function settleSnapshots(timeoutMs = 300_000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const { items } = (await api('GET', '/api/v1/regions')) as {
      items?: { id: string; snapshotPending?: boolean }[];
    };
    const regions = items ?? [];
    if (regions.every((r) => !r.snapshotPending)) {
      for (const r of regions) await edgeFetch(r.id, undefined, '/manifest').then((res) => res.arrayBuffer());
      return Math.round(performance.now() - t0);
    }
    if (performance.now() - t0 > timeoutMs)
      throw new Error(`region snapshots still pending after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Central ingest with the phase's activities stored and the full-text index on (issue 21's target:
 * ≥ 5,000 items/s in batches of 250 at 1 M): bench/ingest.ts's signed gzip batches of CRM-bound
 * items, 5 rounds of 20 batches one at a time (one edge consumer) and 5 rounds two at a time (two
 * regions, or a consumer's concurrent invocations, posting at once); medians of the rounds. Posted
 * to central's own workerd socket when it is found (`centralSocket`), as the e2e bench posts.
 */
async function ingestAtScale(worker: Worker): Promise<Json> {
  await seedIngestFixtures(worker.url, LOCAL_ADMIN_TOKEN);
  const settleMs = await settleSnapshots();
  // Posted to central's own workerd socket, past wrangler dev's proxy (production has none): as e2e.
  const own = await directUrl(worker);
  const central = own ?? worker.url;
  const creds = await deriveEdgeCredentials(LOCAL_EDGE_KEY_SECRET, 'eu');
  const rng = createRng('scale-ingest');
  const runId = Date.now().toString(36);
  const rounds = async (inFlight: number) => {
    const runs: { itemsPerSec: number; medianBatchMs: number }[] = [];
    for (let r = 0; r < INGEST_ROUNDS; r++)
      runs.push(
        await measure(central, creds, rng, `${runId}-${inFlight}-${r}`, { size: 250, batches: 20, inFlight }),
      );
    const mid = (k: 'itemsPerSec' | 'medianBatchMs') =>
      round(
        pct(
          runs.map((x) => x[k]),
          50,
        ),
        1,
      );
    return {
      itemsPerSec: mid('itemsPerSec'),
      medianBatchMs: mid('medianBatchMs'),
      runs: runs.map((x) => round(x.itemsPerSec, 0)),
    };
  };
  const one = await rounds(1);
  const two = await rounds(2);
  const out = {
    batchSize: 250,
    activitiesStored: ACTIVITIES,
    ...one,
    twoInFlight: two,
    centralSocket: own ? 'workerd' : 'wrangler-proxy',
    snapshotSettledAfterMs: settleMs,
    method: `the snapshot work the fixtures' seeding queued is done first (snapshotSettledAfterMs: no region pending, each region's manifest served); bench/ingest.ts measure: signed gzip batches of 250 CRM-bound items built before the clock, POSTed to /api/v1/ingest on central's own workerd socket; ${INGEST_ROUNDS} rounds of 20 batches each, median`,
  };
  log('ingest at scale', out);
  return out;
}

async function activitiesPhase() {
  const result: Json = { activities: ACTIVITIES };
  result.bytes = measureBytes();
  log('bytes', result.bytes);
  if (!existsSync(join(STATE, 'central'))) rmSync(STATE, { recursive: true, force: true });
  // Migrations + schema through a first start, then rows straight into the D1 file.
  let central = await startCentral({ port: CENTRAL_PORT, stateDir: STATE, log: () => {} });
  base = central.url;
  await api('PUT', `/api/v1/deployments/${DEP}`, { name: 'Bench' });
  await central.stop();
  const db = new DatabaseSync(centralDbFile());
  const have = (db.prepare('select count(*) as n from activities').get() as { n: number }).n;
  if (have < ACTIVITIES) {
    const t0 = Date.now() - ACTIVITIES * 1000;
    const ins = db.prepare(ACTIVITY_INSERT.replace('insert into', 'insert or ignore into'));
    const w0 = performance.now();
    for (let s = have; s < ACTIVITIES; s += 100_000) {
      db.exec('begin');
      for (let i = s; i < Math.min(ACTIVITIES, s + 100_000); i++)
        ins.run(...(activityRow(i, t0, 3) as never[]));
      db.exec('commit');
    }
    log(`inserted ${ACTIVITIES - have} activities in ${Math.round(performance.now() - w0)} ms`);
  }
  db.close();
  central = await startCentral({ port: CENTRAL_PORT, stateDir: STATE, log: () => {} });
  base = central.url;
  try {
    const time = async (path: string, n = 40) => {
      const lat: number[] = [];
      for (let i = 0; i < n; i++) {
        const p = path
          .replace('{i}', String(Math.floor(Math.random() * ACTIVITIES)))
          .replace('{w}', WORDS[i % 10] as string);
        const q0 = performance.now();
        await api('GET', p);
        lat.push(performance.now() - q0);
      }
      return { p50Ms: round(pct(lat, 50)), p95Ms: round(pct(lat, 95)), samples: n };
    };
    saveResults({ activitiesPhase: result });
    result.list = await time(`/api/v1/activities?deployment=${DEP}&limit=50`);
    result.listDeepCursor = await time(`/api/v1/activities?deployment=${DEP}&limit=50&cursor={i}`);
    result.searchCommonWord = await time(`/api/v1/activities?deployment=${DEP}&q={w}&limit=50`);
    result.byMessageId = await time(`/api/v1/activities?messageId=m{i}.x`);
    result.stats = await time('/api/v1/stats', 20);
    // A term that only one activity carries: its sender's address, two words in a row (the word index).
    result.searchRareSender = await time(`/api/v1/activities?deployment=${DEP}&q=contact{i}.n&limit=50`, 5);
    result.baselineDeploymentGet = await time(`/api/v1/deployments/${DEP}`, 20);
    saveResults({ activitiesPhase: result });
    result.ingest = await ingestAtScale(central);
    log('activities', result);
    saveResults({ activitiesPhase: result });
  } finally {
    await central.stop();
  }
}

if (PHASE === 'resume') await resumePhase();
if (PHASE === 'records' || PHASE === 'all') await recordsPhase();
if (PHASE === 'activities' || PHASE === 'all') await activitiesPhase();
if (OUT === join(dirname(LATEST_RESULTS), 'scale.json')) refreshHeadlineTable();
log(`wrote ${OUT}`);
