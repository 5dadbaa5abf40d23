/** @jsxImportSource hono/jsx */
// Activities (search, detail with "Why tracked") and Dispositions ("why was this not tracked?").
import { Hono } from 'hono';
import { normaliseMessageId } from '../../../core/keyed-hash.js';
import { TOSSED_REASONS, TRACKED_REASONS } from '../../../core/types.js';
import { copyNotes, heldRegionally } from '../../contract/serializers.js';
import { deliveriesOfActivity } from '../../delivery/webhooks.js';
import { mintRawLink } from '../../ingest/raw-links.js';
import {
  findActivity,
  mailboxRegions,
  messageIdHashOf,
  queryActivities,
  queryDispositions,
  recordNames,
} from '../../services/activities.js';
import { listDeployments } from '../../services/deployment-admin.js';
import { listRegions } from '../../services/regions.js';
import { searchIndexStatus } from '../../services/stats.js';
import { type DashboardContext, pageContext, pageProps, queryText, scopeOf, visibleRow } from '../context.js';
import type { DashboardEnv } from '../middleware/session.js';
import { ActivitiesPage, type ActivityFilters } from '../views/activities-page.js';
import { ActivityPage, type ContentView, type PartyView, type StoredFile } from '../views/activity-page.js';
import { DispositionsPage, type Lookup } from '../views/dispositions-page.js';

const PAGE_SIZE = 50;
const REASONS: readonly string[] = [...TOSSED_REASONS, ...TRACKED_REASONS];

/** A search that is a bracketed Message-ID (`<id@host>`) is matched without its brackets. */
function searchText(q: string): string {
  return /^<[^<>\s]+>$/.test(q) ? q.slice(1, -1) : q;
}

interface BlobRef {
  region: string;
  key: string;
  size: number;
}

function asBlobRef(v: unknown): BlobRef | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const r = v as Record<string, unknown>;
  return typeof r.region === 'string' && typeof r.key === 'string' && typeof r.size === 'number'
    ? { region: r.region, key: r.key, size: r.size }
    : undefined;
}

/** Turns `activity.content` into signed links to the regions that hold the raw message and attachments. */
async function contentViews(c: DashboardContext, content: unknown): Promise<ContentView[]> {
  if (!Array.isArray(content)) return [];
  const db = c.get('db');
  const file = async (
    label: string,
    ref: BlobRef | undefined,
    size: number,
    contentType?: string,
  ): Promise<StoredFile> => {
    if (!ref)
      return {
        label,
        size,
        contentType,
        problem: 'not stored in the region (sent inline or dropped by policy)',
      };
    const link = await mintRawLink(c.env, db, ref.region, ref.key);
    return {
      label,
      size,
      contentType,
      link,
      problem: link ? undefined : `edge URL of ${ref.region} not reported yet`,
    };
  };
  const out: ContentView[] = [];
  for (const entry of content.slice(0, 20)) {
    if (!entry || typeof entry !== 'object') continue;
    const e = entry as { region?: unknown; raw?: unknown; attachments?: unknown };
    const raw = asBlobRef(e.raw);
    const attachments: StoredFile[] = [];
    if (Array.isArray(e.attachments))
      for (const [i, a] of e.attachments.slice(0, 100).entries()) {
        if (!a || typeof a !== 'object') continue;
        const att = a as { filename?: unknown; contentType?: unknown; size?: unknown; ref?: unknown };
        attachments.push(
          await file(
            typeof att.filename === 'string' && att.filename ? att.filename : `attachment ${i + 1}`,
            asBlobRef(att.ref),
            typeof att.size === 'number' ? att.size : 0,
            typeof att.contentType === 'string' ? att.contentType : undefined,
          ),
        );
      }
    out.push({
      region: typeof e.region === 'string' ? e.region : (raw?.region ?? '?'),
      raw: raw ? await file('Raw message (.eml)', raw, raw.size, 'message/rfc822') : undefined,
      attachments,
    });
  }
  return out;
}

