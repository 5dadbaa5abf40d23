import { and, eq, inArray, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { Db } from '../client.js';
import { recordEmails, records, suppressions } from '../schema.js';

export interface RecordInput {
  type: string;
  id: string;
  name?: string;
  emails: string[];
  emailEnabled: boolean;
}

/**
 * Upserts one chunk of records in a single D1 batch (all-or-nothing). Returns how many were new.
 * Each statement binds fewer than 100 parameters.
 */
export async function upsertRecordChunk(db: Db, deployment: string, chunk: RecordInput[]) {
  if (!chunk.length) return { created: 0, updated: 0 };
  const keys = chunk.map((r) => `${r.type}\0${r.id}`);
  const existing = new Set<string>();
  for (let i = 0; i < chunk.length; i += 45) {
    const part = chunk.slice(i, i + 45);
    const rows = await db
      .select({ type: records.type, id: records.id })
      .from(records)
      .where(and(eq(records.deployment, deployment), inArray(records.id, part.map((r) => r.id))))
      .all();
    for (const r of rows) existing.add(`${r.type}\0${r.id}`);
  }
  const statements: BatchItem<'sqlite'>[] = [];
  const now = Date.now();
  for (let i = 0; i < chunk.length; i += 14) {
    const part = chunk.slice(i, i + 14);
    statements.push(
      db
        .insert(records)
        .values(
          part.map((r) => ({
            deployment,
            type: r.type,
            id: r.id,
            name: r.name ?? null,
            emails: r.emails,
            emailEnabled: r.emailEnabled,
            updatedAt: now,
          })),
        )
        .onConflictDoUpdate({
          target: [records.deployment, records.type, records.id],
          set: {
            name: sql`excluded.name`,
            emails: sql`excluded.emails`,
            emailEnabled: sql`excluded.email_enabled`,
            updatedAt: sql`excluded.updated_at`,
          },
        }),
    );
    for (const r of part)
      statements.push(
        db
          .delete(recordEmails)
          .where(and(eq(recordEmails.deployment, deployment), eq(recordEmails.type, r.type), eq(recordEmails.recordId, r.id))),
      );
  }
  const emailRows = chunk.flatMap((r) =>
    [...new Set(r.emails)].map((address) => ({
      deployment,
      address,
      type: r.type,
      recordId: r.id,
      emailEnabled: r.emailEnabled,
    })),
  );
  for (let i = 0; i < emailRows.length; i += 19) statements.push(db.insert(recordEmails).values(emailRows.slice(i, i + 19)));
  await db.batch(statements as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]);
  const created = keys.filter((k) => !existing.has(k)).length;
  return { created, updated: chunk.length - created };
}

export async function addSuppressions(db: Db, deployment: string, entries: string[]) {
  const unique = [...new Set(entries)];
  let added = 0;
  for (let i = 0; i < unique.length; i += 40) {
    const rows = await db
      .insert(suppressions)
      .values(unique.slice(i, i + 40).map((entry) => ({ deployment, entry })))
      .onConflictDoNothing()
      .returning({ entry: suppressions.entry });
    added += rows.length;
  }
  return { added, unchanged: unique.length - added };
}
