// What real mail clients send, through the running network: several messages forwarded as
// attachments (Outlook, Gmail) are all tracked; a forward-as-attachment with a typed subject
// (Thunderbird) is a forward; a reply that lost the tracking token (Outlook) is smart-matched to
// the outbound mail registered with it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { ROOT } from '../../scripts/network.js';
import { central, edgeHolds, eventually, listedFor, sendMail } from './helpers.js';

const run = Date.now().toString(36);
const DEPLOYMENT = `clients${run}`;
const FORWARDER = `alice@clients${run}.example`; // filter "all"
const RESPONDER = `ruth@clients${run}.example`; // filter "responses"
/** The deployment's tracking-token base number, as central assigned it. */
let tokenBase: number;

/** A fixture with this run's mailbox and unique Message-IDs (so reruns do not merge). */
function fixture(name: string, mailbox: string): string {
  return readFileSync(join(ROOT, 'test/fixtures/emails', name), 'utf8')
    .replaceAll('alice@contoso.example', mailbox)
    .replace(/^(Message-ID:\s*<)([^>]+)>/gim, (_m, head: string, id: string) => `${head}${run}.${id}>`);
}

async function forwardingAddress(): Promise<string> {
  const res = await central('GET', `/api/v1/deployments/${DEPLOYMENT}`);
  return res.json.forwardingAddresses?.us ?? 'crm@us.edge.localhost';
}

async function activity(messageId: string) {
  return eventually(async () => {
    const [first] = await listedFor('activities', `${run}.${messageId}`);
    return first as { reason: string; mailboxes: string[]; subject: string } | undefined;
  }, 30_000);
}

