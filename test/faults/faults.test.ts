// The fault-injection suite (issue 10): every dependency of the delivery path fails in turn.
// Each test names its fault, checks what the sender was answered during it, and after recovery
// asserts 0 lost and 0 doubled (one activity per accepted Message-ID) and no dead letter unless
// central rejected the item. See test/faults/harness.ts for the fault points.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { demoMailbox, eventually, FAULT_RETRY_BUDGET, FaultNetwork, mail } from './harness.js';

const net = new FaultNetwork();
const mailbox = demoMailbox({ region: 'us', filter: 'all' });
const run = Date.now().toString(36);
let n = 0;
const nextId = (tag: string) => `${tag}-${run}-${++n}@faults.example`;

/** The CRM's endpoint of the mailbox's deployment: where "delivered once" is counted. */
const STORED_ONCE_PATH = '/hook/stored-once';

/**
 * Waits until every id is stored, nothing that could carry one of them again waits at the edge
 * (spool and accept journal empty) and every delivery row of their activities is settled; then
 * counts what the CRM received: one `activity.accepted` per message, nothing more. (The activity
 * count alone rests on D1's unique index and cannot show a double; a re-sent copy would have
 * reached the CRM as an `activity.merged`.)
 */
async function expectStoredOnce(ids: string[], timeoutMs = 90_000) {
  const stored = await eventually(async () => {
    const out: { id: string; messageId: string }[] = [];
    for (const id of ids) {
      const found = await net.activities(id);
      if (found.length === 0) return undefined;
      out.push(...found);
    }
    return out;
  }, timeoutMs);
  await eventually(async () => {
    if ((await net.spooled()) !== 0 || ((await net.journaled()) || 0) !== 0) return undefined;
    for (const a of stored) {
      const rows = (await net.api('GET', `/api/v1/activities/${a.id}`)).json.webhookDeliveries as {
        state: string;
      }[];
      if (rows.length === 0 || rows.some((r) => r.state !== 'delivered')) return undefined;
    }
    return true;
  }, timeoutMs);
  for (const id of ids) expect(await net.activities(id), id).toHaveLength(1);
  for (const a of stored)
    expect(
      net.webhook.forActivity(a.id).map((r) => `${r.path} ${r.event} ${r.answer}`),
      a.messageId,
    ).toEqual([`${STORED_ONCE_PATH} activity.accepted 200`]);
}

beforeAll(async () => {
  await net.start();
  // The edge takes its snapshot while central is up (it keeps the last good copy in KV).
  const warm = await net.send(mail({ messageId: nextId('warm'), to: mailbox.address, subject: 'warm-up' }));
  expect(warm.status).toBe(202);
  // The CRM endpoint `expectStoredOnce` counts deliveries at.
  const deployment = await net.api('GET', `/api/v1/deployments/${mailbox.deployment}`);
  const hooked = await net.api('PUT', `/api/v1/deployments/${mailbox.deployment}`, {
    name: deployment.json.name,
    webhookUrl: `${net.webhook.url}${STORED_ONCE_PATH}`,
  });
  expect(hooked.status).toBe(200);
}, 240_000);

// Whatever a failed test left behind, the next one starts with every fault cleared and central up.
afterEach(async () => {
  net.setProxy('pass');
  await net.fault('clear').catch(() => {});
  if (!net.central) await net.startCentralAgain();
}, 120_000);

afterAll(() => net.stop(), 60_000);

