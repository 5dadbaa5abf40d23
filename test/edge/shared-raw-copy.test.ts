// One inbound request, one raw copy (issue 19 follow-up): a message posted for several forwarding
// addresses is classified once per address, but its raw copy is stored in the region once and
// every item references it. The copy's key names its owner (raw-expiry.ts): the one deployment
// whose items reference it, or `_shared` when several do — a deployment that tossed the message
// references nothing and owns nothing.
import { beforeEach, describe, expect, test } from 'vitest';
import { signRawLink } from '../../src/core/raw-link.js';
import { type EdgeBindings, readEdgeConfig } from '../../src/edge/config.js';
import worker from '../../src/edge/index.js';
import { expireRawCopies } from '../../src/edge/raw-expiry.js';
import { capturingEnv, ctx, edgeEnv, itemsOf } from './helpers.js';
import { deploymentInput, installSnapshot, usSnapshotInput } from './snapshot-input.js';

const DAY = 24 * 3600 * 1000;
const address = (deployment: string, n: number) =>
  `crm-${deployment}-${n}-0123456789abcdef@us.edge.crm-router.example`;
/** Three forwarding addresses each (a rotation keeps the previous ones working for 7 days). */
const DEPLOYMENTS = ['contoso', 'fabrikam', 'northwind'];
const FORWARDING = DEPLOYMENTS.flatMap((d) =>
  [0, 1, 2].map((n) => ({ address: address(d, n), deployment: d })),
);

function install() {
  return installSnapshot(
    usSnapshotInput({
      version: 7,
      mailboxes: [
        { address: 'alice@contoso.example', deployment: 'contoso', userId: 'u-alice', filter: 'all' },
        { address: 'bob@fabrikam.example', deployment: 'fabrikam', userId: 'u-bob', filter: 'all' },
        // Northwind's mailbox tracks nothing: its copies of the message are tossed.
        { address: 'nina@northwind.example', deployment: 'northwind', userId: 'u-nina', filter: 'none' },
      ],
      forwarding: FORWARDING,
      // Contoso carries small attachments in its items as well (attachment policy `inline`).
      deployments: DEPLOYMENTS.map((d) =>
        deploymentInput(d, { retentionDays: 1, attachmentPolicy: d === 'contoso' ? 'inline' : 'regional' }),
      ),
    }),
  );
}

let n = 0;
function message(body = ['', 'Hello all.']) {
  n++;
  return new TextEncoder().encode(
    [
      `Message-ID: <shared-${n}-${Math.random().toString(36).slice(2)}@customer.example>`,
      'From: buyer@customer.example',
      'To: alice@contoso.example, bob@fabrikam.example, nina@northwind.example',
      `Subject: One message, many forwarding addresses ${n}`,
      ...body,
      '',
    ].join('\r\n'),
  );
}

/** Two attachments and a body over the inline budget (held in the region as `.txt`). */
const WITH_CONTENT = [
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b"',
  '',
  '--b',
  'Content-Type: text/plain',
  '',
  'x'.repeat(300 * 1024),
  ...[0, 1].flatMap((i) => [
    '--b',
    `Content-Type: application/pdf; name="a${i}.pdf"`,
    `Content-Disposition: attachment; filename="a${i}.pdf"`,
    'Content-Transfer-Encoding: base64',
    '',
    'JVBERi0xLjQK',
  ]),
  '--b--',
];

