// Snapshot push, the edge's side: central's signed notice `POST /api/v1/edge/snapshot-changed`.
// Only a notice signed with this region's key, recent, for this region and newer than the held
// snapshot starts a refresh; everything else gets a specific refusal. (The refresh itself, against
// a real central, is in test/e2e/snapshot-push.test.ts.)
import { SELF } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import { SNAPSHOT_NOTICE_PATH, signBody, signSnapshotNotice } from '../../src/core/request-signature.js';
import { installSnapshot, usSnapshotInput } from './snapshot-input.js';

const KEY = 'test-signing-key-us';

interface NoticeAnswer {
  refreshing?: boolean;
  snapshotVersion?: number | null;
  error?: { code: string; message: string };
}

async function notice(
  body: unknown,
  opts: { key?: string; timestamp?: number; signature?: string; raw?: string } = {},
) {
  const text = opts.raw ?? JSON.stringify(body);
  const timestamp = opts.timestamp ?? Date.now();
  const signature = opts.signature ?? (await signSnapshotNotice(opts.key ?? KEY, timestamp, text));
  const res = await SELF.fetch(`http://edge.localhost${SNAPSHOT_NOTICE_PATH}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-central-timestamp': String(timestamp),
      'x-central-signature': signature,
    },
    body: text,
  });
  return { status: res.status, json: (await res.json()) as NoticeAnswer };
}

describe('snapshot notice from central', () => {
  beforeEach(async () => {
    await installSnapshot(usSnapshotInput({ version: 7, mailboxes: [], forwarding: [], deployments: [] }));
  });

  test('a newer version starts a refresh; the held version or an older one is a no-op', async () => {
    expect(await notice({ region: 'us', version: 8 })).toMatchObject({
      status: 202,
      json: { refreshing: true, snapshotVersion: 7 },
    });
    for (const version of [7, 3])
      expect(await notice({ region: 'us', version })).toMatchObject({
        status: 200,
        json: { refreshing: false, snapshotVersion: 7 },
      });
  });

  test('a notice signed with another key, or not signed, is refused and starts nothing', async () => {
    const forged = await notice({ region: 'us', version: 99 }, { key: 'test-signing-key-eu' });
    expect(forged.status).toBe(401);
    expect(forged.json.error?.code).toBe('unauthorized');
    const res = await SELF.fetch(`http://edge.localhost${SNAPSHOT_NOTICE_PATH}`, {
      method: 'POST',
      body: '{"region":"us","version":99}',
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as NoticeAnswer).error?.message).toMatch(/x-central-signature/);
  });

  test('an edge → central signature of the same bytes does not verify as a notice', async () => {
    const body = '{"region":"us","version":99}';
    const timestamp = Date.now();
    const ingestStyle = await signBody(KEY, timestamp, new TextEncoder().encode(body));
    expect((await notice(undefined, { raw: body, timestamp, signature: ingestStyle })).status).toBe(401);
  });

  test('a replayed notice older than 5 minutes is refused', async () => {
    const old = await notice({ region: 'us', version: 99 }, { timestamp: Date.now() - 6 * 60_000 });
    expect(old.status).toBe(401);
    expect(old.json.error?.message).toMatch(/5 minutes/);
  });

  test('a notice for another region, a malformed one and an oversize one get their own answers', async () => {
    const other = await notice({ region: 'eu', version: 99 });
    expect(other).toMatchObject({ status: 403, json: { error: { code: 'forbidden' } } });
    const notJson = await notice(undefined, { raw: 'version=99' });
    expect(notJson).toMatchObject({ status: 400, json: { error: { code: 'bad_request' } } });
    const wrongShape = await notice({ region: 'us', version: '99' });
    expect(wrongShape).toMatchObject({ status: 400, json: { error: { code: 'bad_request' } } });
    const big = await notice(undefined, {
      raw: JSON.stringify({ region: 'us', version: 9, pad: 'x'.repeat(2000) }),
    });
    expect(big).toMatchObject({ status: 413, json: { error: { code: 'payload_too_large' } } });
  });
});
