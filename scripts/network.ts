// Starts the local network (central + regional edges) with `wrangler dev`. Used by `npm start`,
// `npm run start:central`, `npm run start:edges`, the e2e suite and the benchmarks, so that tests
// exercise exactly what operators run.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEVELOPMENT,
  LOCAL_ADMIN_TOKEN,
  LOCAL_EDGE_KEY_SECRET,
  LOCAL_INBOUND_TOKEN,
  MARKER_VAR,
} from '../src/core/deploy-mode.js';
import { deriveEdgeCredentials } from '../src/core/request-signature.js';
import { type Relay, startRelay } from '../src/relay/relay.js';
import { errorCode, errorMessage } from './errors.js';
import {
  type GroupChild,
  removePidFile,
  spawnGroup,
  stopGroup,
  stopLeftovers,
  writePidFile,
} from './process-group.js';
import { isRegion, REGIONS, type Region } from './regions.js';
import { type SeedOutcome, seedDemoData } from './seed.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export { isRegion, LOCAL_ADMIN_TOKEN, LOCAL_EDGE_KEY_SECRET, LOCAL_INBOUND_TOKEN, REGIONS, type Region };

/**
 * What every locally started worker runs with: the local-development marker (the committed configs
 * say production; src/core/deploy-mode.ts). Such a worker answers loopback requests only, which is
 * all `wrangler dev --ip 127.0.0.1` receives.
 */
const LOCAL_DEVELOPMENT_VARS = { [MARKER_VAR]: DEVELOPMENT };

export { deriveEdgeCredentials, errorCode, errorMessage };

export interface EdgeWorker extends Worker {
  role: 'edge';
  region: Region;
}

export interface Network {
  central: Worker & { role: 'central' };
  edges: Record<Region, EdgeWorker>;
  /** The SMTP ingress relay of each region, when `smtpPorts` were given. */
  relays: Partial<Record<Region, Relay>>;
  seed: SeedReport;
  stop: () => Promise<void>;
}

/** What became of the demo seed: see scripts/seed.ts; `failed` when central refused a write. */
export type SeedReport = SeedOutcome | { status: 'failed'; reason: string } | { status: 'off' };

/**
 * Seeds the demo data and reports; never throws: a seed that cannot apply (central refused a
 * write) is logged and central keeps running with what it holds.
 */
export async function seedOrReport(centralUrl: string, log: Log): Promise<SeedReport> {
  try {
    return await seedDemoData(centralUrl, LOCAL_ADMIN_TOKEN, log);
  } catch (err) {
    const reason = errorMessage(err);
    log(`[seed] the demo data could not be written (${reason}); central keeps running without it`);
    return { status: 'failed', reason };
  }
}

export type Ports = { central: number } & Record<Region, number>;
export type Log = (line: string) => void;

export const DEFAULT_PORTS: Ports = { central: 8787, us: 8788, eu: 8789, apac: 8790 };

/** Local SMTP ingress ports (design §3): us 2525, eu 2526, apac 2527. */
export const DEFAULT_SMTP_PORTS: Record<Region, number> = { us: 2525, eu: 2526, apac: 2527 };

/** SMTP ingress ports from the environment (SMTP_US_PORT, SMTP_EU_PORT, SMTP_APAC_PORT) or defaults. */
export function smtpPortsFromEnv(env: NodeJS.ProcessEnv = process.env): Record<Region, number> {
  return {
    us: Number(env.SMTP_US_PORT ?? DEFAULT_SMTP_PORTS.us),
    eu: Number(env.SMTP_EU_PORT ?? DEFAULT_SMTP_PORTS.eu),
    apac: Number(env.SMTP_APAC_PORT ?? DEFAULT_SMTP_PORTS.apac),
  };
}

/**
 * One SMTP ingress relay per edge on 127.0.0.1 (`crm-router smtp` in-process), so a local mail
 * server or swaks can deliver to the network the way a customer's server would.
 */
