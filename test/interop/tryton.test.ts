// The Tryton connector against a live Tryton 6.0 (Debian's tryton-server + tryton-modules-party):
// its JSON-RPC login, pull of parties with e-mail addresses and their deletions, and deliveries
// that leave exactly one attachment and one note per party under retries, lost answers and a
// server killed mid-flight. The adapter is imported directly: it uses fetch only.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryMarker, TRYTON_PULL_PAGE, trytonAdapter } from '../../src/central/connectors/tryton.js';
import type {
  ConnectorContext,
  DeliveryInput,
  PulledRecord,
  PullPage,
} from '../../src/central/connectors/types.js';
import { startTryton, type Tryton } from './tryton.js';

let tryton: Tryton;

beforeAll(async () => {
  tryton = await startTryton();
}, 400_000);

afterAll(async () => {
  await tryton?.stop();
});

function memoryCache(): ConnectorContext['cache'] & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    get: async (k) => map.get(k),
    put: async (k, v) => {
      map.set(k, v);
    },
  };
}

function ctxFor(
  over: Partial<Omit<ConnectorContext, 'cache'>> & {
    url?: string;
    database?: string;
    password?: string;
  } = {},
) {
  const { url, database, password, ...rest } = over;
  return {
    deployment: 'dep-tryton',
    settings: { url: url ?? tryton.url, database: database ?? tryton.database },
    secrets: { username: tryton.username, password: password ?? tryton.password },
    cache: memoryCache(),
    now: () => Date.now(),
    ...rest,
  } satisfies ConnectorContext;
}

async function createParty(name: string, emails: string[]): Promise<number> {
  const [id] = (await tryton.model('party.party', 'create', [
    {
      name,
      contact_mechanisms: [['create', emails.map((value) => ({ type: 'email', value }))]],
    },
  ])) as number[];
  return id!;
}

async function pullAll(ctx: ConnectorContext, cursor: string | undefined) {
  const upserts: PulledRecord[] = [];
  const deleted: PullPage['deleted'] = [];
  let pages = 0;
  for (;;) {
    const page = await trytonAdapter.pull!(ctx, cursor);
    pages++;
    upserts.push(...page.upserts);
    deleted.push(...page.deleted);
    cursor = page.nextCursor;
    if (page.done) return { upserts, deleted, cursor, pages };
    if (pages > 100) throw new Error('pull never finished');
  }
}

let activitySeq = 0;
function activityFor(parties: Array<{ address: string; partyId?: number }>, subject = 'Quote for 40 chairs') {
  activitySeq++;
  return {
    id: `act_${activitySeq}_${Date.now()}`,
    deployment: 'dep-tryton',
    messageId: `quote-${activitySeq}-${Date.now()}@customer.example`,
    subject,
    from: 'buyer@customer.example',
    fromName: 'Ann Buyer',
    parties: parties.map((p, i) => ({
      role: i === 0 ? ('from' as const) : ('to' as const),
      address: p.address,
      ...(p.partyId ? { recordType: 'contact', recordId: String(p.partyId) } : {}),
    })),
    reason: 'tracked:sender-record',
    receivedAt: '2026-12-07T01:00:00.000Z',
  } as unknown as DeliveryInput['activity'];
}

function inputFor(activity: DeliveryInput['activity'], over: Partial<DeliveryInput> = {}): DeliveryInput {
  const raw = new TextEncoder().encode(
    `From: Ann Buyer <buyer@customer.example>\r\nTo: sales@us.example\r\nSubject: ${activity.subject}\r\nMessage-ID: <${activity.messageId}>\r\n\r\nPlease quote 40 chairs.\r\n`,
  );
  return {
    deliveryId: `dlv_${activity.id}`,
    activity,
    content: { text: 'Please quote 40 chairs.' },
    loadRaw: async () => raw,
    ...over,
  };
}

async function attachmentsOn(partyId: number) {
  return (await tryton.model(
    'ir.attachment',
    'search_read',
    [['resource', '=', `party.party,${partyId}`]],
    0,
    null,
    null,
    ['name', 'data', 'description'],
  )) as Array<{ id: number; name: string; data: { base64: string }; description: string }>;
}

async function notesOn(partyId: number) {
  return (await tryton.model(
    'ir.note',
    'search_read',
    [['resource', '=', `party.party,${partyId}`]],
    0,
    null,
    null,
    ['message'],
  )) as Array<{ id: number; message: string }>;
}

