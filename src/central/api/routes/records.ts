import { z } from '@hono/zod-openapi';
import {
  bulkRemoveBody,
  importResult,
  MAX_RECORD_KEYS_PER_REQUEST,
  MAX_RECORDS_PER_REQUEST,
  RECORD_CHUNK,
  recordCounts,
  recordInput,
  recordKey,
  recordSchema,
  recordsBody,
  type rowError,
  suppressionEntry,
  suppressionSchema,
} from '../../contract/schemas.js';

import type { Context } from 'hono';
import { CsvError, readCsvRows } from '../../../core/csv.js';
import { RECORD_TYPES } from '../../../core/types.js';
import { findDeployment } from '../../../db/queries/deployments.js';
import { markPartChanged } from '../../../db/queries/snapshot-parts.js';
import { removeManyRecords, removeRecord } from '../../services/config-writes.js';
import { changeSite, configChanged } from '../../snapshot/config-changed.js';
import { getHashKey } from '../../services/hash-key.js';
import {
  completeSync,
  countSyncReceived,
  findSync,
  openSync,
  startSync,
} from '../../services/record-sync.js';
import { serializeSync } from '../../contract/serializers.js';
import {
  addSuppressions,
  countRecords,
  deleteSuppression,
  listRecords,
  listSuppressions,
  type RecordInput,
  upsertRecordChunk,
} from '../../../db/queries/records.js';
import { createRouter } from '../../http/app-router.js';
import { assertDeploymentAdmin } from '../../http/auth.js';
import type { AppEnv } from '../../context.js';
import { errorBody, notFound, payloadTooLarge, validationFailed } from '../../http/errors.js';
import { MAX_RECORDS_BODY_BYTES } from '../../http/body-limits.js';
import { type BodyRow, jsonBodyRows, readJsonOrCsvText } from '../../http/request-body.js';
import {
  apiRoute,
  errorSchema,
  jsonBody,
  jsonOrCsvRoute,
  jsonResponse,
} from '../../contract/openapi-helpers.js';

export { MAX_RECORDS_BODY_BYTES, MAX_RECORDS_PER_REQUEST, RECORD_CHUNK, recordInput, suppressionEntry };
/** Row errors listed in an answer; `rejected` still counts them all. */
const MAX_LISTED_ERRORS = 1000;

const importFailure = errorSchema
  .extend(importResult.omit({ dryRun: true }).shape)
  .openapi('RecordImportFailure');

const idParams = z.object({ id: z.string().min(1).max(63) });

const postRecords = jsonOrCsvRoute(
  '/deployments/{id}/records',
  'records',
  {
    json: 'RecordsInput',
    csvExample: 'type,id,name,emails,emailEnabled\r\ncontact,c-1,Ann,ann@x.example,true\r\n',
  },
  {
    summary: 'Bulk upsert CRM records (idempotent on type + id) from JSON or CSV',
    description: [
      `Every row is validated before anything is written; valid rows are then written in all-or-nothing chunks of ${RECORD_CHUNK}.`,
      'JSON: `{ records: [{ type, id, name?, emails, emailEnabled? }] }`.',
      'CSV (`text/csv`, RFC 4180): a header row naming the columns `type,id,name,emails,emailEnabled` (any order; `name` and `emailEnabled` optional),',
      'addresses in `emails` separated by `;`, `emailEnabled` one of true/false/yes/no/1/0 (empty means true).',
      'By default an invalid row (bad address, unknown type, duplicate type + id within the request) makes the request a 400 listing every bad row, and nothing is written;',
      'with `onInvalid=skip` the invalid rows are skipped and listed and the rest is written. `dryRun=true` validates only.',
      `At most ${MAX_RECORDS_PER_REQUEST} records and ${MAX_RECORDS_BODY_BYTES} bytes per request (else 413).`,
    ].join(' '),
    request: {
      params: idParams,
      query: z.object({
        onInvalid: z.enum(['reject', 'skip']).default('reject'),
        dryRun: z.enum(['true', 'false']).default('false'),
        sync: z.string().max(64).optional().openapi({
          description:
            'id of an open full sync (POST …/record-syncs): the records are stamped as carried by it',
        }),
        mode: z.enum(['upsert', 'replace']).default('upsert').openapi({
          description:
            '`replace`: this request is a whole full sync — every record of the deployment not in it is removed once it is written (nothing is removed if any row is invalid)',
        }),
      }),
    },
    responses: {
      200: jsonResponse(importResult, 'counts (and the skipped rows with `onInvalid=skip`)'),
      400: jsonResponse(
        importFailure.or(errorSchema),
        'invalid rows (each listed in `errors`; nothing written) or an unreadable body',
      ),
      413: jsonResponse(errorSchema, 'body or record count over the limit'),
      500: jsonResponse(
        importFailure,
        'a chunk failed to write; `landedChunks` says how far it got (re-sending is safe)',
      ),
    },
  },
);

