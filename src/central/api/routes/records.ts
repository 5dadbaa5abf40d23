import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { RECORD_TYPES } from '../../../core/types.js';
import type { AppEnv } from '../../context.js';
import {
  apiRoute,
  errorSchema,
  jsonBody,
  jsonOrCsvRoute,
  jsonResponse,
} from '../../contract/openapi-helpers.js';
import {
  bulkRemoveBody,
  importResult,
  MAX_RECORD_KEYS_PER_REQUEST,
  MAX_RECORDS_PER_REQUEST,
  RECORD_CHUNK,
  recordCounts,
  recordKey,
  recordSchema,
  recordsBody,
  suppressionEntry,
  suppressionSchema,
} from '../../contract/schemas.js';
import { serializeRecord, serializeSync } from '../../contract/serializers.js';
import { createRouter } from '../../http/app-router.js';
import { assertDeploymentAdmin } from '../../http/auth.js';
import { MAX_RECORDS_BODY_BYTES } from '../../http/body-limits.js';
import { errorBody, notFound } from '../../http/errors.js';
import { jsonBodyRows, readJsonOrCsvText } from '../../http/request-body.js';
import { requireDeployment } from '../../services/deployment-admin.js';
import { completeSync, findSync, startSync } from '../../services/record-sync.js';
import {
  addSuppressionEntries,
  csvRecordCandidates,
  importRecords,
  listRecordsWithCounts,
  listSuppressions,
  removeManyRecords,
  removeRecord,
  removeSuppression,
} from '../../services/records.js';
import { changeSite } from '../../snapshot/config-changed.js';

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

async function readCandidates(c: Context<AppEnv>) {
  const { isCsv, text } = await readJsonOrCsvText(c, MAX_RECORDS_BODY_BYTES, 'records body');
  return isCsv ? csvRecordCandidates(text) : { candidates: jsonBodyRows(text, 'records'), errors: [] };
}

export const recordRoutes = createRouter();
recordRoutes.openAPIRegistry.register('RecordsInput', recordsBody);

recordRoutes
  .openapi(postRecords, async (c) => {
    const { id } = c.req.valid('param');
    const { onInvalid, dryRun, sync, mode } = c.req.valid('query');
    assertDeploymentAdmin(c.get('principal'), id);
    const db = c.get('db');
    await requireDeployment(db, id);
    const outcome = await importRecords(
      db,
      changeSite(c),
      id,
      { onInvalid, dryRun: dryRun === 'true', sync, mode },
      () => readCandidates(c),
    );
    if (outcome.kind === 'refused')
      return c.json(
        { ...errorBody('validation_failed', outcome.message, c.get('requestId')), ...outcome.counts },
        400,
      );
    if (outcome.kind === 'failed') {
      const { chunks, landedChunks } = outcome.counts;
      console.error(
        `[${c.get('requestId')}] records chunk ${landedChunks + 1} of ${chunks} failed`,
        outcome.cause,
      );
      return c.json(
        { ...errorBody('internal', outcome.message, c.get('requestId')), ...outcome.counts },
        500,
      );
    }
    return c.json(
      {
        ...(outcome.sync ? { sync: outcome.sync } : {}),
        ...(outcome.removed !== undefined ? { removed: outcome.removed } : {}),
        ...outcome.counts,
        dryRun: outcome.dryRun,
      },
      200,
    );
  })
  .openapi(deleteRecordRoute, async (c) => {
    const { id, type, recordId } = c.req.valid('param');
    const deactivate = c.req.valid('query').deactivate === 'true';
    assertDeploymentAdmin(c.get('principal'), id);
    const db = c.get('db');
    await requireDeployment(db, id);
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
    await requireDeployment(db, id);
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
    await requireDeployment(db, id);
    const { rows, counts } = await listRecordsWithCounts(db, id, q);
    return c.json({ items: rows.map(serializeRecord), ...(counts ? { counts } : {}) }, 200);
  })
  .openapi(postSuppressions, async (c) => {
    const { id } = c.req.valid('param');
    assertDeploymentAdmin(c.get('principal'), id);
    const db = c.get('db');
    await requireDeployment(db, id);
    return c.json(await addSuppressionEntries(db, changeSite(c), id, c.req.valid('json').entries), 200);
  })
  .openapi(getSuppressions, async (c) => {
    const { id } = c.req.valid('param');
    assertDeploymentAdmin(c.get('principal'), id);
    const db = c.get('db');
    await requireDeployment(db, id);
    return c.json({ items: await listSuppressions(db, id) }, 200);
  })
  .openapi(deleteSuppressionRoute, async (c) => {
    const { id, entry } = c.req.valid('param');
    assertDeploymentAdmin(c.get('principal'), id);
    const db = c.get('db');
    await requireDeployment(db, id);
    await removeSuppression(db, changeSite(c), id, entry);
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
  await requireDeployment(db, id);
  return c.json(
    await removeManyRecords(db, changeSite(c), id, keys, { deactivate, chunk: RECORD_CHUNK }),
    200,
  );
}
