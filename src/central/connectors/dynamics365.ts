// Dynamics 365 / Dataverse connector (Web API v9.2, plain fetch): writes each activity as an
// incoming `email` with its activity parties and pulls contact, account, lead and systemuser
// changes (change tracking) and outgoing emails.
//
// Idempotency: the email's `activityid` is derived from the deployment and activity id, and it is
// created by `PATCH /emails(<id>)` with `If-None-Match: *` (create only; 412 when it exists). A
// lookup on `messageid` is not safe: Dataverse has no unique key on it, so two attempts racing
// after a lost answer would both create. The derived key makes the create atomic on its side.
//
// `dynamics-web-api` is not used: plain fetch covers the handful of calls and stays inside the
// Workers runtime without nodejs_compat.
import { bytesToHex } from '../../core/keyed-hash.js';
import { type CrmAnswer, CrmPullError, crmFetch } from './crm-http.js';
import type {
  ConnectorAdapter,
  ConnectorContext,
  DeliveryInput,
  DeliveryResult,
  PulledOutbound,
  PulledRecord,
  PullPage,
} from './types.js';

const CRM = 'Dynamics 365';
const API_PATH = '/api/data/v9.2';
/** A token is renewed this long before Entra ID says it expires (clock skew, request time). */
export const TOKEN_EXPIRY_MARGIN_MS = 60_000;
/** Records per change-tracking page (`odata.maxpagesize`; Dataverse's own cap is 5,000). */
const PAGE_SIZE = 500;
/** Outgoing emails are read by `modifiedon`; each run re-reads this much before its start. */
export const DYNAMICS_OUTBOUND_OVERLAP_MS = 5 * 60_000;
/** email state and status: Completed / Received (the email entity reference's statuscode table). */
const EMAIL_COMPLETED = 1;
const EMAIL_RECEIVED = 4;
const EMAIL_OPEN = 0;
const EMAIL_DRAFT = 1;
/** activityparty.participationtypemask: Sender 1, To 2, CC 3. */
const PARTICIPATION = { from: 1, to: 2, cc: 3 } as const;

/** Our record types → Dataverse tables and entity sets. */
const TABLES = {
  contact: { set: 'contacts', key: 'contactid', emails: ['emailaddress1', 'emailaddress2', 'emailaddress3'] },
  account: { set: 'accounts', key: 'accountid', emails: ['emailaddress1', 'emailaddress2', 'emailaddress3'] },
  lead: { set: 'leads', key: 'leadid', emails: ['emailaddress1', 'emailaddress2', 'emailaddress3'] },
  user: { set: 'systemusers', key: 'systemuserid', emails: ['internalemailaddress'] },
} as const;
type RecordType = keyof typeof TABLES;
const TABLE_NAME: Record<RecordType, string> = {
  contact: 'contact',
  account: 'account',
  lead: 'lead',
  user: 'systemuser',
};
const PULL_TABLES: RecordType[] = ['contact', 'account', 'lead', 'user'];
/** Tables an email's regarding lookup may name (its single-valued navigation properties). */
const REGARDING: Partial<Record<string, string>> = { contact: 'contact', account: 'account', lead: 'lead' };

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface DynamicsSettings {
  url: string;
  tenantId: string;
  clientId: string;
  tokenUrl: string;
}

function settingsOf(ctx: ConnectorContext): DynamicsSettings | string {
  const s = ctx.settings;
  for (const k of ['url', 'tenantId', 'clientId'])
    if (typeof s[k] !== 'string' || !s[k]) return `settings.${k} is missing`;
  const url = (s.url as string).replace(/\/+$/, '');
  const tenantId = s.tenantId as string;
  const tokenUrl =
    typeof s.tokenUrl === 'string' && s.tokenUrl
      ? s.tokenUrl
      : `https://login.microsoftonline.com/${encodeURIComponent(tenantId)}/oauth2/v2.0/token`;
  return { url, tenantId, clientId: s.clientId as string, tokenUrl };
}

// ---- token ----

interface CachedToken {
  token: string;
  expiresAt: number;
}

const tokenKey = (s: DynamicsSettings) => `dynamics365:token:${s.tokenUrl}:${s.clientId}:${s.url}`;

/** OAuth 2.0 client credentials (RFC 6749 §4.4) at the tenant's Entra ID token endpoint. */
async function fetchToken(
  ctx: ConnectorContext,
  s: DynamicsSettings,
): Promise<
  { ok: true; token: string } | { ok: false; result: Exclude<DeliveryResult, { outcome: 'delivered' }> }
