// Snapshot push, central's side: an accepted change kicks a rebuild past the quiet period, and the
// kick's run publishes every region whose snapshot moved and notices their edges. (The edge's side
// of the notice: test/edge/snapshot-notice.test.ts; the whole push against a real idle edge:
// test/e2e/snapshot-push.test.ts.)
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import type { CentralBindings } from '../../src/central/context.js';
import worker from '../../src/central/index.js';
import { runSnapshotKick } from '../../src/central/snapshot/snapshot-kicks.js';
import { deriveEdgeCredentials, signBody } from '../../src/core/request-signature.js';
import { decodeSnapshot } from '../../src/core/snapshot.js';
import { createDb } from '../../src/db/client.js';
import { recordHeartbeat } from '../../src/db/queries/regions.js';
import { eventually } from '../support/eventually.js';
import { Browser } from './dashboard-browser.js';
import { itemMaker, sendBatch } from './edge-batch.js';
import { ADMIN, api, BASE, edgeSnapshot, freshBasics, snapshotHasRecord } from './helpers.js';

const pushOn = { ...env, SNAPSHOT_PUSH: 'on' } as unknown as CentralBindings;
const R = '/api/v1/deployments/contoso/records';
const db = () => createDb(env.DB);

async function addRecord(address: string) {
  const res = await api('POST', R, {
    body: { records: [{ type: 'contact', id: address, emails: [address] }] },
  });
  expect(res.status).toBe(200);
}

/** The region's edge polling its snapshot, through the worker with the push on. */
async function pollAsEdge(region: string, ctx: ExecutionContext) {
  const timestamp = Date.now();
  const { signingKey, token } = await deriveEdgeCredentials('test-edge-secret', region);
  return worker.fetch(
    new Request(`${BASE}/api/v1/edge/snapshot?region=${region}`, {
      headers: {
        authorization: `Bearer ${token}`,
        'x-edge-region': region,
        'x-edge-timestamp': String(timestamp),
        'x-edge-signature': await signBody(signingKey, timestamp, new Uint8Array()),
      },
    }),
    pushOn,
    ctx,
  );
}

/**
 * The real kick queue, with every message sent to it recorded on the way, and requests through the
 * worker with it (each answered once its waitUntil work, where kicks are sent, is done).
 */
