// Issue 19, items 5 and 6 ("accepted, then lost"), through the real edge and central: whatever the
// edge answers 2xx for becomes an activity at central — never a dead letter that replay cannot fix
// (replay runs the same wire schema), never a temporary failure that the sender retries for ever.
import { afterAll, describe, expect, test } from 'vitest';
import { demoMailbox } from '../../scripts/demo-data.js';
import { LOCAL_INBOUND_TOKEN } from '../../scripts/network.js';
import {
  central,
  edgeHolds,
  edgeUrl,
  firstListed,
  forwardingAddress,
  sendMail,
  uniqueMessageId,
} from './helpers.js';

const mailbox = demoMailbox({ region: 'eu', filter: 'all' });

interface Activity {
  fromName: string | null;
  from: string | null;
  mailboxes: string[];
  parties: { role: string; address: string; name?: string }[];
  partiesHeldRegionally: boolean;
  notes?: string[];
  content: { raw: unknown; attachments: unknown[]; attachmentsLeftOut?: number; bodyUnparsed?: string }[];
}

/** A message `mailbox`'s rule forwarded, with the given extra headers, content type and body. */
function forwarded(
  h: { messageId: string; from?: string; to?: string; cc?: string; contentType?: string },
  body: string,
) {
  return [
    `From: ${h.from ?? 'Customer <customer@unknown-customer.example>'}`,
    `To: ${h.to ?? mailbox.address}`,
    ...(h.cc ? [`Cc: ${h.cc}`] : []),
    'Subject: accepted, then lost?',
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: ${h.messageId}`,
    'MIME-Version: 1.0',
    `Content-Type: ${h.contentType ?? 'text/plain; charset=utf-8'}`,
    `X-Forwarded-To: ${mailbox.address}`,
    '',
    body,
    '',
  ].join('\r\n');
}

async function send(raw: string) {
  return sendMail('eu', raw, {
    from: 'customer@unknown-customer.example',
    to: await forwardingAddress('eu', mailbox.deployment),
  });
}

/**
 * Through the edge's HTTP ingress (as the SMTP relay sends), not wrangler's local Email Routing
 * emulation: that one parses every message first with its own bundled postal-mime 2.4.3, whose
 * part-header reading is quadratic (2.4 MB of folded part headers: 18–31 s there, before the
 * edge's email() is even called; 0.6 s for the edge's whole answer through this route).
 */
async function sendInbound(raw: string) {
  const to = await forwardingAddress('eu', mailbox.deployment);
  const res = await fetch(
    `${edgeUrl('eu')}/api/v1/inbound?from=customer%40unknown-customer.example&to=${encodeURIComponent(to)}`,
    { method: 'POST', headers: { authorization: `Bearer ${LOCAL_INBOUND_TOKEN}` }, body: raw },
  );
  return { status: res.status, text: await res.text() };
}

/** The activity central lists for the Message-ID (30 s: a slow machine, several regions busy). */
async function activityOf(messageId: string): Promise<Activity> {
  const listed = await firstListed('activities', messageId, 30_000);
  return (await central('GET', `/api/v1/activities/${listed.id}`)).json as Activity;
}

describe('the edge never answers 2xx for an item central refuses (item 5)', () => {
  test('display names over 500 characters and an address over 320: tracked, names cut (and said so), the address left out', async () => {
    const messageId = uniqueMessageId('longnames');
    const longLocal = `${'x'.repeat(330)}@unknown-customer.example`;
    const sent = await send(
      forwarded(
        {
          messageId,
          from: `"${'F'.repeat(600)}" <customer@unknown-customer.example>`,
          to: `"${'T'.repeat(700)}" <${mailbox.address}>`,
          cc: `${longLocal}, colleague@unknown-customer.example`,
        },
        'Long names.',
      ),
    );
    expect(sent.status).toBeLessThan(300);
    const activity = await activityOf(messageId);
    expect(activity.from).toBe('customer@unknown-customer.example');
    expect(activity.fromName).toHaveLength(500);
    expect(activity.fromName?.endsWith('…')).toBe(true);
    const to = activity.parties.find((p) => p.role === 'to');
    expect(to?.name).toHaveLength(500);
    const cc = activity.parties.filter((p) => p.role === 'cc').map((p) => p.address);
    expect(cc).toEqual(['colleague@unknown-customer.example']);
    expect((activity.notes ?? []).join('\n')).toMatch(/2 display names cut to 500 characters/);
    expect((activity.notes ?? []).join('\n')).toMatch(/1 address over 320 characters left out/);
  });

  describe('a customer mailing 101 routed colleagues', () => {
    const colleagues = Array.from({ length: 101 }, (_, i) => `colleague-${i}@team.contoso.example`);
    afterAll(async () => {
      for (const address of colleagues) await central('DELETE', `/api/v1/mailboxes/${address}`);
    });

    test('is tracked: the first 100 routed mailboxes (the forwarder first) in the activity, the whole list held in the region', async () => {
      const routed = await central('POST', '/api/v1/mailboxes', {
        routes: colleagues.map((address, i) => ({
          address,
          region: 'eu',
          deployment: 'contoso',
          userId: `u-colleague-${i}`,
          filter: 'all',
        })),
      });
      expect(routed.status).toBe(200);
      const version = (await central('GET', '/api/v1/regions/eu')).json.snapshotVersion as number;
      await edgeHolds('eu', version);

      const messageId = uniqueMessageId('colleagues');
      const raw = forwarded({ messageId, to: colleagues.join(', ') }, 'To the whole team.').replace(
        `X-Forwarded-To: ${mailbox.address}`,
        `X-Forwarded-To: ${colleagues[100]}`,
      );
      const sent = await send(raw);
      expect(sent.status).toBeLessThan(300);
      const activity = await activityOf(messageId);
      expect(activity.mailboxes).toHaveLength(100);
      expect(activity.mailboxes).toContain(colleagues[100]);
      expect(activity.partiesHeldRegionally).toBe(true);
      expect(activity.parties.filter((p) => p.role === 'to')).toHaveLength(101);
      expect((activity.notes ?? []).join('\n')).toMatch(/101 routed mailboxes: the first 100 listed/);
    });
  });

  test('501 attachments: tracked, 500 listed, the one beyond the cap only in the raw copy and counted', async () => {
    const messageId = uniqueMessageId('attachments');
    const parts = Array.from({ length: 501 }, (_, i) =>
      [
        '--att-boundary',
        'Content-Type: text/plain; charset=utf-8',
        `Content-Disposition: attachment; filename="note-${i}.txt"`,
        '',
        `attachment ${i}`,
      ].join('\r\n'),
    );
    const body = [
      '--att-boundary',
      'Content-Type: text/plain',
      '',
      'See attached.',
      ...parts,
      '--att-boundary--',
    ].join('\r\n');
    const sent = await send(
      forwarded({ messageId, contentType: 'multipart/mixed; boundary="att-boundary"' }, body),
    );
    expect(sent.status).toBeLessThan(300);
    const activity = await activityOf(messageId);
    expect(activity.content[0]?.attachments).toHaveLength(500);
    expect(activity.content[0]?.attachmentsLeftOut).toBe(1);
    expect(activity.content[0]?.raw).toBeTruthy();
  });
});

describe('CRM-bound mail postal-mime cannot parse is a headers-only activity, not a retry for ever (item 6)', () => {
  test('MIME nesting deeper than the parser allows', async () => {
    const messageId = uniqueMessageId('nesting');
    const depth = 300;
    const open = Array.from(
      { length: depth },
      (_, i) => `--n${i}\r\nContent-Type: multipart/mixed; boundary="n${i + 1}"\r\n\r\n`,
    ).join('');
    const close = Array.from({ length: depth }, (_, i) => `--n${depth - i}--\r\n`).join('');
    const body = `${open}--n${depth}\r\nContent-Type: text/plain\r\n\r\ndeep\r\n${close}--n0--`;
    const sent = await send(forwarded({ messageId, contentType: 'multipart/mixed; boundary="n0"' }, body));
    expect(sent.status).toBeLessThan(300);
    const activity = await activityOf(messageId);
    expect(activity.from).toBe('customer@unknown-customer.example');
    expect(activity.content[0]?.bodyUnparsed).toMatch(/nesting/i);
    expect(activity.content[0]?.raw).toBeTruthy();
    expect((activity.notes ?? []).join('\n')).toMatch(/body could not be parsed/);
  });

  test('part headers over the parser limit', async () => {
    const messageId = uniqueMessageId('partheaders');
    // 3 parts with 800 KB of folded header each: 2.4 MB of part headers, over postal-mime's 2 MiB.
    const bigHeader = `X-Pad: ${Array.from({ length: 8000 }, () => 'p'.repeat(98)).join('\r\n ')}`;
    const parts = Array.from({ length: 3 }, (_, i) =>
      ['--ph', 'Content-Type: text/plain', bigHeader, '', `part ${i}`].join('\r\n'),
    );
    const body = [...parts, '--ph--'].join('\r\n');
    const sent = await sendInbound(
      forwarded({ messageId, contentType: 'multipart/mixed; boundary="ph"' }, body),
    );
    expect(sent.status).toBeLessThan(300);
    const activity = await activityOf(messageId);
    expect(activity.content[0]?.bodyUnparsed).toMatch(/header size/i);
    expect((activity.notes ?? []).join('\n')).toMatch(/body could not be parsed/);
  });
});