describe('edge bindings fail', () => {
  test('R2 put of the raw message fails: the sender gets 503 each time; its retry after recovery is tracked once, not as a loop', async () => {
    const id = nextId('r2');
    const raw = mail({ messageId: id, to: mailbox.address, subject: 'R2 is failing' });
    await net.fault({ fault: 'r2-put', prefix: 'raw/' });
    for (let i = 0; i < 3; i++) {
      const res = await net.send(raw);
      expect(res.status).toBe(503);
      expect(res.json.error.code).toBe('unavailable');
    }
    await net.fault('clear');
    const ok = await net.send(raw);
    expect(ok.status).toBe(202);
    expect(ok.json).toMatchObject({ status: 'tracked', reason: 'tracked:all' });
    await expectStoredOnce([id]);
  });

  test('queue sendBatch fails: the sender gets 503 each time; its retries are tracked once', async () => {
    const id = nextId('queue');
    const raw = mail({ messageId: id, to: mailbox.address, subject: 'the queue is failing' });
    await net.fault({ fault: 'queue-send' });
    for (let i = 0; i < 4; i++) expect((await net.send(raw)).status).toBe(503);
    await net.fault('clear');
    const ok = await net.send(raw);
    expect(ok.json).toMatchObject({ status: 'tracked' });
    await expectStoredOnce([id]);
  });

  test(`spool writes fail while central is unreachable, past both queues' retry budgets (${FAULT_RETRY_BUDGET} each): nothing is dropped, all land once after recovery`, async () => {
    // Neither central nor the spool takes anything: the main queue's retries run out (→ DLQ), then
    // the DLQ's. A DLQ has nothing behind it, so its consumer hands such messages back to the main
    // queue. (The accept journal would hand them over only after 10 minutes — and production has
    // no journal — so landing within this test's minutes is the requeue's doing.)
    await net.fault({ fault: 'r2-put', prefix: 'spool/' });
    net.setProxy('reset');
    const ids = Array.from({ length: 3 }, () => nextId('nospool'));
    for (const id of ids) {
      const res = await net.send(mail({ messageId: id, to: mailbox.address, subject: `no spool ${id}` }));
      expect(res.json).toMatchObject({ status: 'tracked' });
    }
    // Both budgets spent: the dead-letter queue's consumer has handed the messages back to the
    // main queue (its log line), and still nothing could be spooled.
    await eventually(
      async () =>
        net.log.some((l) => /handed \d+ message\(s\) back to the main queue/.test(l)) ? true : undefined,
      120_000,
    );
    expect(await net.spooled()).toBe(0);
    await net.fault('clear');
    net.setProxy('pass');
    await expectStoredOnce(ids, 150_000);
    expect(await net.deadLettersFor(`nospool-${run}`)).toEqual([]);
  }, 240_000);
});

