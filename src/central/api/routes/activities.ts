import { z } from '@hono/zod-openapi';
import { normaliseMessageId } from '../../../core/keyed-hash.js';
import type { Db } from '../../../db/client.js';
import type { Principal } from '../../context.js';
import { apiRoute, jsonResponse } from '../../contract/openapi-helpers.js';
import { activityDetailSchema, activitySchema } from '../../contract/schemas.js';
import { serializeActivity, serializeWebhookDelivery } from '../../contract/serializers.js';
import { deliveriesOfActivity } from '../../delivery/webhooks.js';
import { createRouter } from '../../http/app-router.js';
import { deploymentScope } from '../../http/auth.js';
import { forbidden, notFound } from '../../http/errors.js';
import { mintRawLink, principalMailboxes, visibleCopies } from '../../ingest/raw-links.js';
import { activityChanges, findActivity, queryActivities } from '../../services/activities.js';

const listRoute = apiRoute('get', '/activities', 'activities', {
  summary: 'Search and page activities (newest first; `nextCursor` is stable)',
  request: {
    query: z.object({
      deployment: z.string().optional(),
      messageId: z.string().max(1000).optional(),
      q: z.string().max(500).optional(),
      cursor: z.coerce.number().int().positive().optional(),
      limit: z.coerce.number().int().min(1).max(500).default(50),
    }),
  },
  responses: {
    200: jsonResponse(
      z.object({ items: z.array(activitySchema), nextCursor: z.string().nullable() }),
      'a page',
    ),
  },
});

/** Most changes in one page of the feed. */
export const MAX_CHANGES_PER_PAGE = 500;

const changesRoute = apiRoute('get', '/activities/changes', 'activities', {
  summary: 'The changes feed: activities inserted or merged since a cursor, oldest change first',
  description: [
    'For integrations that pull instead of receiving webhooks. Start without `cursor` (or with `0`),',
    'then pass the `nextCursor` of each answer: it is the position of the last change read, and is',
    'returned even when a page is empty, so polling with it never skips or repeats a committed change.',
    '',
    '**At least once.** Each activity appears at the position of its latest change: `inserted` when',
    'no later copy has been merged into it yet, `merged` when one has (more parties, mailboxes,',
    'regions or content). An activity changed again after you read it appears again, further on,',
    'with its whole current state: consumers upsert by `activity.id`. A consumer that crashes after',
    'writing but before saving its cursor reads some changes twice; nothing is ever skipped.',
    'Positions rise in commit order (one writer), so a change committed after a page was read always',
    'comes after that page’s `nextCursor`. Activities removed by retention are not announced.',
    'Scoped like `GET /activities`: a deployment token reads its deployment, a user token the',
    'activities of its own mailboxes.',
  ].join('\n'),
  request: {
    query: z.object({
      deployment: z.string().optional(),
      cursor: z.coerce.number().int().min(0).optional(),
      limit: z.coerce.number().int().min(1).max(MAX_CHANGES_PER_PAGE).default(100),
    }),
  },
  responses: {
    200: jsonResponse(
      z.object({
        items: z.array(
          z.object({
            change: z.enum(['inserted', 'merged']),
            cursor: z.string(),
            activity: activitySchema,
          }),
        ),
        nextCursor: z.string().nullable(),
        hasMore: z.boolean(),
      }),
      'a page of changes, oldest first',
    ),
  },
});

const contentRoute = apiRoute('get', '/activities/{id}/content', 'activities', {
  summary: 'Signed, expiring links to the raw message and attachments kept in their region',
  description:
    "The raw message and attachments never leave their region: each link points at that region's edge and expires (default 15 minutes). A user token gets links only to the copies its own mailboxes forwarded.",
  request: {
    params: z.object({ id: z.string().min(1).max(64) }),
    query: z.object({ ttlSeconds: z.coerce.number().int().min(10).max(3600).default(900) }),
  },
  responses: {
    200: jsonResponse(
      z.object({
        items: z.array(
          z.object({
            region: z.string(),
            kind: z.enum(['raw', 'attachment', 'text', 'parties']),
            filename: z.string().nullable(),
            contentType: z.string(),
            size: z.number(),
            url: z.string().nullable(),
            expiresAt: z.number().nullable(),
          }),
        ),
      }),
      'links per region',
    ),
  },
});

const getRoute = apiRoute('get', '/activities/{id}', 'activities', {
  summary: 'Read one activity',
  request: { params: z.object({ id: z.string().min(1).max(64) }) },
  responses: { 200: jsonResponse(activityDetailSchema, 'the activity, with its webhook deliveries') },
});

/**
 * The activities a principal may list, narrowed to `deployment` if asked: a deployment token its
 * own deployment (another one is 403), a user token its own mailboxes' activities (`mine`, which
 * also decides the raw copies it sees).
 */