> {
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: s.clientId,
    client_secret: ctx.secrets.clientSecret ?? '',
    scope: `${s.url}/.default`,
  });
  const answer = await crmFetch(
    `${CRM} token endpoint`,
    s.tokenUrl,
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    },
    ctx.now(),
  );
  if (!answer.ok) {
    // Entra ID refuses bad client credentials with 400/401 `invalid_client`: that is a pause.
    const r = answer.result;
    if (r.outcome === 'refused' && /invalid_client|unauthorized_client|AADSTS7000215/.test(r.detail))
      return { ok: false, result: { outcome: 'unauthorized', status: r.status ?? 400, detail: r.detail } };
    return answer;
  }
  const body = answer.body as { access_token?: string; expires_in?: number | string };
  if (!body.access_token)
    return { ok: false, result: { outcome: 'retry', detail: 'token endpoint gave no access_token' } };
  const lifetimeMs = Number(body.expires_in ?? 3599) * 1000;
  const cached: CachedToken = { token: body.access_token, expiresAt: ctx.now() + lifetimeMs };
  await ctx.cache.put(tokenKey(s), JSON.stringify(cached), Math.max(1, Math.floor(lifetimeMs / 1000)));
  return { ok: true, token: body.access_token };
}

async function cachedToken(ctx: ConnectorContext, s: DynamicsSettings): Promise<string | undefined> {
  const raw = await ctx.cache.get(tokenKey(s));
  if (!raw) return undefined;
  const c = JSON.parse(raw) as CachedToken;
  return c.expiresAt - TOKEN_EXPIRY_MARGIN_MS > ctx.now() ? c.token : undefined;
}

/**
 * One Web API call with a bearer token: cached until its expiry; a 401 with a cached token (revoked
 * or expired early) gets one fresh token and one more try, then it is `unauthorized`.
 */
async function call(
  ctx: ConnectorContext,
  s: DynamicsSettings,
  method: string,
  pathOrUrl: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<CrmAnswer> {
  const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${s.url}${API_PATH}${pathOrUrl}`;
  let token = await cachedToken(ctx, s);
  const fromCache = token !== undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    if (!token) {
      const fresh = await fetchToken(ctx, s);
      if (!fresh.ok) return fresh;
      token = fresh.token;
    }
    const answer = await crmFetch(
      CRM,
      url,
      {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          'odata-version': '4.0',
          'odata-maxversion': '4.0',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      },
      ctx.now(),
    );
    const refused401 = !answer.ok && answer.result.outcome === 'unauthorized' && answer.result.status === 401;
    if (!refused401 || !fromCache || attempt > 0) return answer;
    token = undefined;
  }
  throw new Error('unreachable');
}

// ---- test ----

async function test(ctx: ConnectorContext) {
  const s = settingsOf(ctx);
  if (typeof s === 'string') return { ok: false, detail: s };
  if (!ctx.secrets.clientSecret)
    return { ok: false, detail: 'no client secret is set (secrets.clientSecret)' };
  const fresh = await fetchToken(ctx, s);
  if (!fresh.ok)
    return {
      ok: false,
      detail:
        fresh.result.outcome === 'unauthorized'
          ? `the token endpoint refused the client id or secret: ${fresh.result.detail}`
          : `no token from ${s.tokenUrl}: ${fresh.result.detail}`,
    };
  const answer = await call(ctx, s, 'GET', '/WhoAmI');
  if (answer.ok)
    return {
      ok: true,
      detail: `connected to ${s.url} as application user ${(answer.body as { UserId?: string }).UserId ?? '?'}`,
    };
  const r = answer.result;
  if (r.outcome === 'unauthorized')
    return {
      ok: false,
      detail:
        r.status === 403
          ? `the application user lacks a security role in ${s.url}: ${r.detail}`
          : `${s.url} refused the token (is the app registered as an application user there?): ${r.detail}`,
    };
  if (r.outcome === 'retry' && !('status' in r && r.status))
    return { ok: false, detail: `${s.url} unreachable: ${r.detail}` };
  return { ok: false, detail: r.detail };
}

// ---- deliver ----

/** RFC 9562 §5.8 (UUIDv8): the first 16 bytes of SHA-256 over our stable key. */
export async function dynamicsActivityId(deployment: string, activityId: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest(
      'SHA-256',
      new TextEncoder().encode(`crm-edge-router:${deployment}:${activityId}`),
    ),
  ).slice(0, 16);
  digest[6] = ((digest[6] as number) & 0x0f) | 0x80;
  digest[8] = ((digest[8] as number) & 0x3f) | 0x80;
  const hex = bytesToHex(digest);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

type Activity = DeliveryInput['activity'];

function activityParties(activity: Activity): Record<string, unknown>[] {
  const seen = new Set<string>();
  const out: Record<string, unknown>[] = [];
  for (const p of activity.parties) {
    const mask = PARTICIPATION[p.role];
    const type = p.recordType as RecordType | undefined;
    const table = type && type in TABLES && p.recordId && GUID.test(p.recordId) ? TABLES[type] : undefined;
    const key = `${mask}:${table ? `${type}:${p.recordId}` : p.address.toLowerCase()}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(
      table && type
        ? {
            participationtypemask: mask,
            [`partyid_${TABLE_NAME[type]}@odata.bind`]: `/${table.set}(${p.recordId})`,
          }
        : { participationtypemask: mask, addressused: p.address },
    );
  }
  return out;
}