describe('Tryton connector: test connection', () => {
  it('logs in and reads once, and says exactly what failed otherwise', async () => {
    const ok = await trytonAdapter.test(ctxFor());
    expect(ok.ok).toBe(true);
    expect(ok.detail).toMatch(/^Tryton 6\.0\.\d+, database "crm", logged in as "admin": \d+ parties$/);

    const closed = await trytonAdapter.test(ctxFor({ url: 'http://127.0.0.1:9' }));
    expect(closed).toEqual({
      ok: false,
      detail: expect.stringMatching(/^Tryton at http:\/\/127\.0\.0\.1:9 is unreachable/),
    });

    const noDb = await trytonAdapter.test(ctxFor({ database: 'nope' }));
    expect(noDb).toEqual({ ok: false, detail: 'Tryton has no database "nope"' });

    const badPw = await trytonAdapter.test(ctxFor({ password: 'wrong' }));
    expect(badPw).toEqual({
      ok: false,
      detail: 'Tryton refused the login "admin" on database "crm" (bad credentials)',
    });
  });

  it('logs in again once when the cached session is no longer valid', async () => {
    const ctx = ctxFor();
    const party = await createParty('Stale Session Ltd', ['stale@session.example']);
    const key = `tryton:session:dep-tryton:${tryton.url}/crm:admin`;
    ctx.cache.map.set(key, '1:0000000000000000000000000000000000000000000000000000000000000000');
    const result = await trytonAdapter.deliver(
      ctx,
      inputFor(activityFor([{ address: 'stale@session.example', partyId: party }])),
    );
    expect(result.outcome).toBe('delivered');
    expect(ctx.cache.map.get(key)).not.toMatch(/:0{64}$/);
    expect(await attachmentsOn(party)).toHaveLength(1);
  });
});

describe('Tryton connector: pull', () => {
  it('syncs parties with e-mail addresses in pages, then changes, archives and confirmed deletions', async () => {
    const bulk = Array.from({ length: TRYTON_PULL_PAGE + 30 }, (_, i) => ({
      name: `Bulk ${i}`,
      contact_mechanisms: [['create', [{ type: 'email', value: `Bulk${i}@Bulk.Example` }]]],
    }));
    const bulkIds = (await tryton.model('party.party', 'create', bulk)) as number[];
    const ann = await createParty('Ann Customer', ['ann@customer.example', 'ann.private@home.example']);
    const bob = await createParty('Bob Supplier', ['bob@supplier.example']);
    const phoneOnly = (
      (await tryton.model('party.party', 'create', [
        {
          name: 'No Mail',
          contact_mechanisms: [['create', [{ type: 'website', value: 'https://no-mail.example' }]]],
        },
      ])) as number[]
    )[0]!;

    const store = new Map<string, PulledRecord>();
    const ctx = ctxFor({
      knownRecordIds: async (type, after, limit) =>
        [...store.values()]
          .filter((r) => r.type === type)
          .map((r) => r.id)
          .sort()
          .filter((id) => after === undefined || id > after)
          .slice(0, limit),
    });
    const first = await pullAll(ctx, undefined);
    expect(first.pages).toBeGreaterThan(2);
    for (const r of first.upserts) store.set(r.id, r);
    expect(store.get(String(ann))).toEqual({
      type: 'contact',
      id: String(ann),
      emails: ['ann@customer.example', 'ann.private@home.example'],
      emailEnabled: true,
    });
    expect(store.get(String(bulkIds[7]))?.emails).toEqual(['bulk7@bulk.example']);
    expect(bulkIds.every((id) => store.has(String(id)))).toBe(true);
    expect(store.has(String(phoneOnly))).toBe(false);
    expect(first.deleted).toEqual([]);

    // Nothing changed: an incremental pass deletes nothing (absence from a page is not deletion).
    const quiet = await pullAll(ctx, first.cursor);
    expect(quiet.deleted).toEqual([]);

    // An address added to Ann, Bob archived, one bulk party deleted.
    await new Promise((r) => setTimeout(r, 1100)); // SQLite CURRENT_TIMESTAMP has 1 s resolution
    await tryton.model('party.contact_mechanism', 'create', [
      { party: ann, type: 'email', value: 'ann@new.example' },
    ]);
    await tryton.model('party.party', 'write', [bob], { active: false });
    await tryton.model('party.party', 'delete', [bulkIds[5]]);
    const next = await pullAll(ctx, quiet.cursor);
    const byId = new Map(next.upserts.map((r) => [r.id, r]));
    expect(byId.get(String(ann))?.emails).toEqual([
      'ann@customer.example',
      'ann.private@home.example',
      'ann@new.example',
    ]);
    expect(byId.get(String(bob))).toEqual({
      type: 'contact',
      id: String(bob),
      emails: ['bob@supplier.example'],
      emailEnabled: false,
    });
    expect(next.deleted).toEqual([{ type: 'contact', id: String(bulkIds[5]) }]);
  });
});

