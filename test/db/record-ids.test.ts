// activeRecordIdsAfter (src/db/queries/records.ts) against a migrated D1: the ids a connector whose
// CRM keeps no deletion log (Tryton) compares with the CRM's, page by page.
import { describe, expect } from 'vitest';
import { activeRecordIdsAfter, removeRecords, upsertRecordChunk } from '../../src/db/queries/records.js';
import { dbTest as test } from './fixtures.js';

const HASH_KEY = '00112233445566778899aabbccddeeff';

describe('record ids for deletion checks', () => {
  test('pages one deployment’s active records of one type in id order', async ({ db }) => {
    const contact = (id: string) => ({
      type: 'contact',
      id,
      emails: [`p${id}@x.example`],
      emailEnabled: true,
    });
    await upsertRecordChunk(db, 'contoso', ['12', '3', '7', '40'].map(contact), HASH_KEY);
    await upsertRecordChunk(db, 'contoso', [{ ...contact('5'), type: 'account' }], HASH_KEY);
    await upsertRecordChunk(db, 'fabrikam', [contact('1')], HASH_KEY);
    await removeRecords(db, 'contoso', [{ type: 'contact', id: '7' }], { deactivate: true, chunk: 10 });
    expect(await activeRecordIdsAfter(db, 'contoso', 'contact', undefined, 2)).toEqual(['12', '3']);
    expect(await activeRecordIdsAfter(db, 'contoso', 'contact', '3', 2)).toEqual(['40']);
    expect(await activeRecordIdsAfter(db, 'contoso', 'account', undefined, 10)).toEqual(['5']);
  });
});
