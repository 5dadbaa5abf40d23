// classify.*: the edge's header-first decision (readMessageFacts + classify against a realistic
// snapshot) vs. a full MIME parse (PostalMime.parse) of the same messages.
import PostalMime from 'postal-mime';
import { DEPLOYMENTS, type DemoMailbox, demoRecords, MAILBOXES } from '../scripts/demo-data.js';
import { type AttachmentSpec, buildRaw, createRng } from '../scripts/traffic.js';
import { classify } from '../src/core/classify.js';
import { readMessageFacts } from '../src/core/message-facts.js';
import { buildSnapshot, type SnapshotInput } from '../src/core/snapshot.js';
import { median, round } from './lib/stats.js';

const HASH_KEY = '4a1f0c2b9e8d7c6b5a4f3e2d1c0b0a09';

/** Region `us` of the demo data with 10,000 more contacts and 500 registered outbound messages. */
export function realisticSnapshotInput(): SnapshotInput {
  const deployments = DEPLOYMENTS.map((d, index) => {
    const records = demoRecords(d.id).map((r) => ({
      address: r.emails[0] as string,
      type: r.type,
      emailEnabled: r.emailEnabled,
    }));
    for (let i = 0; i < 10_000; i++)
      records.push({
        address: `contact${i}@customer${i % 700}.example`,
        type: 'contact',
        emailEnabled: i % 10 !== 0,
      });
    const outbound: { messageId: string; subject: string; to: string[] }[] = [];
    for (let i = 0; i < 500; i++)
      outbound.push({
        messageId: `<out-${i}@crm.${d.id}.example>`,
        subject: `Quote ${i}`,
        to: [`contact${i}@customer${i % 700}.example`],
      });
    return {
      id: d.id,
      token: { ...d.trackingToken, deploymentBase: index },
      maxMessageBytes: 25 * 1024 * 1024,
      attachmentPolicy: 'regional' as const,
      smartMatch: false,
      suppressions: ['@spam.example'],
      records,
      outbound,
    };
  });
  return {
    region: 'us',
    version: 1,
    builtAt: 1_790_000_000_000,
    hashKey: HASH_KEY,
    rulesEnabled: true,
    egress: 'metadata+subject' as const,
    mailboxes: MAILBOXES.filter((m) => m.region === 'us'),
    deployments,
  };
}

/**
 * The corpus: plain text, HTML (multipart/alternative) and multipart/mixed with base64
 * attachments of 50 KB–5 MB, each from a CRM contact to a `records` mailbox (a CRM-bound
 * decision: the case where the edge goes on to the full parse).
 */
export function classifyCorpus({ smoke = false }: { smoke?: boolean } = {}) {
  const rng = createRng('bench-classify');
  const mailbox = MAILBOXES.find((m) => m.region === 'us' && m.filter === 'records') as DemoMailbox;
  const contact = demoRecords(mailbox.deployment).find((r) => r.type === 'contact')?.emails[0] as string;
  const corpus: { kind: string; raw: Uint8Array }[] = [];
  const counts = smoke ? { plain: 2, html: 2, attachments: 3 } : { plain: 10, html: 10, attachments: 20 };
  const maxAttachment = smoke ? 200_000 : 5_000_000;
  for (const [kind, count] of Object.entries(counts)) {
    for (let i = 0; i < count; i++) {
      const text = Array.from(
        { length: rng.int(30, 300) },
        () => 'Please find the updated quote for the renewal of the support contract attached.',
      ).join('\r\n');
      const attachments: AttachmentSpec[] =
        kind === 'attachments'
          ? Array.from({ length: rng.int(1, 2) }, (_, k) => ({
              filename: `document-${k}.pdf`,
              contentType: 'application/pdf',
              size: rng.logUniform(50_000, maxAttachment),
            }))
          : [];
      const raw = buildRaw({
        headers: [
          ['X-Forwarded-To', mailbox.address],
          ['Received', 'from mx.customer.example by mx.contoso.example; Tue, 12 Mar 2024 09:14:58 +0000'],
          ['From', `Customer Contact <${contact}>`],
          ['To', mailbox.address],
          ['Subject', `Renewal ${kind} ${i}`],
          ['Date', 'Tue, 12 Mar 2024 09:14:58 +0000'],
          ['Message-ID', `<bench-${kind}-${i}@customer.example>`],
        ],
        text,
        html:
          kind === 'html'
            ? `<html><body><p>${text.replaceAll('\r\n', '</p>\r\n<p>')}</p></body></html>`
            : undefined,
        attachments,
        rng,
        seed: 'bench-classify',
        boundaryTag: rng.hex(12),
      });
      corpus.push({ kind, raw: new TextEncoder().encode(raw) });
    }
  }
  return { corpus, mailbox, contact };
}

function timeMedian(fn: () => void, reps: number): number {
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

async function timeMedianAsync(fn: () => Promise<unknown>, reps: number): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

export async function benchClassify({
  smoke = false,
  log = () => {},
}: {
  smoke?: boolean;
  log?: (line: string) => void;
} = {}) {
  const snapshot = buildSnapshot(realisticSnapshotInput());
  const { corpus } = classifyCorpus({ smoke });
  const envelope = { from: 'bounce@customer.example', to: 'crm@us.edge.localhost' };
  const header: { kind: string; size: number; ms: number }[] = [];
  const full: { kind: string; size: number; ms: number }[] = [];
  const decide = (raw: Uint8Array) =>
    classify(readMessageFacts(raw, envelope), snapshot, { now: 1_790_000_000_000 });
  // Warm up both paths (JIT) on the whole corpus once.
  for (const m of corpus) {
    const d = decide(m.raw);
    if (!d.crmBound) throw new Error(`corpus message ${m.kind} is not CRM-bound: ${d.reason} ${d.detail}`);
    await PostalMime.parse(m.raw);
  }
  for (const m of corpus) {
    header.push({ kind: m.kind, size: m.raw.length, ms: timeMedian(() => decide(m.raw), smoke ? 5 : 50) });
    full.push({
      kind: m.kind,
      size: m.raw.length,
      ms: await timeMedianAsync(() => PostalMime.parse(m.raw), smoke ? 2 : 7),
    });
  }
  const byKind: Record<string, unknown> = {};
  for (const kind of [...new Set(corpus.map((m) => m.kind))]) {
    const h = header.filter((x) => x.kind === kind);
    const f = full.filter((x) => x.kind === kind);
    byKind[kind] = {
      messages: h.length,
      medianBytes: Math.round(median(h.map((x) => x.size))),
      headerOnlyMsPerMsg: round(median(h.map((x) => x.ms)), 4),
      fullParseMsPerMsg: round(median(f.map((x) => x.ms)), 3),
    };
  }
  const headerOnly = median(header.map((x) => x.ms));
  const fullParse = median(full.map((x) => x.ms));
  const result = {
    headerOnlyMsPerMsg: round(headerOnly, 4),
    fullParseMsPerMsg: round(fullParse, 3),
    ratio: round(fullParse / headerOnly, 1),
    messages: corpus.length,
    corpusBytes: corpus.reduce((acc, m) => acc + m.raw.length, 0),
    byKind,
  };
  log(
    `classify: header-only ${result.headerOnlyMsPerMsg} ms/msg, full parse ${result.fullParseMsPerMsg} ms/msg, ratio ${result.ratio}×`,
  );
  return result;
}
