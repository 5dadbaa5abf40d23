import { z } from '@hono/zod-openapi';
import { emailAddress, mailboxBody, mailboxSchema } from '../../contract/schemas.js';
import { type ChangeSite, changeSite } from '../../snapshot/config-changed.js';
import { findMailbox, listMailboxes } from '../../../db/queries/mailboxes.js';
import { createRouter } from '../../http/app-router.js';
import { assertDeploymentAdmin, deploymentScope } from '../../http/auth.js';
import { notFound, validationFailed } from '../../http/errors.js';
import { serializeMailbox } from '../../contract/serializers.js';
import { CsvError, readCsvExportCell, readCsvRows } from '../../../core/csv.js';
import type { Context } from 'hono';
import type { AppEnv, Principal } from '../../context.js';
import type { Db } from '../../../db/client.js';
import { ApiError, errorBody, payloadTooLarge } from '../../http/errors.js';
import {
  checkRoute,
  type MailboxRouteInput,
  routeMailbox,
  unrouteMailbox,
  routingFacts,
  writeRoutes,
} from '../../services/mailbox-admin.js';
import { type BodyRow, jsonBodyRows, readJsonOrCsvText } from '../../http/request-body.js';
import {
  apiRoute,
  errorSchema,
  jsonBody,
  jsonOrCsvRoute,
  jsonResponse,
} from '../../contract/openapi-helpers.js';

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

/** Most routes in one bulk request (5,000 users onboard in one call). */
export const MAX_ROUTES_PER_REQUEST = 10_000;
const MAX_ROUTES_BODY_BYTES = 4 * 1024 * 1024;

const routeRowError = z
  .object({
    line: z.number().optional().openapi({ description: 'CSV: physical line (the header is line 1)' }),
    index: z.number().optional().openapi({ description: 'JSON: position in `routes`' }),
    field: z.string(),
    message: z.string(),
  })
  .openapi('MailboxRowError');

// A plain object over the shape: zod throws on null for `.extend` of an `.openapi()` schema (fuzz-api.test.ts).
const bulkRouteInput = z.object({ ...mailboxBody.shape, address: emailAddress });
const bulkRoutesBody = z
  .object({ routes: z.array(bulkRouteInput).min(1).max(MAX_ROUTES_PER_REQUEST) })
  .openapi('MailboxRoutesInput');
const bulkResult = z
  .object({ created: z.number(), moved: z.number(), updated: z.number(), dryRun: z.boolean() })
  .openapi('MailboxImportResult');

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

export const moveBody = z.object({
  region: z.string().min(1).max(32),
  addresses: z.array(emailAddress).min(1).max(MAX_ROUTES_PER_REQUEST).optional(),
  deployment: z.string().min(1).max(63).optional(),
  search: z.string().min(1).max(320).optional(),
});

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

/**
 * Moves routes to `body.region`, all or nothing, with the rules of PUT (shared by
 * `POST /api/v1/mailboxes/move` and the dashboard's Routes page): `addresses` (each routed and
 * visible to the principal), or every route of `deployment` whose address contains `search`.
 */
export async function moveRoutes(db: Db, site: ChangeSite, principal: Principal, body: MoveRequest) {
  if (!body.addresses === !body.deployment)
    throw validationFailed('addresses: give either `addresses` or `deployment` (with an optional `search`)');
  const rows = body.addresses
    ? [
        ...(
          await routingFacts(
            db,
            body.addresses.map((a) => ({ address: a, region: body.region, deployment: '' })),
          )
        ).existing.values(),
      ]
    : await listMailboxes(db, {
        deployment: body.deployment,
        search: body.search,
        limit: MAX_ROUTES_PER_REQUEST + 1,
      });
  if (body.addresses) {
    const found = new Set(rows.map((r) => r.address));
    const missing = body.addresses.filter((a) => !found.has(a));
    const scope = deploymentScope(principal);
    const hidden = rows.filter((r) => scope && r.deployment !== scope).map((r) => r.address);
    if (missing.length || hidden.length)
      throw notFound(
        `not routed: ${[...missing, ...hidden].slice(0, 20).join(', ')}${missing.length + hidden.length > 20 ? ' …' : ''}; nothing was moved`,
      );
  } else if (body.deployment) {
    assertDeploymentAdmin(principal, body.deployment);
  }
  if (rows.length > MAX_ROUTES_PER_REQUEST)
    throw payloadTooLarge(`more than ${MAX_ROUTES_PER_REQUEST} routes match; narrow the search`);
  if (!rows.length) throw notFound('no routes match; nothing was moved');
  const routes = rows.map((r) => ({
    address: r.address,
    region: body.region,
    deployment: r.deployment,
    userId: r.userId,
    filter: r.filter,
  }));
  const facts = await routingFacts(db, routes);
  for (const r of routes) {
    const problem = checkRoute(principal, r, facts);
    if (problem)
      throw new ApiError(
        problem.status === 403 ? 'forbidden' : problem.status === 409 ? 'conflict' : 'validation_failed',
        `${r.address}, ${problem.field}: ${problem.message}; nothing was moved`,
      );
  }
  return writeRoutes(db, site, routes, facts);
}

/** Admins see every route, deployment tokens their deployment's, user tokens only their own mailboxes. */
export function mayReadRoute(p: Principal, row: { deployment: string; userId: string }): boolean {
  const scope = deploymentScope(p);
  if (scope && row.deployment !== scope) return false;
  return p.kind !== 'user' || p.userId === row.userId;
}

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
    assertDeploymentAdmin(c.get('principal'), row.deployment);
    await unrouteMailbox(db, changeSite(c), row);
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

