import { desc, eq, inArray } from 'drizzle-orm';
import { keyedHash } from '../core/keyed-hash.js';
import { buildSnapshot, encodeSnapshot, type SnapshotInput } from '../core/snapshot.js';
import type { AttachmentPolicy, EgressPolicy, FilterMode, RecordType } from '../core/types.js';
import type { Db } from '../db/client.js';
import { deployments, mailboxes, outbound, recordEmails, regions, suppressions } from '../db/schema.js';
import { type ForwardingKeys, snapshotForwarding } from './forwarding.js';
import { getHashKey } from './hash-key.js';

export interface PublishedSnapshot {
  region: string;
  version: number;
  etag: string;
  bytes: Uint8Array;
  /** keyed hash → mailbox address, to name the mailbox of a receipt at central. */
  mailboxByHash: Map<string, string>;
}

const cache = new Map<string, PublishedSnapshot>();
/** Outbound registrations per deployment in a snapshot (newest first); older ones correlate only by token. */
export const OUTBOUND_WINDOW = 200_000;

/**
 * The region's current snapshot. Built lazily when the region's config version moved on since the
 * cached build, so a burst of admin changes costs one build (the debounce).
 */
export async function getRegionSnapshot(
  db: Db,
  regionId: string,
  keys: ForwardingKeys,
): Promise<PublishedSnapshot | undefined> {
  const region = await db.select().from(regions).where(eq(regions.id, regionId)).get();
  if (!region) return undefined;
  const hit = cache.get(regionId);
  if (hit && hit.version === region.configVersion) return hit;
  const hashKey = await getHashKey(db);
  const routed = await db.select().from(mailboxes).where(eq(mailboxes.region, regionId)).all();
  const deploymentIds = [...new Set(routed.map((m) => m.deployment))];
  const deps = deploymentIds.length
    ? await db.select().from(deployments).where(inArray(deployments.id, deploymentIds)).all()
    : [];
  const input: SnapshotInput = {
    region: regionId,
    version: region.configVersion,
    builtAt: Date.now(),
    hashKey,
    rulesEnabled: region.rulesEnabled,
    egress: region.egress as EgressPolicy,
    mailboxes: routed.map((m) => ({
      address: m.address,
      deployment: m.deployment,
      userId: m.userId,
      filter: m.filter as FilterMode,
    })),
    forwarding: await snapshotForwarding(db, keys, regionId),
    deployments: [],
  };
  for (const d of deps) {
    const [supp, recs, outs] = await Promise.all([
      db.select().from(suppressions).where(eq(suppressions.deployment, d.id)).all(),
      db
        .select({
          address: recordEmails.address,
          type: recordEmails.type,
          emailEnabled: recordEmails.emailEnabled,
        })
        .from(recordEmails)
        .where(eq(recordEmails.deployment, d.id))
        .all(),
      db
        .select({
          messageId: outbound.messageId,
          threadIndex: outbound.threadIndex,
          subject: outbound.subject,
          to: outbound.to,
        })
        .from(outbound)
        .where(eq(outbound.deployment, d.id))
        // Newest first: past the cap, the oldest registrations stop correlating, never the recent ones.
        .orderBy(desc(outbound.createdAt))
        .limit(OUTBOUND_WINDOW)
        .all(),
    ]);
    input.deployments.push({
      id: d.id,
      token: {
        prefix: d.tokenPrefix,
        deploymentBase: d.tokenBase,
        userDigits: d.tokenUserDigits,
        counterDigits: d.tokenCounterDigits,
      },
      maxMessageBytes: d.maxMessageBytes,
      attachmentPolicy: d.attachmentPolicy as AttachmentPolicy,
      smartMatch: d.smartMatch,
      suppressions: supp.map((s) => s.entry),
      records: recs.map((r) => ({
        address: r.address,
        type: r.type as RecordType,
        emailEnabled: r.emailEnabled,
      })),
      outbound: outs.map((o) => ({
        messageId: o.messageId,
        threadIndex: o.threadIndex ?? undefined,
        subject: o.subject ?? undefined,
        to: o.to ?? undefined,
      })),
    });
  }
  const snapshot = buildSnapshot(input);
  const published: PublishedSnapshot = {
    region: regionId,
    version: snapshot.version,
    etag: snapshot.etag,
    bytes: encodeSnapshot(snapshot),
    mailboxByHash: new Map(routed.map((m) => [keyedHash(hashKey, m.address), m.address])),
  };
  cache.set(regionId, published);
  return published;
}
