// Starts the local network (central + regional edges) with `wrangler dev`. Used by `npm start`,
// `npm run start:central`, `npm run start:edges`, the e2e suite and the benchmarks, so that tests
// exercise exactly what operators run.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REGIONS = ['us', 'eu', 'apac'];
export const LOCAL_ADMIN_TOKEN = 'local-admin-token';
export const LOCAL_INBOUND_TOKEN = 'local-inbound-token';
export const LOCAL_EDGE_KEY_SECRET = 'local-edge-key-secret';

export const DEFAULT_PORTS = { central: 8787, us: 8788, eu: 8789, apac: 8790 };

/** Ports from the environment (CENTRAL_PORT, EDGE_US_PORT, EDGE_EU_PORT, EDGE_APAC_PORT) or defaults. */
export function portsFromEnv(env = process.env) {
  return {
    central: Number(env.CENTRAL_PORT ?? DEFAULT_PORTS.central),
    us: Number(env.EDGE_US_PORT ?? DEFAULT_PORTS.us),
    eu: Number(env.EDGE_EU_PORT ?? DEFAULT_PORTS.eu),
    apac: Number(env.EDGE_APAC_PORT ?? DEFAULT_PORTS.apac),
  };
}

const WRANGLER_ENV = {
  WRANGLER_SEND_METRICS: 'false',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  NO_COLOR: '1',
  FORCE_COLOR: '0',
};

/** Same derivation as src/core/request-signature.ts `deriveEdgeCredentials`. */
export function deriveEdgeCredentials(masterSecret, region) {
  const mac = (data) => createHmac('sha256', masterSecret).update(data).digest('hex');
  return {
    signingKey: mac(`sign:${region}`),
    token: `edge_${region}_${mac(`token:${region}`).slice(0, 40)}`,
  };
}

export function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/** Refuses to start on a port something else answers on (its /health would fool the wait). */
export function assertPortFree(port, label) {
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

function pipeLines(stream, label, log) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
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

/** Spawns a child in its own process group so that stopping it also stops workerd. */
function spawnGroup(args, label, log, extraEnv = {}) {
  // The pinned Node (≥ 22.12, which wrangler needs) first on PATH, whoever started this script.
  const path = [join(ROOT, 'node_modules', '.bin'), process.env.PATH].filter(Boolean).join(':');
  const child = spawn(wranglerBin(), args, {
    cwd: ROOT,
    env: { ...process.env, ...WRANGLER_ENV, PATH: path, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  pipeLines(child.stdout, label, log);
  pipeLines(child.stderr, label, log);
  return child;
}

function killGroup(child, signal) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}

/** Stops a child's whole process group: SIGTERM, then SIGKILL after a grace period. */
export async function stopChild(child, graceMs = 5000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((res) => child.once('exit', res));
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  // workerd may outlive wrangler for a moment: make sure the group is gone.
  killGroup(child, 'SIGKILL');
}

export async function waitForHealth(url, { timeoutMs = 120_000, child } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return await res.json();
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err.cause?.code ?? err.message;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${url}/health did not answer within ${timeoutMs} ms (${last})`);
}

export async function runWrangler(args, log = () => {}) {
  const lines = [];
  const child = spawnGroup(args, 'wrangler', (l) => {
    lines.push(l);
    log(l);
  });
  const code = await new Promise((res) => child.on('exit', res));
  if (code !== 0)
    throw new Error(`wrangler ${args.join(' ')} exited with ${code}:\n${lines.slice(-20).join('\n')}`);
}

export async function applyMigrations(stateDir, log, attempts = 3) {
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
      log(`[network] migrations failed (attempt ${attempt}), retrying: ${err.message.split('\n')[0]}`);
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
}

/** `wrangler dev` of one worker on 127.0.0.1:`port`, state under `stateDir/<name>`, with `vars`. */
async function startWorker({ label, configArgs, port, stateDir, name, vars, log }) {
  const inspector = await freePort();
  const child = spawnGroup(
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
      ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
    ],
    label,
    log,
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(url, { child });
  return { url, child, stop: () => stopChild(child) };
}

export async function startCentral({
  port,
  stateDir,
  log = console.log,
  edgeKeySecret = LOCAL_EDGE_KEY_SECRET,
}) {
  await assertPortFree(port, 'central');
  await applyMigrations(stateDir, log);
  const worker = await startWorker({
    label: 'central',
    configArgs: ['-c', 'wrangler.toml'],
    port,
    stateDir,
    name: 'central',
    vars: { EDGE_KEY_SECRET: edgeKeySecret },
    log,
  });
  // Central's cron (bookkeeping, webhook retries from the outbox), as for the edges below.
  const stopTicker = startCronTicker([worker.url]);
  return {
    role: 'central',
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
}) {
  await assertPortFree(port, `edge ${region}`);
  const { signingKey, token } = deriveEdgeCredentials(edgeKeySecret, region);
  const worker = await startWorker({
    label: `edge-${region}`,
    configArgs: ['-c', configPath, '--env', region],
    port,
    stateDir,
    name: `edge-${region}`,
    vars: {
      CENTRAL_URL: centralUrl,
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      EDGE_SIGNING_KEY: signingKey,
      EDGE_TOKEN: token,
      INBOUND_TOKEN: inboundToken,
      ...vars,
    },
    log,
  });
  return { role: 'edge', region, ...worker };
}

/**
 * Local stand-in for the edges' cron trigger (`wrangler dev` does not run crons by itself): hits
 * each edge's `/__scheduled` every `intervalMs` — snapshot refresh and heartbeat.
 */
export function startCronTicker(urls, intervalMs = 15_000) {
  const tick = () => {
    for (const url of urls)
      fetch(`${url}/__scheduled?cron=${encodeURIComponent('* * * * *')}`, {
        signal: AbortSignal.timeout(10_000),
      }).catch(() => {});
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  tick();
  return () => clearInterval(timer);
}

export async function startEdges({
  ports,
  centralUrl,
  stateDir,
  log,
  regions = REGIONS,
  cron = true,
  configPath = 'wrangler.edge.toml',
  vars = {},
}) {
  const edges = await Promise.all(
    regions.map((region) =>
      startEdge({ region, port: ports[region], centralUrl, stateDir, log, configPath, vars }),
    ),
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
} = {}) {
  // Edges do not need central to boot (they fetch their snapshot lazily), so start all at once.
  const [centralResult, edgesResult] = await Promise.allSettled([
    startCentral({ port: ports.central, stateDir, log }),
    startEdges({ ports, centralUrl: `http://127.0.0.1:${ports.central}`, stateDir, log, cron: false }),
  ]);
  if (centralResult.status === 'rejected' || edgesResult.status === 'rejected') {
    if (centralResult.status === 'fulfilled') await centralResult.value.stop();
    if (edgesResult.status === 'fulfilled') await edgesResult.value.stop();
    throw centralResult.status === 'rejected' ? centralResult.reason : edgesResult.reason;
  }
  const central = centralResult.value;
  const edges = edgesResult.value;
  let seeded = false;
  if (seed) {
    const { seedDemoData } = await import('./seed.mjs');
    try {
      seeded = await seedDemoData(central.url, LOCAL_ADMIN_TOKEN, log);
    } catch (err) {
      await Promise.all([edges.stop(), central.stop()]);
      throw err;
    }
  }
  // Edges refresh their snapshots and send heartbeats once central is there to answer.
  edges.startCron();
  return {
    central,
    edges: Object.fromEntries(edges.edges.map((e) => [e.region, e])),
    seeded,
    async stop() {
      await Promise.all([edges.stop(), central.stop()]);
    },
  };
}