export type Candidate = BodyRow;

const ROUTE_COLUMNS = ['address', 'region', 'deployment', 'userid', 'filter'] as const;

async function readRouteCandidates(c: Context<AppEnv>): Promise<Candidate[]> {
  const { isCsv, text } = await readJsonOrCsvText(c, MAX_ROUTES_BODY_BYTES, 'routes body');
  if (!isCsv) return jsonBodyRows(text, 'routes');
  return csvRouteCandidates(text);
}

/** The candidate routes of a CSV text (header `address,region,deployment,userId,filter`); throws a 400 for an unreadable file. */
export function csvRouteCandidates(text: string): Candidate[] {
  const out: Candidate[] = [];
  let columns: string[] | undefined;
  try {
    for (const row of readCsvRows(text)) {
      if (!columns) {
        const names = row.fields.map((f) => f.trim().toLowerCase());
        for (const n of names)
          if (!(ROUTE_COLUMNS as readonly string[]).includes(n))
            throw validationFailed(
              `line ${row.line}, header: unknown column "${n}" (expected address,region,deployment,userId,filter)`,
            );
        for (const r of ['address', 'region', 'deployment', 'userid'])
          if (!names.includes(r))
            throw validationFailed(
              `line ${row.line}, header: missing column "${r === 'userid' ? 'userId' : r}"`,
            );
        columns = names;
        continue;
      }
      const cell = (n: string) => {
        const i = columns!.indexOf(n);
        const v = i < 0 ? undefined : row.fields[i]?.trim();
        // A file from `routes export` guards formula-like cells with `'` (csv.ts); it reads back as written.
        return v === undefined ? undefined : readCsvExportCell(v);
      };
      if (row.fields.length !== columns.length) {
        out.push({ at: { line: row.line }, value: { __fields: row.fields.length } });
        continue;
      }
      const filter = cell('filter');
      out.push({
        at: { line: row.line },
        value: {
          address: cell('address'),
          region: cell('region'),
          deployment: cell('deployment'),
          userId: cell('userid'),
          ...(filter ? { filter } : {}),
        },
      });
    }
  } catch (err) {
    if (err instanceof CsvError)
      throw validationFailed(`line ${err.line}, csv: ${err.message.replace(/^line \d+: /, '')}`);
    throw err;
  }
  if (!columns) throw validationFailed('body: the CSV has no header row');
  return out;
}

export type RouteRowError = z.infer<typeof routeRowError>;

/**
 * Checks every candidate route (schema, duplicates, the rules of PUT) and writes them all in one
 * transaction, or none: the API's bulk import and the dashboard's import form.
 */
export async function importRoutes(
  db: Db,
  site: ChangeSite,
  principal: Principal,
  candidates: Candidate[],
  dryRun: boolean,
): Promise<
  | { created: number; moved: number; updated: number; dryRun: boolean }
  | { errors: RouteRowError[]; status: 400 | 403 }
> {
  const errors: Array<RouteRowError & { status: number }> = [];
  const valid: Array<{ at: Candidate['at']; route: MailboxRouteInput }> = [];
  const seen = new Map<string, Candidate['at']>();
  for (const cand of candidates) {
    const fields = (cand.value as { __fields?: number } | null)?.__fields;
    if (fields !== undefined) {
      errors.push({
        ...cand.at,
        field: '(row)',
        message: `found ${fields} fields, the header names a different number`,
        status: 400,
      });
      continue;
    }
    // zod's safeParse of this extended schema throws on null: refuse non-objects here (found by
    // test/central/fuzz-api.test.ts: {"routes":[null]} was a 500).
    if (cand.value === null || typeof cand.value !== 'object' || Array.isArray(cand.value)) {
      errors.push({ ...cand.at, field: '(route)', message: 'expected an object', status: 400 });
      continue;
    }
    const parsed = bulkRouteInput.safeParse(cand.value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      errors.push({
        ...cand.at,
        field: String(issue.path[0] ?? '(route)'),
        message: issue.message,
        status: 400,
      });
      continue;
    }
    const first = seen.get(parsed.data.address);
    if (first) {
      const where = 'line' in first ? `line ${first.line}` : `routes.${first.index}`;
      errors.push({ ...cand.at, field: 'address', message: `duplicate of ${where}`, status: 400 });
      continue;
    }
    seen.set(parsed.data.address, cand.at);
    valid.push({ at: cand.at, route: parsed.data });
  }
  const facts = await routingFacts(
    db,
    valid.map((v) => v.route),
  );
  for (const v of valid) {
    const problem = checkRoute(principal, v.route, facts);
    if (problem)
      errors.push({ ...v.at, field: problem.field, message: problem.message, status: problem.status });
  }
  if (errors.length) {
    errors.sort((a, b) => (a.line ?? a.index ?? 0) - (b.line ?? b.index ?? 0));
    const status = errors.some((e) => e.status === 400) ? 400 : 403;
    return { errors: errors.map(({ status: _s, ...e }) => e), status };
  }
  const counts = dryRun
    ? { created: 0, moved: 0, updated: 0 }
    : await writeRoutes(
        db,
        site,
        valid.map((v) => v.route),
        facts,
      );
  return { ...counts, dryRun };
}
