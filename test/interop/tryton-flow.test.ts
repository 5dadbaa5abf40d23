// The whole way into a live Tryton (issue 20, "Tryton, live"): a deployment of the local network
// connected to a private trytond by one PUT …/connector; its parties synced into the record store;
// mail forwarded through an edge lands as one attachment and one note on the right party; the
// party deleted in Tryton stops being tracked after the next sync.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LOCAL_INBOUND_TOKEN } from '../../scripts/network.js';
import { central, eventually, rawMessage, uniqueMessageId } from '../e2e/helpers.js';
import { startTryton, type Tryton } from './tryton.js';

let tryton: Tryton;
const stamp = Date.now().toString(36);
const deployment = `tryflow${stamp}`;
const mailbox = `sales@${deployment}.example`;
const customer = `buyer.${stamp}@customer.example`;
let partyId: number;
let forwarding: string;

beforeAll(async () => {
  tryton = await startTryton();
  [partyId] = (await tryton.model('party.party', 'create', [
    {
      name: 'Flow Customer',
      contact_mechanisms: [['create', [{ type: 'email', value: customer }]]],
    },
  ])) as [number];
  expect(
    (
      await central('PUT', `/api/v1/deployments/${deployment}`, {
        name: 'Tryton flow',
        domains: [`${deployment}.example`],
      })
    ).status,
  ).toBe(200);
  expect(
    (await central('PUT', `/api/v1/mailboxes/${mailbox}`, { region: 'eu', deployment, userId: 'u-sales' }))
      .status,
  ).toBe(200);
  forwarding = (
    (await central('GET', `/api/v1/deployments/${deployment}`)).json as {
      forwardingAddresses: Record<string, string>;
    }
  ).forwardingAddresses.eu!;
}, 400_000);

afterAll(async () => {
  await tryton?.stop();
});

/** Forwards a message from the customer as the mailbox's rule would, through the eu edge's HTTP ingress. */
async function forward(messageId: string) {
  const raw = rawMessage({
    from: `Flow Customer <${customer}>`,
    to: mailbox,
    subject: `Order ${stamp}`,
    messageId,
    extra: { 'X-Forwarded-To': mailbox },
    // A body of its own: identical messages in a row are the edge's loop signal.
    body: `Please ship 12 tables (${messageId}).`,
  });
  const res = await fetch(
    `${inject('edgeUrls').eu}/api/v1/inbound?from=${encodeURIComponent(customer)}&to=${encodeURIComponent(forwarding)}`,
    { method: 'POST', headers: { authorization: `Bearer ${LOCAL_INBOUND_TOKEN}` }, body: raw },
  );
  return { httpStatus: res.status, ...((await res.json()) as { status: string; reason: string }) };
}

/** Forwards fresh messages until the edge answers `status`; the answers so far name why it did not. */
async function forwardUntil(status: 'tracked' | 'tossed', timeoutMs: number) {
  const answers: string[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const messageId = uniqueMessageId('tryton-flow');
    const answer = await forward(messageId);
    if (answer.status === status) return { messageId, answer };
    answers.push(`${answer.httpStatus} ${answer.status} ${answer.reason}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
  const eu = (await (await fetch(`${inject('edgeUrls').eu}/health`)).json()) as { snapshotVersion?: number };
  throw new Error(
    `never ${status} in ${timeoutMs} ms (edge snapshot ${eu.snapshotVersion}): ${[...new Set(answers)].join('; ')}`,
  );
}

async function attachmentsOn(id: number) {
  return (await tryton.model(
    'ir.attachment',
    'search_read',
    [['resource', '=', `party.party,${id}`]],
    0,
    null,
    null,
    ['name', 'data'],
  )) as Array<{ id: number; name: string; data: { base64: string } }>;
}

async function partyRecords() {
  const res = await central(
    'GET',
    `/api/v1/deployments/${deployment}/records?address=${encodeURIComponent(customer)}`,
  );
  return ((res.json as { items: Array<{ id: string; type: string; active: boolean }> }).items ?? []).filter(
    (r) => r.active,
  );
}

describe('a deployment connected to a live Tryton', () => {
  it('syncs the party, delivers tracked mail onto it, and stops tracking it once deleted in Tryton', async () => {
    const put = await central('PUT', `/api/v1/deployments/${deployment}/connector`, {
      kind: 'tryton',
      settings: { url: tryton.url, database: tryton.database },
      secrets: { username: tryton.username, password: tryton.password },
    });
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    expect(JSON.stringify(put.json)).not.toContain(tryton.password);
    const test = await central('POST', `/api/v1/deployments/${deployment}/connector/test`);
    expect(test.json).toMatchObject({ ok: true, detail: expect.stringMatching(/^Tryton 6\.0/) });

    expect((await central('POST', `/api/v1/deployments/${deployment}/connector/sync`)).status).toBe(202);
    const synced = await eventually(async () => {
      const r = await partyRecords();
      return r.length ? r : undefined;
    }, 90_000);
    expect(synced).toMatchObject([{ type: 'contact', id: String(partyId) }]);

    // The edge learns of the record through central's snapshot push: until then its mail is tossed
    // (no activity, nothing delivered).
    const tracked = await forwardUntil('tracked', 120_000);
    expect(tracked.answer.reason).toBe('tracked:sender-record');

    const trackedAt = Date.now();
    const delivered = await eventually(async () => {
      const res = await central(
        'GET',
        `/api/v1/activities?messageId=${encodeURIComponent(tracked.messageId)}`,
      );
      const a = (res.json as { items: Array<{ crmObject?: { kind: string; id: string } }> }).items[0];
      return a?.crmObject?.kind === 'tryton' ? a : undefined;
    }, 90_000);
    const atts = await attachmentsOn(partyId);
    console.log(
      `edge answer → crmObject on the activity: ${Date.now() - trackedAt} ms (one message, 250 ms polling)`,
    );
    expect(atts).toHaveLength(1);
    expect(delivered.crmObject!.id).toBe(`${partyId}:${atts[0]!.id}`);
    expect(atts[0]!.name).toBe(`Order ${stamp}.eml`);
    expect(Buffer.from(atts[0]!.data.base64, 'base64').toString()).toContain(tracked.messageId.slice(1, -1));
    const notes = (await tryton.model(
      'ir.note',
      'search_read',
      [['resource', '=', `party.party,${partyId}`]],
      0,
      null,
      null,
      ['message'],
    )) as Array<{ message: string }>;
    expect(notes).toHaveLength(1);
    expect(notes[0]!.message).toContain(`Order ${stamp}`);

    // Deleted in Tryton: the next sync confirms it, the record leaves the store, the edge stops
    // tracking the customer's mail.
    await tryton.model('party.party', 'delete', [partyId]);
    expect((await central('POST', `/api/v1/deployments/${deployment}/connector/sync`)).status).toBe(202);
    await eventually(async () => ((await partyRecords()).length === 0 ? true : undefined), 90_000);
    const tossed = await forwardUntil('tossed', 120_000);
    expect(tossed.answer.reason).toBe('filter:no-record-match');
    const after = await central(
      'GET',
      `/api/v1/activities?messageId=${encodeURIComponent(tossed.messageId)}`,
    );
    expect((after.json as { items: unknown[] }).items).toEqual([]);
  });
});
