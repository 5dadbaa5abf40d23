// relay.*: the SMTP ingress relay (src/relay) in front of a real edge of a running local network.
//   - added latency: one message at a time, alternating a direct `POST /api/v1/inbound` to the edge
//     and the same kind of message as an SMTP transaction through the relay (MAIL, RCPT, DATA, the
//     relay streams it to the edge and answers with the edge's answer) on a kept-open connection;
//     p50(SMTP via relay) − p50(direct HTTP) is what the relay adds;
//   - throughput: messages through the relay from 20 parallel SMTP connections (Postfix's default
//     destination concurrency), with the network (central, three edges, queues) running;
//   - memory: a 25 MiB message through the relay, which runs in a child process of its own; peak
//     RSS from the kernel's high-water mark (VmHWM, reset just before the message), minus the
//     relay's resident size before it.
// `npm run bench:relay` runs it alone and merges the result into bench/results/latest.json (other
// keys untouched); `npm run bench` runs it as the `relay` stage.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import nodemailer from 'nodemailer';
import { freePort, LOCAL_ADMIN_TOKEN, LOCAL_INBOUND_TOKEN, ROOT } from '../scripts/network.js';
import type { Region } from '../scripts/regions.js';
import { saveResults } from './lib/readme-table.js';
import { flattenHeadlines, gitCommit, type HeadlineKey, type TargetResult, valueAt } from './lib/results.js';
import { median, round } from './lib/stats.js';
import { type Net, withNetwork } from './network.js';

type Json = Record<string, unknown>;
type Log = (line: string) => void;

const MAILBOX = 'alice@contoso.example'; // us, filter "all": every message is CRM-bound
export const RELAY_KEYS: HeadlineKey[] = [
  ['relay.p50AddedMs', '<=', 5],
  ['relay.p99AddedMs'],
  ['relay.msgPerSec', '>=', 100],
  ['relay.peakBytes25MiB'],
  ['relay.ratioToSize', '<=', 3],
];

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

