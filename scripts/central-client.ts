// The one HTTP client for central's API, used by the CLI, the seeder, the simulator, the
// benchmarks and the e2e suite. Request and response types come from the zod schemas the routes
// declare (src/central/contract/schemas.ts): a field renamed there breaks every caller at compile time.
import type { z } from 'zod';
import type * as S from '../src/central/contract/schemas.js';
import { errorCode } from './errors.js';

type In<T extends z.ZodType> = z.input<T>;
type Out<T extends z.ZodType> = z.output<T>;

export type Deployment = Out<typeof S.deploymentSchema>;
export type DeploymentInput = In<typeof S.deploymentBody>;
export type Region = Out<typeof S.regionSchema>;
export type RegionInput = In<typeof S.regionBody>;
export type MailboxRoute = Out<typeof S.mailboxSchema>;
export type MailboxRouteInput = In<typeof S.mailboxBody>;
export type RecordInput = In<typeof S.recordInput>;
export type RecordImportResult = Out<typeof S.importResult>;
export interface RecordRemoveResult {
  requested: number;
  removed: number;
  notFound: number;
}
export interface RecordSync {
  id: string;
  deployment: string;
  status: 'open' | 'completing' | 'completed' | 'superseded';
  received: number;
  removed: number;
  startedAt: number;
  completedAt: number | null;
}
export interface MailboxImportResult {
  created: number;
  moved: number;
  updated: number;
  dryRun: boolean;
}
export interface MailboxRowError {
  line?: number;
  index?: number;
  field: string;
  message: string;
}
export type CrmRecord = Out<typeof S.recordSchema>;
export type RecordCounts = Out<typeof S.recordCounts>;
export type Activity = Out<typeof S.activitySchema>;
export type ActivityDetail = Out<typeof S.activityDetailSchema>;
export type WebhookDelivery = Out<typeof S.webhookDeliverySchema>;
export type OutboundInput = In<typeof S.outboundInput>;
export type OutboundRegistration = Out<typeof S.outboundResult>;
export type RuleScript = Out<typeof S.rulesSchema>;
export type Token = Out<typeof S.tokenSchema>;
export type TokenInput = In<typeof S.tokenInput>;
export type CreatedToken = Out<typeof S.createdToken>;
export type Stats = Out<typeof S.statsSchema>;
export type RegionStats = Out<typeof S.regionStatsSchema>;
export type ErrorBody = Out<typeof S.errorSchema>;

/** Central answered, but not with a success: `code` and `message` are the API's own error body. */
export class CentralError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly code: string | undefined,
    readonly apiMessage: string,
  ) {
    super(`${method} ${path}: ${status}${code ? ` ${code}` : ''}: ${apiMessage}`);
    this.name = 'CentralError';
  }
}

/** Central could not be reached at all (refused, reset, timed out). */
export class CentralUnreachable extends Error {
  constructor(
    readonly baseUrl: string,
    readonly reason: string,
  ) {
    super(`cannot reach central at ${baseUrl}: ${reason}`);
    this.name = 'CentralUnreachable';
  }
}

export interface RequestOptions {
  /** A JSON body. */
  body?: unknown;
  /** A body sent as is, with `contentType`. */
  raw?: string | Uint8Array;
  contentType?: string;
  accept?: string;
  /** Another bearer token for this request. */
  token?: string;
}

export interface Answer {
  status: number;
  /** The parsed JSON body, or undefined when the body is empty or not JSON. */
  // biome-ignore lint/suspicious/noExplicitAny: the untyped escape hatch (tests probe any path)
  json: any;
  text: string;
}

const enc = encodeURIComponent;

function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export type CentralClient = ReturnType<typeof createCentralClient>;