export async function startRelays({
  edges,
  smtpPorts,
  log = console.log,
  inboundToken = LOCAL_INBOUND_TOKEN,
}: {
  edges: readonly EdgeWorker[];
  smtpPorts: Partial<Record<Region, number>>;
  log?: Log;
  inboundToken?: string;
}): Promise<Partial<Record<Region, Relay>>> {
  const relays: Partial<Record<Region, Relay>> = {};
  try {
    for (const edge of edges) {
      const port = smtpPorts[edge.region];
      if (port === undefined) continue;
      if (port !== 0) await assertPortFree(port, `SMTP ingress ${edge.region}`);
      relays[edge.region] = await startRelay({
        edgeUrl: edge.url,
        token: inboundToken,
        host: '127.0.0.1',
        port,
        name: `smtp-${edge.region}.localhost`,
        log: (line) => log(`[smtp-${edge.region}] ${line.replace(/^\[relay\] /, '')}`),
      });
    }
  } catch (err) {
    await Promise.all(Object.values(relays).map((r) => r.stop()));
    throw err;
  }
  return relays;
}

/** Ports from the environment (CENTRAL_PORT, EDGE_US_PORT, EDGE_EU_PORT, EDGE_APAC_PORT) or defaults. */
export function portsFromEnv(env: NodeJS.ProcessEnv = process.env): Ports {
  return {
    central: Number(env.CENTRAL_PORT ?? DEFAULT_PORTS.central),
    us: Number(env.EDGE_US_PORT ?? DEFAULT_PORTS.us),
    eu: Number(env.EDGE_EU_PORT ?? DEFAULT_PORTS.eu),
    apac: Number(env.EDGE_APAC_PORT ?? DEFAULT_PORTS.apac),
  };
}

const WRANGLER_ENV = {
  // wrangler dev's local observability streams every invocation and span of every worker to a
  // collector for its Local Explorer, which production does not do: about a sixth of each edge's and
  // a third of central's CPU in the e2e bench (docs/decisions.md, "The e2e path"). Opt in with
  // X_LOCAL_OBSERVABILITY=true.
  X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? 'false',
  WRANGLER_SEND_METRICS: 'false',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  NO_COLOR: '1',
  FORCE_COLOR: '0',
};

/**
 * Ports handed out are taken from below Linux's ephemeral range (32768–60999): a port the OS picked
 * for `listen(0)` is free only until it is closed, and any process that binds port 0 or opens a
 * connection (workerd does both, many times) may be given it before our server binds it. Ports below
 * that range are never handed out by the OS, so a free one stays free until someone asks for it.
 */
const PORT_RANGE = { from: 20_000, to: 32_000 } as const;
const handedOut = new Set<number>();

function tryListen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}

