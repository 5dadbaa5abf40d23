// The routes CSV that `crm-router routes export` writes (formatCsvExportField: a cell a spreadsheet
// would evaluate starts with `'`) reads back as the same routes when it is imported again.
import { describe, expect, test } from 'vitest';
import { formatCsvExportField } from '../../src/core/csv.js';
import { api, freshBasics } from './helpers.js';

describe('routes CSV: export → import round trip', () => {
  test('guarded cells (a leading apostrophe before =, +, -, @ or another apostrophe) import as their values', async () => {
    await freshBasics();
    const routes = [
      { address: '-sales@contoso.example', userId: '=HYPERLINK("http://evil.example")' },
      { address: '+crm@contoso.example', userId: "'quoted" },
      { address: "o'brien@contoso.example", userId: '@u3' },
    ];
    const text = [
      'address,region,deployment,userId,filter',
      ...routes.map((r) => [r.address, 'eu', 'contoso', r.userId, 'all'].map(formatCsvExportField).join(',')),
    ].join('\r\n');
    expect(text).toContain(`'-sales@contoso.example,eu,contoso,"'=HYPERLINK(""http://evil.example"")"`);
    const res = await api('POST', '/api/v1/mailboxes', { raw: text, type: 'text/csv' });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    for (const r of routes) {
      const got = await api('GET', `/api/v1/mailboxes/${encodeURIComponent(r.address)}`);
      expect(got.status, r.address).toBe(200);
      expect(got.json).toMatchObject({ address: r.address, userId: r.userId, region: 'eu' });
    }
  });

  test('a hand-written apostrophe before a letter is part of the value', async () => {
    await freshBasics();
    const text = "address,region,deployment,userId\r\nann@contoso.example,eu,contoso,'u1\r\n";
    expect((await api('POST', '/api/v1/mailboxes', { raw: text, type: 'text/csv' })).status).toBe(200);
    expect((await api('GET', '/api/v1/mailboxes/ann@contoso.example')).json.userId).toBe("'u1");
  });
});