describe('central fails', () => {
  async function outage(mode: '500' | 'hang' | 'reset', tag: string, count: number, tries: number) {
    net.setProxy(mode);
    const ids = Array.from({ length: count }, () => nextId(tag));
    const statuses: string[] = [];
    for (const id of ids) {
      // Distinct subjects: identical messages in a burst would (rightly) be tossed as a loop.
      const res = await net.send(
        mail({ messageId: id, to: mailbox.address, subject: `${tag} outage ${id}` }),
      );
      statuses.push(`${res.status} ${res.json?.status}`);
    }
    // The sender is answered "accepted" (and tracked) although central does not take anything.
    expect(statuses).toEqual(ids.map(() => '202 tracked'));
    // The queue consumer tried central, failed and spooled to R2 (nothing waits in queue retries).
    await eventually(async () => ((await net.spooled()) > 0 ? true : undefined), 30_000);
    // The outage outlasts `tries` more batches of the edge's (spool drains on the cron tick,
    // heartbeats), each refused: nothing reached central meanwhile.
    const refused = net.refusedBatches;
    await eventually(async () => (net.refusedBatches >= refused + tries ? true : undefined), 90_000);
    for (const id of ids) expect(await net.activities(id), id).toHaveLength(0);
    net.setProxy('pass');
    return ids;
  }

  test('central answers 500 for a while, then recovers: all items land once, no dead letters', async () => {
    const ids = await outage('500', 'c500', 10, 1);
    await expectStoredOnce(ids);
    expect(await net.deadLettersFor(`c500-${run}`)).toEqual([]);
  }, 180_000);

  test('central times out (never answers) for a while: all items land once, no dead letters', async () => {
    const ids = await outage('hang', 'hang', 5, 1);
    await expectStoredOnce(ids);
    expect(await net.deadLettersFor(`hang-${run}`)).toEqual([]);
  }, 180_000);

  test(`central unreachable for longer than the whole retry budget (${FAULT_RETRY_BUDGET} retries): nothing dead-lettered, all land once by themselves`, async () => {
    // Two more refused tries (the cron drains every 15 s): longer than the budget — with
    // max_retries 2 and backoff of 1–2 s a retried message would be in the dead-letter queue after ~5 s.
    const ids = await outage('reset', 'down', 10, 2);
    // No manual step: the edge's cron (the runner's 15 s tick) drains the spool.
    await expectStoredOnce(ids);
    expect(await net.deadLettersFor(`down-${run}`)).toEqual([]);
    await eventually(async () => ((await net.spooled()) === 0 ? true : undefined), 60_000);
  }, 180_000);

  test('central process stopped, edges restarted while items are spooled: all delivered once after central returns', async () => {
    await net.stopCentral();
    const ids = Array.from({ length: 5 }, () => nextId('restart'));
    for (const id of ids) {
      const res = await net.send(mail({ messageId: id, to: mailbox.address, subject: `edge restart ${id}` }));
      expect(res.json).toMatchObject({ status: 'tracked' });
    }
    await eventually(async () => ((await net.spooled()) >= 1 ? true : undefined), 30_000);
    await net.restartEdge(); // the local queue is in memory; the spool in persisted R2 is not
    expect(await net.spooled()).toBeGreaterThan(0);
    await net.startCentralAgain();
    await expectStoredOnce(ids);
  }, 240_000);

  test('edge restarted while its consumer still waits on a hung central (the local queue is lost with it): all delivered once after central answers', async () => {
    // The consumer gives a hung central CENTRAL_TIMEOUT_MS (2 s) before it spools a batch; the edge
    // is restarted at once after the last acceptance, so what was accepted last is still in the
    // in-memory queue (or in flight) when the process goes — only the accept journal has it.
    net.setProxy('hang');
    const ids = Array.from({ length: 5 }, () => nextId('live'));
    for (const id of ids) {
      const res = await net.send(
        mail({ messageId: id, to: mailbox.address, subject: `restart in flight ${id}` }),
      );
      expect(res.json).toMatchObject({ status: 'tracked' });
    }
    await net.restartEdge();
    net.setProxy('pass');
    await expectStoredOnce(ids);
    expect(await net.deadLettersFor(`live-${run}`)).toEqual([]);
    await eventually(async () => ((await net.journaled()) === 0 ? true : undefined), 60_000);
  }, 240_000);

  test('a poison item (central rejects it) is a dead letter with its reason, its batch-mates land, replay after the fix lands it once', async () => {
    // A deployment the edge's snapshot still routes but central no longer has.
    await net.api('PUT', '/api/v1/deployments/poisonco', { name: 'Poison Co' });
    await net.api('PUT', `/api/v1/mailboxes/${encodeURIComponent('pat@poisonco.example')}`, {
      region: 'us',
      deployment: 'poisonco',
      userId: 'u-pat',
      filter: 'all',
    });
    const dep = await net.api('GET', '/api/v1/deployments/poisonco');
    const poisonTo: string = dep.json?.forwardingAddresses?.us ?? net.forwardTo;
    // Let the edge pick up the new snapshot (a delivery answer reports the newer version).
    await net.send(mail({ messageId: nextId('bump'), to: mailbox.address, subject: 'snapshot bump' }));
    await eventually(
      async () => {
        const r = await net.send(
          mail({ messageId: nextId('probe'), to: 'pat@poisonco.example', subject: `probe ${Date.now()}` }),
          poisonTo,
        );
        return r.json?.status === 'tracked' ? true : undefined;
      },
      60_000,
      2000,
    );
    net.setProxy('reset');
    await net.stopCentral();
    await net.d1(
      "PRAGMA defer_foreign_keys = on; DELETE FROM mailboxes WHERE deployment = 'poisonco'; DELETE FROM deployments WHERE id = 'poisonco';",
    );
    const good = Array.from({ length: 3 }, () => nextId('mate'));
    const poison = nextId('poison');
    for (const id of good) {
      const res = await net.send(mail({ messageId: id, to: mailbox.address, subject: `batch-mate ${id}` }));
      expect(res.json).toMatchObject({ status: 'tracked' });
    }
    const sent = await net.send(
      mail({ messageId: poison, to: 'pat@poisonco.example', subject: 'poison' }),
      poisonTo,
    );
    expect(sent.json).toMatchObject({ status: 'tracked' });
    await net.startCentralAgain();
    net.setProxy('pass');
    await expectStoredOnce(good);
    const [letter] = await eventually(async () => {
      const d = await net.deadLettersFor(poison);
      return d.length ? d : undefined;
    });
    expect(letter!.error).toContain('unknown deployment poisonco');
    expect(await net.deadLettersFor(poison)).toHaveLength(1);
    expect(await net.activities(poison)).toHaveLength(0);
    // The fix: the deployment exists again, with its route in us (replay runs the region claims of
    // live ingest). Replay lands it once.
    await net.api('PUT', '/api/v1/deployments/poisonco', { name: 'Poison Co' });
    await net.api('PUT', `/api/v1/mailboxes/${encodeURIComponent('pat@poisonco.example')}`, {
      region: 'us',
      deployment: 'poisonco',
      userId: 'u-pat',
      filter: 'all',
    });
    const replay = await net.api('POST', `/api/v1/dead-letters/${letter!.id}/replay`);
    expect(replay.json).toMatchObject({ status: 'accepted' });
    expect(await net.activities(poison)).toHaveLength(1);
  }, 240_000);
});

