// The relay accepts nothing the edge has not accepted: while the edge cannot take a message (central
// stopped before the edge ever had a routing snapshot; the edge itself down) the relay answers
// 451 4.3.0, Postfix keeps the message queued, and after the network is back a `postqueue -f`
// delivers it — and the activity exists exactly once. (An edge that already holds a snapshot keeps
// accepting while central is down and queues: test/e2e/outage.test.ts.)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  freePort,
  LOCAL_ADMIN_TOKEN,
  LOCAL_INBOUND_TOKEN,
  ROOT,
  startCentral,
  startEdge,
} from '../../scripts/network.js';
import { seedDemoData } from '../../scripts/seed.js';
import { type Relay, startRelay } from '../../src/relay/relay.js';
import { assertTools, swaks } from './helpers.js';
import { type Postfix, startPostfix } from './postfix.js';

interface Proc {
  url: string;
  stop: () => Promise<void>;
}

const MAILBOX = 'grace@contoso.example';
const CONTACT = 'alice.smith@northwind.example';

describe('central or edge unavailable: relay 4xx, Postfix defers and re-delivers', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'crm-interop-deferral-'));
  const pfDir = mkdtempSync(join(tmpdir(), 'crm-interop-pf-deferral-'));
  const netLog: string[] = [];
  const logger = (l: string) => netLog.push(l);
  const timeline: string[] = [];
  const mark = (what: string) => timeline.push(`${new Date().toISOString()} ${what}`);
  let ports: { central: number; us: number };
  let central: Proc | undefined;
  let edge: Proc | undefined;
  let relay: Relay;
  let pf: Postfix;
  let forwarding: string;

  const api = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${ports.central}${path}`, {
      headers: { authorization: `Bearer ${LOCAL_ADMIN_TOKEN}` },
    });
    return res.json() as Promise<{
      items: Array<{ messageId: string; mailboxes: string[]; reason: string }>;
    }>;
  };
  const startCentralHere = () => startCentral({ port: ports.central, stateDir, log: logger });
  const startEdgeHere = () =>
    startEdge({
      region: 'us',
      port: ports.us,
      centralUrl: `http://127.0.0.1:${ports.central}`,
      stateDir,
      log: logger,
    });

  beforeAll(async () => {
    assertTools();
    ports = { central: await freePort(), us: await freePort() };
    // Central first, to seed and learn the deployment's forwarding address; then it is stopped
    // before the edge starts, so the edge has never had a snapshot.
    central = await startCentralHere();
    await seedDemoData(central.url, LOCAL_ADMIN_TOKEN, logger);
    const dep = (await (
      await fetch(`${central.url}/api/v1/deployments/contoso`, {
        headers: { authorization: `Bearer ${LOCAL_ADMIN_TOKEN}` },
      })
    ).json()) as { forwardingAddresses?: Record<string, string> };
    forwarding = dep.forwardingAddresses?.us ?? 'crm@us.edge.localhost';
    await central.stop();
    central = undefined;
    mark('central stopped');
    edge = await startEdgeHere();
    relay = await startRelay({
      edgeUrl: edge.url,
      token: LOCAL_INBOUND_TOKEN,
      host: '127.0.0.1',
      port: 0,
      log: (l) => {
        mark(l);
      },
    });
    pf = await startPostfix({
      dir: pfDir,
      port: await freePort(),
      mailboxes: [MAILBOX],
      copyTo: { [MAILBOX]: forwarding },
      relays: { [forwarding]: `127.0.0.1:${relay.port}` },
    });
  });

  afterAll(async () => {
    await pf?.stop();
    await relay?.stop();
    await Promise.all([edge?.stop(), central?.stop()]);
    const out = join(ROOT, 'test-output');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'interop-deferral-network.log'), netLog.join('\n'));
    writeFileSync(
      join(out, 'interop-deferral.log'),
      `${timeline.join('\n')}\n\n--- Postfix maillog ---\n${pf?.log() ?? ''}`,
    );
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(pfDir, { recursive: true, force: true });
  });

  async function sendAndAwaitDeferral(messageId: string, subject: string): Promise<string> {
    const sent = await swaks([
      '--server',
      `127.0.0.1:${pf.port}`,
      '--from',
      CONTACT,
      '--to',
      MAILBOX,
      '--header',
      `Subject: ${subject}`,
      '--header',
      `Message-Id: <${messageId}>`,
    ]);
    expect(sent.code, sent.out).toBe(0);
    mark(`swaks: Postfix accepted <${messageId}>`);
    // Postfix delivers the local copy and defers the forwarding copy on the relay's 451.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const queued = await pf.queue();
      const reason = queued.flatMap((q) => q.recipients).find((r) => r.address === forwarding)?.delay_reason;
      if (reason) {
        mark(`postqueue: ${forwarding} deferred: ${reason}`);
        return reason;
      }
      if (Date.now() > deadline) throw new Error(`no deferral within 30 s:\n${pf.log()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async function flushUntilActivity(messageId: string) {
    const deadline = Date.now() + 60_000;
    for (;;) {
      await pf.flush();
      mark('postqueue -f');
      for (let i = 0; i < 12; i++) {
        const page = await api(`/api/v1/activities?messageId=${encodeURIComponent(messageId)}`);
        if (page.items.length) {
          mark(`activity at central: ${page.items.length} for <${messageId}>`);
          return page.items;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      if (Date.now() > deadline) throw new Error(`no activity within 60 s:\n${pf.log()}`);
    }
  }

  test('central stopped (edge without a snapshot): 451, deferred, delivered once after central returns', async () => {
    const messageId = `deferral-central-${Date.now().toString(36)}@northwind.example`;
    const reason = await sendAndAwaitDeferral(messageId, 'Quote while central is down');
    expect(reason).toMatch(/451 4\.3\.0 edge us answered 503/);
    expect(pf.log()).toMatch(/status=deferred \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 451 4\.3\.0/);
    expect(relay.stats.accepted).toBe(0);

    central = await startCentralHere();
    mark('central started again');
    const items = await flushUntilActivity(messageId);
    expect(items).toHaveLength(1);
    expect(items[0]!.mailboxes).toEqual([MAILBOX]);
    expect(items[0]!.reason).toBe('tracked:sender-record');
    expect(pf.log()).toMatch(/status=sent \(250 2\.0\.0 Accepted by edge us/);
    expect(await pf.queue()).toEqual([]);
    // Postfix kept its own copy once.
    expect(pf.delivered(MAILBOX).filter((m) => m.includes(messageId))).toHaveLength(1);
  });

  test('edge down: the relay answers 451 (unreachable), Postfix re-delivers after the edge returns', async () => {
    await edge!.stop();
    edge = undefined;
    mark('edge us stopped');
    const messageId = `deferral-edge-${Date.now().toString(36)}@northwind.example`;
    const reason = await sendAndAwaitDeferral(messageId, 'Quote while the edge is down');
    expect(reason).toMatch(/451 4\.3\.0 edge us unreachable/);

    edge = await startEdgeHere();
    mark('edge us started again');
    const items = await flushUntilActivity(messageId);
    expect(items).toHaveLength(1);
    // A second flush with nothing queued changes nothing: still one activity.
    await pf.flush();
    await new Promise((r) => setTimeout(r, 2000));
    expect((await api(`/api/v1/activities?messageId=${encodeURIComponent(messageId)}`)).items).toHaveLength(
      1,
    );
  });
});
