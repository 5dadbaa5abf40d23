// One drizzle instance per D1 binding (src/db/client.ts): central's requests share it instead of
// building one each (which walked the whole schema every time), and it still reads and writes D1.
import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { describe, expect, test } from 'vitest';
import { createDb } from '../../src/db/client.js';

describe('createDb', () => {
  test('the same binding gets the same instance, another binding its own, and both work', async () => {
    const db = createDb(env.DB);
    expect(createDb(env.DB)).toBe(db);
    // Another binding object (as another environment would hand over) is not served the first one's.
    const other = Object.create(env.DB) as D1Database;
    expect(createDb(other)).not.toBe(db);
    const [row] = await db.all<{ n: number }>(sql`select 1 + 1 as n`);
    expect(row?.n).toBe(2);
    expect(db.query.activities).toBeDefined();
  });
});
