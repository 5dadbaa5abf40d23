// The network runner (`npm start`, `npm run start:central`) as an operator meets it: killed in every
// way a terminal, an IDE or the OOM killer kills it, started again right after, and started on a
// central where a user created a deployment before the demo seed ran. Each run uses free ports and
// a state folder of its own.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { createCentralClient } from '../../scripts/central-client.js';
import { freePort, LOCAL_ADMIN_TOKEN, ROOT, startCentral } from '../../scripts/network.js';
import { groupMembers, type PidRecord } from '../../scripts/process-group.js';

const dirs: string[] = [];
const runs: Run[] = [];

afterEach(async () => {
  // Whatever a failed test left: stop it by its own process groups.
  for (const run of runs.splice(0)) {
    run.proc.kill('SIGKILL');
    for (const g of run.groups) killGroup(g);
  }
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'crm-runner-'));
  dirs.push(dir);
  return dir;
}

async function ports() {
  return {
    CENTRAL_PORT: String(await freePort()),
    EDGE_US_PORT: String(await freePort()),
    EDGE_EU_PORT: String(await freePort()),
    EDGE_APAC_PORT: String(await freePort()),
    SMTP_US_PORT: String(await freePort()),
    SMTP_EU_PORT: String(await freePort()),
    SMTP_APAC_PORT: String(await freePort()),
  };
}

interface Run {
  proc: ChildProcess;
  output: () => string;
  groups: number[];
}

/** `npm <args>` (as an operator types it) with the given environment. */
function npm(args: string[], env: Record<string, string>): Run {
  const proc = spawn('npm', args, {
    cwd: ROOT,
    env: { ...process.env, ...env, PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (c) => {
    out += c;
  });
  proc.stderr?.on('data', (c) => {
    out += c;
  });
  const run = { proc, output: () => out, groups: [] as number[] };
  runs.push(run);
  return run;
}

async function waitFor(run: Run, pattern: RegExp, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(run.output())) {
    if (run.proc.exitCode !== null || run.proc.signalCode !== null)
      throw new Error(`runner exited (${run.proc.exitCode ?? run.proc.signalCode}):\n${run.output()}`);
    if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${run.output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function pidRecords(dir: string): PidRecord[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.pid.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as PidRecord);
}

function ourProcesses(groups: number[]) {
  return groups.flatMap((g) => groupMembers(g)).filter((p) => /wrangler|workerd/.test(p.command));
}

async function gone(groups: number[], timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (ourProcesses(groups).length === 0) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return ourProcesses(groups).length === 0;
}

function killGroup(pgid: number) {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** Waits for the process to end (npm re-raises a signal its script died of: no exit code then). */
async function exitOf(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  await new Promise((res) => proc.once('exit', res));
}

describe('npm start', () => {
  test('the runner SIGKILLed leaves no wrangler or workerd behind, and npm start right after works; npm SIGKILLed does the same', async () => {
    const dir = stateDir();
    const env = { ...(await ports()), CRM_STATE_DIR: dir };
    const first = npm(['start'], env);
    await waitFor(first, /local network is up/);
    const records = pidRecords(dir);
    expect(records.map((r) => r.label).sort()).toEqual(['central', 'edge-apac', 'edge-eu', 'edge-us']);
    first.groups = records.map((r) => r.pgid);
    expect(ourProcesses(first.groups).length).toBeGreaterThanOrEqual(8);
    // The runner itself (node running scripts/start.ts), not npm: nothing can catch SIGKILL.
    const runner = records[0]?.runnerPid as number;
    process.kill(runner, 'SIGKILL');
    expect(await gone(first.groups), JSON.stringify(ourProcesses(first.groups))).toBe(true);
    await exitOf(first.proc);

    const second = npm(['start'], env);
    await waitFor(second, /local network is up/);
    expect(second.output()).not.toContain('start failed');
    expect(second.output()).toContain('demo data present');
    second.groups = pidRecords(dir).map((r) => r.pgid);
    expect(second.groups.some((g) => first.groups.includes(g))).toBe(false);
    // An IDE's stop button: npm dies, the runner is re-parented and stops its workers.
    second.proc.kill('SIGKILL');
    expect(await gone(second.groups), JSON.stringify(ourProcesses(second.groups))).toBe(true);
  }, 420_000);

  test('leftovers of an earlier run whose watchdog died too are stopped by the next start', async () => {
    const dir = stateDir();
    const env = { ...(await ports()), CRM_STATE_DIR: dir };
    const first = npm(['run', 'start:central'], env);
    await waitFor(first, /central ready/);
    const [record] = pidRecords(dir);
    if (!record) throw new Error('no pid file');
    first.groups = [record.pgid];
    // Kill the watchdog and the runner at once (what a `kill -9` of the whole tree outside the
    // worker's group does): the worker's group stays, holding the port.
    const ps = execFileSync('ps', ['-A', '-o', 'pid=,args='], { encoding: 'utf8' });
    const watchdog = ps
      .split('\n')
      .map((l) => /^\s*(\d+)\s+(.*)$/.exec(l))
      .find((m) => m?.[2]?.includes('crm-watchdog') && m[2].trim().endsWith(` ${record.pgid}`));
    expect(watchdog, 'the worker has a watchdog').toBeTruthy();
    process.kill(Number(watchdog?.[1]), 'SIGKILL');
    process.kill(record.runnerPid, 'SIGKILL');
    await exitOf(first.proc);
    await new Promise((r) => setTimeout(r, 1000));
    expect(ourProcesses(first.groups).length).toBeGreaterThan(0);

    const second = npm(['run', 'start:central'], env);
    await waitFor(second, /central ready/);
    expect(second.output()).toContain(`stopping`);
    expect(second.output()).toContain(`left by an earlier run (process group ${record.pgid})`);
    expect(ourProcesses(first.groups)).toEqual([]);
    second.groups = pidRecords(dir).map((r) => r.pgid);
    second.proc.kill('SIGTERM');
    await exitOf(second.proc);
    expect(await gone(second.groups)).toBe(true);
  }, 300_000);

  test('a deployment a user created before the demo seed ran does not break the start; the seed leaves it alone', async () => {
    const dir = stateDir();
    const env = await ports();
    // The user's deployment exists first, holding tracking base 0 (what the old demo data claimed).
    const central = await startCentral({ port: Number(env.CENTRAL_PORT), stateDir: dir, log: () => {} });
    try {
      const api = createCentralClient({ baseUrl: central.url, token: LOCAL_ADMIN_TOKEN });
      await api.deployments.put('acme', { name: 'Acme', trackingToken: { deploymentBase: 0 } });
    } finally {
      await central.stop();
    }
    const run = npm(['run', 'start:central'], { ...env, CRM_STATE_DIR: dir });
    await waitFor(run, /central ready/);
    expect(run.output()).not.toContain('start failed');
    expect(run.output()).toMatch(/demo data not seeded: central already holds deployments \(acme\)/);
    run.groups = pidRecords(dir).map((r) => r.pgid);
    const api = createCentralClient({
      baseUrl: `http://127.0.0.1:${env.CENTRAL_PORT}`,
      token: LOCAL_ADMIN_TOKEN,
    });
    const deployments = (await api.deployments.list()).items;
    expect(deployments.map((d) => [d.id, d.name, d.trackingToken.deploymentBase])).toEqual([
      ['acme', 'Acme', 0],
    ]);
    expect((await api.mailboxes.list()).items).toEqual([]);
    run.proc.kill('SIGTERM');
    await exitOf(run.proc);
    expect(await gone(run.groups)).toBe(true);
  }, 300_000);
});
