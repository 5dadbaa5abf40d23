// Snapshot push (docs/decisions.md, "Snapshot push"): once a region's snapshot version moved on — a
// deployment's part was rebuilt, or the region's routes changed — central tells that region's edge,
// at the URL its heartbeat reported, with a signed `POST /api/v1/edge/snapshot-changed`; the edge
// then fetches the snapshot as it would on a poll. A notice that fails is only logged: the edge's own
// refreshes (cron, ingest answers, max age) still bring the change, later.

import { headerBytes, requestLineBytes, STATUS_LINE_BYTES } from '../../core/http-bytes.js';
import {
  deriveEdgeCredentials,
  SNAPSHOT_NOTICE_PATH,
  signSnapshotNotice,
} from '../../core/request-signature.js';
import type { Db } from '../../db/client.js';
import { findRegion } from '../../db/queries/regions.js';
import { readCentralConfig } from '../config.js';
import type { CentralBindings } from '../context.js';
import { recordCrossRegionBytes } from '../services/stats.js';

/** How long central waits for an edge to take a notice (the edge answers before it fetches). */
const NOTICE_TIMEOUT_MS = 5_000;

export type NoticeOutcome =
  | { region: string; status: 'sent'; version: number; answer: number }
  | { region: string; status: 'no-edge-url' | 'failed'; detail?: string };

/** Whether central pushes notices and kicks rebuilds (`SNAPSHOT_PUSH=off` turns both off). */
export function snapshotPushEnabled(env: Pick<CentralBindings, 'SNAPSHOT_PUSH'>): boolean {
  return (env.SNAPSHOT_PUSH ?? 'on') !== 'off';
}

/** Sends each region's edge a signed notice of the region's current snapshot version. */
export async function noticeEdges(
  env: CentralBindings,
  db: Db,
  regionIds: string[],
): Promise<NoticeOutcome[]> {
  if (!snapshotPushEnabled(env)) return [];
  const secret = readCentralConfig(env).edgeKeySecret;
  return Promise.all(
    [...new Set(regionIds)].map(async (region): Promise<NoticeOutcome> => {
      const row = await findRegion(db, region);
      if (!row?.edgeUrl) return { region, status: 'no-edge-url' };
      const { signingKey } = await deriveEdgeCredentials(secret, region);
      const body = JSON.stringify({ region, version: row.configVersion });
      const timestamp = Date.now();
      const url = new URL(SNAPSHOT_NOTICE_PATH, row.edgeUrl);
      const headers = {
        'content-type': 'application/json',
        'x-central-timestamp': String(timestamp),
        'x-central-signature': await signSnapshotNotice(signingKey, timestamp, body),
      };
      // Central's push crosses to the region: counted here, the one place that sees every notice
      // (the edge does not count notices, so each byte is counted once).
      const sent = noticeRequestBytes(url, headers, body);
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(NOTICE_TIMEOUT_MS),
        });
        const answer = new Uint8Array(await res.arrayBuffer()).byteLength;
        await recordCrossRegionBytes(db, region, Date.now(), {
          notice: { fromCentral: sent, toCentral: STATUS_LINE_BYTES + headerBytes(res.headers) + answer },
        }).catch((err) => console.error(`counting the notice to ${region} failed`, err));
        if (!res.ok)
          console.error(`snapshot notice to ${region} (${row.edgeUrl}): edge answered ${res.status}`);
        return { region, status: 'sent', version: row.configVersion, answer: res.status };
      } catch (err) {
        console.error(`snapshot notice to ${region} (${row.edgeUrl}) failed`, err);
        await recordCrossRegionBytes(db, region, Date.now(), {
          notice: { fromCentral: sent, toCentral: 0 },
        }).catch(() => {});
        return { region, status: 'failed', detail: String(err) };
      }
    }),
  );
}

/** The notice request as it crosses: request line, headers (with `host` and `content-length`), body. */
function noticeRequestBytes(url: URL, headers: Record<string, string>, body: string): number {
  const bytes = new TextEncoder().encode(body).byteLength;
  return (
    requestLineBytes('POST', url.pathname) +
    headerBytes({ host: url.host, 'content-length': String(bytes), ...headers }) +
    bytes
  );
}