export const dashboardActivityPages = new Hono<DashboardEnv>()
  .get('/activities', async (c) => {
    const db = c.get('db');
    const scope = scopeOf(c);
    const filters: ActivityFilters = {
      q: queryText(c, 'q'),
      deployment: scope ?? queryText(c, 'deployment', 63),
    };
    const cursor = Number(c.req.query('cursor'));
    const rows = await queryActivities(db, {
      deployment: filters.deployment || undefined,
      q: filters.q ? searchText(filters.q) : undefined,
      cursor: Number.isSafeInteger(cursor) && cursor > 0 ? cursor : undefined,
      limit: PAGE_SIZE,
    });
    const page = rows.slice(0, PAGE_SIZE);
    const deploymentIds = scope ? [scope] : (await listDeployments(db)).map((d) => d.id);
    const searchIndex = filters.q ? await searchIndexStatus(db) : undefined;
    return c.html(
      <ActivitiesPage
        searchIndexedShare={searchIndex && !searchIndex.complete ? searchIndex.indexedShare : undefined}
        {...pageProps(c)}
        rows={page}
        filters={filters}
        deploymentIds={deploymentIds}
        nextCursor={rows.length > PAGE_SIZE ? String(page[page.length - 1]?.seq) : undefined}
        paged={Number.isSafeInteger(cursor) && cursor > 0}
      />,
    );
  })
  .get('/activities/:id', async (c) => {
    const db = c.get('db');
    const id = c.req.param('id').slice(0, 64);
    const a = visibleRow(c, await findActivity(db, id), `Activity ${id} does not exist.`);
    const refs = a.parties.flatMap((p) =>
      p.recordType && p.recordId ? [{ type: p.recordType, id: p.recordId }] : [],
    );
    if (a.regardingType && a.regardingId) refs.push({ type: a.regardingType, id: a.regardingId });
    const [names, routed, content, deliveries] = await Promise.all([
      recordNames(db, a.deployment, refs),
      mailboxRegions(db, a.mailboxes),
      contentViews(c, a.content),
      deliveriesOfActivity(db, a.id),
    ]);
    const parties: PartyView[] = a.parties.map((p) => ({
      ...p,
      recordName: p.recordType && p.recordId ? names.get(`${p.recordType}\0${p.recordId}`) : undefined,
    }));
    return c.html(
      <ActivityPage
        page={pageContext(c)}
        a={a}
        parties={parties}
        regardingName={
          a.regardingType && a.regardingId ? names.get(`${a.regardingType}\0${a.regardingId}`) : undefined
        }
        mailboxes={a.mailboxes.map((address) => ({ address, region: routed.get(address) }))}
        content={content}
        deliveries={deliveries}
        held={heldRegionally(a)}
        notes={copyNotes(a.content)}
      />,
    );
  })
  .get('/dispositions', async (c) => {
    const db = c.get('db');
    const scope = scopeOf(c);
    const messageId = queryText(c, 'messageId', 1000);
    const region = queryText(c, 'region', 32);
    const reason = queryText(c, 'reason', 64);
    let lookup: Lookup | undefined;
    if (messageId) {
      const normalised = normaliseMessageId(messageId);
      // Receipts carry only a keyed hash of the Message-ID (as GET /api/v1/dispositions looks them up).
      const hash = await messageIdHashOf(db, normalised);
      const [receipts, acts] = await Promise.all([
        queryDispositions(db, { messageIdHash: hash, deployment: scope, limit: 100 }),
        queryActivities(db, { messageId: normalised, deployment: scope, limit: 10 }),
      ]);
      lookup = { messageId, receipts, activities: acts.slice(0, 10) };
    }
    const [rows, regionRows] = await Promise.all([
      queryDispositions(db, {
        region: region || undefined,
        reason: REASONS.includes(reason) ? reason : undefined,
        deployment: scope,
        limit: 100,
      }),
      listRegions(db),
    ]);
    return c.html(
      <DispositionsPage
        {...pageProps(c)}
        lookup={lookup}
        rows={rows}
        regionIds={regionRows.map((r) => r.id)}
        filters={{ region, reason: REASONS.includes(reason) ? reason : '' }}
      />,
    );
  });