function emailBody(input: DeliveryInput): Record<string, unknown> {
  const a = input.activity;
  const body: Record<string, unknown> = {
    directioncode: false,
    email_activity_parties: activityParties(a),
  };
  if (a.messageId) body.messageid = a.messageId;
  if (a.subject != null) body.subject = a.subject;
  // description is the body Dataverse shows (HTML allowed); text when the policy kept no HTML.
  const description = input.content.html ?? input.content.text;
  if (description != null) body.description = description;
  if (a.from) body.sender = a.from;
  const to = a.parties.filter((p) => p.role === 'to').map((p) => p.address);
  if (to.length) body.torecipients = to.join(';');
  const table = a.regarding ? REGARDING[a.regarding.type] : undefined;
  if (a.regarding && table && GUID.test(a.regarding.id))
    body[`regardingobjectid_${table}_email@odata.bind`] =
      `/${TABLES[a.regarding.type as RecordType].set}(${a.regarding.id})`;
  return body;
}

function setState(
  ctx: ConnectorContext,
  s: DynamicsSettings,
  id: string,
  statecode: number,
  statuscode: number,
) {
  return call(ctx, s, 'PATCH', `/emails(${id})`, { statecode, statuscode }, { 'if-match': '*' });
}

async function deliver(ctx: ConnectorContext, input: DeliveryInput): Promise<DeliveryResult> {
  const s = settingsOf(ctx);
  if (typeof s === 'string') return { outcome: 'refused', detail: s };
  const id =
    input.existing?.kind === 'dynamics365'
      ? input.existing.id
      : await dynamicsActivityId(ctx.deployment, input.activity.id);
  const crmObject = {
    kind: 'dynamics365' as const,
    id,
    url: `${s.url}/main.aspx?pagetype=entityrecord&etn=email&id=${id}`,
  };
  if (input.existing?.kind === 'dynamics365') {
    // A received email is closed, and closed activities are read-only: reopen, replace its party
    // list with the one that has the new parties, close it again. Each step is idempotent.
    const reopened = await setState(ctx, s, id, EMAIL_OPEN, EMAIL_DRAFT);
    if (!reopened.ok) return reopened.result;
    const updated = await call(
      ctx,
      s,
      'PATCH',
      `/emails(${id})`,
      { email_activity_parties: activityParties(input.activity) },
      { 'if-match': '*' },
    );
    if (!updated.ok) return updated.result;
  } else {
    const created = await call(ctx, s, 'PATCH', `/emails(${id})`, emailBody(input), { 'if-none-match': '*' });
    // 412: an earlier attempt made it (its answer was lost); carry on to marking it received.
    const exists = !created.ok && created.result.outcome === 'refused' && created.result.status === 412;
    if (!created.ok && !exists) return created.result;
  }
  const received = await setState(ctx, s, id, EMAIL_COMPLETED, EMAIL_RECEIVED);
  if (!received.ok) return received.result;
  return { outcome: 'delivered', crmObject };
}

// ---- pull ----

/** The cursor (JSON): a delta link per table, the page being followed, outbound high-water mark. */
export interface DynamicsCursor {
  v: 1;
  /** 0..3: the tables of PULL_TABLES; 4: outgoing emails; 5: the run is complete. */
  step: number;
  deltaLinks: Partial<Record<RecordType, string>>;
  /** The `@odata.nextLink` being followed in the current step. */
  next?: string;
  /** Outgoing emails modified at or after this (ISO) are read by the next run. */
  outboundSince?: string;
  runStartedAt: number;
  seen: number;
}

const OUTBOUND_STEP = PULL_TABLES.length;

function emailsOf(row: Record<string, unknown>, fields: readonly string[]): string[] {
  return [
    ...new Set(
      fields
        .map((f) => row[f])
        .filter((v): v is string => typeof v === 'string' && v.trim() !== '')
        .map((v) => v.trim().toLowerCase()),
    ),
  ];
}