describe('the CRM webhook fails', () => {
  /** A deployment whose webhook is `path` on the target; returns a promoted activity's id. */
  async function promoted(deployment: string, path: string, script: (number | 'hang')[]) {
    net.webhook.scripts.set(path, script);
    const put = await net.api('PUT', `/api/v1/deployments/${deployment}`, {
      name: deployment,
      webhookUrl: `${net.webhook.url}${path}`,
    });
    expect(put.status).toBeLessThan(300);
    await net.api('PUT', `/api/v1/mailboxes/${encodeURIComponent(`user@${deployment}.example`)}`, {
      region: 'us',
      deployment,
      userId: 'u-1',
      filter: 'all',
    });
    const res = await fetch(
      `${net.centralUrl}/api/v1/deployments/${deployment}/promote?mailbox=${encodeURIComponent(`user@${deployment}.example`)}`,
      {
        method: 'POST',
        headers: { authorization: 'Bearer local-admin-token', 'content-type': 'message/rfc822' },
        body: mail({
          messageId: nextId(deployment),
          to: `user@${deployment}.example`,
          subject: `webhook ${deployment}`,
        }),
      },
    );
    const activity = (await res.json()) as { id: string };
    expect(res.status, JSON.stringify(activity)).toBe(201);
    return activity.id;
  }

  const deliveries = async (activityId: string) =>
    (await net.api('GET', `/api/v1/activities/${activityId}`)).json.webhookDeliveries as {
      state: string;
      attempts: number;
      lastStatus: number | null;
    }[];

  test('the target answers 503, then 200: delivered once, the state visible on the activity', async () => {
    const id = await promoted('hook503', '/hook/503', [503, 200]);
    const [done] = await eventually(async () => {
      const d = await deliveries(id);
      return d[0]?.state === 'delivered' ? d : undefined;
    }, 120_000);
    expect(done).toMatchObject({ state: 'delivered', attempts: 2, lastStatus: 200 });
    const calls = net.webhook.forActivity(id);
    expect(calls.map((c) => c.answer)).toEqual([503, 200]);
    expect(new Set(calls.map((c) => c.delivery)).size).toBe(1);
  }, 180_000);

  test('the target answers 410: marked failed after one attempt, not retried; listed as failing; replay delivers', async () => {
    const id = await promoted('hook410', '/hook/410', [410, 200]);
    await eventually(async () => ((await deliveries(id))[0]?.state === 'failed' ? true : undefined), 60_000);
    // A witness delivery started after the failure, answered 503 then 200: once its retry (30 s
    // later, by the queue or the cron) has landed, a retry of the 410 would have happened too.
    const witness = await promoted('hook410w', '/hook/410-witness', [503, 200]);
    await eventually(
      async () => ((await deliveries(witness))[0]?.state === 'delivered' ? true : undefined),
      120_000,
    );
    expect(net.webhook.forActivity(witness).map((c) => c.answer)).toEqual([503, 200]);
    expect(net.webhook.forActivity(id)).toHaveLength(1);
    expect((await deliveries(id))[0]).toMatchObject({ state: 'failed', attempts: 1, lastStatus: 410 });
    const failing = await net.api('GET', '/api/v1/webhook-deliveries');
    const row = (failing.json.items as { id: string; activityId: string }[]).find((d) => d.activityId === id);
    expect(row).toBeDefined();
    const replay = await net.api('POST', `/api/v1/webhook-deliveries/${row!.id}/replay`);
    expect(replay.json).toMatchObject({ outcome: 'delivered', delivery: { state: 'delivered' } });
    expect(net.webhook.forActivity(id)).toHaveLength(2);
  }, 180_000);

  test('central restarts between the activity commit and the webhook delivery: still delivered once (the outbox row)', async () => {
    // The first attempt hangs at the CRM; central is stopped meanwhile (the attempt and any
    // queue message die with it); after its restart the cron finds the outbox row in D1.
    const id = await promoted('hookrestart', '/hook/restart', ['hang', 200]);
    await eventually(async () => (net.webhook.forActivity(id).length ? true : undefined), 30_000);
    await net.stopCentral();
    await net.startCentralAgain();
    const [done] = await eventually(async () => {
      const d = await deliveries(id);
      return d[0]?.state === 'delivered' ? d : undefined;
    }, 150_000);
    expect(done!.state).toBe('delivered');
    expect(net.webhook.forActivity(id).filter((c) => c.answer === 200)).toHaveLength(1);
  }, 240_000);
});