const getRecords = apiRoute('get', '/deployments/{id}/records', 'records', {
  summary: 'List and search records, with counts per type',
  request: {
    params: idParams,
    query: z.object({
      type: z.enum(RECORD_TYPES).optional(),
      q: z.string().max(320).optional().openapi({
        description: 'substring of the id, name or an address (a scan: use `address` for lookups)',
      }),
      address: z
        .string()
        .max(320)
        .optional()
        .openapi({ description: 'exact address (case and display name ignored), served by an index' }),
      limit: z.coerce.number().int().min(1).max(1000).default(100),
    }),
  },
  responses: {
    200: jsonResponse(
      z.object({
        items: z.array(recordSchema),
        counts: recordCounts.optional().openapi({ description: 'left out of exact `address` lookups' }),
      }),
      'records and counts',
    ),
  },
});

const postSuppressions = apiRoute('post', '/deployments/{id}/suppressions', 'suppressions', {
  summary: 'Add suppressed addresses and @domains (never tracked, not even when promoted)',
  request: {
    params: idParams,
    body: jsonBody(z.object({ entries: z.array(suppressionEntry).min(1).max(10_000) })),
  },
  responses: { 200: jsonResponse(z.object({ added: z.number(), unchanged: z.number() }), 'counts') },
});

const getSuppressions = apiRoute('get', '/deployments/{id}/suppressions', 'suppressions', {
  summary: "List a deployment's suppression entries",
  request: { params: idParams },
  responses: { 200: jsonResponse(z.object({ items: z.array(suppressionSchema) }), 'entries') },
});

const deleteSuppressionRoute = apiRoute('delete', '/deployments/{id}/suppressions/{entry}', 'suppressions', {
  summary: 'Remove one suppression entry (URL-encode it: `%40x.com` for `@x.com`)',
  request: { params: z.object({ id: z.string().min(1).max(63), entry: suppressionEntry }) },
  responses: { 200: jsonResponse(z.object({ deleted: z.string() }), 'removed') },
});

const recordKeyParams = z.object({
  id: z.string().min(1).max(63),
  type: z.enum(RECORD_TYPES),
  recordId: z.string().min(1).max(200),
});

const deleteRecordRoute = apiRoute('delete', '/deployments/{id}/records/{type}/{recordId}', 'records', {
  summary: 'Delete one record (its addresses stop matching at the edge and in party resolution)',
  description:
    '`?deactivate=true` keeps the record but deactivates it: it no longer matches; writing it again reactivates it.',
  request: {
    params: recordKeyParams,
    query: z.object({ deactivate: z.enum(['true', 'false']).default('false') }),
  },
  responses: {
    200: jsonResponse(
      z.object({ deleted: recordKey.optional(), deactivated: recordKey.optional() }),
      'the record that was deleted or deactivated',
    ),
  },
});

const bulkRemoveResult = z
  .object({ requested: z.number(), removed: z.number(), notFound: z.number() })
  .openapi('RecordRemoveResult');

const bulkDeleteRoute = apiRoute('post', '/deployments/{id}/records/delete', 'records', {
  summary: 'Delete records in bulk (`{ records: [{ type, id }] }`)',
  description: `At most ${MAX_RECORD_KEYS_PER_REQUEST} keys; written in all-or-nothing chunks of ${RECORD_CHUNK}. Keys that do not exist are counted in \`notFound\`.`,
  request: { params: idParams, body: jsonBody(bulkRemoveBody) },
  responses: { 200: jsonResponse(bulkRemoveResult, 'counts') },
});