export async function freePort(): Promise<number> {
  const span = PORT_RANGE.to - PORT_RANGE.from;
  const start = Math.floor(Math.random() * span);
  for (let i = 0; i < span; i++) {
    const port = PORT_RANGE.from + ((start + i) % span);
    if (handedOut.has(port)) continue;
    if (await tryListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port between ${PORT_RANGE.from} and ${PORT_RANGE.to}`);
}

/** Refuses to start on a port something else answers on (its /health would fool the wait). */
export function assertPortFree(port: number, label: string): Promise<void> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', () =>
      rej(
        new Error(
          `${label}: port ${port} is already in use (another network running? set the *_PORT variables)`,
        ),
      ),
    );
    srv.listen(port, '127.0.0.1', () => srv.close(() => res()));
  });
}

function wranglerBin() {
  return join(ROOT, 'node_modules', '.bin', 'wrangler');
}

function pipeLines(stream: NodeJS.ReadableStream, label: string, log: Log) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let i = buf.indexOf('\n');
    while (i >= 0) {
      const line = buf.slice(0, i).trimEnd();
      buf = buf.slice(i + 1);
      if (line) log(`[${label}] ${line}`);
      i = buf.indexOf('\n');
    }
  });
}

/**
 * Spawns wrangler in a process group of its own (stopping it also stops workerd), watched. `secrets`
 * also go into wrangler's environment, where `wrangler dev` looks for a config's `secrets.required`
 * (it warns about each one it does not find there; a `.dev.vars` file takes precedence).
 */
function spawnWrangler(
  args: string[],
  label: string,
  log: Log,
  secrets: Record<string, string> = {},
): GroupChild {
  // The pinned Node (≥ 22.12, which wrangler needs) first on PATH, whoever started this script.
  const path = [join(ROOT, 'node_modules', '.bin'), process.env.PATH].filter(Boolean).join(':');
  const group = spawnGroup(wranglerBin(), args, {
    cwd: ROOT,
    env: { ...process.env, ...WRANGLER_ENV, ...secrets, PATH: path },
  });
  pipeLines(group.child.stdout as NodeJS.ReadableStream, label, log);
  pipeLines(group.child.stderr as NodeJS.ReadableStream, label, log);
  return group;
}

export async function waitForHealth(
  url: string,
  { timeoutMs = 120_000, child }: { timeoutMs?: number; child?: ChildProcess } = {},
): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return await res.json();
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = errorCode(err);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${url}/health did not answer within ${timeoutMs} ms (${last})`);
}

/**
 * What the command line of a worker's own workerd holds, and its proxy worker's workerd does not:
 * the entry socket on a port it picks (the proxy's is the public port).
 */
export const OWN_WORKERD_ARG = 'entry=127.0.0.1:0';

/**
 * The worker's own workerd socket, behind wrangler dev's proxy worker (a second workerd on the
 * public port that forwards every request, and exists only in development: Cloudflare's front door
 * takes its place in production). The e2e bench sends its mail here so that the machine's two
 * cores run the router, not the proxy (bench/network.ts). Found from the process group: the workerd
 * started with `entry=127.0.0.1:0`, its listening sockets (/proc), the one that answers `/health`
 * as `url` does (the other is its inspector). Linux only; undefined where it cannot be found.
 * Valid until wrangler restarts the worker (a reload after a file change).
 */
export async function directUrl(worker: Pick<Worker, 'url' | 'child'>): Promise<string | undefined> {
  const pgid = worker.child.pid;
  if (pgid === undefined) return undefined;
  // Who answers: `role` and `region` of /health (the rest moves: time, snapshot, spool).
  const who = (h: unknown) => {
    const { role, region } = (h ?? {}) as { role?: unknown; region?: unknown };
    return `${role}/${region}`;
  };
  const health = await waitForHealth(worker.url, { timeoutMs: 10_000 }).catch(() => null);
  // A worker whose public port does not answer has no socket to find.
  if (health === null) return undefined;
  const expected = who(health);
  for (const pid of groupPids(pgid)) {
    let args = '';
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!args.includes(OWN_WORKERD_ARG)) continue;
    for (const port of listeningPorts(pid)) {
      const url = `http://127.0.0.1:${port}`;
      try {
        const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
        if (res.ok && who(await res.json()) === expected) return url;
      } catch {}
    }
  }
  return undefined;
}

/** Pids of a process group (/proc). */
function groupPids(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const line = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp …: comm may hold spaces.
      if (Number(line.slice(line.lastIndexOf(')') + 2).split(' ')[2]) === pgid) out.push(Number(entry));
    } catch {}
  }
  return out;
}

/** TCP ports a process listens on: its socket inodes (/proc/pid/fd) in the LISTEN rows of /proc/pid/net/tcp. */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1] as string);
      } catch {}
    }
    const ports: number[] = [];
    for (const line of readFileSync(`/proc/${pid}/net/tcp`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local rem st … inode: LISTEN is 0A.
      if (f[3] === '0A' && inodes.has(f[9] as string))
        ports.push(Number.parseInt((f[1] as string).split(':')[1] as string, 16));
    }
    return ports;
  } catch {
    return [];
  }
}

export async function runWrangler(args: string[], log: Log = () => {}): Promise<void> {
  const lines: string[] = [];
  const group = spawnWrangler(args, 'wrangler', (l) => {
    lines.push(l);
    log(l);
  });
  const code = await new Promise<number | null>((res) => group.child.on('exit', (c) => res(c)));
  group.watchdog.stdin?.end();
  if (code !== 0)
    throw new Error(`wrangler ${args.join(' ')} exited with ${code}:\n${lines.slice(-20).join('\n')}`);
}

