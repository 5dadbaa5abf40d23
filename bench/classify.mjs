// classify.*: the edge's header-first decision (readMessageFacts + classify against a realistic
// snapshot) vs. a full MIME parse (PostalMime.parse) of the same messages.
import { DEPLOYMENTS, demoRecords, MAILBOXES } from '../scripts/demo-data.mjs';
import { buildRaw, createRng } from '../scripts/traffic.mjs';
import { loadCore } from './lib/core-bundle.mjs';
import { median, round } from './lib/stats.mjs';

const HASH_KEY = '4a1f0c2b9e8d7c6b5a4f3e2d1c0b0a09';

/** Region `us` of the demo data with 10,000 more contacts and 500 registered outbound messages. */
export function realisticSnapshotInput() {
  const deployments = DEPLOYMENTS.map((d) => {
    const records = demoRecords(d.id).map((r) => ({
      address: r.emails[0],
      type: r.type,
      emailEnabled: r.emailEnabled,
    }));
    for (let i = 0; i < 10_000; i++)
      records.push({
        address: `contact${i}@customer${i % 700}.example`,
        type: 'contact',
        emailEnabled: i % 10 !== 0,
      });
    const outbound = [];
    for (let i = 0; i < 500; i++)
      outbound.push({
        messageId: `<out-${i}@crm.${d.id}.example>`,
        subject: `Quote ${i}`,
        to: [`contact${i}@customer${i % 700}.example`],
      });
    return {
      id: d.id,
      token: d.trackingToken,
      maxMessageBytes: 25 * 1024 * 1024,
      attachmentPolicy: 'regional',
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
    egress: 'metadata+subject',
    mailboxes: MAILBOXES.filter((m) => m.region === 'us'),
    deployments,
  };
}

/**
 * The corpus: plain text, HTML (multipart/alternative) and multipart/mixed with base64
 * attachments of 50 KB–5 MB, each from a CRM contact to a `records` mailbox (a CRM-bound
 * decision: the case where the edge goes on to the full parse).
 */
export function classifyCorpus({ smoke = false } = {}) {
  const rng = createRng('bench-classify');
  const mailbox = MAILBOXES.find((m) => m.region === 'us' && m.filter === 'records');
  const contact = demoRecords(mailbox.deployment).find((r) => r.type === 'contact').emails[0];
  const corpus = [];
  const counts = smoke ? { plain: 2, html: 2, attachments: 3 } : { plain: 10, html: 10, attachments: 20 };
  const maxAttachment = smoke ? 200_000 : 5_000_000;
  for (const [kind, count] of Object.entries(counts)) {
    for (let i = 0; i < count; i++) {
      const text = Array.from(
        { length: rng.int(30, 300) },
        () => 'Please find the updated quote for the renewal of the support contract attached.',
      ).join('\r\n');
      const attachments =
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

function timeMedian(fn, reps) {
  const times = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

async function timeMedianAsync(fn, reps) {
  const times = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

export async function benchClassify({ smoke = false, log = () => {} } = {}) {
  const core = await loadCore();
  const snapshot = core.buildSnapshot(realisticSnapshotInput());
  const { corpus } = classifyCorpus({ smoke });
  const envelope = { from: 'bounce@customer.example', to: 'crm@us.edge.localhost' };
  const header = [];
  const full = [];
  const decide = (raw) =>
    core.classify(core.readMessageFacts(raw, envelope), snapshot, { now: 1_790_000_000_000 });
  // Warm up both paths (JIT) on the whole corpus once.
  for (const m of corpus) {
    const d = decide(m.raw);
    if (!d.crmBound) throw new Error(`corpus message ${m.kind} is not CRM-bound: ${d.reason} ${d.detail}`);
    await core.PostalMime.parse(m.raw);
  }
  for (const m of corpus) {
    header.push({ kind: m.kind, size: m.raw.length, ms: timeMedian(() => decide(m.raw), smoke ? 5 : 50) });
    full.push({
      kind: m.kind,
      size: m.raw.length,
      ms: await timeMedianAsync(() => core.PostalMime.parse(m.raw), smoke ? 2 : 7),
    });
  }
  const byKind = {};
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
