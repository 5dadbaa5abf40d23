// memory.*: peak memory of the edge code path for one CRM-bound 25 MiB message with big
// attachments — readStreamLimited → readMessageFacts → classify → buildItems (postal-mime parse,
// regional storage of raw message and attachments) — run in Node, in a child process of its own
// (`--expose-gc`) so that nothing else is on its heap. Peak RSS comes from the kernel's high-water
// mark (VmHWM, reset just before the run), heap + array buffers from sampling every millisecond.
// The child runs this file with tsx and imports src directly, like every benchmark.
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DemoMailbox, demoRecords, MAILBOXES } from '../scripts/demo-data.js';
import { ROOT } from '../scripts/network.js';
import { buildRaw, createRng } from '../scripts/traffic.js';
import { classify } from '../src/core/classify.js';
import { buildItems } from '../src/core/ingest-item.js';
import { readMessageFacts } from '../src/core/message-facts.js';
import { buildSnapshot } from '../src/core/snapshot.js';
import { readStreamLimited } from '../src/core/stream-limit.js';
import { realisticSnapshotInput } from './classify.js';
import { round } from './lib/stats.js';

const SELF = fileURLToPath(import.meta.url);

type Json = Record<string, number | string | undefined>;

export async function benchMemory({
  smoke = false,
  log = () => {},
}: {
  smoke?: boolean;
  log?: (line: string) => void;
} = {}): Promise<Json> {
  const targetBytes = smoke ? 2 * 1024 * 1024 : 25 * 1024 * 1024 - 64 * 1024;
  // The message is built here and handed over as a file, so that building it (big strings) does
  // not raise the child's memory high-water mark before the measurement starts.
  const dir = mkdtempSync(join(tmpdir(), 'crm-bench-mem-'));
  const file = join(dir, 'message.eml');
  writeFileSync(file, bigMessage(targetBytes));
  const run = (flags: string[]) =>
    new Promise<Json>((res, rej) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', '--expose-gc', ...flags, SELF, file],
        { cwd: ROOT, maxBuffer: 1 << 20 },
        (err, out, errOut) =>
          err
            ? rej(new Error(`${err.message}\n${errOut}`))
            : res(JSON.parse(out.trim().split('\n').pop() ?? '')),
      ),
    );
  try {
    // Node's default V8 settings are the reference. With the young generation capped at 1 MB,
    // survivors are promoted sooner and the peak then depends on when the old generation is
    // collected (2.5–4×): reported beside it.
    const r = await run([]);
    const capped = await run(['--max-semi-space-size=1']);
    r.cappedNurseryPeakRssBytes = capped.peakRssBytes;
    r.cappedNurseryRatioToSize = capped.ratioToSize;
    log(
      `memory: ${r.messageBytes} byte message → peak RSS +${r.peakRssBytes} bytes (${r.ratioToSize}×; ${r.cappedNurseryRatioToSize}× with a 1 MB nursery), heap+buffers sampled +${r.peakHeapAndBuffersBytes}`,
    );
    return r;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const MAILBOX = MAILBOXES.find((m) => m.region === 'us' && m.filter === 'records') as DemoMailbox;
const CONTACT = demoRecords(MAILBOX.deployment).find((r) => r.type === 'contact')?.emails[0] as string;

/** A CRM-bound message of about `targetBytes`: four big base64 attachments fill it up. */
function bigMessage(targetBytes: number): string {
  const decoded = Math.floor(((targetBytes - 16 * 1024) * 57) / 78);
  const parts = 4;
  return buildRaw({
    headers: [
      ['X-Forwarded-To', MAILBOX.address],
      ['From', CONTACT],
      ['To', MAILBOX.address],
      ['Subject', 'Signed contract and drawings'],
      ['Date', 'Tue, 12 Mar 2024 09:14:58 +0000'],
      ['Message-ID', '<bench-memory@customer.example>'],
    ],
    text: 'Please find the signed contract and the drawings attached.',
    attachments: Array.from({ length: parts }, (_, i) => ({
      filename: `drawing-${i}.pdf`,
      contentType: 'application/pdf',
      size: Math.floor(decoded / parts),
    })),
    rng: createRng('bench-memory'),
    seed: 'bench-memory',
    boundaryTag: 'memory',
  });
}

/** Peak resident set size (VmHWM) since the last reset, in bytes; undefined off Linux. */
function highWaterMark(): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function resetHighWaterMark() {
  try {
    // Linux: writing 5 to clear_refs resets the peak RSS to the current RSS.
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

async function child(file: string) {
  const snapshot = buildSnapshot(realisticSnapshotInput());
  const raw: Uint8Array = readFileSync(file);
  // The edge's store is R2, which streams the value away; holding nothing here keeps the
  // measurement about the edge.
  const store = { region: 'us', put: async () => {} };
  // Platform stand-in, like the R2 above: workerd hashes on the calling thread, in place; Node's
  // WebCrypto copies the input for its thread pool and frees the copy only when the job object is
  // collected, which would add up to one message size that the edge does not pay.
  const nodeDigest = crypto.subtle.digest.bind(crypto.subtle);
  crypto.subtle.digest = async (algorithm: AlgorithmIdentifier, data: BufferSource) => {
    if (algorithm !== 'SHA-256') return nodeDigest(algorithm, data);
    const view = ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);
    const out = createHash('sha256').update(view).digest();
    return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer;
  };
  const stream = () =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (let o = 0; o < raw.length; o += 64 * 1024)
          controller.enqueue(
            new Uint8Array(raw.buffer, raw.byteOffset + o, Math.min(64 * 1024, raw.length - o)),
          );
        controller.close();
      },
    });
  const usage = () => {
    const m = process.memoryUsage();
    return { rss: m.rss, heap: m.heapUsed + m.arrayBuffers };
  };
  const edgePath = async () => {
    const bytes = await readStreamLimited(stream(), 25 * 1024 * 1024, raw.length);
    if (!bytes) throw new Error('the message is over the 25 MiB limit');
    const facts = readMessageFacts(bytes, { from: CONTACT, to: 'crm@us.edge.localhost' });
    const decision = classify(facts, snapshot, { now: Date.now() });
    if (!decision.crmBound) throw new Error(`not CRM-bound: ${decision.reason}`);
    const targets = decision.targets.filter((t) => t.crmBound);
    return (
      await buildItems({
        region: 'us',
        store,
        snapshot,
        raw: bytes,
        facts,
        targets,
        now: Date.now(),
        copyId: randomUUID(),
      })
    ).length;
  };
  const gc = globalThis.gc as () => void;
  for (let i = 0; i < 3; i++) gc();
  await new Promise((r) => setTimeout(r, 50));
  gc();
  const base = usage();
  const hwmReset = resetHighWaterMark();
  let peakHeap = base.heap;
  let peakRss = base.rss;
  const timer = setInterval(() => {
    const u = usage();
    peakHeap = Math.max(peakHeap, u.heap);
    peakRss = Math.max(peakRss, u.rss);
  }, 1);
  const t = performance.now();
  const items = await edgePath();
  const ms = performance.now() - t;
  const end = usage();
  clearInterval(timer);
  peakHeap = Math.max(peakHeap, end.heap);
  peakRss = Math.max(peakRss, end.rss);
  const hwm = hwmReset ? highWaterMark() : undefined;
  // The kernel's high-water mark also covers the moments between samples.
  const peakRssGrowth = Math.max(0, Math.max(peakRss, hwm ?? 0) - base.rss);
  process.stdout.write(
    `${JSON.stringify({
      messageBytes: raw.length,
      items,
      ms: round(ms, 0),
      baselineRssBytes: base.rss,
      peakRssBytes: peakRssGrowth,
      ratioToSize: round(peakRssGrowth / raw.length, 2),
      peakFrom: hwm !== undefined ? 'VmHWM (reset before the run) and 1 ms sampling' : '1 ms sampling',
      peakHeapAndBuffersBytes: peakHeap - base.heap,
      heapRatioToSize: round((peakHeap - base.heap) / raw.length, 2),
    })}\n`,
  );
}

if (process.argv[1] === SELF) {
  child(process.argv[2] as string).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
