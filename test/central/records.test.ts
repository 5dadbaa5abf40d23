import { env } from 'cloudflare:test';
import { beforeEach, describe, expect, test } from 'vitest';
import {
  api,
  edgeSnapshot,
  expectError,
  expectInvalidField,
  freshBasics,
  mintToken,
  routeMailboxes,
  snapshotHasRecord,
  suppress,
} from './helpers.js';

const CSV_HEADER = 'type,id,name,emails,emailEnabled\r\n';

/** The answer of a records import: one landed chunk, nothing written or refused, unless `counts` says otherwise. */
const importResult = (counts: Record<string, unknown>) => ({
  created: 0,
  updated: 0,
  rejected: 0,
  chunks: 1,
  landedChunks: 1,
  errors: [],
  dryRun: false,
  ...counts,
});

/** POST /api/v1/deployments/contoso/records as admin with a JSON body of records (and a query string). */
const postRecords = (records: unknown[], query = '') =>
  api('POST', `/api/v1/deployments/contoso/records${query}`, { body: { records } });

async function recordCount(deployment: string): Promise<number> {
  const row = await env.DB.prepare('select count(*) as n from records where deployment = ?')
    .bind(deployment)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/**
 * Asserts an import refused as a whole: a 400 validation_failed whose message names the first
 * error, every invalid row listed, and nothing written.
 */
async function expectRefusedImport(
  res: { status: number; json: unknown },
  message: string,
  errors: unknown[],
) {
  expect(res.status).toBe(400);
  expect(res.json).toEqual({
    error: { code: 'validation_failed', message, requestId: expect.any(String) },
    created: 0,
    updated: 0,
    rejected: errors.length,
    chunks: 1,
    landedChunks: 0,
    errors,
  });
  expect(await recordCount('contoso')).toBe(0);
}

describe('POST /api/v1/deployments/:id/records (JSON)', () => {
  beforeEach(freshBasics);

  test('creates records, then counts a re-send as updates', async () => {
    const body = {
      records: [
        { type: 'contact', id: 'c-1', name: 'Ann', emails: ['Ann@Example.com'] },
        {
          type: 'account',
          id: 'a-1',
          emails: ['sales@example.com', 'info@example.com'],
          emailEnabled: false,
        },
      ],
    };
    const first = await api('POST', '/api/v1/deployments/contoso/records', { body });
    expect(first.status).toBe(200);
    expect(first.json).toEqual(importResult({ created: 2 }));
    const again = await api('POST', '/api/v1/deployments/contoso/records', { body });
    expect(again.json).toEqual(importResult({ updated: 2 }));
    const list = await api('GET', '/api/v1/deployments/contoso/records');
    expect(list.status).toBe(200);
    expect(list.json.counts).toEqual({ user: 0, contact: 1, account: 1, lead: 0, total: 2 });
    expect(list.json.items).toEqual([
      {
        type: 'account',
        id: 'a-1',
        name: null,
        emails: ['sales@example.com', 'info@example.com'],
        emailEnabled: false,
        active: true,
        updatedAt: expect.any(Number),
      },
      {
        type: 'contact',
        id: 'c-1',
        name: 'Ann',
        emails: ['ann@example.com'],
        emailEnabled: true,
        active: true,
        updatedAt: expect.any(Number),
      },
    ]);
  });

  test('an update replaces the addresses used for party resolution', async () => {
    await postRecords([{ type: 'lead', id: 'l-1', emails: ['old@example.com'] }]);
    await postRecords([{ type: 'lead', id: 'l-1', emails: ['new@example.com'] }]);
    const rows = await env.DB.prepare(
      "select address from record_emails where deployment = 'contoso' and record_id = 'l-1'",
    ).all();
    expect(rows.results).toEqual([{ address: 'new@example.com' }]);
  });

  test('a bad address makes the whole request a 400 naming the row and field, and nothing is written', async () => {
    const res = await postRecords([
      { type: 'contact', id: 'c-1', emails: ['ok@example.com'] },
      { type: 'contact', id: 'c-2', emails: ['ok2@example.com', 'not-an-address'] },
      { type: 'robot', id: 'r-1', emails: [] },
    ]);
    await expectRefusedImport(
      res,
      'records.1, emails: "not-an-address" is not an e-mail address (and 1 more invalid row); nothing was written',
      [
        { index: 1, field: 'emails', message: '"not-an-address" is not an e-mail address' },
        { index: 2, field: 'type', message: '"robot" is not one of user, contact, account, lead' },
      ],
    );
  });

  test('a duplicate type and id within one request is a 400 naming both rows', async () => {
    const res = await postRecords([
      { type: 'contact', id: 'c-1', emails: [] },
      { type: 'account', id: 'c-1', emails: [] },
      { type: 'contact', id: 'c-1', emails: ['x@example.com'] },
    ]);
    expect(res.status).toBe(400);
    expect(res.json.errors).toEqual([
      { index: 2, field: 'id', message: 'duplicate of records.0 (contact c-1)' },
    ]);
    expect(await recordCount('contoso')).toBe(0);
  });

  test('onInvalid=skip writes the valid rows and lists the skipped ones', async () => {
    const res = await postRecords(
      [
        { type: 'contact', id: 'c-1', emails: ['ok@example.com'] },
        { type: 'contact', id: 'c-2', emails: ['bad@'] },
      ],
      '?onInvalid=skip',
    );
    expect(res.status).toBe(200);
    expect(res.json).toEqual(
      importResult({
        created: 1,
        rejected: 1,
        errors: [{ index: 1, field: 'emails', message: '"bad@" is not an e-mail address' }],
      }),
    );
    expect(await recordCount('contoso')).toBe(1);
  });

  test('dryRun=true validates without writing', async () => {
    const res = await postRecords(
      [{ type: 'contact', id: 'c-1', emails: ['ok@example.com'] }],
      '?dryRun=true',
    );
    expect(res.json).toEqual(importResult({ landedChunks: 0, dryRun: true }));
    expect(await recordCount('contoso')).toBe(0);
  });

  test('a body without a records array is a 400 naming records', async () => {
    const res = await api('POST', '/api/v1/deployments/contoso/records', { body: { recs: [] } });
    expectError(res, 400, 'validation_failed', 'records: expected an array of records');
  });

  test('an empty records array is a 400', async () => {
    const res = await postRecords([]);
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe('records: no records in the request');
  });

  test('a body that is neither JSON nor CSV is a 415', async () => {
    const res = await api('POST', '/api/v1/deployments/contoso/records', {
      raw: 'hello',
      type: 'text/plain',
    });
    expect(res.status).toBe(415);
    expect(res.json.error.code).toBe('unsupported_media_type');
  });

  test('an unknown deployment is a 404', async () => {
    const res = await api('POST', '/api/v1/deployments/nowhere/records', {
      body: { records: [{ type: 'contact', id: 'c-1', emails: [] }] },
    });
    expectError(res, 404, 'not_found', 'deployment nowhere does not exist');
  });

  test("written records reach the snapshot of regions that route the deployment's mailboxes, not others", async () => {
    await routeMailboxes(['ann@contoso.example', 'eu', 'contoso', 'u-ann']);
    const before = await edgeSnapshot('eu');
    const us = await edgeSnapshot('us');
    await postRecords([{ type: 'contact', id: 'c-1', emails: ['X@Example.com'] }]);
    const after = await edgeSnapshot('eu');
    expect(after.version).toBeGreaterThan(before.version);
    expect(snapshotHasRecord(before, 'contoso', 'x@example.com')).toBe(false);
    expect(snapshotHasRecord(after, 'contoso', 'x@example.com')).toBe(true);
    expect((await edgeSnapshot('us')).etag).toBe(us.etag);
  });

  test('1,201 records are written in three chunks of at most 500', async () => {
    const records = Array.from({ length: 1201 }, (_, i) => ({
      type: 'contact',
      id: `c-${i}`,
      emails: [`c${i}@example.com`],
    }));
    const res = await api('POST', '/api/v1/deployments/contoso/records', { body: { records } });
    expect(res.json).toEqual(importResult({ created: 1201, chunks: 3, landedChunks: 3 }));
    expect(await recordCount('contoso')).toBe(1201);
  });

  test("another deployment's token gets 403 and writes nothing", async () => {
    const token = await mintToken('deployment:fabrikam');
    const res = await api('POST', '/api/v1/deployments/contoso/records', {
      token,
      body: { records: [{ type: 'contact', id: 'c-1', emails: [] }] },
    });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('forbidden');
    expect(await recordCount('contoso')).toBe(0);
    expect((await api('GET', '/api/v1/deployments/contoso/records', { token })).status).toBe(403);
  });

  test("a deployment's own token may import records", async () => {
    const token = await mintToken('deployment:contoso');
    const res = await api('POST', '/api/v1/deployments/contoso/records', {
      token,
      body: { records: [{ type: 'user', id: 'u-1', emails: ['u1@contoso.example'] }] },
    });
    expect(res.status).toBe(200);
    expect(res.json.created).toBe(1);
  });
});

describe('POST /api/v1/deployments/:id/records (CSV)', () => {
  beforeEach(freshBasics);

  const postCsv = (csv: string, query = '') =>
    api('POST', `/api/v1/deployments/contoso/records${query}`, { raw: csv, type: 'text/csv; charset=utf-8' });

  test('imports rows with quoted fields, several addresses and optional columns', async () => {
    const csv = `${CSV_HEADER}contact,c-1,"Smith, Ann",ann@example.com; ann.smith@example.com,true\r\nAccount,a-1,,"sales@example.com",no\r\nlead,l-1,"Bob ""B"" Jones",,\r\n`;
    const res = await postCsv(csv);
    expect(res.status).toBe(200);
    expect(res.json).toEqual(importResult({ created: 3 }));
    const list = await api('GET', '/api/v1/deployments/contoso/records');
    expect(
      list.json.items.map(({ updatedAt: _u, active: _a, ...r }: { updatedAt: number; active: boolean }) => r),
    ).toEqual([
      { type: 'account', id: 'a-1', name: null, emails: ['sales@example.com'], emailEnabled: false },
      {
        type: 'contact',
        id: 'c-1',
        name: 'Smith, Ann',
        emails: ['ann@example.com', 'ann.smith@example.com'],
        emailEnabled: true,
      },
      { type: 'lead', id: 'l-1', name: 'Bob "B" Jones', emails: [], emailEnabled: true },
    ]);
  });

  test('columns may come in any order and emailEnabled may be left out', async () => {
    const res = await postCsv('emails,id,type\nx@example.com,c-9,contact\n');
    expect(res.json.created).toBe(1);
  });

  test('invalid rows make a 400 that names each line and field, and nothing is written', async () => {
    const csv = `${CSV_HEADER}contact,c-1,Ann,ann@example.com,true\r\nrobot,r-1,,,\r\ncontact,c-2,,"bad address",true\r\ncontact,c-1,Dup,dup@example.com,true\r\ncontact,c-3,,c3@example.com,maybe\r\ncontact,c-4\r\n`;
    const res = await postCsv(csv);
    await expectRefusedImport(
      res,
      'line 3, type: "robot" is not one of user, contact, account, lead (and 4 more invalid rows); nothing was written',
      [
        { line: 3, field: 'type', message: '"robot" is not one of user, contact, account, lead' },
        { line: 4, field: 'emails', message: '"bad address" is not an e-mail address' },
        { line: 5, field: 'id', message: 'duplicate of line 2 (contact c-1)' },
        { line: 6, field: 'emailEnabled', message: '"maybe" is not true/false/yes/no/1/0' },
        { line: 7, field: '(row)', message: 'expected 5 fields as in the header, found 2' },
      ],
    );
  });

  test('a line number counts the line breaks inside quoted fields', async () => {
    const res = await postCsv(`${CSV_HEADER}contact,c-1,"two\nlines",a@example.com,\ncontact,c-2,,nope,\n`);
    expect(res.json.errors).toEqual([
      { line: 4, field: 'emails', message: '"nope" is not an e-mail address' },
    ]);
  });

  test('an unknown column is a 400 naming line 1', async () => {
    const res = await postCsv('type,id,phone\ncontact,c-1,123\n');
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe(
      'line 1, header: unknown column "phone" (expected type,id,name,emails,emailEnabled)',
    );
  });

  test('a missing required column is a 400', async () => {
    const res = await postCsv('type,id\ncontact,c-1\n');
    expect(res.json.error.message).toBe('line 1, header: missing column "emails"');
  });

  test('an unterminated quote is a 400 naming the line', async () => {
    const res = await postCsv(`${CSV_HEADER}contact,c-1,"never closed,a@example.com,\n`);
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe('line 2, csv: a quoted field is not closed (missing ")');
  });

  test('a field over 1 MB is a 400 naming the line', async () => {
    const res = await postCsv(`${CSV_HEADER}contact,c-1,${'n'.repeat(1024 * 1024 + 1)},a@example.com,\n`);
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe('line 2, csv: field is larger than 1048576 bytes');
  });

  test('a header-only file is a 400', async () => {
    const res = await postCsv(CSV_HEADER);
    expect(res.json.error.message).toBe('records: no records in the request');
  });

  test('onInvalid=skip imports the good lines of a CSV and lists the bad ones', async () => {
    const res = await postCsv(
      `${CSV_HEADER}contact,c-1,,a@example.com,\ncontact,c-2,,nope,\n`,
      '?onInvalid=skip',
    );
    expect(res.json).toEqual(
      importResult({
        created: 1,
        rejected: 1,
        errors: [{ line: 3, field: 'emails', message: '"nope" is not an e-mail address' }],
      }),
    );
  });

  test('10,000 CSV rows import in one call', async () => {
    const lines = Array.from(
      { length: 10_000 },
      (_, i) => `contact,c-${i},Contact ${i},c${i}@example.com;alt${i}@example.com,true`,
    );
    const res = await postCsv(`${CSV_HEADER}${lines.join('\r\n')}\r\n`);
    expect(res.json).toEqual(importResult({ created: 10_000, chunks: 20, landedChunks: 20 }));
    expect(await recordCount('contoso')).toBe(10_000);
    const emails = await env.DB.prepare(
      "select count(*) as n from record_emails where deployment = 'contoso'",
    ).first<{ n: number }>();
    expect(emails?.n).toBe(20_000);
  });
});

describe('GET /api/v1/deployments/:id/records', () => {
  beforeEach(async () => {
    await freshBasics();
    await postRecords([
      { type: 'contact', id: 'c-1', name: 'Ann Smith', emails: ['ann@example.com'] },
      { type: 'contact', id: 'c-2', name: 'Bob', emails: ['bob@other.example'] },
      { type: 'lead', id: 'l-1', name: 'Carol', emails: ['carol@example.com'] },
    ]);
  });

  test('filters by type and searches ids, names and addresses', async () => {
    const byType = await api('GET', '/api/v1/deployments/contoso/records?type=lead');
    expect(byType.json.items.map((r: { id: string }) => r.id)).toEqual(['l-1']);
    expect(byType.json.counts).toEqual({ user: 0, contact: 2, account: 0, lead: 1, total: 3 });
    const byName = await api('GET', '/api/v1/deployments/contoso/records?q=smith');
    expect(byName.json.items.map((r: { id: string }) => r.id)).toEqual(['c-1']);
    const byAddress = await api('GET', '/api/v1/deployments/contoso/records?q=other.example');
    expect(byAddress.json.items.map((r: { id: string }) => r.id)).toEqual(['c-2']);
    const limited = await api('GET', '/api/v1/deployments/contoso/records?limit=1');
    expect(limited.json.items).toHaveLength(1);
  });

  test('an unknown type is a 400 naming type', async () => {
    const res = await api('GET', '/api/v1/deployments/contoso/records?type=robot');
    expectInvalidField(res, 'type');
  });
});

describe('suppressions', () => {
  beforeEach(freshBasics);

  test('entries can be added, listed and removed one by one', async () => {
    const add = await api('POST', '/api/v1/deployments/contoso/suppressions', {
      body: { entries: ['Noreply@Example.com', '@spam.example', '@spam.example'] },
    });
    expect(add.json).toEqual({ added: 2, unchanged: 0 });
    const list = await api('GET', '/api/v1/deployments/contoso/suppressions');
    expect(list.json).toEqual({
      items: [
        { entry: '@spam.example', createdAt: expect.any(Number) },
        { entry: 'noreply@example.com', createdAt: expect.any(Number) },
      ],
    });
    const del = await api(
      'DELETE',
      `/api/v1/deployments/contoso/suppressions/${encodeURIComponent('@spam.example')}`,
    );
    expect(del.status).toBe(200);
    expect(del.json).toEqual({ deleted: '@spam.example' });
    const after = await api('GET', '/api/v1/deployments/contoso/suppressions');
    expect(after.json.items.map((i: { entry: string }) => i.entry)).toEqual(['noreply@example.com']);
  });

  test('removing an entry that is not there is a 404', async () => {
    const res = await api('DELETE', '/api/v1/deployments/contoso/suppressions/nobody%40example.com');
    expect(res.status).toBe(404);
    expect(res.json.error.message).toBe('nobody@example.com is not on the suppression list of contoso');
  });

  test('an entry that is neither an address nor a domain is a 400 naming entries', async () => {
    const res = await api('POST', '/api/v1/deployments/contoso/suppressions', {
      body: { entries: ['not an entry'] },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/^entries\.0: /);
  });

  test('changing suppressions reaches the snapshot of regions serving the deployment', async () => {
    await routeMailboxes(['ann@contoso.example', 'us', 'contoso', 'u-ann']);
    const before = await edgeSnapshot('us');
    await suppress('contoso', ['@spam.example']);
    const added = await edgeSnapshot('us');
    expect(added.version).toBeGreaterThan(before.version);
    expect(added.deployments.contoso?.suppressedDomains).toHaveLength(
      (before.deployments.contoso?.suppressedDomains.length ?? 0) + 1,
    );
    await api('DELETE', '/api/v1/deployments/contoso/suppressions/%40spam.example');
    const removed = await edgeSnapshot('us');
    expect(removed.version).toBeGreaterThan(added.version);
    expect(removed.deployments.contoso?.suppressedDomains).toEqual(
      before.deployments.contoso?.suppressedDomains,
    );
  });

  test("another deployment's token can neither read nor change the list", async () => {
    await suppress('contoso', ['@spam.example']);
    const token = await mintToken('deployment:fabrikam');
    expect((await api('GET', '/api/v1/deployments/contoso/suppressions', { token })).status).toBe(403);
    const del = await api('DELETE', '/api/v1/deployments/contoso/suppressions/%40spam.example', { token });
    expect(del.status).toBe(403);
    const add = await api('POST', '/api/v1/deployments/contoso/suppressions', {
      token,
      body: { entries: ['x@y.example'] },
    });
    expect(add.status).toBe(403);
    const list = await api('GET', '/api/v1/deployments/contoso/suppressions');
    expect(list.json.items.map((i: { entry: string }) => i.entry)).toEqual(['@spam.example']);
  });
});