export function createCentralClient({
  baseUrl,
  token,
  timeoutMs = 60_000,
}: {
  baseUrl: string;
  token: string;
  timeoutMs?: number;
}) {
  const base = baseUrl.replace(/\/+$/, '');

  /** Any request; answers every status (throws only when central cannot be reached). */
  async function request(method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
    const headers: Record<string, string> = { authorization: `Bearer ${options.token ?? token}` };
    if (options.accept) headers.accept = options.accept;
    let payload: BodyInit | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(options.body);
    } else if (options.raw !== undefined) {
      if (options.contentType) headers['content-type'] = options.contentType;
      payload = typeof options.raw === 'string' ? options.raw : new Uint8Array(options.raw);
    }
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers,
        body: payload,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new CentralUnreachable(base, errorCode(err));
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  }

  /** A request that must succeed: a non-2xx answer is a {@link CentralError}. */
  async function call<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const answer = await request(method, path, options);
    if (answer.status < 200 || answer.status >= 300) throw errorOf(method, path, answer);
    return answer.json as T;
  }

  function errorOf(method: string, path: string, answer: Answer): CentralError {
    const body = answer.json as Partial<ErrorBody> | undefined;
    const message = body?.error?.message ?? (answer.text.slice(0, 500) || `HTTP ${answer.status}`);
    return new CentralError(method, path, answer.status, body?.error?.code, message);
  }

  return {
    baseUrl: base,
    request,
    call,

    health: () => call<{ ok: boolean } & Record<string, unknown>>('GET', '/health'),

    deployments: {
      list: () => call<{ items: Deployment[] }>('GET', '/api/v1/deployments'),
      get: (id: string) => call<Deployment>('GET', `/api/v1/deployments/${enc(id)}`),
      put: (id: string, body: DeploymentInput) =>
        call<Deployment>('PUT', `/api/v1/deployments/${enc(id)}`, { body }),
    },

    regions: {
      list: () => call<{ items: Region[] }>('GET', '/api/v1/regions'),
      get: (id: string) => call<Region>('GET', `/api/v1/regions/${enc(id)}`),
      put: (id: string, body: RegionInput) => call<Region>('PUT', `/api/v1/regions/${enc(id)}`, { body }),
      rules: (id: string, q: { format?: string; deployment?: string } = {}) =>
        call<RuleScript>('GET', `/api/v1/regions/${enc(id)}/rules${query(q)}`),
      /** The rule script alone, as text. */
      rulesText: async (id: string, q: { format?: string; deployment?: string } = {}) => {
        const path = `/api/v1/regions/${enc(id)}/rules${query(q)}`;
        const answer = await request('GET', path, { accept: 'text/plain' });
        if (answer.status !== 200) throw errorOf('GET', path, answer);
        return answer.text;
      },
    },

    mailboxes: {
      list: (q: { region?: string; deployment?: string; q?: string; limit?: number; after?: string } = {}) =>
        call<{ items: MailboxRoute[] }>('GET', `/api/v1/mailboxes${query(q)}`),
      /** Bulk routes from CSV, all or nothing: the counts, or (400/403) every refused row. */
      importCsv: async (csv: string, { dryRun = false }: { dryRun?: boolean } = {}) => {
        const path = `/api/v1/mailboxes${query({ dryRun: dryRun || undefined })}`;
        const answer = await request('POST', path, { raw: csv, contentType: 'text/csv; charset=utf-8' });
        if (answer.status === 200) return { ok: true as const, result: answer.json as MailboxImportResult };
        if ((answer.status === 400 || answer.status === 403) && Array.isArray(answer.json?.errors))
          return { ok: false as const, errors: answer.json.errors as MailboxRowError[] };
        throw errorOf('POST', path, answer);
      },
      /** Moves routes to another region in one call, all or nothing (`addresses`, or `deployment` + `search`). */
      move: (body: { region: string; addresses?: string[]; deployment?: string; search?: string }) =>
        call<MailboxImportResult>('POST', '/api/v1/mailboxes/move', { body }),
      get: (address: string) => call<MailboxRoute>('GET', `/api/v1/mailboxes/${enc(address)}`),
      put: (address: string, body: MailboxRouteInput) =>
        call<MailboxRoute>('PUT', `/api/v1/mailboxes/${enc(address)}`, { body }),
    },

    records: {
      list: (deployment: string, q: { type?: string; q?: string; limit?: number } = {}) =>
        call<{ items: CrmRecord[]; counts: RecordCounts }>(
          'GET',
          `/api/v1/deployments/${enc(deployment)}/records${query(q)}`,
        ),
      /** JSON import (all-or-nothing per chunk of the API). */
      import: (deployment: string, records: RecordInput[]) =>
        call<RecordImportResult>('POST', `/api/v1/deployments/${enc(deployment)}/records`, {
          body: { records },
        }),
      /** CSV import of one request's rows; invalid rows skipped and listed. */
      importCsv: (
        deployment: string,
        csv: string,
        { dryRun = false, sync }: { dryRun?: boolean; sync?: string } = {},
      ) =>
        call<RecordImportResult>(
          'POST',
          `/api/v1/deployments/${enc(deployment)}/records${query({ dryRun: dryRun || undefined, onInvalid: 'skip', sync })}`,
          { raw: csv, contentType: 'text/csv; charset=utf-8' },
        ),
      /** Deletes one record, or with `deactivate` keeps it inactive. */
      remove: (deployment: string, type: string, id: string, { deactivate = false } = {}) =>
        call<{ deleted?: { type: string; id: string }; deactivated?: { type: string; id: string } }>(
          'DELETE',
          `/api/v1/deployments/${enc(deployment)}/records/${enc(type)}/${enc(id)}${query({ deactivate: deactivate || undefined })}`,
        ),
      /** Bulk delete or deactivate (`verb`). */
      removeMany: (
        deployment: string,
        verb: 'delete' | 'deactivate',
        records: Array<{ type: string; id: string }>,
      ) =>
        call<RecordRemoveResult>('POST', `/api/v1/deployments/${enc(deployment)}/records/${verb}`, {
          body: { records },
        }),
    },

    recordSyncs: {
      start: (deployment: string) =>
        call<RecordSync>('POST', `/api/v1/deployments/${enc(deployment)}/record-syncs`),
      get: (deployment: string, id: string) =>
        call<RecordSync>('GET', `/api/v1/deployments/${enc(deployment)}/record-syncs/${enc(id)}`),
      /** Removes what the sync did not carry; `completing` means call again. */
      complete: (deployment: string, id: string) =>
        call<RecordSync>('POST', `/api/v1/deployments/${enc(deployment)}/record-syncs/${enc(id)}/complete`),
    },

    suppressions: {
      add: (deployment: string, entries: string[]) =>
        call<unknown>('POST', `/api/v1/deployments/${enc(deployment)}/suppressions`, { body: { entries } }),
    },

    /** "Track in CRM": 201 a new activity, 200 merged into the one that tracks the message. */
    promote: async (deployment: string, mailbox: string, raw: Uint8Array | string) => {
      const path = `/api/v1/deployments/${enc(deployment)}/promote${query({ mailbox })}`;
      const answer = await request('POST', path, { raw, contentType: 'message/rfc822' });
      if (answer.status !== 200 && answer.status !== 201) throw errorOf('POST', path, answer);
      return { created: answer.status === 201, activity: answer.json as Activity };
    },

    outbound: {
      /** Registers outbound CRM mail; undefined when central has no outbound endpoint (404/405). */
      register: async (deployment: string, body: OutboundInput) => {
        const path = `/api/v1/deployments/${enc(deployment)}/outbound`;
        const answer = await request('POST', path, { body });
        if (answer.status === 404 || answer.status === 405) return undefined;
        if (answer.status < 200 || answer.status >= 300) throw errorOf('POST', path, answer);
        return answer.json as OutboundRegistration;
      },
    },

    activities: {
      list: (
        q: { deployment?: string; messageId?: string; q?: string; cursor?: string; limit?: number } = {},
      ) => call<{ items: Activity[]; nextCursor: string | null }>('GET', `/api/v1/activities${query(q)}`),
      get: (id: string) => call<ActivityDetail>('GET', `/api/v1/activities/${enc(id)}`),
    },

    stats: (since?: number) => call<Stats>('GET', `/api/v1/stats${query({ since })}`),

    tokens: {
      create: (body: TokenInput) => call<CreatedToken>('POST', '/api/v1/tokens', { body }),
      list: () => call<{ items: Token[] }>('GET', '/api/v1/tokens'),
      revoke: (id: string) => call<Token>('DELETE', `/api/v1/tokens/${enc(id)}`),
    },
  };
}
