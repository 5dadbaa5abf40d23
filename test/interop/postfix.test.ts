// Postfix as the customer's mail server: a contact's message (sent with swaks) is delivered to the
// local mailbox and a copy goes to the deployment's forwarding address through the region's SMTP
// ingress relay; the activity appears at central with the right mailbox and reason, and a message
// the CRM does not want leaves only a receipt.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { freePort } from '../../scripts/network.js';
import { eventually, uniqueMessageId } from '../e2e/helpers.js';
import {
  activitiesFor,
  assertTools,
  dispositionsFor,
  forwardingAddress,
  type Region,
  replies,
  swaks,
} from './helpers.js';
import { type Postfix, startPostfix } from './postfix.js';

// Demo mailboxes (scripts/demo-data.ts): grace is us/records, bruno eu/all, chen apac/all.
const MAILBOXES: Record<Region, string> = {
  us: 'grace@contoso.example',
  eu: 'bruno@contoso.example',
  apac: 'chen@contoso.example',
};
const CONTACT = 'alice.smith@northwind.example';

describe('Postfix → SMTP ingress relay → edge', () => {
  const dir = mkdtempSync(join(tmpdir(), 'crm-interop-postfix-'));
  // The network's own relays, started by the same code as `npm start` (scripts/network.ts).
  const relayPorts = inject('smtpPorts');
  const forwarding: Partial<Record<Region, string>> = {};
  let pf: Postfix;

  beforeAll(async () => {
    assertTools();
    for (const region of ['us', 'eu', 'apac'] as const)
      forwarding[region] = await forwardingAddress('contoso', region);
    pf = await startPostfix({
      dir,
      port: await freePort(),
      mailboxes: Object.values(MAILBOXES),
      copyTo: Object.fromEntries(
        (Object.keys(MAILBOXES) as Region[]).map((r) => [MAILBOXES[r], forwarding[r]!]),
      ),
      relays: Object.fromEntries(
        (Object.keys(MAILBOXES) as Region[]).map((r) => [forwarding[r]!, `127.0.0.1:${relayPorts[r]}`]),
      ),
    });
  });

  afterAll(async () => {
    await pf?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const send = (to: string, from: string, subject: string, messageId: string) =>
    swaks([
      '--server',
      `127.0.0.1:${pf.port}`,
      '--from',
      from,
      '--to',
      to,
      '--header',
      `Subject: ${subject}`,
      '--header',
      `Message-Id: ${messageId}`,
    ]);

  test("a contact's mail is delivered locally and its copy reaches central with the mailbox and reason", async () => {
    const messageId = uniqueMessageId('postfix');
    const bare = messageId.slice(1, -1);
    const sent = await send(MAILBOXES.us, CONTACT, 'Quote for 40 units', messageId);
    expect(sent.code, sent.out).toBe(0);
    expect(replies(sent.out).at(-2)).toMatch(/^250 2\.0\.0 Ok: queued as /);

    const activity = await eventually(async () => (await activitiesFor(bare))[0], 30_000);
    expect(activity.mailboxes).toEqual([MAILBOXES.us]);
    expect(activity.reason).toBe('tracked:sender-record');
    expect(activity.regions).toEqual(['us']);
    expect(await activitiesFor(bare)).toHaveLength(1);

    // Postfix kept the user's own copy and logged the relay's 250 for the forwarding copy.
    expect(pf.delivered(MAILBOXES.us).some((m) => m.includes(bare))).toBe(true);
    const log = pf.log();
    expect(log).toMatch(
      new RegExp(
        `to=<${forwarding.us!.replace(/[.+]/g, '\\$&')}>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${relayPorts.us},.*status=sent \\(250 2\\.0\\.0 Accepted by edge us`,
      ),
    );
  });

  test('each region’s relay delivers to its own edge', async () => {
    for (const region of ['eu', 'apac'] as const) {
      const messageId = uniqueMessageId(`postfix-${region}`);
      const sent = await send(MAILBOXES[region], CONTACT, `Order confirmation ${region}`, messageId);
      expect(sent.code, sent.out).toBe(0);
      const activity = await eventually(async () => (await activitiesFor(messageId.slice(1, -1)))[0], 30_000);
      expect(activity.mailboxes).toEqual([MAILBOXES[region]]);
      expect(activity.regions).toEqual([region]);
      expect(activity.reason).toBe('tracked:all');
    }
  });

  test('a message the CRM does not want is delivered locally and leaves only a receipt', async () => {
    const messageId = uniqueMessageId('postfix-toss');
    const bare = messageId.slice(1, -1);
    const sent = await send(MAILBOXES.us, 'stranger@unknown-sender.example', 'Lunch on Friday?', messageId);
    expect(sent.code, sent.out).toBe(0);
    const receipt = await eventually(async () => (await dispositionsFor(bare))[0], 30_000);
    expect(receipt.reason).toBe('filter:no-record-match');
    expect(receipt.region).toBe('us');
    expect(await activitiesFor(bare)).toEqual([]);
    expect(pf.delivered(MAILBOXES.us).some((m) => m.includes(bare))).toBe(true);
    expect(pf.log()).toMatch(
      /status=sent \(250 2\.0\.0 Accepted by edge us \(tossed: filter:no-record-match\)\)/,
    );
  });
});