function recorder() {
  const kicks: Array<{ kind: string; what?: string }> = [];
  const recording = {
    ...pushOn,
    SNAPSHOT_QUIET_MS: '0',
    SNAPSHOT_KICKS: {
      send: (body: { kind: string }, options?: QueueSendOptions) => {
        kicks.push(body);
        return env.SNAPSHOT_KICKS.send(body, options);
      },
      sendBatch: (batch: Iterable<MessageSendRequest<{ kind: string }>>, options?: QueueSendBatchOptions) => {
        for (const m of batch) kicks.push(m.body);
        return env.SNAPSHOT_KICKS.sendBatch(batch, options);
      },
    },
  } as unknown as CentralBindings;
  const fetcher = async (url: string, init: RequestInit) => {
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request(url, init), recording, ctx);
    const body = await res.arrayBuffer();
    await waitOnExecutionContext(ctx);
    return new Response(res.status === 204 ? null : body, { status: res.status, headers: res.headers });
  };
  const call = async (method: string, path: string, body?: unknown, token = ADMIN) => {
    const res = await fetcher(`${BASE}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return res.status;
  };
  return { kicks, fetcher, call };
}

async function part() {
  return (await env.DB.prepare(
    'select data_version as dataVersion, built_version as builtVersion from snapshot_parts where deployment = ?',
  )
    .bind('contoso')
    .first()) as { dataVersion: number; builtVersion: number } | null;
}

describe('snapshot push from central', () => {
  beforeEach(async () => {
    await freshBasics();
    await api('PUT', '/api/v1/mailboxes/ann@contoso.example', {
      body: { region: 'eu', deployment: 'contoso', userId: 'u-ann' },
    });
    await api('PUT', '/api/v1/mailboxes/bob@contoso.example', {
      body: { region: 'us', deployment: 'contoso', userId: 'u-bob' },
    });
    // eu's edge has reported a URL (nothing listens there: the notice fails and is only logged);
    // us's has not.
    await recordHeartbeat(db(), 'eu', { at: Date.now(), edgeUrl: 'http://127.0.0.1:9' });
    await runSnapshotKick(pushOn, db());
  });

  test('a kick run rebuilds the changed part, publishes every region carrying it and notices their edges', async () => {
    await addRecord('carol@customer.example');
    const run = await runSnapshotKick(pushOn, db());
    expect(run.notices.map((n) => [n.region, n.status]).sort()).toEqual([
      ['eu', 'failed'],
      ['us', 'no-edge-url'],
    ]);
    expect(run.rekickSeconds).toBeUndefined();
    const p = await part();
    expect(p?.builtVersion).toBe(p?.dataVersion);
    for (const region of ['eu', 'us'])
      expect(snapshotHasRecord(await edgeSnapshot(region), 'contoso', 'carol@customer.example')).toBe(true);
    // Nothing changed since: nothing is rebuilt, no edge is bothered.
    expect(await runSnapshotKick(pushOn, db())).toEqual({ notices: [] });
  });

  test('a route change alone (no part to rebuild) is noticed to its region only', async () => {
    await api('PUT', '/api/v1/mailboxes/dan@contoso.example', {
      body: { region: 'eu', deployment: 'contoso', userId: 'u-dan' },
    });
    const run = await runSnapshotKick(pushOn, db());
    expect(run.notices.map((n) => n.region)).toEqual(['eu']);
  });

  test('a kick that runs inside the quiet period builds nothing and queues one for when it ends', async () => {
    // Push off for this run: the re-kick is computed and reported but not queued, so no kick
    // fires a minute later into another test file's database.
    const quiet = { ...env, SNAPSHOT_QUIET_MS: '60000' } as unknown as CentralBindings;
    await addRecord('erin@customer.example');
    const run = await runSnapshotKick(quiet, db());
    expect(run.notices).toEqual([]);
    expect(run.rekickSeconds).toBeGreaterThanOrEqual(50);
    expect(run.rekickSeconds).toBeLessThanOrEqual(60);
    const p = await part();
    expect(p!.builtVersion).toBeLessThan(p!.dataVersion);
  });

  test('with the push on, an accepted change queues a kick whose consumer builds the part (no snapshot fetch)', async () => {
    const before = await part();
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request(`${BASE}${R}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ records: [{ type: 'contact', id: 'f', emails: ['fay@customer.example'] }] }),
      }),
      { ...pushOn, SNAPSHOT_QUIET_MS: '0' } as CentralBindings,
      ctx,
    );
    expect(res.status).toBe(200);
    await waitOnExecutionContext(ctx);
    // The queue's consumer is this worker's own queue() handler, run by the runtime.
    const built = await eventually(async () => {
      const p = await part();
      return p && p.dataVersion > (before?.dataVersion ?? 0) && p.builtVersion === p.dataVersion
        ? p
        : undefined;
    }, 30_000);
    expect(built.builtVersion).toBeGreaterThan(before?.builtVersion ?? 0);
  });

  test('a refused change and a read queue no kick; an accepted change queues one', async () => {
    const { kicks, call } = recorder();
    const records = { records: [{ type: 'contact', id: 'g', emails: ['g@x.example'] }] };
    expect(await call('POST', R, records, 'wrong-token')).toBe(401);
    expect(await call('GET', R)).toBe(200);
    expect(kicks).toEqual([]);
    expect(await call('POST', R, records)).toBe(200);
    expect(kicks).toEqual([expect.objectContaining({ kind: 'snapshot-kick', what: 'records' })]);
  });

  test('an ingest batch and a heartbeat queue no kick', async () => {
    const { kicks, fetcher } = recorder();
    const item = itemMaker('no-kick', () => ({ mailboxes: ['bob@contoso.example'] }));
    const batch = await sendBatch({ region: 'us', items: [item()] }, { fetcher });
    expect(batch.status).toBe(200);
    expect(batch.json.results).toHaveLength(1);
    const heartbeat = await sendBatch(
      { region: 'eu', heartbeat: { queueDepth: 0, edgeUrl: 'http://127.0.0.1:9' } },
      { fetcher },
    );
    expect(heartbeat.status).toBe(200);
    expect(kicks).toEqual([]);
  });

  const changes: Array<[string, 'PUT' | 'POST' | 'DELETE', string, unknown?]> = [
    [
      'routes',
      'PUT',
      '/api/v1/mailboxes/cy@contoso.example',
      { region: 'eu', deployment: 'contoso', userId: 'u-cy' },
    ],
    ['routes', 'DELETE', '/api/v1/mailboxes/bob@contoso.example'],
    ['records', 'POST', R, { records: [{ type: 'contact', id: 'k', emails: ['kim@customer.example'] }] }],
    [
      'suppressions',
      'POST',
      '/api/v1/deployments/contoso/suppressions',
      { entries: ['noreply@customer.example'] },
    ],
    [
      'outbound',
      'POST',
      '/api/v1/deployments/contoso/outbound',
      { messageId: '<kick-1@crm.contoso.example>', userId: 'u-ann', subject: 'Offer' },
    ],
    ['region', 'PUT', '/api/v1/regions/eu', { name: 'EU', rulesEnabled: false }],
    ['deployment', 'PUT', '/api/v1/deployments/contoso', { name: 'Contoso', smartMatch: true }],
    ['forwarding', 'POST', '/api/v1/deployments/contoso/forwarding-addresses/rotate'],
    ['relay-tokens', 'POST', '/api/v1/tokens', { scope: 'relay:contoso', label: 'relay' }],
  ];
  test.each(changes)('a change of %s (%s %s) queues exactly one kick', async (what, method, path, body) => {
    const { kicks, call } = recorder();
    expect(await call(method, path, body)).toBeLessThan(300);
    expect(kicks).toEqual([expect.objectContaining({ kind: 'snapshot-kick', what })]);
  });

  test('minting a token no snapshot carries queues no kick; revoking a relay token queues one', async () => {
    const { kicks, call, fetcher } = recorder();
    expect(await call('POST', '/api/v1/tokens', { scope: 'user:contoso/u-ann' })).toBe(201);
    expect(kicks).toEqual([]);
    const relay = await fetcher(`${BASE}/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: 'relay:contoso' }),
    });
    const { id } = (await relay.json()) as { id: string };
    kicks.length = 0;
    expect(await call('DELETE', `/api/v1/tokens/${id}`)).toBe(200);
    expect(kicks).toEqual([expect.objectContaining({ what: 'relay-tokens' })]);
  });

  test("the dashboard's route form queues a kick as the API does; signing in does not", async () => {
    const { kicks, fetcher } = recorder();
    const b = new Browser(undefined, '/routes');
    b.fetcher = fetcher;
    expect((await b.signIn(ADMIN)).status).toBe(303);
    expect(kicks).toEqual([]);
    const res = await b.post('/routes/save', {
      address: 'dee@contoso.example',
      region: 'eu',
      deployment: 'contoso',
      userId: 'u-dee',
    });
    expect(res.status).toBe(303);
    expect(kicks).toEqual([expect.objectContaining({ what: 'routes' })]);
    kicks.length = 0;
    expect((await b.post('/regions/eu/egress', { egress: 'full' }, { csrfFrom: '/regions' })).status).toBe(
      303,
    );
    expect(kicks).toEqual([expect.objectContaining({ what: 'region' })]);
    // A refused form changes nothing and kicks nothing.
    kicks.length = 0;
    expect(
      (await b.post('/regions/eu/egress', { egress: 'everything' }, { csrfFrom: '/regions' })).status,
    ).toBe(400);
    expect(kicks).toEqual([]);
  });

  test('deleting a record kicks; deleting one that is not there does not', async () => {
    await addRecord('rex@customer.example');
    const { kicks, call } = recorder();
    expect(await call('DELETE', `${R}/contact/nobody`)).toBe(404);
    expect(kicks).toEqual([]);
    expect(await call('DELETE', `${R}/contact/rex@customer.example`)).toBe(200);
    expect(kicks).toEqual([expect.objectContaining({ what: 'records' })]);
  });

  test("with the push on, an edge's poll builds nothing: it gets what is published, at once", async () => {
    await addRecord('gus@customer.example');
    const dirty = await part();
    const ctx = createExecutionContext();
    const res = await pollAsEdge('eu', ctx);
    expect(res.status).toBe(200);
    const served = decodeSnapshot(new Uint8Array(await res.arrayBuffer()));
    await waitOnExecutionContext(ctx);
    expect(snapshotHasRecord(served, 'contoso', 'gus@customer.example')).toBe(false);
    expect(await part()).toEqual(dirty);
    // The kick's run builds it; the next poll has it.
    await runSnapshotKick(pushOn, db());
    expect(snapshotHasRecord(await edgeSnapshot('eu'), 'contoso', 'gus@customer.example')).toBe(true);
  });

  test('with the push on, a poll still builds a part that was never built (a fresh deployment is not left out)', async () => {
    await api('PUT', '/api/v1/mailboxes/hal@fabrikam.example', {
      body: { region: 'eu', deployment: 'fabrikam', userId: 'u-hal' },
    });
    await api('POST', '/api/v1/deployments/fabrikam/records', {
      body: { records: [{ type: 'contact', id: 'h', emails: ['hal.customer@customer.example'] }] },
    });
    const res = await pollAsEdge('eu', createExecutionContext());
    expect(res.status).toBe(200);
    const served = decodeSnapshot(new Uint8Array(await res.arrayBuffer()));
    expect(snapshotHasRecord(served, 'fabrikam', 'hal.customer@customer.example')).toBe(true);
  });
});
