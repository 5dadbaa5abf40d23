// src/db/queries/snapshot-build.ts against a migrated D1: the hash-ordered shard pages, the build
// lease, the dirty buckets a build covers, and the newest-first outbound pages.
import { describe, expect } from 'vitest';
import { findRegion } from '../../src/db/queries/regions.js';
import * as Build from '../../src/db/queries/snapshot-build.js';
import { outbound, recordEmails, snapshotDirty, suppressions } from '../../src/db/schema.js';
import { dbTest as test } from './fixtures.js';

const hex = (n: number) => n.toString(16).padStart(8, '0');
const keys = (text: string) => text.match(/.{17}/g) ?? [];

describe('snapshot build queries', () => {
  test('unhashed rows get their hashes; the shard reader pages in hash order, tags OR-ed per address', async ({
    db,
  }) => {
    await db.insert(recordEmails).values([
      { deployment: 'contoso', address: 'a@x', type: 'user', recordId: 'u1', emailEnabled: false },
      { deployment: 'contoso', address: 'a@x', type: 'contact', recordId: 'c1', emailEnabled: false },
      { deployment: 'contoso', address: 'b@x', type: 'lead', recordId: 'l1', emailEnabled: true },
      { deployment: 'contoso', address: 'c@x', type: 'user', recordId: 'u2', emailEnabled: true },
      {
        deployment: 'contoso',
        address: 'd@x',
        type: 'contact',
        recordId: 'c2',
        hashHi: 0xf0000000,
        hashLo: 1,
      },
      { deployment: 'fabrikam', address: 'z@x', type: 'contact', recordId: 'f1' },
    ]);
    expect(await Build.countRecordAddresses(db, 'contoso')).toBe(5);
    const unhashed = await Build.unhashedRecordAddresses(db, 'contoso', 10);
    expect(unhashed.map((r) => r.address).sort()).toEqual(['a@x', 'a@x', 'b@x', 'c@x']);
    expect(await Build.unhashedRecordAddresses(db, 'contoso', 2)).toHaveLength(2);
    const hashOf: Record<string, [number, number]> = { 'a@x': [0x10, 5], 'b@x': [0x10, 2], 'c@x': [0x20, 0] };
    await Build.storeRecordHashes(
      db,
      unhashed.map((r) => ({ r: r.r, hi: hashOf[r.address]![0], lo: hashOf[r.address]![1] })),
    );
    expect(await Build.unhashedRecordAddresses(db, 'contoso', 10)).toEqual([]);

    const read = Build.shardKeyReader(db, 'contoso', 2);
    const page1 = keys(await read(-1, 0xffffffff, 0xffffffff));
    // b (0x10, 2: lead, enabled → 3), then a (0x10, 5: user + contact, neither enabled → 1).
    expect(page1).toEqual([`${hex(0x10)}${hex(2)}3`, `${hex(0x10)}${hex(5)}1`]);
    const page2 = keys(await read(0x10, 5, 0xffffffff));
    // c is a user with email enabled (2), d a contact with email enabled (3); d is past the shard end 0xf0000000 below.
    expect(page2).toEqual([`${hex(0x20)}${hex(0)}2`, `${hex(0xf0000000)}${hex(1)}3`]);
    expect(keys(await read(0x10, 5, 0xf0000000))).toEqual([`${hex(0x20)}${hex(0)}2`]);
    expect(await read(0xf0000000, 1, 0xffffffff)).toBe('');
  });

  test('the part row is created once; its lease is exclusive until released or run out', async ({ db }) => {
    const row = await Build.ensurePartRow(db, 'contoso', 50);
    expect([row.dataVersion, row.builtVersion, row.changedAt, row.partKey]).toEqual([1, 0, 50, null]);
    expect((await Build.ensurePartRow(db, 'contoso', 99)).changedAt).toBe(50);
    expect(await Build.takePartLease(db, 'contoso', 1_000, 100)).toBe(1);
    expect(await Build.takePartLease(db, 'contoso', 2_000, 500)).toBeUndefined();
    expect(await Build.takePartLease(db, 'contoso', 3_000, 1_001)).toBe(1);
    await Build.releasePartLease(db, 'contoso');
    expect(await Build.takePartLease(db, 'contoso', 4_000, 1_002)).toBe(1);
    expect(await Build.takePartLease(db, 'nobody', 4_000, 1)).toBeUndefined();
  });

  test('a finished build forgets the dirty buckets of its version, not newer ones', async ({ db }) => {
    await Build.ensurePartRow(db, 'contoso', 1);
    await db.insert(snapshotDirty).values([
      { deployment: 'contoso', bucket: 3, version: 1 },
      { deployment: 'contoso', bucket: -1, version: 2 },
      { deployment: 'contoso', bucket: 9, version: 3 },
      { deployment: 'fabrikam', bucket: 4, version: 1 },
    ]);
    expect((await Build.dirtyBuckets(db, 'contoso', 2)).sort()).toEqual([-1, 3]);
    await Build.recordPartBuilt(db, 'contoso', 2, {
      builtAt: 7,
      shardBits: 1,
      shards: [{ key: 'k0', keys: 1 }],
      partKey: 'part-2',
      partHash: 'h',
      partBytes: 10,
      buildMs: 3,
    });
    expect(await Build.dirtyBuckets(db, 'contoso', 99)).toEqual([9]);
    expect(await Build.dirtyBuckets(db, 'fabrikam', 99)).toEqual([4]);
    const [part] = await Build.partRowsOf(db, ['contoso', 'fabrikam']);
    expect([part?.deployment, part?.builtVersion, part?.partKey, part?.buildingUntil, part?.shards]).toEqual([
      'contoso',
      2,
      'part-2',
      0,
      [{ key: 'k0', keys: 1 }],
    ]);
    expect(await Build.partRowsOf(db, [])).toEqual([]);
  });

  test('outbound pages run newest first, ties broken by Message-ID, without skipping or repeating', async ({
    db,
  }) => {
    const rows = [5, 5, 5, 4, 3].map((createdAt, i) => ({
      deployment: 'contoso',
      messageId: `<m${i}>`,
      userId: 'u',
      trackingToken: `t${i}`,
      createdAt,
    }));
    await db.insert(outbound).values([...rows, { ...rows[0]!, deployment: 'fabrikam', createdAt: 9 }]);
    const seen: string[] = [];
    let after: { createdAt: number; messageId: string } | undefined;
    for (;;) {
      const page = await Build.outboundPage(db, 'contoso', after, 2);
      seen.push(...page.map((p) => p.messageId));
      if (page.length < 2) break;
      after = page[page.length - 1]!;
    }
    expect(seen).toEqual(['<m2>', '<m1>', '<m0>', '<m3>', '<m4>']);
  });

  test('suppressions, snapshot version bumps and the published snapshot record', async ({ db }) => {
    await db.insert(suppressions).values([
      { deployment: 'contoso', entry: '@spam.test' },
      { deployment: 'fabrikam', entry: 'x@y.test' },
    ]);
    expect(await Build.suppressionEntries(db, 'contoso')).toEqual(['@spam.test']);
    const before = (await findRegion(db, 'us'))!;
    await Build.bumpSnapshotVersions(db, ['us']);
    await Build.bumpSnapshotVersions(db, []);
    expect(await Build.regionConfigVersion(db, 'us')).toBe(before.configVersion + 1);
    expect(await Build.regionConfigVersion(db, 'eu')).toBe(before.configVersion);
    expect((await findRegion(db, 'us'))?.updatedAt).toBe(before.updatedAt);
    expect(await Build.regionConfigVersion(db, 'nowhere')).toBeUndefined();
    await Build.recordPublished(db, 'us', {
      publishedKey: 'k',
      publishedEtag: 'e',
      publishedVersion: 3,
      publishedBytes: 12,
    });
    const us = await findRegion(db, 'us');
    expect([us?.publishedKey, us?.publishedEtag, us?.publishedVersion, us?.publishedBytes]).toEqual([
      'k',
      'e',
      3,
      12,
    ]);
  });
});