async function readableActivities(db: Db, principal: Principal, deployment: string | undefined) {
  const scope = deploymentScope(principal);
  if (scope && deployment && deployment !== scope)
    throw forbidden(`this token may not read deployment ${deployment}`);
  const mine = await principalMailboxes(db, principal);
  return { deployment: scope ?? deployment, mailboxes: mine ? [...mine] : undefined, mine };
}

async function visibleActivity(db: Db, principal: Principal, id: string) {
  const scope = deploymentScope(principal);
  const row = await findActivity(db, id);
  const mine = await principalMailboxes(db, principal);
  if (!row || (scope && row.deployment !== scope) || (mine && !row.mailboxes.some((m) => mine.has(m))))
    throw notFound(`activity ${id} does not exist`);
  return { row, mine };
}

type StoredContent = {
  region: string;
  raw: { region: string; key: string; size: number } | null;
  text?: { region: string; key: string; size: number };
  parties?: { region: string; key: string; size: number };
  attachments: {
    filename?: string;
    contentType: string;
    size: number;
    ref?: { region: string; key: string };
  }[];
};

export const activityRoutes = createRouter()
  .openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    const db = c.get('db');
    const { mine, ...scope } = await readableActivities(db, c.get('principal'), q.deployment);
    const rows = await queryActivities(db, {
      ...scope,
      messageId: q.messageId ? normaliseMessageId(q.messageId) : undefined,
      q: q.q,
      cursor: q.cursor,
      limit: q.limit,
    });
    const page = rows.slice(0, q.limit);
    const nextCursor = rows.length > q.limit ? String(page[page.length - 1]?.seq) : null;
    return c.json({ items: page.map((a) => serializeActivity(a, mine)), nextCursor }, 200);
  })
  // Before `/activities/{id}`, which would otherwise take `changes` for an id.
  .openapi(changesRoute, async (c) => {
    const q = c.req.valid('query');
    const db = c.get('db');
    const { mine, ...scope } = await readableActivities(db, c.get('principal'), q.deployment);
    const rows = await activityChanges(db, {
      ...scope,
      after: q.cursor ?? 0,
      limit: q.limit,
    });
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return c.json(
      {
        items: page.map((row) => ({
          change: row.merged ? ('merged' as const) : ('inserted' as const),
          cursor: String(row.changeSeq),
          activity: serializeActivity(row, mine),
        })),
        nextCursor: last ? String(last.changeSeq) : q.cursor !== undefined ? String(q.cursor) : null,
        hasMore: rows.length > q.limit,
      },
      200,
    );
  })
  .openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    const db = c.get('db');
    const principal = c.get('principal');
    const { row, mine } = await visibleActivity(db, principal, id);
    const deliveries = await deliveriesOfActivity(db, row.id);
    // User tokens see the state of a delivery, never its error (as GET /webhook-deliveries refuses them).
    const withError = principal.kind !== 'user';
    return c.json(
      {
        ...serializeActivity(row, mine),
        webhookDeliveries: deliveries.map((d) => serializeWebhookDelivery(d, { withError })),
      },
      200,
    );
  })
  .openapi(contentRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { ttlSeconds } = c.req.valid('query');
    const db = c.get('db');
    const { row, mine } = await visibleActivity(db, c.get('principal'), id);
    const items = [];
    for (const copy of visibleCopies(row.content, mine) as StoredContent[]) {
      if (copy.raw) {
        const link = await mintRawLink(c.env, db, copy.raw.region, copy.raw.key, ttlSeconds * 1000);
        items.push({
          region: copy.raw.region,
          kind: 'raw' as const,
          filename: null,
          contentType: 'message/rfc822',
          size: copy.raw.size,
          url: link?.url ?? null,
          expiresAt: link?.expiresAt ?? null,
        });
      }
      for (const [kind, ref, contentType] of [
        ['text', copy.text, 'text/plain; charset=utf-8'],
        ['parties', copy.parties, 'application/json'],
      ] as const) {
        if (!ref) continue;
        const link = await mintRawLink(c.env, db, ref.region, ref.key, ttlSeconds * 1000);
        items.push({
          region: ref.region,
          kind,
          filename: null,
          contentType,
          size: ref.size,
          url: link?.url ?? null,
          expiresAt: link?.expiresAt ?? null,
        });
      }
      for (const a of copy.attachments) {
        const link = a.ref
          ? await mintRawLink(c.env, db, a.ref.region, a.ref.key, ttlSeconds * 1000)
          : undefined;
        items.push({
          region: a.ref?.region ?? copy.region,
          kind: 'attachment' as const,
          filename: a.filename ?? null,
          contentType: a.contentType,
          size: a.size,
          url: link?.url ?? null,
          expiresAt: link?.expiresAt ?? null,
        });
      }
    }
    return c.json({ items }, 200);
  });
