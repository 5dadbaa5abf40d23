// memory.*: peak memory of the edge code path for one CRM-bound 25 MiB message with big
// attachments — readStreamLimited → readMessageFacts → classify → buildIngestItems (postal-mime parse,
// regional storage of raw message and attachments) — run in Node, in a child process of its own
// (`--expose-gc`) so that nothing else is on its heap. Peak RSS comes from the kernel's high-water
// mark (VmHWM, reset just before the run), heap + array buffers from sampling every millisecond.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoRecords, MAILBOXES } from '../scripts/demo-data.mjs';
import { buildRaw, createRng } from '../scripts/traffic.mjs';
import { realisticSnapshotInput } from './classify.mjs';
import { round } from './lib/stats.mjs';

const SELF = fileURLToPath(import.meta.url);

export async function benchMemory({ smoke = false, log = () => {} } = {}) {
  const { coreBundlePath } = await import('./lib/core-bundle.mjs');
  const bundle = await coreBundlePath();
  const targetBytes = smoke ? 2 * 1024 * 1024 : 25 * 1024 * 1024 - 64 * 1024;
  // The message is built here and handed over as a file, so that building it (big strings) does
  // not raise the child's memory high-water mark before the measurement starts.
  const dir = mkdtempSync(join(tmpdir(), 'crm-bench-mem-'));
  const file = join(dir, 'message.eml');
  writeFileSync(file, bigMessage(targetBytes));
  const run = (flags) =>
    new Promise((res, rej) =>
      execFile(
        process.execPath,
        ['--expose-gc', ...flags, SELF, bundle, file],
        { maxBuffer: 1 << 20 },
        (err, out, errOut) =>
          err ? rej(new Error(`${err.message}\n${errOut}`)) : res(JSON.parse(out.trim().split('\n').pop())),
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

const MAILBOX = MAILBOXES.find((m) => m.region === 'us' && m.filter === 'records');
const CONTACT = demoRecords(MAILBOX.deployment).find((r) => r.type === 'contact').emails[0];

/** A CRM-bound message of about `targetBytes`: four big base64 attachments fill it up. */
function bigMessage(targetBytes) {
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
function highWaterMark() {
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

async function child(bundlePath, file) {
  const { loadCore } = await import('./lib/core-bundle.mjs');
  const core = await loadCore(bundlePath);
  const snapshot = core.buildSnapshot(realisticSnapshotInput());
  const raw = readFileSync(file);
  const env = {
    RAW: {
      // R2 streams the value away; holding nothing here keeps the measurement about the edge.
      put: async () => {},
    },
  };
  const cfg = { region: 'us' };
  // Platform stand-in, like the R2 above: workerd hashes on the calling thread, in place; Node's
  // WebCrypto copies the input for its thread pool and frees the copy only when the job object is
  // collected, which would add up to one message size that the edge does not pay.
  const nodeDigest = crypto.subtle.digest.bind(crypto.subtle);
  crypto.subtle.digest = async (algorithm, data) => {
    if (algorithm !== 'SHA-256') return nodeDigest(algorithm, data);
    const view = ArrayBuffer.isView(data) ? data : new Uint8Array(data);
    const out = createHash('sha256').update(view).digest();
    return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength);
  };
  const stream = () =>
    new ReadableStream({
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
    const bytes = await core.readStreamLimited(stream(), 25 * 1024 * 1024, raw.length);
    const facts = core.readMessageFacts(bytes, { from: CONTACT, to: 'crm@us.edge.localhost' });
    const decision = core.classify(facts, snapshot, { now: Date.now() });
    if (!decision.crmBound) throw new Error(`not CRM-bound: ${decision.reason}`);
    const targets = decision.targets.filter((t) => t.crmBound);
    return (await core.buildIngestItems(env, cfg, snapshot, bytes, facts, targets, Date.now())).length;
  };
  for (let i = 0; i < 3; i++) globalThis.gc();
  await new Promise((r) => setTimeout(r, 50));
  globalThis.gc();
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
  child(process.argv[2], process.argv[3]).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
