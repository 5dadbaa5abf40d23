// The lifecycle of the `wrangler dev` processes a runner (npm start, the e2e suite, the benchmarks)
// starts. Each runs in a process group of its own (stopping the group also stops its workerd), and
// dies with its runner whatever ends the runner:
// - a watchdog per group, a `sh` reading a pipe from the runner: when the runner dies (SIGKILL
//   included) the kernel closes the pipe, `read` returns and the watchdog stops the group;
// - a pid file per worker under the state folder: a later start of the same worker finds what an
//   earlier run left behind (its watchdog killed too, a reboot of the terminal…) and stops it first.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type Log = (line: string) => void;

/** Seconds the watchdog gives a group between SIGTERM and SIGKILL. */
const WATCHDOG_GRACE_S = 3;

/**
 * The watchdog: waits for EOF on stdin (the runner is gone, or stopped the group), then stops the
 * group. Runs detached in a group of its own so that stopping the worker's group leaves it alone.
 */
const WATCHDOG = `read _ignored; kill -TERM -"$1" 2>/dev/null; sleep ${WATCHDOG_GRACE_S}; kill -KILL -"$1" 2>/dev/null; exit 0`;

export interface GroupChild {
  child: ChildProcess;
  /** The watchdog; ends by itself once the group is stopped. */
  watchdog: ChildProcess;
}

/** Spawns `command` as the leader of a new process group, watched by a watchdog. */
export function spawnGroup(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): GroupChild {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const watchdog = spawn('sh', ['-c', WATCHDOG, 'crm-watchdog', String(child.pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  // The runner never writes: only the pipe's end (the runner's exit) matters. Not waiting on it
  // keeps the runner's event loop free to exit.
  watchdog.stdin?.on('error', () => {});
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return { child, watchdog };
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function killGroupId(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* already gone */
  }
}

/** Stops a child's whole process group: SIGTERM, then SIGKILL after a grace period. */
export async function stopGroup({ child, watchdog }: GroupChild, graceMs = 5000): Promise<void> {
  const pgid = child.pid;
  if (pgid !== undefined && !exited(child)) {
    const gone = new Promise((res) => child.once('exit', res));
    killGroupId(pgid, 'SIGTERM');
    const timer = setTimeout(() => killGroupId(pgid, 'SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
  // workerd may outlive wrangler for a moment: make sure the group is gone.
  if (pgid !== undefined) killGroupId(pgid, 'SIGKILL');
  watchdog.stdin?.end();
}

/** Processes of a process group: pid and command line (from `ps`, on Linux and macOS). */
export function groupMembers(pgid: number): { pid: number; command: string }[] {
  let out: string;
  try {
    out = execFileSync('ps', ['-A', '-o', 'pid=,pgid=,args='], { encoding: 'utf8' });
  } catch {
    return [];
  }
  const members: { pid: number; command: string }[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    if (m && Number(m[2]) === pgid) members.push({ pid: Number(m[1]), command: m[3] ?? '' });
  }
  return members;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What a pid file records: the worker's process group and the runner that started it. */
export interface PidRecord {
  pgid: number;
  runnerPid: number;
  startedAt: number;
  label: string;
}

export function writePidFile(file: string, record: PidRecord): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(record)}\n`);
}

export function removePidFile(file: string, pgid: number | undefined): void {
  // Only our own record: a later run may have written the file since.
  if (readPidFile(file)?.pgid === pgid) rmSync(file, { force: true });
}

function readPidFile(file: string): PidRecord | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PidRecord;
  } catch {
    return undefined;
  }
}

const OURS = /wrangler|workerd/;

/**
 * Before a worker starts: when its pid file names a process group that is still there, either
 * another runner is running it (an error: two runners would share the state folder) or it is left
 * from an earlier run whose runner is gone — then it is stopped (SIGTERM, SIGKILL) and the file
 * removed. Only processes whose command line names wrangler or workerd are touched.
 */
export async function stopLeftovers(file: string, log: Log): Promise<void> {
  const record = readPidFile(file);
  if (!record) return;
  const members = groupMembers(record.pgid).filter((p) => OURS.test(p.command));
  if (members.length === 0) {
    rmSync(file, { force: true });
    return;
  }
  if (record.runnerPid !== process.pid && alive(record.runnerPid))
    throw new Error(
      `${record.label} is already running (started by process ${record.runnerPid}, process group ${record.pgid}); stop that run first`,
    );
  log(
    `[network] ${record.label}: stopping ${members.length} process(es) left by an earlier run (process group ${record.pgid})`,
  );
  killGroupId(record.pgid, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && groupMembers(record.pgid).length > 0)
    await new Promise((r) => setTimeout(r, 200));
  if (groupMembers(record.pgid).length > 0) killGroupId(record.pgid, 'SIGKILL');
  const hard = Date.now() + 3000;
  while (Date.now() < hard && groupMembers(record.pgid).length > 0)
    await new Promise((r) => setTimeout(r, 100));
  rmSync(file, { force: true });
}

/**
 * The runner's own parent-death watch: a runner started by npm (npm → sh → node) whose npm is
 * killed is re-parented; it then stops its workers and exits as if it had been interrupted.
 */
export function onParentDeath(stop: () => void, intervalMs = 1000): () => void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      stop();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
