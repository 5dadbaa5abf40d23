// Many routes at once, with the rules of one PUT (mailbox-admin.ts): the bulk import (CSV or
// JSON, all or nothing) and the move of a department to another region, for
// POST /api/v1/mailboxes, POST /api/v1/mailboxes/move and the dashboard's Routes page.
import { CsvError, readCsvExportCell, readCsvRows } from '../../core/csv.js';
import type { Db } from '../../db/client.js';
import { listMailboxes } from '../../db/queries/mailboxes.js';
import type { Principal } from '../context.js';
import {
  bulkRouteInput,
  MAX_ROUTES_PER_REQUEST,
  type MoveRequest,
  type RouteRowError,
} from '../contract/schemas.js';
import { assertDeploymentAdmin, deploymentScope } from '../http/auth.js';
import { ApiError, notFound, payloadTooLarge, validationFailed } from '../http/errors.js';
import type { BodyRow } from '../http/request-body.js';
import type { ChangeSite } from '../snapshot/config-changed.js';
import { checkRoute, type MailboxRouteInput, routingFacts, writeRoutes } from './mailbox-admin.js';

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

export type Candidate = BodyRow;

const ROUTE_COLUMNS = ['address', 'region', 'deployment', 'userid', 'filter'] as const;

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
