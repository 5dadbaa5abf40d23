// Per-deployment retention of the regional copies (issue 13 item 4): the edge stores a message's
// raw copy, attachments and held body under raw/<deployment>/<day>/, and its cron deletes a
// deployment's days once they are older than the retentionDays central puts in the snapshot.
import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import { buildSnapshot, type SnapshotInput } from '../../src/core/snapshot.js';
import type { IngestItem } from '../../src/core/wire.js';
import { type EdgeBindings, readEdgeConfig } from '../../src/edge/config.js';
import { copyPrefix } from '../../src/edge/ingest-item.js';
import { processMessage } from '../../src/edge/pipeline.js';
import { expireRawCopies } from '../../src/edge/raw-expiry.js';
import { installBuilt } from './snapshot-input.js';

const edgeEnv = env as unknown as EdgeBindings;
const DAY = 24 * 3600 * 1000;
const FWD = 'crm-0123456789abcdef01234567@us.edge.crm-router.example';
const NOW = Date.parse('2026-06-15T12:00:00Z');

function deployment(id: string, retentionDays?: number): SnapshotInput['deployments'][number] {
  return {
    id,
    token: { prefix: 'CRM:', deploymentBase: id === 'contoso' ? 0 : 1, userDigits: 3, counterDigits: 3 },
    maxMessageBytes: 1_000_000,
    attachmentPolicy: 'regional',
    smartMatch: false,
    ...(retentionDays ? { retentionDays } : {}),
    suppressions: [],
    records: [],
    outbound: [],
  };
}

function snapshot(contosoDays?: number) {
  return buildSnapshot({
    region: 'us',
    version: 1,
    builtAt: 1,
    hashKey: '000102030405060708090a0b0c0d0e0f',
    rulesEnabled: true,
    egress: 'full',
    mailboxes: [
      { address: 'alice@contoso.example', deployment: 'contoso', userId: 'u-alice', filter: 'all' },
    ],
    forwarding: [{ address: FWD, deployment: 'contoso' }],
    deployments: [deployment('contoso', contosoDays), deployment('fabrikam')],
  });
}

async function keys(prefix = 'raw/') {
  const out: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await edgeEnv.RAW.list({ prefix, limit: 1000, ...(cursor ? { cursor } : {}) });
    out.push(...page.objects.map((o) => o.key));
    if (!page.truncated) return out.sort();
    cursor = page.cursor;
  }
}

/** A stored copy (raw message and one attachment) of `deployment` received `ageDays` before NOW. */
async function storeCopy(deployment: string, ageDays: number, copy: string) {
  const prefix = copyPrefix([deployment], copy, NOW - ageDays * DAY);
  await edgeEnv.RAW.put(`${prefix}.eml`, 'raw');
  await edgeEnv.RAW.put(`${prefix}/att/0`, 'attachment');
  return prefix;
}

beforeEach(async () => {
  const all = await keys('');
  for (let i = 0; i < all.length; i += 1000) await edgeEnv.RAW.delete(all.slice(i, i + 1000));
});