describe('oversized items', () => {
  const japanese = (chars: number) => '日本語のテキストです。'.repeat(Math.ceil(chars / 11)).slice(0, chars);
  const tracked = async (raw: string) => {
    const res = await net.send(new TextEncoder().encode(raw));
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    expect(res.json.status).toBe('tracked');
    return res;
  };
  const activityOf = async (messageId: string) => {
    const [a] = await eventually(async () => {
      const found = await net.activities(messageId);
      return found.length ? found : undefined;
    });
    return (await net.api('GET', `/api/v1/activities/${a!.id}`)).json;
  };

  // The demo deployments keep the default size limit, 25 MiB (the platform's).

  test('45,000 Japanese characters under full egress: tracked once, the body complete (not held regionally)', async () => {
    const id = nextId('cjk');
    await tracked(
      mail({ messageId: id, to: mailbox.address, subject: `日本語 ${id}`, body: japanese(45_000) }),
    );
    const a = await activityOf(id);
    expect(a.bodyHeldRegionally).toBe(false);
    expect(await net.activities(id)).toHaveLength(1);
  });

  test('500 Cc recipients: tracked once with every recipient', async () => {
    const id = nextId('cc');
    const cc = Array.from({ length: 500 }, (_, i) => `cc${i}@customers.example`);
    await tracked(
      mail({ messageId: id, to: mailbox.address, subject: `cc ${id}`, headers: [`Cc: ${cc.join(', ')}`] }),
    );
    const a = await activityOf(id);
    expect(a.parties.filter((p: { role: string }) => p.role === 'cc')).toHaveLength(500);
    expect(a.partiesHeldRegionally).toBe(false);
  });

  test('a 24 MiB message with 20 attachments: tracked once, every attachment stored and linked', async () => {
    const id = nextId('big');
    const boundary = 'faults-boundary';
    const parts = Array.from({ length: 20 }, (_, i) => {
      const bytes = new Uint8Array(900 * 1024).map((_, k) => (k * 31 + i) & 0xff);
      const b64 = Buffer.from(bytes).toString('base64').replace(/.{76}/g, '$&\r\n');
      return [
        `--${boundary}`,
        `Content-Type: application/octet-stream; name="file-${i}.bin"`,
        `Content-Disposition: attachment; filename="file-${i}.bin"`,
        'Content-Transfer-Encoding: base64',
        '',
        b64,
      ].join('\r\n');
    });
    const raw = [
      'From: Customer <customer@faults.example>',
      `To: ${mailbox.address}`,
      `Subject: big ${id}`,
      `Message-ID: <${id}>`,
      `X-Forwarded-To: ${mailbox.address}`,
      'MIME-Version: 1.0',
      `Content-Type: multipart/mixed; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Twenty files attached.',
      ...parts,
      `--${boundary}--`,
      '',
    ].join('\r\n');
    expect(raw.length).toBeGreaterThan(24 * 1024 * 1024 - 1024 * 1024);
    await tracked(raw);
    const a = await activityOf(id);
    const files = a.content.flatMap((c: { attachments: unknown[] }) => c.attachments);
    expect(files).toHaveLength(20);
    for (const f of files as { size: number }[]) expect(f.size).toBe(900 * 1024);
    const links = await net.api('GET', `/api/v1/activities/${a.id}/content`);
    const one = (links.json.items as { kind: string; url: string | null }[]).find(
      (l) => l.kind === 'attachment',
    );
    const fetched = await fetch(one!.url!);
    expect((await fetched.arrayBuffer()).byteLength).toBe(900 * 1024);
  }, 120_000);
});