const bulkDeactivateRoute = apiRoute('post', '/deployments/{id}/records/deactivate', 'records', {
  summary: 'Deactivate records in bulk (kept, but they no longer match; writing one again reactivates it)',
  request: { params: idParams, body: jsonBody(bulkRemoveBody) },
  responses: { 200: jsonResponse(bulkRemoveResult, 'counts (`notFound`: absent or already inactive)') },
});

const syncSchema = z
  .object({
    id: z.string(),
    deployment: z.string(),
    status: z.enum(['open', 'completing', 'completed', 'superseded']),
    received: z.number(),
    removed: z.number(),
    startedAt: z.number(),
    completedAt: z.number().nullable(),
  })
  .openapi('RecordSync');

const startSyncRoute = apiRoute('post', '/deployments/{id}/record-syncs', 'records', {
  summary: 'Start a full sync of the records (a nightly CRM export)',
  description:
    'Post the export with `POST …/records?sync=<id>` in as many requests as needed, then complete the sync: every record the sync did not carry is removed. A sync that is never completed removes nothing; starting a new sync supersedes an open one.',
  request: { params: idParams },
  responses: { 201: jsonResponse(syncSchema, 'the open sync') },
});

const syncParams = z.object({ id: z.string().min(1).max(63), syncId: z.string().min(1).max(64) });

const getSyncRoute = apiRoute('get', '/deployments/{id}/record-syncs/{syncId}', 'records', {
  summary: 'Status of a full sync',
  request: { params: syncParams },
  responses: { 200: jsonResponse(syncSchema, 'the sync') },
});

const completeSyncRoute = apiRoute('post', '/deployments/{id}/record-syncs/{syncId}/complete', 'records', {
  summary: 'Complete a full sync: remove every record it did not carry',
  description: `Removes in chunks of ${RECORD_CHUNK} for up to about 20 s per call; \`status: "completing"\` means call again. 409 for a superseded sync or one that is not the latest.`,
  request: { params: syncParams },
  responses: { 200: jsonResponse(syncSchema, 'the sync (`completed`, or `completing`: call again)') },
});

type RowError = z.infer<typeof rowError>;
type Candidate = BodyRow;

const BOOLEAN_WORDS: Record<string, boolean> = {
  true: true,
  false: false,
  yes: true,
  no: false,
  '1': true,
  '0': false,
};
const CSV_COLUMNS = ['type', 'id', 'name', 'emails', 'emailenabled'] as const;
const REQUIRED_COLUMNS = ['type', 'id', 'emails'] as const;

function describeRow(e: RowError): string {
  const where = e.line !== undefined ? `line ${e.line}` : `records.${e.index}`;
  return `${where}, ${e.field}: ${e.message}`;
}