function message(run: string, i: number, body = `Order ${i}.\r\n`): string {
  return [
    'From: Carol Customer <carol@example.org>',
    `To: ${MAILBOX}`,
    `X-Forwarded-To: ${MAILBOX}`,
    `Subject: relay bench ${run} ${i}`,
    `Message-ID: <relay-bench-${run}-${i}@example.org>`,
    `Date: ${new Date().toUTCString()}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    body,
  ].join('\r\n');
}

async function forwardingAddress(central: string): Promise<string> {
  const res = await fetch(`${central}/api/v1/deployments/contoso`, {
    headers: { authorization: `Bearer ${LOCAL_ADMIN_TOKEN}` },
  });
  const dep = (await res.json()) as { forwardingAddresses?: Record<string, string> };
  return dep.forwardingAddresses?.us ?? 'crm@us.edge.localhost';
}

/** The relay in a child process of its own (`crm-router smtp`), so its memory is its own. */
async function startRelayChild(edge: string, log: Log): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src/relay/cli.ts'),
      'smtp',
      '--edge',
      edge,
      '--token',
      LOCAL_INBOUND_TOKEN,
      '--listen',
      `127.0.0.1:${port}`,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stderr?.on('data', (d) => log(`[relay] ${String(d).trim()}`));
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error('relay did not start within 30 s')), 30_000);
    child.stdout?.on('data', (d) => {
      if (String(d).includes('SMTP relay listening')) {
        clearTimeout(timer);
        res();
      }
    });
    child.once('exit', (code) => rej(new Error(`relay exited with ${code}`)));
  });
  return { port, child };
}

function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return Number(line?.match(/(\d+)/)?.[1] ?? 0) * 1024;
}

export async function benchRelay({
  net,
  smoke = false,
  log = () => {},
}: {
  net: Net;
  smoke?: boolean;
  log?: Log;
}): Promise<Json> {
  const run = Date.now().toString(36);
  // The us edge's own workerd where the bench started the network, past wrangler dev's proxy worker
  // (development only; bench/network.ts): the relay and the direct sender meet the same edge.
  const edge = net.edgesDirect?.us ?? net.edges.us;
  const to = await forwardingAddress(net.central);
  const { port, child } = await startRelayChild(edge, log);
  const pid = child.pid as number;
  const smtp = (pool: number) =>
    nodemailer.createTransport({
      host: '127.0.0.1',
      port,
      secure: false,
      ignoreTLS: true,
      pool: true,
      maxConnections: pool,
      maxMessages: Number.POSITIVE_INFINITY,
    });
  const sendSmtp = async (t: ReturnType<typeof smtp>, raw: string) => {
    const info = await t.sendMail({ envelope: { from: 'carol@example.org', to: [to] }, raw });
    if (!/^250 /.test(info.response)) throw new Error(`relay answered ${info.response}`);
  };
  const sendHttp = async (raw: string) => {
    const res = await fetch(
      `${edge}/api/v1/inbound?from=${encodeURIComponent('carol@example.org')}&to=${encodeURIComponent(to)}`,
      { method: 'POST', headers: { authorization: `Bearer ${LOCAL_INBOUND_TOKEN}` }, body: raw },
    );
    await res.text();
    if (res.status !== 202) throw new Error(`edge answered ${res.status}`);
  };

  try {
    // Warm up both paths (snapshot, connections, JIT).
    const one = smtp(1);
    for (let i = 0; i < 10; i++) {
      await sendHttp(message(`${run}w`, i));
      await sendSmtp(one, message(`${run}v`, i));
    }

    // 1. Added latency, alternating the two paths one message at a time.
    const n = smoke ? 20 : 300;
    const http: number[] = [];
    const viaRelay: number[] = [];
    for (let i = 0; i < n; i++) {
      let t = performance.now();
      await sendHttp(message(`${run}h`, i));
      http.push(performance.now() - t);
      t = performance.now();
      await sendSmtp(one, message(`${run}s`, i));
      viaRelay.push(performance.now() - t);
    }
    one.close();
    const p50Added = median(viaRelay) - median(http);
    const p99Added = percentile(viaRelay, 99) - percentile(http, 99);
    log(
      `relay latency: direct HTTP p50 ${round(median(http), 2)} ms, via relay p50 ${round(median(viaRelay), 2)} ms → added ${round(p50Added, 2)} ms`,
    );

    // 2. Sustained throughput through the relay, 20 parallel connections.
    const total = smoke ? 60 : 1000;
    const concurrency = 20;
    const pool = smtp(concurrency);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          const i = next++;
          await sendSmtp(pool, message(`${run}t`, i));
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    pool.close();
    const msgPerSec = total / seconds;
    // The same load straight to the edge, for reference: the relay cannot be faster than its edge.
    next = 0;
    const t1 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) await sendHttp(message(`${run}d`, next++));
      }),
    );
    const edgeMsgPerSec = total / ((performance.now() - t1) / 1000);
    log(`relay throughput: ${round(msgPerSec, 1)} msg/s (edge direct: ${round(edgeMsgPerSec, 1)} msg/s)`);

    // 3. Peak relay memory for a 25 MiB message.
    const size = smoke ? 2 * 1024 * 1024 : 25 * 1024 * 1024 - 64 * 1024;
    const line = `${'x'.repeat(998)}\r\n`;
    const big = message(`${run}m`, 0, line.repeat(Math.ceil(size / line.length)).slice(0, size));
    const bigBytes = Buffer.byteLength(big);
    await new Promise((r) => setTimeout(r, 500));
    writeFileSync(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM to the current RSS
    const rssBefore = procStatus(pid, 'VmRSS');
    const mem = smtp(1);
    let bigReply = '';
    try {
      const info = await mem.sendMail({ envelope: { from: 'carol@example.org', to: [to] }, raw: big });
      bigReply = info.response;
    } catch (err) {
      bigReply = (err as { response?: string }).response ?? String(err);
    }
    mem.close();
    const peak = procStatus(pid, 'VmHWM');
    const added = peak - rssBefore;
    log(
      `relay memory: ${bigBytes} B message, RSS before ${rssBefore} B, peak ${peak} B (+${added} B, ${round(added / bigBytes, 2)}×); reply ${bigReply}`,
    );

    return {
      p50AddedMs: round(p50Added, 2),
      p99AddedMs: round(p99Added, 2),
      directHttpP50Ms: round(median(http), 2),
      viaRelayP50Ms: round(median(viaRelay), 2),
      directHttpP99Ms: round(percentile(http, 99), 2),
      viaRelayP99Ms: round(percentile(viaRelay, 99), 2),
      latencySamples: n,
      msgPerSec: round(msgPerSec, 1),
      edgeDirectMsgPerSec: round(edgeMsgPerSec, 1),
      edgeSocket: net.edgesDirect?.us ? 'workerd' : 'wrangler-proxy',
      throughputMessages: total,
      concurrency,
      peakBytes25MiB: added,
      peakRssBytes: peak,
      rssBeforeBytes: rssBefore,
      messageBytes: bigBytes,
      ratioToSize: round(added / bigBytes, 3),
      bigMessageReply: bigReply.slice(0, 200),
    };
  } finally {
    child.kill('SIGTERM');
  }
}

/** Puts the relay figures into an existing latest.json: its `relay` object, flat keys, targets. */
export function mergeRelayResult(file: string, relay: Json, meta: Json): Json {
  const current: Json = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const next: Json = { ...current, relay: { ...relay, ...meta } };
  const targets = flattenHeadlines(next, RELAY_KEYS, {
    ...((current.targets as Record<string, TargetResult>) ?? {}),
  });
  next.targets = targets;
  saveResults(file, next);
  return next;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      out: { type: 'string', default: join(ROOT, 'bench', 'results', 'latest.json') },
      central: { type: 'string' },
      edge: { type: 'string' },
    },
  });
  const log = (l: string) => console.log(l);
  const given =
    values.central && values.edge
      ? { central: values.central, edges: { us: values.edge } as Record<Region, string> }
      : {};
  const started = new Date().toISOString();
  const load = loadavg().map((x) => round(x, 2));
  withNetwork({ ...given, log }, (net) => benchRelay({ net, smoke: values.smoke, log }))
    .then((relay) => {
      const merged = mergeRelayResult(values.out, relay, {
        at: started,
        commit: process.env.BENCH_COMMIT ?? gitCommit(),
        mode: values.smoke ? 'smoke' : 'full',
        machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', loadAverageAtStart: load },
      });
      for (const [key, op, bound] of RELAY_KEYS)
        log(`${key.padEnd(24)}${String(valueAt(merged, key)).padEnd(14)}${op ? `${op} ${bound}` : ''}`);
      log(`merged into ${values.out}`);
    })
    .catch((err) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : err);
      process.exit(1);
    });
}
