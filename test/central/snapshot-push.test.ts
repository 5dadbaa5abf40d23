// Snapshot push, central's side: an accepted change kicks a rebuild past the quiet period, and the
// kick's run publishes every region whose snapshot moved and notices their edges. (The edge's side
// of the notice: test/edge/snapshot-notice.test.ts; the whole push against a real idle edge:
// test/e2e/snapshot-push.test.ts.)
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import worker from '../../src/central/index.js';
import type { CentralBindings } from '../../src/central/context.js';
import { runSnapshotKick } from '../../src/central/snapshot/snapshot-kicks.js';
import { createDb } from '../../src/db/client.js';
import { recordHeartbeat } from '../../src/db/queries/regions.js';
import { eventually } from '../support/eventually.js';
import { decodeSnapshot } from '../../src/core/snapshot.js';
import { deriveEdgeCredentials, signBody } from '../../src/core/request-signature.js';
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
    // The real kick queue, with every message sent to it recorded on the way.
    const kicks: unknown[] = [];
    const recording = {
      ...pushOn,
      SNAPSHOT_QUIET_MS: '0',
      SNAPSHOT_KICKS: {
        send: (body: unknown, options?: QueueSendOptions) => {
          kicks.push(body);
          return env.SNAPSHOT_KICKS.send(body, options);
        },
        sendBatch: (batch: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
          for (const m of batch) kicks.push(m.body);
          return env.SNAPSHOT_KICKS.sendBatch(batch, options);
        },
      },
    } as unknown as CentralBindings;
    const send = async (method: 'GET' | 'POST', token: string) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(
        new Request(`${BASE}${R}`, {
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          ...(method === 'POST'
            ? { body: JSON.stringify({ records: [{ type: 'contact', id: 'g', emails: ['g@x.example'] }] }) }
            : {}),
        }),
        recording,
        ctx,
      );
      // Kicks are sent in waitUntil: once the context is done, every kick of the request is sent.
      await waitOnExecutionContext(ctx);
      return res.status;
    };
    expect(await send('POST', 'wrong-token')).toBe(401);
    expect(await send('GET', ADMIN)).toBe(200);
    expect(kicks).toEqual([]);
    expect(await send('POST', ADMIN)).toBe(200);
    expect(kicks).toEqual([expect.objectContaining({ kind: 'snapshot-kick' })]);
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