describe('Tryton connector: deliver', () => {
  it('puts exactly one attachment (the raw message) and one note on the matched party only', async () => {
    const carol = await createParty('Carol Customer', ['carol@customer.example']);
    const other = await createParty('Dan Other', ['dan@other.example']);
    const activity = activityFor([
      { address: 'carol@customer.example', partyId: carol },
      { address: 'sales@us.example' },
    ]);
    const input = inputFor(activity);
    const result = await trytonAdapter.deliver(ctxFor(), input);
    expect(result).toMatchObject({ outcome: 'delivered', crmObject: { kind: 'tryton' } });
    const atts = await attachmentsOn(carol);
    expect(atts).toHaveLength(1);
    expect(atts[0]!.name).toBe('Quote for 40 chairs.eml');
    expect(Buffer.from(atts[0]!.data.base64, 'base64').toString()).toBe(
      new TextDecoder().decode((await input.loadRaw())!),
    );
    expect(atts[0]!.description).toContain(deliveryMarker(activity.id));
    expect(atts[0]!.description).toContain(input.deliveryId);
    const notes = await notesOn(carol);
    expect(notes).toHaveLength(1);
    expect(notes[0]!.message).toContain('Quote for 40 chairs');
    expect(result.outcome === 'delivered' && result.crmObject?.id).toBe(`${carol}:${atts[0]!.id}`);
    expect(await attachmentsOn(other)).toEqual([]);
    expect(await notesOn(other)).toEqual([]);

    // A retry of the same delivery makes nothing new.
    const again = await trytonAdapter.deliver(ctxFor(), input);
    expect(again).toEqual(result);
    expect(await attachmentsOn(carol)).toHaveLength(1);
    expect(await notesOn(carol)).toHaveLength(1);

    // A later copy matches a second party: only that party gets its attachment and note.
    const later = await trytonAdapter.deliver(
      ctxFor(),
      inputFor(
        {
          ...activity,
          parties: [
            ...activity.parties,
            { role: 'cc', address: 'dan@other.example', recordType: 'contact', recordId: String(other) },
          ],
        } as DeliveryInput['activity'],
        {
          deliveryId: 'dlv_later_copy',
          existing: result.outcome === 'delivered' ? result.crmObject : undefined,
        },
      ),
    );
    const danAtts = await attachmentsOn(other);
    expect(danAtts).toHaveLength(1);
    expect(later).toMatchObject({
      outcome: 'delivered',
      crmObject: { id: `${carol}:${atts[0]!.id} ${other}:${danAtts[0]!.id}` },
    });
    expect(await attachmentsOn(carol)).toHaveLength(1);
    expect(await notesOn(other)).toHaveLength(1);
  });

  it('renders the message as text/plain when the raw copy was not kept', async () => {
    const erin = await createParty('Erin', ['erin@customer.example']);
    const activity = activityFor([{ address: 'erin@customer.example', partyId: erin }], 'Re: invoice 7/2026');
    const result = await trytonAdapter.deliver(
      ctxFor(),
      inputFor(activity, { loadRaw: async () => undefined }),
    );
    expect(result.outcome).toBe('delivered');
    const [att] = await attachmentsOn(erin);
    expect(att!.name).toBe('Re invoice 7 2026.eml');
    const text = Buffer.from(att!.data.base64, 'base64').toString();
    expect(text).toContain('Subject: Re: invoice 7/2026\r\n');
    expect(text).toContain(`X-CRM-Edge-Router-Activity: ${activity.id}\r\n`);
    expect(text).toMatch(/\r\n\r\nPlease quote 40 chairs\.$/);
  });

  it('refuses an activity with no Tryton party, and one whose parties were deleted', async () => {
    const none = await trytonAdapter.deliver(
      ctxFor(),
      inputFor(activityFor([{ address: 'x@nowhere.example' }])),
    );
    expect(none).toEqual({
      outcome: 'refused',
      detail: 'no party of this activity is a Tryton party (a contact record pulled from Tryton)',
    });
    const gone = await createParty('Gone', ['gone@customer.example']);
    await tryton.model('party.party', 'delete', [gone]);
    const result = await trytonAdapter.deliver(
      ctxFor(),
      inputFor(activityFor([{ address: 'gone@customer.example', partyId: gone }])),
    );
    expect(result).toEqual({
      outcome: 'refused',
      detail: `the matched parties (${gone}) no longer exist in Tryton`,
    });
    expect(await attachmentsOn(gone)).toEqual([]);
  });

  it('pauses on bad credentials and on a missing database', async () => {
    const party = await createParty('Paused', ['paused@customer.example']);
    const input = inputFor(activityFor([{ address: 'paused@customer.example', partyId: party }]));
    expect(await trytonAdapter.deliver(ctxFor({ password: 'wrong' }), input)).toMatchObject({
      outcome: 'unauthorized',
      status: 401,
    });
    expect(await trytonAdapter.deliver(ctxFor({ database: 'nope' }), input)).toMatchObject({
      outcome: 'unauthorized',
      status: 404,
      detail: 'Tryton has no database "nope"',
    });
    expect(await attachmentsOn(party)).toEqual([]);
  });

  it('a pull that cannot log in fails with the reason an admin reads as the sync error', async () => {
    await expect(trytonAdapter.pull!(ctxFor({ password: 'wrong' }), undefined)).rejects.toMatchObject({
      name: 'ConnectorError',
      message: 'Tryton refused the login "admin" on database "crm" (bad credentials)',
    });
  });
});

