// A thousand messages through Postfix → SMTP ingress relay → edge → central, submitted as fast as
// Postfix takes them: every one is tracked exactly once (0 lost, 0 doubled). The relay's timings
// are reported (test-output/interop-soak.json); speed targets belong to `npm run bench` (relay.*).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort, ROOT } from '../../scripts/network.js';
import type { Relay, RelayMessageTiming } from '../../src/relay/relay.js';
import { central } from '../e2e/helpers.js';
import { assertTools, forwardingAddress, relayFor } from './helpers.js';
import { type Postfix, startPostfix } from './postfix.js';

const MESSAGES = 1000;
const MAILBOX = 'alice@contoso.example'; // us, filter "all"

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

describe('soak: 1,000 messages Postfix → relay → edge', () => {
  const dir = mkdtempSync(join(tmpdir(), 'crm-interop-soak-'));
  const timings: RelayMessageTiming[] = [];
  let relay: Relay;
  let pf: Postfix;
  let forwarding: string;

  beforeAll(async () => {
    assertTools();
    forwarding = await forwardingAddress('contoso', 'us');
    relay = await relayFor('us', { onMessage: (m) => timings.push(m) });
    pf = await startPostfix({
      dir,
      port: await freePort(),
      mailboxes: [MAILBOX],
      copyTo: { [MAILBOX]: forwarding },
      relays: { [forwarding]: `127.0.0.1:${relay.port}` },
      concurrency: 20,
    });
  });

  afterAll(async () => {
    await pf?.stop();
    await relay?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every message is tracked exactly once; the relay’s timings are reported', async () => {
    const run = `soak${Date.now().toString(36)}`;
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: pf.port,
      secure: false,
      ignoreTLS: true,
      pool: true,
      maxConnections: 8,
      maxMessages: Number.POSITIVE_INFINITY,
    });
    const started = Date.now();
    const ids: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < MESSAGES) {
          const i = next++;
          const messageId = `${run}-${i}@northwind.example`;
          ids.push(messageId);
          await transport.sendMail({
            envelope: { from: 'alice.smith@northwind.example', to: [MAILBOX] },
            from: 'Alice Smith <alice.smith@northwind.example>',
            to: MAILBOX,
            subject: `${run} order ${i}`,
            messageId: `<${messageId}>`,
            text: `Order ${i} of the soak run ${run}.\n`,
          });
        }
      }),
    );
    const submitted = Date.now();
    transport.close();

    // Wait until the relay has answered every copy, then until central has every activity.
    const deadline = Date.now() + 150_000;
    while (timings.length < MESSAGES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    const relayed = Date.now();
    const seen = new Map<string, number>();
    while (Date.now() < deadline) {
      seen.clear();
      let cursor: string | null = null;
      do {
        const res = await central(
          'GET',
          `/api/v1/activities?q=${encodeURIComponent(run)}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        const page = res.json as { items: Array<{ messageId: string }>; nextCursor: string | null };
        for (const a of page.items) seen.set(a.messageId, (seen.get(a.messageId) ?? 0) + 1);
        cursor = page.nextCursor;
      } while (cursor);
      if (seen.size >= MESSAGES) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const stored = Date.now();

    const lost = ids.filter((id) => !seen.has(id));
    const doubledAtCentral = [...seen.values()].filter((n) => n > 1).length;
    const sentLines =
      pf.log().match(/to=<[^>]+>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+,.*status=sent \(250 /g) ?? [];
    const total = timings.map((t) => t.totalMs).sort((a, b) => a - b);
    const added = timings.map((t) => t.totalMs - t.edgeMs).sort((a, b) => a - b);
    const report = {
      messages: MESSAGES,
      lost: lost.length,
      doubled: doubledAtCentral + Math.max(0, relay.stats.accepted - MESSAGES),
      relayAccepted: relay.stats.accepted,
      relayDeferred: relay.stats.deferred,
      postfixSent: sentLines.length,
      submitSeconds: (submitted - started) / 1000,
      relayedSeconds: (relayed - started) / 1000,
      storedSeconds: (stored - started) / 1000,
      relayMsgPerSec: Math.round((MESSAGES / ((relayed - started) / 1000)) * 10) / 10,
      relayTotalMs: { p50: percentile(total, 50), p99: percentile(total, 99) },
      relayAddedMs: { p50: percentile(added, 50), p99: percentile(added, 99) },
      method:
        'nodemailer (8 pooled connections) submits to Postfix; Postfix (20 parallel deliveries) copies each to the relay via recipient_bcc_maps + transport_maps; relayTotalMs = DATA to the relay reply, relayAddedMs = that minus the edge request (which includes streaming the body)',
    };
    const out = join(ROOT, 'test-output');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'interop-soak.json'), `${JSON.stringify(report, null, 2)}\n`);
    console.log(`interop soak: ${JSON.stringify(report)}`);

    expect(lost).toEqual([]);
    expect(doubledAtCentral).toBe(0);
    expect(relay.stats.accepted).toBe(MESSAGES);
    expect(sentLines).toHaveLength(MESSAGES);
    expect(pf.delivered(MAILBOX)).toHaveLength(MESSAGES);
  }, 240_000);
});