async function pull(ctx: ConnectorContext, raw: string | undefined): Promise<PullPage> {
  const s = settingsOf(ctx);
  if (typeof s === 'string') throw new CrmPullError({ outcome: 'refused', detail: s });
  let cursor: DynamicsCursor = raw
    ? (JSON.parse(raw) as DynamicsCursor)
    : { v: 1, step: 0, deltaLinks: {}, runStartedAt: ctx.now(), seen: 0 };
  if (cursor.step > OUTBOUND_STEP) cursor = { ...cursor, step: 0, runStartedAt: ctx.now(), seen: 0 };
  const page: PullPage = { upserts: [], deleted: [], outbound: [], nextCursor: '', done: false };
  const prefer = { prefer: `odata.track-changes, odata.maxpagesize=${PAGE_SIZE}` };

  if (cursor.step < OUTBOUND_STEP) {
    const type = PULL_TABLES[cursor.step] as RecordType;
    const t = TABLES[type];
    const select = [t.key, ...t.emails, ...(type === 'user' ? ['isdisabled'] : [])].join(',');
    const url = cursor.next ?? cursor.deltaLinks[type] ?? `/${t.set}?$select=${select}`;
    const answer = await call(ctx, s, 'GET', url, undefined, prefer);
    if (!answer.ok) throw new CrmPullError(answer.result);
    const body = answer.body as {
      value: Record<string, unknown>[];
      '@odata.nextLink'?: string;
      '@odata.deltaLink'?: string;
    };
    for (const row of body.value) {
      // Change tracking marks removals with a `$deletedEntity` context and the record's `id`.
      if (typeof row['@odata.context'] === 'string' && row['@odata.context'].endsWith('$deletedEntity')) {
        page.deleted.push({ type, id: String(row.id) });
        continue;
      }
      const record: PulledRecord = { type, id: String(row[t.key]), emails: emailsOf(row, t.emails) };
      if (type === 'user') record.emailEnabled = row.isdisabled !== true;
      page.upserts.push(record);
    }
    const { next: _next, ...rest } = cursor;
    cursor = body['@odata.nextLink']
      ? { ...cursor, next: body['@odata.nextLink'] }
      : {
          ...rest,
          step: cursor.step + 1,
          deltaLinks: {
            ...cursor.deltaLinks,
            ...(body['@odata.deltaLink'] ? { [type]: body['@odata.deltaLink'] } : {}),
          },
        };
  } else {
    const since = cursor.outboundSince ?? '1970-01-01T00:00:00Z';
    const filter = `directioncode eq true and messageid ne null and modifiedon ge ${since}`;
    const url =
      cursor.next ??
      `/emails?$select=activityid,messageid,subject,torecipients,_ownerid_value,modifiedon&$filter=${encodeURIComponent(filter)}&$orderby=modifiedon asc`;
    const answer = await call(ctx, s, 'GET', url, undefined, { prefer: `odata.maxpagesize=${PAGE_SIZE}` });
    if (!answer.ok) throw new CrmPullError(answer.result);
    const body = answer.body as { value: Record<string, unknown>[]; '@odata.nextLink'?: string };
    for (const row of body.value) {
      if (typeof row.messageid !== 'string' || typeof row._ownerid_value !== 'string') continue;
      const to =
        typeof row.torecipients === 'string'
          ? row.torecipients
              .split(';')
              .map((v) => v.trim().toLowerCase())
              .filter(Boolean)
          : [];
      const outbound: PulledOutbound = { messageId: row.messageid, userId: row._ownerid_value };
      if (typeof row.subject === 'string') outbound.subject = row.subject;
      if (to.length) outbound.to = to;
      page.outbound.push(outbound);
    }
    const { next: _next, ...rest } = cursor;
    cursor = body['@odata.nextLink']
      ? { ...cursor, next: body['@odata.nextLink'] }
      : {
          ...rest,
          step: OUTBOUND_STEP + 1,
          outboundSince: new Date(cursor.runStartedAt - DYNAMICS_OUTBOUND_OVERLAP_MS).toISOString(),
        };
  }
  cursor.seen += page.upserts.length + page.deleted.length + page.outbound.length;
  page.nextCursor = JSON.stringify(cursor);
  page.done = cursor.step > OUTBOUND_STEP;
  page.progress = { done: cursor.seen };
  return page;
}

export const dynamics365Adapter: ConnectorAdapter = { kind: 'dynamics365', test, deliver, pull };
