// CRM records and suppressions of a deployment: the bulk import (CSV or JSON, validated before
// anything is written, then upserted in all-or-nothing chunks), single and bulk removal, and the
// suppression list, for /api/v1/deployments/:id/records|suppressions and the dashboard's Records
// page. Every write records the change (config-changed.ts) so the edges' snapshots follow.
import type { z } from '@hono/zod-openapi';
import { CsvError, readCsvRows } from '../../core/csv.js';
import { RECORD_TYPES, type RecordType } from '../../core/types.js';
import type { Db } from '../../db/client.js';
import {
  addSuppressions,
  countRecords,
  deleteSuppression,
  listRecords,
  type RecordInput,
  type RecordKey,
  type RecordQuery,
  removeRecordChunk,
  removeRecords,
  upsertRecordChunk,
} from '../../db/queries/records.js';
import { markPartChanged } from '../../db/queries/snapshot-parts.js';
import {
  bulkRemoveBody,
  MAX_RECORDS_PER_REQUEST,
  RECORD_CHUNK,
  recordInput,
  type rowError,
} from '../contract/schemas.js';
import { notFound, payloadTooLarge, validationFailed } from '../http/errors.js';
import type { BodyRow } from '../http/request-body.js';
import { type ChangeSite, configChanged } from '../snapshot/config-changed.js';
import { getHashKey } from './hash-key.js';
import { completeSync, countSyncReceived, openSync, startSync } from './record-sync.js';

// Reads for both front ends.
export { listRecords, listSuppressions } from '../../db/queries/records.js';

/** Row errors listed in an answer; `rejected` still counts them all. */
export const MAX_LISTED_ERRORS = 1000;

export type RowError = z.infer<typeof rowError>;
export type RecordCandidate = BodyRow;
type Candidate = RecordCandidate;

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

export function describeRowError(e: RowError): string {
  const where = e.line !== undefined ? `line ${e.line}` : `records.${e.index}`;
  return `${where}, ${e.field}: ${e.message}`;
}

