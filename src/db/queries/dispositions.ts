import { and, desc, eq, type SQL } from 'drizzle-orm';
import type { Db } from '../client.js';
import { dispositions } from '../schema.js';

export function queryDispositions(
  db: Db,
  q: { messageIdHash?: string; region?: string; reason?: string; deployment?: string; limit: number },
) {
  const where: SQL[] = [];
  if (q.messageIdHash) where.push(eq(dispositions.messageIdHash, q.messageIdHash));
  if (q.region) where.push(eq(dispositions.region, q.region));
  if (q.reason) where.push(eq(dispositions.reason, q.reason));
  if (q.deployment) where.push(eq(dispositions.deployment, q.deployment));
  return db
    .select()
    .from(dispositions)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(dispositions.at))
    .limit(q.limit)
    .all();
}
