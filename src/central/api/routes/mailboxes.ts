import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../../context.js';
import {
  apiRoute,
  errorSchema,
  jsonBody,
  jsonOrCsvRoute,
  jsonResponse,
} from '../../contract/openapi-helpers.js';
import {
  bulkResult,
  bulkRoutesBody,
  emailAddress,
  MAX_ROUTES_PER_REQUEST,
  mailboxBody,
  mailboxSchema,
  moveBody,
  routeRowError,
} from '../../contract/schemas.js';
import { serializeMailbox } from '../../contract/serializers.js';
import { createRouter } from '../../http/app-router.js';
import { deploymentScope } from '../../http/auth.js';
import { errorBody, notFound, payloadTooLarge, validationFailed } from '../../http/errors.js';
import { jsonBodyRows, readJsonOrCsvText } from '../../http/request-body.js';
import {
  findMailbox,
  listMailboxes,
  mayReadRoute,
  routeMailbox,
  unrouteMailbox,
} from '../../services/mailbox-admin.js';
import { type Candidate, csvRouteCandidates, importRoutes, moveRoutes } from '../../services/route-import.js';
import { changeSite } from '../../snapshot/config-changed.js';

/** A bulk routes body (10,000 routes of CSV or JSON fit well within it). */
const MAX_ROUTES_BODY_BYTES = 4 * 1024 * 1024;

const addressParam = z.object({ address: emailAddress });

const putMailbox = apiRoute('put', '/mailboxes/{address}', 'mailboxes', {
  summary: 'Route a mailbox to a region and deployment (create, move, change filter mode)',
  request: { params: addressParam, body: jsonBody(mailboxBody) },
  responses: { 200: jsonResponse(mailboxSchema, 'the route') },
});

const getMailbox = apiRoute('get', '/mailboxes/{address}', 'mailboxes', {
  summary: 'Read a mailbox route',
  request: { params: addressParam },
  responses: { 200: jsonResponse(mailboxSchema, 'the route') },
});

const deleteMailboxRoute = apiRoute('delete', '/mailboxes/{address}', 'mailboxes', {
  summary: 'Remove a mailbox route',
  request: { params: addressParam },
  responses: { 200: jsonResponse(z.object({ deleted: z.string() }), 'deleted') },
});

const listMailboxesRoute = apiRoute('get', '/mailboxes', 'mailboxes', {
  summary: 'List and search mailbox routes',
  request: {
    query: z.object({
      region: z.string().optional(),
      deployment: z.string().optional(),
      q: z.string().max(320).optional(),
      limit: z.coerce.number().int().min(1).max(5000).optional(),
      after: z.string().max(320).optional().openapi({
        description:
          'only addresses after this one (the last of the previous page): export every route page by page',
      }),
    }),
  },
  responses: { 200: jsonResponse(z.object({ items: z.array(mailboxSchema) }), 'routes') },
});

const postMailboxes = jsonOrCsvRoute(
  '/mailboxes',
  'mailboxes',
  {
    json: 'MailboxRoutesInput',
    csvExample:
      'address,region,deployment,userId,filter\r\nann@contoso.example,eu,contoso,u-ann,email-enabled\r\n',
  },
  {
    summary: 'Route many mailboxes at once (CSV or JSON), all or nothing',
    description: [
      'JSON: `{ routes: [{ address, region, deployment, userId, filter? }] }`; CSV (`text/csv`): a header naming `address,region,deployment,userId,filter` (any order, `filter` optional).',
      "Every row is checked with exactly the rules of `PUT /api/v1/mailboxes/:address`; one bad row makes the request a 400 (403 when a row is outside the token's deployment) listing every bad row with its line or index, and nothing is written.",
      `At most ${MAX_ROUTES_PER_REQUEST} routes per request. Moving a department to another region is one call: send its rows with the new region (or use \`POST /api/v1/mailboxes/move\`). \`dryRun=true\` validates only.`,
    ].join(' '),
    request: { query: z.object({ dryRun: z.enum(['true', 'false']).default('false') }) },
    responses: {
      200: jsonResponse(bulkResult, 'counts'),
      400: jsonResponse(
        errorSchema.extend({ errors: z.array(routeRowError) }).or(errorSchema),
        'invalid rows (nothing written)',
      ),
      403: jsonResponse(
        errorSchema.extend({ errors: z.array(routeRowError) }).or(errorSchema),
        "rows outside the token's deployment (nothing written)",
      ),
      413: jsonResponse(errorSchema, 'too many routes or too large a body'),
    },
  },
);