describe('regional copies follow the deployment retention', () => {
  test("a received message's raw copy, attachment and held body are stored under raw/<deployment>/<day>/", async () => {
    const s = await installBuilt(snapshot(30));
    const sent: IngestItem[] = [];
    // A stub producer, not the real queue (test/edge/helpers.ts): the real one's consumer would
    // spool what it cannot deliver into this bucket, whose whole listing a later test checks.
    const bindings = {
      ...edgeEnv,
      OUTBOX: {
        send: async () => {},
        sendBatch: async (m: Iterable<{ body: IngestItem }>) => void sent.push(...[...m].map((x) => x.body)),
      } as unknown as Queue,
    };
    const raw = new TextEncoder().encode(
      [
        'From: buyer@customer.example',
        'To: alice@contoso.example',
        'X-Forwarded-To: alice@contoso.example',
        'Subject: with a file',
        'Message-ID: <expiry-1@customer.example>',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="b"',
        '',
        '--b',
        'Content-Type: text/plain',
        '',
        'x'.repeat(300 * 1024),
        '--b',
        'Content-Type: application/pdf; name="a.pdf"',
        'Content-Disposition: attachment; filename="a.pdf"',
        'Content-Transfer-Encoding: base64',
        '',
        'JVBERi0xLjQK',
        '--b--',
        '',
      ].join('\r\n'),
    );
    const result = await processMessage(bindings, readEdgeConfig(bindings), raw, { to: FWD }, () => {}, {
      receivedAt: NOW,
    });
    expect(result.status).toBe('tracked');
    const stored = await keys();
    expect(stored).toHaveLength(3);
    for (const k of stored)
      expect(k).toMatch(/^raw\/contoso\/2026-06-15\/[0-9a-f-]{36}(\.eml|\.txt|\/att\/0)$/);
    // What the item references is exactly what was stored (central's signed links point there).
    const item =
      sent.find((x) => x.kind === 'item') ??
      (await (async () => {
        const ref = sent[0] as unknown as { ref: { key: string } };
        return (await (await edgeEnv.RAW.get(ref.ref.key))!.json()) as IngestItem;
      })());
    expect([item.raw?.key, item.textRef?.key, item.attachments[0]?.ref?.key].sort()).toEqual(stored);

    // 31 days later the cron's expiry removes all three.
    const expired = await expireRawCopies(edgeEnv.RAW, s, NOW + 31 * DAY);
    expect(expired).toMatchObject({
      deleted: 3,
      days: { contoso: ['raw/contoso/2026-06-15/'] },
      more: false,
    });
    expect(await keys()).toEqual([]);
  });

  test("only days past the deployment's retention go; other deployments, shared copies and the spool stay", async () => {
    const old = await storeCopy('contoso', 31, 'old');
    const edge = await storeCopy('contoso', 29, 'recent');
    const today = await storeCopy('contoso', 0, 'today');
    const fabrikam = await storeCopy('fabrikam', 400, 'fab');
    const gone = await storeCopy('no-longer-here', 400, 'gone');
    const shared = copyPrefix(['contoso', 'fabrikam'], 'shared', NOW - 400 * DAY);
    await edgeEnv.RAW.put(`${shared}.eml`, 'raw');
    await edgeEnv.RAW.put('spool/1-x.json', '{}');

    expect(shared).toMatch(/^raw\/_shared\//);
    const result = await expireRawCopies(edgeEnv.RAW, snapshot(30), NOW);
    expect(result).toEqual({ deleted: 2, days: { contoso: ['raw/contoso/2026-05-15/'] }, more: false });
    expect(await keys('')).toEqual(
      [
        `${edge}.eml`,
        `${edge}/att/0`,
        `${today}.eml`,
        `${today}/att/0`,
        `${fabrikam}.eml`,
        `${fabrikam}/att/0`,
        `${gone}.eml`,
        `${gone}/att/0`,
        `${shared}.eml`,
        'spool/1-x.json',
      ].sort(),
    );
    expect(old).toBe('raw/contoso/2026-05-15/old');
    // Without retention in the snapshot nothing is deleted.
    expect((await expireRawCopies(edgeEnv.RAW, snapshot(undefined), NOW + 1000 * DAY)).deleted).toBe(0);
  });

  test('a run deletes at most its budget; the next runs go on until the expired days are empty', async () => {
    for (let i = 0; i < 12; i++) await storeCopy('contoso', 40 + (i % 3), `c${String(i).padStart(2, '0')}`);
    await storeCopy('contoso', 1, 'young');
    const s = snapshot(30);
    const runs: number[] = [];
    for (let run = 0; run < 10; run++) {
      const r = await expireRawCopies(edgeEnv.RAW, s, NOW, { deletes: 10 });
      runs.push(r.deleted);
      if (!r.more) break;
    }
    expect(runs).toEqual([10, 10, 4]);
    expect((await keys()).map((k) => k.split('/').slice(0, 3).join('/'))).toEqual([
      'raw/contoso/2026-06-14',
      'raw/contoso/2026-06-14',
    ]);
  });
});
