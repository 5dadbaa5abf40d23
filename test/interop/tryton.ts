// A private Tryton 6.0 server (Debian's tryton-server + tryton-modules-party, installed by .ci/run)
// for the interop suite: SQLite database in a temporary folder, JSON-RPC on a free loopback port.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../scripts/network.js';

const run = promisify(execFile);

export const TRYTON_TOOLS = { trytond: '/usr/bin/trytond', admin: '/usr/bin/trytond-admin' } as const;
/** trytond-admin --all builds ir and res then party: slow on a busy 2-core machine. */
const ADMIN_TIMEOUT_MS = 180_000;
const START_TIMEOUT_MS = 60_000;

export function assertTrytonInstalled(): void {
  const missing = Object.values(TRYTON_TOOLS).filter((p) => !existsSync(p));
  if (missing.length)
    throw new Error(
      `the Tryton interop suite needs ${missing.join(', ')}: apt-get install -y tryton-server tryton-modules-party (see .ci/run)`,
    );
}

export interface Tryton {
  url: string;
  database: string;
  username: string;
  password: string;
  /** A JSON-RPC call as the admin, with its own session: independent of the adapter. */
  rpc(method: string, params: unknown[]): Promise<unknown>;
  /** `model.<model>.<method>(...args, context)` with archived records included. */
  model(model: string, method: string, ...args: unknown[]): Promise<unknown>;
  /** Kills trytond at once (SIGKILL: no graceful end to an in-flight request). */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTryton(): Promise<Tryton> {
  assertTrytonInstalled();
  const dir = mkdtempSync(join(tmpdir(), 'crm-tryton-'));
  const port = await freePort();
  const database = 'crm';
  const password = 'tryton-admin-pw';
  const conf = join(dir, 'trytond.conf');
  writeFileSync(
    conf,
    ['[database]', 'uri = sqlite://', `path = ${dir}`, '[web]', `listen = 127.0.0.1:${port}`, ''].join('\n'),
  );
  writeFileSync(join(dir, 'admin-password'), `${password}\n`);
  // The SQLite backend opens only an existing file (backend/sqlite/database.py _make_uri).
  writeFileSync(join(dir, `${database}.sqlite`), '');
  const env = { ...process.env, TRYTONPASSFILE: join(dir, 'admin-password') };
  const admin = (args: string[]) =>
    run(TRYTON_TOOLS.admin, ['-c', conf, '-d', database, ...args], { env, timeout: ADMIN_TIMEOUT_MS });
  await admin(['--all', '--email', 'admin@tryton.localhost']);
  await admin(['-u', 'party', '--activate-dependencies']);

  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let log = '';

  const post = async (method: string, params: unknown[], authorization?: string) => {
    const res = await fetch(`${url}/${database}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ id: 0, method, params }),
    });
    if (res.status !== 200) throw new Error(`${method}: HTTP ${res.status}`);
    const body = (await res.json()) as { result?: unknown; error?: unknown };
    if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error).slice(0, 500)}`);
    return body.result;
  };
  // A session of its own (HTTP Basic would hash the password on every call: slow on 2 cores).
  let auth: string | undefined;
  const rpc = async (method: string, params: unknown[]) => {
    if (!auth) {
      const [userId, key] = (await post('common.db.login', ['admin', { password }])) as [number, string];
      auth = `Session ${Buffer.from(`admin:${userId}:${key}`).toString('base64')}`;
    }
    return post(method, params, auth);
  };

  const start = async () => {
    log = '';
    child = spawn(TRYTON_TOOLS.trytond, ['-c', conf], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d) => (log += d));
    child.stderr?.on('data', (d) => (log += d));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`trytond exited (${child.exitCode}): ${log.slice(-2000)}`);
      try {
        const res = await fetch(`${url}/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id: 0, method: 'common.server.version', params: [] }),
        });
        if (res.status === 200) break;
      } catch {}
      if (Date.now() > deadline)
        throw new Error(`trytond did not answer in ${START_TIMEOUT_MS / 1000} s: ${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  const halt = async (signal: NodeJS.Signals) => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await exited;
  };

  await start();
  return {
    url,
    database,
    username: 'admin',
    password,
    rpc,
    model: (model, method, ...args) => rpc(`model.${model}.${method}`, [...args, { active_test: false }]),
    kill: () => halt('SIGKILL'),
    start,
    stop: async () => {
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
