import { z } from '@hono/zod-openapi';
import { activityDetailSchema, activitySchema } from '../schemas.js';
import { normaliseMessageId } from '../../../core/keyed-hash.js';
import { findActivity, queryActivities } from '../../../db/queries/activities.js';
import { listMailboxes } from '../../../db/queries/mailboxes.js';
import type { Db } from '../../../db/client.js';
import { createRouter } from '../../http/app-router.js';
import { deploymentScope } from '../../http/auth.js';
import type { Principal } from '../../context.js';
import { forbidden, notFound } from '../../http/errors.js';
import { mintRawLink } from '../../ingest/raw-links.js';
import { serializeActivity } from '../serializers.js';
import { deliveriesOfActivity, serializeWebhookDelivery } from '../../delivery/webhooks.js';
import { apiRoute, jsonResponse } from './openapi-helpers.js';

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

const contentRoute = apiRoute('get', '/activities/{id}/content', 'activities', {
  summary: 'Signed, expiring links to the raw message and attachments kept in their region',
  description:
    "The raw message and attachments never leave their region: each link points at that region's edge and expires (default 15 minutes).",
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

/** Mailboxes a user-scoped token may see activities of. */
async function userMailboxes(db: Db, p: Principal): Promise<string[] | undefined> {
  if (p.kind !== 'user') return undefined;
  const rows = await listMailboxes(db, { deployment: p.deployment, limit: 5000 });
  return rows.filter((r) => r.userId === p.userId).map((r) => r.address);
}

async function visibleActivity(db: Db, principal: Principal, id: string) {
  const scope = deploymentScope(principal);
  const row = await findActivity(db, id);
  const mine = await userMailboxes(db, principal);
  if (!row || (scope && row.deployment !== scope) || (mine && !row.mailboxes.some((m) => mine.includes(m))))
    throw notFound(`activity ${id} does not exist`);
  return row;
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
    const principal = c.get('principal');
    const scope = deploymentScope(principal);
    if (scope && q.deployment && q.deployment !== scope)
      throw forbidden(`this token may not read deployment ${q.deployment}`);
    const rows = await queryActivities(db, {
      deployment: scope ?? q.deployment,
      messageId: q.messageId ? normaliseMessageId(q.messageId) : undefined,
      q: q.q,
      mailboxes: await userMailboxes(db, principal),
      cursor: q.cursor,
      limit: q.limit,
    });
    const page = rows.slice(0, q.limit);
    const nextCursor = rows.length > q.limit ? String(page[page.length - 1]?.seq) : null;
    return c.json({ items: page.map(serializeActivity), nextCursor }, 200);
  })
  .openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    const db = c.get('db');
    const principal = c.get('principal');
    const row = await visibleActivity(db, principal, id);
    const deliveries = await deliveriesOfActivity(db, row.id);
    // User tokens see the state of a delivery, never its error (as GET /webhook-deliveries refuses them).
    const withError = principal.kind !== 'user';
    return c.json(
      {
        ...serializeActivity(row),
        webhookDeliveries: deliveries.map((d) => serializeWebhookDelivery(d, { withError })),
      },
      200,
    );
  })
  .openapi(contentRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { ttlSeconds } = c.req.valid('query');
    const db = c.get('db');
    const row = await visibleActivity(db, c.get('principal'), id);
    const items = [];
    for (const copy of (row.content ?? []) as StoredContent[]) {
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
