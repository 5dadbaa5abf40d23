import { and, eq } from 'drizzle-orm';
import type { Db } from '../client.js';
import { outbound } from '../schema.js';

export function findOutbound(db: Db, deployment: string, messageId: string) {
  return db
    .select()
    .from(outbound)
    .where(and(eq(outbound.deployment, deployment), eq(outbound.messageId, messageId)))
    .get();
}

/**
 * Issues the user's next tracking-token numbers in one transaction: allocates the user a number
 * (the next free one of the deployment) on first use, then advances the counter in a single
 * `UPDATE … RETURNING`, so concurrent calls can never read the same counter. The counter wraps to
 * 1 after `maxCounter`, as core `nextCounter` does. Returns undefined when the deployment has no
 * free user number below `maxUserNumber + 1` for a new user.
 */
export async function issueCounter(
  db: Db,
  deployment: string,
  userId: string,
  maxUserNumber: number,
  maxCounter: number,
): Promise<{ userNumber: number; counter: number } | undefined> {
  const d1 = db.$client;
  const [, issued] = await d1.batch<{ userNumber: number; counter: number }>([
    d1
      .prepare(
        `insert into user_counters (deployment, user_id, user_number, counter)
         select ?1, ?2, coalesce(max(user_number), 0) + 1, 0 from user_counters where deployment = ?1
         having coalesce(max(user_number), 0) + 1 <= ?3
         on conflict (deployment, user_id) do nothing`,
      )
      .bind(deployment, userId, maxUserNumber),
    d1
      .prepare(
        `update user_counters
         set counter = case when counter < 1 or counter >= ?3 then 1 else counter + 1 end
         where deployment = ?1 and user_id = ?2
         returning user_number as userNumber, counter`,
      )
      .bind(deployment, userId, maxCounter),
  ]);
  return issued?.results[0];
}

/** Registers an outbound message; returns false when the Message-ID was registered already. */
export async function insertOutbound(db: Db, row: typeof outbound.$inferInsert): Promise<boolean> {
  const rows = await db
    .insert(outbound)
    .values(row)
    .onConflictDoNothing()
    .returning({ messageId: outbound.messageId });
  return rows.length > 0;
}