describe('mail clients through the network', () => {
  beforeAll(async () => {
    // No fixed base number: other suites' deployments take the free ones in whatever order they run.
    const created = await central('PUT', `/api/v1/deployments/${DEPLOYMENT}`, {
      name: 'Mail clients',
      trackingToken: { prefix: 'CLI:', userDigits: 3, counterDigits: 3 },
      smartMatch: true,
    });
    expect(created.status).toBe(200);
    tokenBase = created.json.trackingToken.deploymentBase;
    for (const [address, filter, userId] of [
      [FORWARDER, 'all', 'u-alice'],
      [RESPONDER, 'responses', 'u-ruth'],
    ])
      expect(
        (
          await central('PUT', `/api/v1/mailboxes/${encodeURIComponent(address!)}`, {
            region: 'us',
            deployment: DEPLOYMENT,
            userId,
            filter,
          })
        ).status,
      ).toBe(200);
  });

  /**
   * Waits until the edge's snapshot has what a test needs, with probe messages that each differ
   * (resending one message would trip the edge's loop check: identical mail from one mailbox).
   */
  async function until(
    probe: (n: number) => { raw: string; from: string; messageId: string },
    reason: string,
  ) {
    const to = await forwardingAddress();
    let n = 0;
    await eventually(
      async () => {
        const p = probe(++n);
        const sent = await sendMail('us', p.raw, { from: p.from, to });
        expect(sent.status).toBeLessThan(300);
        const found = await eventually(async () => {
          const [tracked] = await listedFor('activities', p.messageId);
          if (tracked) return tracked;
          return (await listedFor('dispositions', p.messageId))[0];
        }, 15_000);
        return found.reason === reason ? found : undefined;
      },
      90_000,
      2000,
    );
  }

  /** The edge routes FORWARDER (the route reached its snapshot). */
  const routed = () =>
    until(
      (n) => ({
        raw: `From: carol@example.org\r\nTo: ${FORWARDER}\r\nX-Forwarded-To: ${FORWARDER}\r\nSubject: probe ${n}\r\nMessage-ID: <probe-${run}-${n}@example.org>\r\n\r\nprobe ${n}\r\n`,
        from: 'carol@example.org',
        messageId: `probe-${run}-${n}@example.org`,
      }),
      'tracked:all',
    );

  /** Sends a fixture once and waits for the activity of its first message. */
  async function deliver(raw: string, from: string, firstMessageId: string) {
    await routed();
    const sent = await sendMail('us', raw, { from, to: await forwardingAddress() });
    expect(sent.status).toBeLessThan(300);
    return activity(firstMessageId);
  }

  test('Outlook: two messages forwarded as attachments are both tracked', async () => {
    await deliver(
      fixture('outlook-two-forwarded-as-attachments.eml', FORWARDER),
      FORWARDER,
      'po-4711@mail.example.org',
    );
    const [po, question] = [
      await activity('po-4711@mail.example.org'),
      await activity('delivery-q@mta.example.net'),
    ];
    expect(po).toMatchObject({
      subject: 'Purchase order 4711',
      mailboxes: [FORWARDER],
      reason: 'tracked:all',
    });
    expect(question).toMatchObject({ subject: 'Question about delivery dates', mailboxes: [FORWARDER] });
  });

  test('Gmail: two conversations forwarded as attachments are both tracked', async () => {
    await deliver(
      fixture('gmail-two-forwarded-as-attachments.eml', FORWARDER),
      FORWARDER,
      'invoice-2024-031@billing.example.org',
    );
    expect(await activity('re-site-visit@mta.example.net')).toMatchObject({ subject: 'Re: Site visit' });
  });

  test('Thunderbird: "please log this" with the message attached tracks the attached message', async () => {
    await deliver(
      fixture('thunderbird-forward-as-attachment-typed-subject.eml', FORWARDER),
      FORWARDER,
      'renewal-terms-2024@mail.example.org',
    );
    expect(await activity('renewal-terms-2024@mail.example.org')).toMatchObject({
      subject: 'Renewal terms',
      mailboxes: [FORWARDER],
    });
  });

  test('Outlook: a reply that lost the tracking token is smart-matched to the outbound mail', async () => {
    const before = (await central('GET', '/api/v1/regions/us')).json.snapshotVersion as number;
    const registered = await central('POST', `/api/v1/deployments/${DEPLOYMENT}/outbound`, {
      messageId: `<quote-${run}@crm.clients.example>`,
      userId: 'u-ruth',
      subject: 'Quote for 40 licences',
      to: ['carol@example.org', 'procurement@example.org'],
    });
    expect(registered.status).toBe(201);
    expect(registered.json.subject).toMatch(new RegExp(`^Quote for 40 licences {2}CLI:${tokenBase}\\d{6}$`));
    // Send only once the us edge holds a snapshot built after the registration (parts are rebuilt
    // after a quiet period, then the region's version moves): every copy tossed before that counts
    // toward the loop check, so resending until it correlates could end as `loop`.
    const target = await eventually(
      async () => {
        const v = (await central('GET', '/api/v1/regions/us')).json.snapshotVersion as number;
        return v > before ? v : undefined;
      },
      60_000,
      1000,
    );
    await edgeHolds('us', target);
    // Probe replies (each with its own body) until the edge's snapshot holds the outbound mail.
    await until(
      (n) => ({
        raw: `From: Carol Customer <carol@example.org>\r\nTo: ${RESPONDER}\r\nCC: procurement@example.org\r\nSubject: RE: Quote for 40 licences\r\nMessage-ID: <smprobe-${run}-${n}@example.org>\r\n\r\nprobe ${n}\r\n`,
        from: 'carol@example.org',
        messageId: `smprobe-${run}-${n}@example.org`,
      }),
      'tracked:smart-match',
    );
    const raw = fixture('outlook-reply-token-dropped.eml', RESPONDER);
    const sent = await sendMail('us', raw, { from: 'carol@example.org', to: await forwardingAddress() });
    expect(sent.status).toBeLessThan(300);
    const found = await activity('am0pr07mb9999c0ffee@am0pr07mb9999.eurprd07.prod.outlook.example.org');
    expect(found).toMatchObject({ reason: 'tracked:smart-match', mailboxes: [RESPONDER] });
  });
});