/** Turns CSV text into candidate records, or throws a 400 for a file that cannot be read at all. */
function csvCandidates(text: string): { candidates: Candidate[]; errors: RowError[] } {
  const candidates: Candidate[] = [];
  const errors: RowError[] = [];
  let columns: (typeof CSV_COLUMNS)[number][] | undefined;
  try {
    for (const row of readCsvRows(text)) {
      if (!columns) {
        const names = row.fields.map((f) => f.trim().toLowerCase());
        for (const n of names)
          if (!(CSV_COLUMNS as readonly string[]).includes(n))
            throw validationFailed(
              `line ${row.line}, header: unknown column "${n}" (expected type,id,name,emails,emailEnabled)`,
            );
        for (const r of REQUIRED_COLUMNS)
          if (!names.includes(r)) throw validationFailed(`line ${row.line}, header: missing column "${r}"`);
        const dup = names.find((n, i) => names.indexOf(n) !== i);
        if (dup) throw validationFailed(`line ${row.line}, header: column "${dup}" appears twice`);
        columns = names as (typeof CSV_COLUMNS)[number][];
        continue;
      }
      if (row.fields.length !== columns.length) {
        errors.push({
          line: row.line,
          field: '(row)',
          message: `expected ${columns.length} fields as in the header, found ${row.fields.length}`,
        });
        continue;
      }
      const cell = (name: (typeof CSV_COLUMNS)[number]) => {
        const i = columns!.indexOf(name);
        return i < 0 ? undefined : (row.fields[i] as string);
      };
      const enabledText = cell('emailenabled')?.trim().toLowerCase() ?? '';
      const enabled = enabledText === '' ? true : BOOLEAN_WORDS[enabledText];
      if (enabled === undefined) {
        errors.push({
          line: row.line,
          field: 'emailEnabled',
          message: `"${enabledText}" is not true/false/yes/no/1/0`,
        });
        continue;
      }
      const name = cell('name')?.trim();
      candidates.push({
        at: { line: row.line },
        value: {
          type: cell('type')?.trim().toLowerCase(),
          id: cell('id'),
          ...(name ? { name } : {}),
          emails: (cell('emails') ?? '')
            .split(';')
            .map((e) => e.trim())
            .filter(Boolean),
          emailEnabled: enabled,
        },
      });
    }
  } catch (err) {
    if (err instanceof CsvError)
      throw validationFailed(`line ${err.line}, csv: ${err.message.replace(/^line \d+: /, '')}`);
    throw err;
  }
  if (!columns) throw validationFailed('body: the CSV has no header row');
  return { candidates, errors };
}

/** Validates every candidate and finds duplicates of type + id; nothing is written here. */
function validateCandidates(candidates: Candidate[], errors: RowError[]): RecordInput[] {
  const valid: RecordInput[] = [];
  const seen = new Map<string, Candidate['at']>();
  for (const cand of candidates) {
    const parsed = recordInput.safeParse(cand.value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const [head, sub] = issue.path;
      let message = issue.message;
      if (head === 'type') {
        message = `${JSON.stringify((cand.value as { type?: unknown }).type ?? null)} is not one of ${RECORD_TYPES.join(', ')}`;
      } else if (head === 'emails' && typeof sub === 'number') {
        const bad = (cand.value as { emails?: unknown[] }).emails?.[sub];
        message = `${JSON.stringify(bad)} ${issue.message.replace(/^must be/, 'is not')}`;
      }
      errors.push({ ...cand.at, field: head === undefined ? '(record)' : String(head), message });
      continue;
    }
    const key = `${parsed.data.type}\0${parsed.data.id}`;
    const first = seen.get(key);
    if (first) {
      const where = 'line' in first ? `line ${first.line}` : `records.${first.index}`;
      errors.push({
        ...cand.at,
        field: 'id',
        message: `duplicate of ${where} (${parsed.data.type} ${parsed.data.id})`,
      });
      continue;
    }
    seen.set(key, cand.at);
    valid.push(parsed.data);
  }
  return valid;
}

function rowOrder(e: RowError): number {
  return e.line ?? e.index ?? 0;
}

async function readCandidates(c: Context<AppEnv>): Promise<{ candidates: Candidate[]; errors: RowError[] }> {
  const { isCsv, text } = await readJsonOrCsvText(c, MAX_RECORDS_BODY_BYTES, 'records body');
  return isCsv ? csvCandidates(text) : { candidates: jsonBodyRows(text, 'records'), errors: [] };
}

export const recordRoutes = createRouter();
recordRoutes.openAPIRegistry.register('RecordsInput', recordsBody);