export async function applyMigrations(stateDir: string, log: Log, attempts = 3): Promise<void> {
  const persist = join(stateDir, 'central');
  mkdirSync(persist, { recursive: true });
  for (let attempt = 1; ; attempt++) {
    try {
      await runWrangler(
        ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persist, '-c', 'wrangler.toml'],
        log,
      );
      return;
    } catch (err) {
      if (attempt >= attempts) throw err;
      log(`[network] migrations failed (attempt ${attempt}), retrying: ${errorMessage(err).split('\n')[0]}`);
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
}

/** `wrangler dev` of one worker on 127.0.0.1:`port`, state under `stateDir/<name>`, with `vars`. */
export interface Worker {
  url: string;
  /** wrangler's inspector (Chrome DevTools protocol) port: the bench reads the isolate's heap there. */
  inspectorPort: number;
  child: ChildProcess;
  stop: () => Promise<void>;
}

/** The pid file of a worker's process group (see scripts/process-group.ts). */
export function pidFile(stateDir: string, name: string): string {
  return join(stateDir, `${name}.pid.json`);
}

async function startWorker({
  label,
  configArgs,
  port,
  stateDir,
  name,
  vars,
  secrets,
  log,
}: {
  label: string;
  configArgs: string[];
  port: number;
  stateDir: string;
  name: string;
  vars: Record<string, string>;
  secrets: Record<string, string>;
  log: Log;
}): Promise<Worker> {
  const pids = pidFile(stateDir, name);
  const inspector = await freePort();
  const group = spawnWrangler(
    [
      'dev',
      ...configArgs,
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(inspector),
      '--persist-to',
      join(stateDir, name),
      '--test-scheduled',
      '--show-interactive-dev-session=false',
      '--log-level',
      'warn',
      // Secrets as `--var`s too: they reach the worker even where a `.dev.vars` hides the environment.
      ...Object.entries({ ...vars, ...secrets, ...LOCAL_DEVELOPMENT_VARS }).flatMap(([k, v]) => [
        '--var',
        `${k}:${v}`,
      ]),
    ],
    label,
    log,
    secrets,
  );
  const { child } = group;
  writePidFile(pids, { pgid: child.pid as number, runnerPid: process.pid, startedAt: Date.now(), label });
  const stop = async () => {
    await stopGroup(group);
    removePidFile(pids, child.pid);
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHealth(url, { child });
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, inspectorPort: inspector, child, stop };
}

export async function startCentral({
  port,
  stateDir,
  log = console.log,
  edgeKeySecret = LOCAL_EDGE_KEY_SECRET,
  cron = true,
}: {
  port: number;
  stateDir: string;
  log?: Log;
  edgeKeySecret?: string;
  /** Run central's cron ticker (the bench turns it off to know which run builds a snapshot part). */
  cron?: boolean;
}): Promise<Worker & { role: 'central' }> {
  await stopLeftovers(pidFile(stateDir, 'central'), log);
  await assertPortFree(port, 'central');
  await applyMigrations(stateDir, log);
  const worker = await startWorker({
    label: 'central',
    configArgs: ['-c', 'wrangler.toml'],
    port,
    stateDir,
    name: 'central',
    vars: {},
    secrets: { ADMIN_TOKEN: LOCAL_ADMIN_TOKEN, EDGE_KEY_SECRET: edgeKeySecret },
    log,
  });
  // Central's cron (bookkeeping, webhook retries from the outbox), as for the edges below.
  const stopTicker = cron ? startCronTicker([worker.url]) : () => {};
  return {
    role: 'central' as const,
    ...worker,
    stop: () => {
      stopTicker();
      return worker.stop();
    },
  };
}

export async function startEdge({
  region,
  port,
  centralUrl,
  stateDir,
  log = console.log,
  edgeKeySecret = LOCAL_EDGE_KEY_SECRET,
  inboundToken = LOCAL_INBOUND_TOKEN,
  configPath = 'wrangler.edge.toml',
  vars = {},
}: {
  region: Region;
  port: number;
  centralUrl: string;
  stateDir: string;
  log?: Log;
  edgeKeySecret?: string;
  inboundToken?: string;
  /** Another edge config (the fault suite's copy with a small retry budget). */
  configPath?: string;
  /** Extra `--var`s (e.g. FAULT_INJECTION, CENTRAL_TIMEOUT_MS for the fault suite). */
  vars?: Record<string, string>;
}): Promise<EdgeWorker> {
  await stopLeftovers(pidFile(stateDir, `edge-${region}`), log);
  await assertPortFree(port, `edge ${region}`);
  const { signingKey, token } = await deriveEdgeCredentials(edgeKeySecret, region);
  const worker = await startWorker({
    label: `edge-${region}`,
    configArgs: ['-c', configPath, '--env', region],
    port,
    stateDir,
    name: `edge-${region}`,
    vars: {
      CENTRAL_URL: centralUrl,
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      ...vars,
    },
    secrets: { EDGE_SIGNING_KEY: signingKey, EDGE_TOKEN: token, INBOUND_TOKEN: inboundToken },
    log,
  });
  return { role: 'edge' as const, region, ...worker };
}

/** How often the local stand-in fires the edges' canary cron (CANARY_CRON, src/edge/canary.ts). */
const CANARY_TICK_MS = 5 * 60_000;

/**
 * Local stand-in for the edges' cron triggers (`wrangler dev` does not run crons by itself): hits
 * each edge's `/__scheduled` every `intervalMs` — snapshot refresh and heartbeat — and with the
 * canary's cron every CANARY_TICK_MS.
 */
export function startCronTicker(urls: string[], intervalMs = 15_000): () => void {
  let lastCanary = 0;
  const tick = () => {
    const crons = ['* * * * *'];
    if (Date.now() - lastCanary >= CANARY_TICK_MS) {
      lastCanary = Date.now();
      crons.push('*/5 * * * *');
    }
    for (const url of urls)
      for (const cron of crons)
        fetch(`${url}/__scheduled?cron=${encodeURIComponent(cron)}`, {
          signal: AbortSignal.timeout(10_000),
        }).catch(() => {});
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  tick();
  return () => clearInterval(timer);
}

export interface Edges {
  edges: EdgeWorker[];
  startCron: () => void;
  stop: () => Promise<void>;
}

export async function startEdges({
  ports,
  centralUrl,
  stateDir,
  log,
  regions = REGIONS,
  cron = true,
  configPath,
  vars,
}: {
  ports: Partial<Record<Region, number>>;
  centralUrl: string;
  stateDir: string;
  log?: Log;
  regions?: readonly Region[];
  cron?: boolean;
  configPath?: string;
  vars?: Record<string, string>;
}): Promise<Edges> {
  const edges = await Promise.all(
    regions.map((region) => {
      const port = ports[region];
      if (port === undefined) throw new Error(`edge ${region}: no port given`);
      return startEdge({
        region,
        port,
        centralUrl,
        stateDir,
        log,
        ...(configPath ? { configPath } : {}),
        ...(vars ? { vars } : {}),
      });
    }),
  );
  let stopTicker = () => {};
  const startCron = () => {
    stopTicker();
    stopTicker = startCronTicker(edges.map((e) => e.url));
  };
  if (cron) startCron();
  return {
    edges,
    startCron,
    async stop() {
      stopTicker();
      await Promise.all(edges.map((e) => e.stop()));
    },
  };
}

/** Central + every edge, migrations applied, demo data seeded once. */
export async function startNetwork({
  ports = portsFromEnv(),
  stateDir = join(ROOT, '.wrangler', 'state', 'local'),
  log = console.log,
  seed = true,
  smtpPorts,
}: {
  ports?: Ports;
  stateDir?: string;
  log?: Log;
  seed?: boolean;
  /** Start a relay per region on these ports (0 = any free port); none when omitted. */
  smtpPorts?: Partial<Record<Region, number>>;
} = {}): Promise<Network> {
  // Edges do not need central to boot (they fetch their snapshot lazily), so start all at once.
  const [centralResult, edgesResult] = await Promise.allSettled([
    startCentral({ port: ports.central, stateDir, log }),
    startEdges({ ports, centralUrl: `http://127.0.0.1:${ports.central}`, stateDir, log, cron: false }),
  ]);
  if (centralResult.status === 'rejected' || edgesResult.status === 'rejected') {
    if (centralResult.status === 'fulfilled') await centralResult.value.stop();
    if (edgesResult.status === 'fulfilled') await edgesResult.value.stop();
    throw centralResult.status === 'rejected'
      ? centralResult.reason
      : (edgesResult as PromiseRejectedResult).reason;
  }
  const central = centralResult.value;
  const edges = edgesResult.value;
  const seeded = seed ? await seedOrReport(central.url, log) : ({ status: 'off' } as const);
  let relays: Partial<Record<Region, Relay>> = {};
  if (smtpPorts) {
    try {
      relays = await startRelays({ edges: edges.edges, smtpPorts, log });
    } catch (err) {
      await Promise.all([edges.stop(), central.stop()]);
      throw err;
    }
  }
  // Edges refresh their snapshots and send heartbeats once central is there to answer.
  edges.startCron();
  return {
    central,
    edges: Object.fromEntries(edges.edges.map((e) => [e.region, e])) as Record<Region, EdgeWorker>,
    relays,
    seed: seeded,
    async stop() {
      await Promise.all(Object.values(relays).map((r) => r.stop()));
      await Promise.all([edges.stop(), central.stop()]);
    },
  };
}