/** Turns CSV text into candidate records, or throws a 400 for a file that cannot be read at all. */
export function csvRecordCandidates(text: string): { candidates: Candidate[]; errors: RowError[] } {
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
export function validateRecordCandidates(candidates: Candidate[], errors: RowError[]): RecordInput[] {
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

export interface RecordImportOptions {
  onInvalid: 'reject' | 'skip';
  dryRun: boolean;
  /** An open full sync (record-sync.ts) every written record is stamped with. */
  sync?: string | undefined;
  /** `replace`: a sync of its own, completed when every chunk has landed. */
  mode: 'upsert' | 'replace';
}

/** The counts every answer of an import reports, and the refused rows (at most MAX_LISTED_ERRORS). */
export interface RecordImportCounts {
  created: number;
  updated: number;
  rejected: number;
  chunks: number;
  landedChunks: number;
  errors: RowError[];
}

export type RecordImportOutcome =
  /** Invalid rows with `onInvalid=reject` (or `mode=replace`): nothing was written. */
  | { kind: 'refused'; message: string; counts: RecordImportCounts }
  /** A chunk failed to write; the earlier chunks landed. */
  | { kind: 'failed'; message: string; cause: unknown; counts: RecordImportCounts }
  | { kind: 'done'; counts: RecordImportCounts; sync?: string; removed?: number; dryRun: boolean };

/**
 * Imports records into a deployment (which the caller has checked exists and the principal
 * manages). `read` reads the request's rows; it is called after the sync is checked, so a closed
 * sync is refused before the body is read.
 */
export async function importRecords(
  db: Db,
  site: ChangeSite,
  deployment: string,
  opts: RecordImportOptions,
  read: () => Promise<{ candidates: RecordCandidate[]; errors: RowError[] }>,
): Promise<RecordImportOutcome> {
  const { onInvalid, dryRun, sync, mode } = opts;
  if (sync !== undefined && mode === 'replace')
    throw validationFailed('mode: `replace` is a sync of its own; leave out `sync`');
  if (sync !== undefined) await openSync(db, deployment, sync);
  const { candidates, errors } = await read();
  const total = candidates.length + errors.length;
  if (total === 0) throw validationFailed('records: no records in the request');
  if (total > MAX_RECORDS_PER_REQUEST)
    throw payloadTooLarge(`${total} records in one request; the limit is ${MAX_RECORDS_PER_REQUEST}`);
  const valid = validateRecordCandidates(candidates, errors);
  errors.sort((a, b) => rowOrder(a) - rowOrder(b));
  const chunks = Math.ceil(valid.length / RECORD_CHUNK);
  const listed = errors.slice(0, MAX_LISTED_ERRORS);
  if (errors.length && (onInvalid === 'reject' || mode === 'replace')) {
    const more =
      errors.length > 1 ? ` (and ${errors.length - 1} more invalid row${errors.length > 2 ? 's' : ''})` : '';
    return {
      kind: 'refused',
      message: `${describeRowError(errors[0]!)}${more}; nothing was written`,
      counts: { created: 0, updated: 0, rejected: errors.length, chunks, landedChunks: 0, errors: listed },
    };
  }
  let created = 0;
  let updated = 0;
  let landedChunks = 0;
  let removed: number | undefined;
  const hashKey = await getHashKey(db);
  const syncId = mode === 'replace' && !dryRun ? (await startSync(db, deployment)).id : sync;
  /** What every answer reports: the counts so far and the refused rows. */
  const counts = (): RecordImportCounts => ({
    created,
    updated,
    rejected: errors.length,
    chunks,
    landedChunks,
    errors: listed,
  });
  if (!dryRun) {
    try {
      for (let i = 0; i < valid.length; i += RECORD_CHUNK) {
        const done = await upsertRecordChunk(db, deployment, valid.slice(i, i + RECORD_CHUNK), hashKey, {
          syncId,
        });
        created += done.created;
        updated += done.updated;
        landedChunks++;
      }
    } catch (cause) {
      if (landedChunks) configChanged(site, 'records');
      return {
        kind: 'failed',
        message: `chunk ${landedChunks + 1} of ${chunks} failed to write; ${landedChunks} chunk(s) landed; re-sending the request is safe (records are upserted on type + id)`,
        cause,
        counts: counts(),
      };
    }
    if (syncId) await countSyncReceived(db, syncId, valid.length);
    if (mode === 'replace' && syncId)
      removed = (await completeSync(db, null, deployment, syncId, Number.POSITIVE_INFINITY)).removed;
    if (valid.length || removed) configChanged(site, 'records');
  }
  return {
    kind: 'done',
    counts: counts(),
    ...(syncId ? { sync: syncId } : {}),
    ...(removed !== undefined ? { removed } : {}),
    dryRun,
  };
}

/** A deployment's records (a page) and, unless it is an exact-address lookup, the counts per type. */
export async function listRecordsWithCounts(db: Db, deployment: string, q: RecordQuery) {
  // An exact-address lookup answers from the index alone: counting 10 M rows per type would
  // cost a second (`counts` is then left out; list without `address` to get it).
  const [rows, perType] = await Promise.all([
    listRecords(db, deployment, q),
    q.address === undefined ? countRecords(db, deployment) : undefined,
  ]);
  let counts: Record<RecordType | 'total', number> | undefined;
  if (perType) {
    counts = { user: 0, contact: 0, account: 0, lead: 0, total: 0 };
    for (const t of RECORD_TYPES) counts[t] = perType[t] ?? 0;
    counts.total = RECORD_TYPES.reduce((sum, t) => sum + (counts?.[t] ?? 0), 0);
  }
  return { rows, counts };
}

/** Deletes or deactivates one record; returns whether it existed (and was active, to deactivate). */
export async function removeRecord(
  db: Db,
  site: ChangeSite,
  deployment: string,
  key: RecordKey,
  opts: { deactivate?: boolean },
) {
  const n = await removeRecordChunk(db, deployment, [key], opts);
  if (n) configChanged(site, 'records');
  return n;
}

/** Deletes or deactivates many records (the bulk API and the dashboard's bulk form). */
export async function removeManyRecords(
  db: Db,
  site: ChangeSite,
  deployment: string,
  keys: RecordKey[],
  opts: { deactivate?: boolean; chunk: number },
) {
  const done = await removeRecords(db, deployment, keys, opts);
  if (done.removed) configChanged(site, 'records');
  return done;
}

/**
 * The dashboard's bulk-removal keys: one `type,id` per line (a `type,id` header may lead), checked
 * with the bulk API's own schema; every bad line is named, and nothing is removed when one is bad.
 */
export function recordKeysOfText(text: string): Array<{ type: RecordType; id: string }> {
  const rows: { line: number; fields: string[] }[] = [];
  try {
    for (const row of readCsvRows(text)) rows.push(row);
  } catch (err) {
    if (err instanceof CsvError) throw validationFailed(err.message);
    throw err;
  }
  if (rows[0] && rows[0].fields.map((v) => v.trim().toLowerCase()).join(',') === 'type,id') rows.shift();
  if (!rows.length) throw validationFailed('name at least one record: one "type,id" per line');
  const problems = rows
    .filter((r) => r.fields.length !== 2)
    .map((r) => `line ${r.line}: expected "type,id", got ${r.fields.length} field(s)`);
  if (problems.length) throw validationFailed(problems.slice(0, 20).join('; '));
  const parsed = bulkRemoveBody.safeParse({
    records: rows.map((r) => ({ type: r.fields[0]!.trim(), id: r.fields[1]! })),
  });
  if (!parsed.success)
    throw validationFailed(
      parsed.error.issues
        .slice(0, 20)
        .map((i) => {
          const row = typeof i.path[1] === 'number' ? rows[i.path[1]] : undefined;
          return `${row ? `line ${row.line}: ${String(i.path[2] ?? 'records')}` : 'records'}: ${i.message}`;
        })
        .join('; '),
    );
  return parsed.data.records;
}

/** Adds suppression entries; the deployment's snapshot part changes when one is new. */
export async function addSuppressionEntries(db: Db, site: ChangeSite, deployment: string, entries: string[]) {
  const counts = await addSuppressions(db, deployment, entries);
  if (counts.added) {
    await markPartChanged(db, deployment);
    configChanged(site, 'suppressions');
  }
  return counts;
}

/** Removes one suppression entry, or answers 404 when the list does not hold it. */
export async function removeSuppression(db: Db, site: ChangeSite, deployment: string, entry: string) {
  if (!(await deleteSuppression(db, deployment, entry)))
    throw notFound(`${entry} is not on the suppression list of ${deployment}`);
  await markPartChanged(db, deployment);
  configChanged(site, 'suppressions');
}