recordRoutes
  .openapi(postRecords, async (c) => {
    const { id } = c.req.valid('param');
    const { onInvalid, dryRun, sync, mode } = c.req.valid('query');
    assertDeploymentAdmin(c.get('principal'), id);
    const db = c.get('db');
    if (!(await findDeployment(db, id))) throw notFound(`deployment ${id} does not exist`);
    if (sync !== undefined && mode === 'replace')
      throw validationFailed('mode: `replace` is a sync of its own; leave out `sync`');
    if (sync !== undefined) await openSync(db, id, sync);
    const { candidates, errors } = await readCandidates(c);
    const total = candidates.length + errors.length;
    if (total === 0) throw validationFailed('records: no records in the request');
    if (total > MAX_RECORDS_PER_REQUEST)
      throw payloadTooLarge(`${total} records in one request; the limit is ${MAX_RECORDS_PER_REQUEST}`);
    const valid = validateCandidates(candidates, errors);
    errors.sort((a, b) => rowOrder(a) - rowOrder(b));
    const chunks = Math.ceil(valid.length / RECORD_CHUNK);
    const listed = errors.slice(0, MAX_LISTED_ERRORS);
    if (errors.length && (onInvalid === 'reject' || mode === 'replace')) {
      const more =
        errors.length > 1
          ? ` (and ${errors.length - 1} more invalid row${errors.length > 2 ? 's' : ''})`
          : '';
      return c.json(
        {
          ...errorBody(
            'validation_failed',
            `${describeRow(errors[0]!)}${more}; nothing was written`,
            c.get('requestId'),
          ),
          created: 0,
          updated: 0,
          rejected: errors.length,
          chunks,
          landedChunks: 0,
          errors: listed,
        },
        400,
      );
    }
    let created = 0;
    let updated = 0;
    let landedChunks = 0;
    let removed: number | undefined;
    const hashKey = await getHashKey(db);
    const site = changeSite(c);
    const syncId = mode === 'replace' && dryRun === 'false' ? (await startSync(db, id)).id : sync;
    /** What every answer reports: the counts so far and the refused rows. */
    const outcome = () => ({
      created,
      updated,
      rejected: errors.length,
      chunks,
      landedChunks,
      errors: listed,
    });
    if (dryRun === 'false') {
      try {
        for (let i = 0; i < valid.length; i += RECORD_CHUNK) {
          const counts = await upsertRecordChunk(db, id, valid.slice(i, i + RECORD_CHUNK), hashKey, {
            syncId,
          });
          created += counts.created;
          updated += counts.updated;
          landedChunks++;
        }
      } catch (err) {
        if (landedChunks) configChanged(site, 'records');
        console.error(`[${c.get('requestId')}] records chunk ${landedChunks + 1} of ${chunks} failed`, err);
        return c.json(
          {
            ...errorBody(
              'internal',
              `chunk ${landedChunks + 1} of ${chunks} failed to write; ${landedChunks} chunk(s) landed; re-sending the request is safe (records are upserted on type + id)`,
              c.get('requestId'),
            ),
            ...outcome(),
          },
          500,
        );
      }
      if (syncId) await countSyncReceived(db, syncId, valid.length);
      if (mode === 'replace' && syncId)
        removed = (await completeSync(db, null, id, syncId, Number.POSITIVE_INFINITY)).removed;
      if (valid.length || removed) configChanged(site, 'records');
    }
    return c.json(
      {
        ...(syncId ? { sync: syncId } : {}),
        ...(removed !== undefined ? { removed } : {}),
        ...outcome(),
        dryRun: dryRun === 'true',
      },
      200,
    );
  })
  .openapi(deleteRecordRoute, async (c) => {
    const { id, type, recordId } = c.req.valid('param');
    const deactivate = c.req.valid('query').deactivate === 'true';
    assertDeploymentAdmin(c.get('principal'), id);
    const db = c.get('db');
    if (!(await findDeployment(db, id))) throw notFound(`deployment ${id} does not exist`);
    const n = await removeRecord(db, changeSite(c), id, { type, id: recordId }, { deactivate });
    if (!n)
      throw notFound(
        `${type} ${recordId} is not ${deactivate ? 'an active record' : 'a record'} of deployment ${id}`,
      );
    return c.json(
      deactivate ? { deactivated: { type, id: recordId } } : { deleted: { type, id: recordId } },
      200,
    );
  })
  .openapi(bulkDeleteRoute, async (c) =>
    bulkRemove(c, c.req.valid('param').id, c.req.valid('json').records, false),
  )
  .openapi(bulkDeactivateRoute, async (c) =>
    bulkRemove(c, c.req.valid('param').id, c.req.valid('json').records, true),
  )
  .openapi(startSyncRoute, async (c) => {
    const { id } = c.req.valid('param');
    assertDeploymentAdmin(c.get('principal'), id);
    const db = c.get('db');
    if (!(await findDeployment(db, id))) throw notFound(`deployment ${id} does not exist`);
    return c.json(serializeSync(await startSync(db, id)), 201);
  })
  .openapi(getSyncRoute, async (c) => {
    const { id, syncId } = c.req.valid('param');
    assertDeploymentAdmin(c.get('principal'), id);
    return c.json(serializeSync(await findSync(c.get('db'), id, syncId)), 200);
  })
  .openapi(completeSyncRoute, async (c) => {
    const { id, syncId } = c.req.valid('param');
    assertDeploymentAdmin(c.get('principal'), id);
    return c.json(serializeSync(await completeSync(c.get('db'), changeSite(c), id, syncId)), 200);
  })
  .openapi(getRecords, async (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    assertDeploymentAdmin(c.get('principal'), id);
    const db = c.get('db');
    if (!(await findDeployment(db, id))) throw notFound(`deployment ${id} does not exist`);
    // An exact-address lookup answers from the index alone: counting 10 M rows per type would
    // cost a second (`counts` is then left out; list without `address` to get it).
    const [rows, perType] = await Promise.all([
      listRecords(db, id, q),
      q.address === undefined ? countRecords(db, id) : undefined,
    ]);
    let counts: Record<(typeof RECORD_TYPES)[number] | 'total', number> | undefined;
    if (perType) {
      counts = { user: 0, contact: 0, account: 0, lead: 0, total: 0 };
      for (const t of RECORD_TYPES) counts[t] = perType[t] ?? 0;
      counts.total = RECORD_TYPES.reduce((sum, t) => sum + (counts?.[t] ?? 0), 0);
    }
    return c.json(
      {
        items: rows.map((r) => ({
          type: r.type as (typeof RECORD_TYPES)[number],
          id: r.id,
          name: r.name ?? null,
          emails: r.emails,
          emailEnabled: r.emailEnabled,
          active: r.active,
          updatedAt: r.updatedAt,
        })),
        ...(counts ? { counts } : {}),
      },
      200,
    );
  })
  .openapi(postSuppressions, async (c) => {
    const { id } = c.req.valid('param');
    assertDeploymentAdmin(c.get('principal'), id);
    const db = c.get('db');
    if (!(await findDeployment(db, id))) throw notFound(`deployment ${id} does not exist`);
    const counts = await addSuppressions(db, id, c.req.valid('json').entries);
    if (counts.added) {
      await markPartChanged(db, id);
      configChanged(changeSite(c), 'suppressions');
    }
    return c.json(counts, 200);
  })
  .openapi(getSuppressions, async (c) => {
    const { id } = c.req.valid('param');
    assertDeploymentAdmin(c.get('principal'), id);
    const db = c.get('db');
    if (!(await findDeployment(db, id))) throw notFound(`deployment ${id} does not exist`);
    return c.json({ items: await listSuppressions(db, id) }, 200);
  })
  .openapi(deleteSuppressionRoute, async (c) => {
    const { id, entry } = c.req.valid('param');
    assertDeploymentAdmin(c.get('principal'), id);
    const db = c.get('db');
    if (!(await findDeployment(db, id))) throw notFound(`deployment ${id} does not exist`);
    if (!(await deleteSuppression(db, id, entry)))
      throw notFound(`${entry} is not on the suppression list of ${id}`);
    await markPartChanged(db, id);
    configChanged(changeSite(c), 'suppressions');
    return c.json({ deleted: entry }, 200);
  });

async function bulkRemove(
  c: Context<AppEnv>,
  id: string,
  keys: Array<{ type: string; id: string }>,
  deactivate: boolean,
) {
  assertDeploymentAdmin(c.get('principal'), id);
  const db = c.get('db');
  if (!(await findDeployment(db, id))) throw notFound(`deployment ${id} does not exist`);
  return c.json(
    await removeManyRecords(db, changeSite(c), id, keys, { deactivate, chunk: RECORD_CHUNK }),
    200,
  );
}