/**
 * A loopback proxy in front of trytond that, for one JSON-RPC method, either lets Tryton answer and
 * then drops the answer (a lost answer: Tryton committed, the adapter saw a network error) or kills
 * trytond while the call is in flight.
 */
async function faultyProxy(fault: { method: string; mode: 'drop-answer' | 'kill' }) {
  const upstream = new URL(tryton.url);
  let hits = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const method = (() => {
        try {
          return (JSON.parse(body.toString()) as { method?: string }).method;
        } catch {
          return undefined;
        }
      })();
      const faulty = method === fault.method && hits++ === 0;
      const up = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method: req.method,
          headers: req.headers,
        },
        (upRes) => {
          const answer: Buffer[] = [];
          upRes.on('data', (c) => answer.push(c));
          upRes.on('end', () => {
            if (faulty) return req.socket.destroy();
            res.writeHead(upRes.statusCode ?? 502, upRes.headers);
            res.end(Buffer.concat(answer));
          });
        },
      );
      up.on('error', () => req.socket.destroy());
      up.end(body);
      if (faulty && fault.mode === 'kill') void tryton.kill();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits: () => hits,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('Tryton connector: faults', () => {
  it('a lost answer to the attachment create leaves exactly one attachment after the redelivery', async () => {
    const party = await createParty('Lost Answer', ['lost@customer.example']);
    const input = inputFor(activityFor([{ address: 'lost@customer.example', partyId: party }]));
    const proxy = await faultyProxy({ method: 'model.ir.attachment.create', mode: 'drop-answer' });
    try {
      const first = await trytonAdapter.deliver(ctxFor({ url: proxy.url }), input);
      expect(first.outcome).toBe('retry');
      expect(proxy.hits()).toBe(1);
      expect(await attachmentsOn(party)).toHaveLength(1); // Tryton did commit it
      expect(await notesOn(party)).toHaveLength(0);
      const second = await trytonAdapter.deliver(ctxFor({ url: proxy.url }), input);
      expect(second.outcome).toBe('delivered');
    } finally {
      await proxy.close();
    }
    expect(await attachmentsOn(party)).toHaveLength(1);
    expect(await notesOn(party)).toHaveLength(1);
  });

  it('trytond killed mid-delivery, restarted, redelivered: exactly one attachment and one note', async () => {
    const party = await createParty('Killed Mid Flight', ['killed@customer.example']);
    const input = inputFor(activityFor([{ address: 'killed@customer.example', partyId: party }]));
    const proxy = await faultyProxy({ method: 'model.ir.attachment.create', mode: 'kill' });
    try {
      const first = await trytonAdapter.deliver(ctxFor({ url: proxy.url }), input);
      expect(first.outcome).toBe('retry');
      const down = await trytonAdapter.deliver(ctxFor({ url: proxy.url }), input);
      expect(down.outcome).toBe('retry');
      await tryton.start();
      const again = await trytonAdapter.deliver(ctxFor({ url: proxy.url }), input);
      expect(again.outcome).toBe('delivered');
      const twice = await trytonAdapter.deliver(ctxFor({ url: proxy.url }), input);
      expect(twice).toEqual(again);
    } finally {
      await proxy.close();
    }
    expect(await attachmentsOn(party)).toHaveLength(1);
    expect(await notesOn(party)).toHaveLength(1);
  });
});
