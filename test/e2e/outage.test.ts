// Central stopped while 500 CRM-bound messages arrive at an edge; after it returns, all 500
// activities exist exactly once. Uses its own central + edge (start:central / start:edges code).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { demoMailbox } from '../../scripts/demo-data.js';
import { fetchForwardingAddresses } from '../../scripts/forwarding.js';
import { freePort, LOCAL_ADMIN_TOKEN, ROOT, startCentral, startEdges } from '../../scripts/network.js';
import { seedDemoData } from '../../scripts/seed.js';
import { rawMessage } from './helpers.js';

const MESSAGES = 500;

interface Proc {
  url: string;
  stop: () => Promise<void>;
}

describe('central outage', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'crm-outage-'));
  const log: string[] = [];
  const logger = (l: string) => log.push(l);
  let ports: { central: number; us: number };
  let central: Proc | undefined;
  let edges: { edges: Proc[]; stop: () => Promise<void> } | undefined;

  beforeAll(async () => {
    ports = { central: await freePort(), us: await freePort() };
    [central, edges] = await Promise.all([
      startCentral({ port: ports.central, stateDir, log: logger }),
      startEdges({
        ports,
        centralUrl: `http://127.0.0.1:${ports.central}`,
        stateDir,
        log: logger,
        regions: ['us'],
      }),
    ]);
    await seedDemoData(central!.url, LOCAL_ADMIN_TOKEN, logger);
  });

  afterAll(async () => {
    await Promise.all([edges?.stop(), central?.stop()]);
    writeFileSync(join(ROOT, 'test-output', 'outage-network.log'), log.join('\n'));
    rmSync(stateDir, { recursive: true, force: true });
  });

  async function activitiesFor(prefix: string): Promise<{ messageId: string }[]> {
    const items: { messageId: string }[] = [];
    let cursor: string | null = null;
    do {
      const url = new URL(`${central!.url}/api/v1/activities`);
      url.searchParams.set('q', prefix);
      url.searchParams.set('limit', '500');
      if (cursor) url.searchParams.set('cursor', cursor);
      const res = await fetch(url, { headers: { authorization: `Bearer ${LOCAL_ADMIN_TOKEN}` } });
      const page = (await res.json()) as { items: { messageId: string }[]; nextCursor: string | null };
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return items;
  }

  test('500 messages accepted while central is down are all stored exactly once after it returns', async () => {
    const edgeUrl = edges!.edges[0]!.url;
    const mailbox = demoMailbox({ region: 'us', filter: 'all' });
    const to = (await fetchForwardingAddresses(central!.url, LOCAL_ADMIN_TOKEN, mailbox.deployment)).us!;
    const send = (i: number, tag: string) =>
      fetch(`${edgeUrl}/cdn-cgi/handler/email?from=customer@outage.example&to=${encodeURIComponent(to)}`, {
        method: 'POST',
        body: rawMessage({
          from: 'customer@outage.example',
          to: mailbox.address,
          subject: `${tag} ${i}`,
          messageId: `<${tag}-${i}@outage.example>`,
          extra: { 'X-Forwarded-To': mailbox.address },
        }),
      });

    // The edge takes its snapshot while central is up (it keeps the last good copy in KV).
    const warm = await send(0, 'warmup');
    expect(warm.status).toBeLessThan(300);

    await central!.stop();
    const tag = `outage${Date.now().toString(36)}`;
    const statuses: number[] = [];
    for (let i = 0; i < MESSAGES; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(20, MESSAGES - i) }, (_, k) => send(i + k, tag)),
      );
      statuses.push(...batch.map((r) => r.status));
    }
    // The edge accepted everything (queued) although central was down.
    expect(statuses.filter((s) => s >= 300)).toEqual([]);

    const restartedAt = Date.now();
    central = await startCentral({ port: ports.central, stateDir, log: logger });
    let found: { messageId: string }[] = [];
    const deadline = Date.now() + 150_000;
    while (Date.now() < deadline) {
      found = await activitiesFor(tag);
      if (found.length >= MESSAGES) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const drainMs = Date.now() - restartedAt;
    const ids = found.map((a) => a.messageId);
    const unique = new Set(ids);
    writeFileSync(
      join(ROOT, 'test-output', 'outage-result.json'),
      JSON.stringify(
        { sent: MESSAGES, stored: unique.size, doubled: ids.length - unique.size, drainMs },
        null,
        2,
      ),
    );
    expect(unique.size).toBe(MESSAGES);
    expect(ids.length).toBe(MESSAGES);
  }, 400_000);
});