/** The real bindings, the queue recorded and every R2 put's key counted. */
function countingEnv() {
  const { bindings, sent } = capturingEnv();
  const puts: string[] = [];
  const RAW = new Proxy(edgeEnv.RAW, {
    get(target, prop) {
      if (prop === 'put')
        return (...args: Parameters<R2Bucket['put']>) => {
          puts.push(args[0]);
          return target.put(...args);
        };
      const v = Reflect.get(target, prop);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { bindings: { ...bindings, RAW } as EdgeBindings, sent, puts };
}

async function inbound(to: string[], raw: Uint8Array, bindings: EdgeBindings) {
  const query = ['from=buyer@customer.example', ...to.map((t) => `to=${encodeURIComponent(t)}`)].join('&');
  return worker.fetch!(
    new Request(`http://edge.localhost/api/v1/inbound?${query}`, {
      method: 'POST',
      headers: { authorization: 'Bearer local-inbound-token' },
      body: raw,
    }) as unknown as Request<unknown, IncomingRequestCfProperties>,
    bindings,
    ctx,
  );
}

/** The raw copy through a signed link, as central mints it for whoever may see the activity. */
async function openRaw(key: string) {
  const exp = Date.now() + 60_000;
  const sig = await signRawLink(readEdgeConfig(edgeEnv).signingKey, key, exp);
  const path = key.split('/').map(encodeURIComponent).join('/');
  return worker.fetch!(
    new Request(`http://edge.localhost/raw/${path}?exp=${exp}&sig=${sig}`) as unknown as Request<
      unknown,
      IncomingRequestCfProperties
    >,
    edgeEnv,
    ctx,
  );
}

const rawPuts = (puts: string[]) => puts.filter((k) => k.endsWith('.eml'));

describe('one raw copy per inbound request', () => {
  beforeEach(install);

  test('six forwarding addresses of two tracking deployments: one raw put under raw/_shared/, every item references it, its link opens for each', async () => {
    const { bindings, sent, puts } = countingEnv();
    const raw = message();
    const to = FORWARDING.filter((f) => f.deployment !== 'northwind').map((f) => f.address);
    const res = await inbound(to, raw, bindings);
    expect(res.status).toBe(202);
    const items = await itemsOf(sent);
    expect(items.map((i) => i.deployment).sort()).toEqual([
      'contoso',
      'contoso',
      'contoso',
      'fabrikam',
      'fabrikam',
      'fabrikam',
    ]);
    expect(rawPuts(puts)).toHaveLength(1);
    const key = rawPuts(puts)[0]!;
    expect(key).toMatch(/^raw\/_shared\/\d{4}-\d{2}-\d{2}\/[0-9a-f-]{36}\.eml$/);
    for (const item of items) expect(item.raw).toEqual({ region: 'us', key, size: raw.byteLength });
    for (const deployment of ['contoso', 'fabrikam']) {
      const item = items.find((i) => i.deployment === deployment)!;
      const opened = await openRaw(item.raw!.key);
      expect(opened.status).toBe(200);
      expect(new Uint8Array(await opened.arrayBuffer())).toEqual(raw);
    }
    // Several owners: no one deployment's retention may delete what the other still references.
    const expired = await expireRawCopies(edgeEnv.RAW, await install(), Date.now() + 3 * DAY);
    expect(expired.days).not.toHaveProperty('_shared');
    expect((await openRaw(key)).status).toBe(200);
  });

  test("three addresses of one deployment: one raw put under that deployment's prefix, expired with its retention", async () => {
    const { bindings, sent, puts } = countingEnv();
    const to = FORWARDING.filter((f) => f.deployment === 'contoso').map((f) => f.address);
    expect((await inbound(to, message(), bindings)).status).toBe(202);
    const items = await itemsOf(sent);
    expect(items).toHaveLength(3);
    expect(rawPuts(puts)).toHaveLength(1);
    const key = rawPuts(puts)[0]!;
    expect(key).toMatch(/^raw\/contoso\//);
    for (const item of items) expect(item.raw?.key).toBe(key);
    expect((await openRaw(key)).status).toBe(200);
    await expireRawCopies(edgeEnv.RAW, await install(), Date.now() + 3 * DAY);
    expect((await openRaw(key)).status).toBe(404);
  });

  test('a deployment that tossed the message owns no part of the copy: contoso + northwind is stored under raw/contoso/', async () => {
    const { bindings, sent, puts } = countingEnv();
    const to = [address('contoso', 0), address('northwind', 0), address('northwind', 1)];
    const res = await inbound(to, message(), bindings);
    expect(res.status).toBe(202);
    const items = await itemsOf(sent);
    expect(items.map((i) => i.deployment)).toEqual(['contoso']);
    expect(sent.filter((m) => m.kind === 'receipt' && m.reason === 'filter:none')).toHaveLength(2);
    expect(rawPuts(puts)).toHaveLength(1);
    expect(items[0]!.raw?.key).toMatch(/^raw\/contoso\//);
  });

  test("attachments and a held body are stored once too, however many recipients reference them; inline ones only in the inline deployment's items", async () => {
    const { bindings, sent, puts } = countingEnv();
    const to = FORWARDING.filter((f) => f.deployment !== 'northwind').map((f) => f.address);
    expect((await inbound(to, message(WITH_CONTENT), bindings)).status).toBe(202);
    const items = await itemsOf(sent);
    expect(items).toHaveLength(6);
    const content = puts.filter((k) => /\/att\/\d+$|\.txt$/.test(k)).sort();
    expect(content).toHaveLength(3);
    for (const item of items) {
      expect(item.attachments.map((a) => a.ref?.key)).toEqual(content.filter((k) => k.includes('/att/')));
      expect(item.textRef?.key).toBe(content.find((k) => k.endsWith('.txt')));
      expect(item.attachments.map((a) => a.contentBase64)).toEqual(
        item.deployment === 'contoso' ? ['JVBERi0xLjQK', 'JVBERi0xLjQK'] : [undefined, undefined],
      );
    }
    for (const key of content) {
      expect(key).toMatch(/^raw\/_shared\//);
      expect((await openRaw(key)).status).toBe(200);
    }
  });

  test('nobody tracks it: no raw put at all', async () => {
    const { bindings, puts } = countingEnv();
    const res = await inbound([address('northwind', 0), address('northwind', 1)], message(), bindings);
    expect(res.status).toBe(202);
    expect(puts).toEqual([]);
  });
});
