// Reads of activities and disposition receipts, for the API and the dashboard.
import { keyedHash, normaliseMessageId } from '../../core/keyed-hash.js';
import type { Db } from '../../db/client.js';
import { getHashKey } from './hash-key.js';

export { activityChanges, findActivity, queryActivities } from '../../db/queries/activities.js';
export { mailboxRegions, recordNames } from '../../db/queries/dashboard.js';
export { queryDispositions } from '../../db/queries/dispositions.js';

/** The keyed hash receipts carry of a Message-ID (design §5: receipts never hold the id itself). */
export async function messageIdHashOf(db: Db, messageId: string): Promise<string> {
  return keyedHash(await getHashKey(db), normaliseMessageId(messageId));
}