const moveMailboxes = apiRoute('post', '/mailboxes/move', 'mailboxes', {
  summary: 'Move mailboxes to another region in one call (a department), all or nothing',
  description:
    'Either `addresses` (each must be routed) or `deployment` with `search` (every route of that deployment whose address contains the text, e.g. `@sales.contoso.example`). Same rules as PUT; the routes keep their deployment, user and filter mode.',
  request: {
    body: jsonBody(moveBody),
  },
  responses: { 200: jsonResponse(bulkResult, 'counts (`moved`)') },
});

export type MoveRequest = z.infer<typeof moveBody>;

export const mailboxRoutes = createRouter()
  .openapi(putMailbox, async (c) => {
    const db = c.get('db');
    const principal = c.get('principal');
    const { address } = c.req.valid('param');
    const body = c.req.valid('json');
    const { row } = await routeMailbox(db, changeSite(c), principal, { address, ...body });
    return c.json(serializeMailbox(row), 200);
  })
  .openapi(postMailboxes, async (c) => {
    const db = c.get('db');
    const principal = c.get('principal');
    const dryRun = c.req.valid('query').dryRun === 'true';
    const candidates = await readRouteCandidates(c);
    if (!candidates.length) throw validationFailed('routes: no routes in the request');
    if (candidates.length > MAX_ROUTES_PER_REQUEST)
      throw payloadTooLarge(
        `${candidates.length} routes in one request; the limit is ${MAX_ROUTES_PER_REQUEST}`,
      );
    const outcome = await importRoutes(db, changeSite(c), principal, candidates, dryRun);
    if ('errors' in outcome) {
      const { errors, status } = outcome;
      const first = errors[0]!;
      const where = first.line !== undefined ? `line ${first.line}` : `routes.${first.index}`;
      const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
      return c.json(
        {
          ...errorBody(
            status === 400 ? 'validation_failed' : 'forbidden',
            `${where}, ${first.field}: ${first.message}${more}; nothing was written`,
            c.get('requestId'),
          ),
          errors: errors.slice(0, 1000),
        },
        status,
      );
    }
    return c.json(outcome, 200);
  })
  .openapi(moveMailboxes, async (c) => {
    const moved = await moveRoutes(c.get('db'), changeSite(c), c.get('principal'), c.req.valid('json'));
    return c.json({ ...moved, dryRun: false }, 200);
  })
  .openapi(getMailbox, async (c) => {
    const { address } = c.req.valid('param');
    const row = await findMailbox(c.get('db'), address);
    if (!row || !mayReadRoute(c.get('principal'), row)) throw notFound(`mailbox ${address} is not routed`);
    return c.json(serializeMailbox(row), 200);
  })
  .openapi(deleteMailboxRoute, async (c) => {
    const db = c.get('db');
    const { address } = c.req.valid('param');
    const row = await findMailbox(db, address);
    if (!row || !mayReadRoute(c.get('principal'), row)) throw notFound(`mailbox ${address} is not routed`);
    await unrouteMailbox(db, changeSite(c), c.get('principal'), row);
    return c.json({ deleted: address }, 200);
  })
  .openapi(listMailboxesRoute, async (c) => {
    const q = c.req.valid('query');
    const principal = c.get('principal');
    const scope = deploymentScope(principal);
    const rows = await listMailboxes(c.get('db'), {
      region: q.region,
      deployment: scope ?? q.deployment,
      // User tokens see only their own mailbox routes.
      ...(principal.kind === 'user' ? { userId: principal.userId } : {}),
      search: q.q,
      limit: q.limit,
      after: q.after,
    });
    return c.json({ items: rows.map(serializeMailbox) }, 200);
  });

mailboxRoutes.openAPIRegistry.register('MailboxRoutesInput', bulkRoutesBody);

async function readRouteCandidates(c: Context<AppEnv>): Promise<Candidate[]> {
  const { isCsv, text } = await readJsonOrCsvText(c, MAX_ROUTES_BODY_BYTES, 'routes body');
  if (!isCsv) return jsonBodyRows(text, 'routes');
  return csvRouteCandidates(text);
}

export type RouteRowError = z.infer<typeof routeRowError>;
