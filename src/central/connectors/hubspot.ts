// HubSpot connector: logs each activity as an `emails` object associated with the matched contacts
// and companies, and pulls contacts, companies, owners and outgoing emails from the CRM.
//
// A small fetch client, not `@hubspot/api-client`: the SDK loads inside the vitest pool (which
// turns on nodejs_compat) but central's wrangler.toml has no nodejs_compat, and the SDK needs
// `form-data` (http, https, fs, stream) and `bottleneck`. Its generated models still check every
// request and answer below at compile time (`import type` only; `Wire<T>` is their JSON shape).
//
// Idempotency: a batch upsert keyed on a unique custom email property (`router_activity_id`).
// Search-then-create is not safe here: HubSpot's search index lags writes by seconds, so a retry
// after a lost answer would not find the object it just made and would make a second one.

import type { BatchInputPublicDefaultAssociationMultiPost } from '@hubspot/api-client/lib/codegen/crm/associations/v4/models/all.js';
import type {
  BatchInputSimplePublicObjectBatchInputUpsert,
  BatchResponseSimplePublicUpsertObject,
} from '@hubspot/api-client/lib/codegen/crm/objects/emails/models/all.js';
import type {
  CollectionResponseSimplePublicObjectWithAssociationsForwardPaging,
  CollectionResponseWithTotalSimplePublicObjectForwardPaging,
  PublicObjectSearchRequest,
} from '@hubspot/api-client/lib/codegen/crm/objects/models/all.js';
import type { CollectionResponsePublicOwnerForwardPaging } from '@hubspot/api-client/lib/codegen/crm/owners/models/all.js';
import type { PropertyCreate } from '@hubspot/api-client/lib/codegen/crm/properties/models/all.js';
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

const CRM = 'HubSpot';
export const HUBSPOT_DEFAULT_BASE_URL = 'https://api.hubapi.com';
/** The unique email property holding our activity id (the upsert key). */
export const HUBSPOT_ACTIVITY_PROPERTY = 'router_activity_id';
/** The search API returns at most 10,000 results per query; paging past it is a 400. */
export const HUBSPOT_SEARCH_RESULT_CAP = 10_000;
/** The search API's largest page. */
const SEARCH_PAGE_SIZE = 200;
/** The list (archived, owners) endpoints' largest page. */
const LIST_PAGE_SIZE = 100;
/** Search results trail writes by seconds: each run re-reads this much before its start. */
export const HUBSPOT_SEARCH_OVERLAP_MS = 5 * 60_000;
/** The unique property exists once made; re-checked daily in case an admin deleted it. */
const PROPERTY_CHECK_TTL_S = 86_400;

/** JSON on the wire of an SDK model: dates are strings, `_from` is `from`, `_new` is `new`. */
type Wire<T> = T extends Date
  ? string
  : T extends string
    ? `${T}`
    : T extends (infer U)[]
      ? Wire<U>[]
      : T extends object
        ? { [K in keyof T as K extends `_${infer R}` ? R : K]: Wire<T[K]> }
        : T;

/** `sorts` as HubSpot's search guide documents it (the SDK's model says `string[]`). */
type SearchRequest = Omit<Wire<PublicObjectSearchRequest>, 'sorts' | 'after'> & {
  sorts: { propertyName: string; direction: 'ASCENDING' | 'DESCENDING' }[];
};
type SearchResponse = Wire<CollectionResponseWithTotalSimplePublicObjectForwardPaging>;
type ListResponse = Wire<CollectionResponseSimplePublicObjectWithAssociationsForwardPaging>;
type OwnersResponse = Wire<CollectionResponsePublicOwnerForwardPaging>;

interface HubspotSettings {
  baseUrl: string;
  portalId?: string;
}

function settingsOf(ctx: ConnectorContext): HubspotSettings {
  const base = typeof ctx.settings.baseUrl === 'string' ? ctx.settings.baseUrl : HUBSPOT_DEFAULT_BASE_URL;
  const portalId = ctx.settings.portalId;
  return {
    baseUrl: base.replace(/\/+$/, ''),
    ...(typeof portalId === 'string' || typeof portalId === 'number' ? { portalId: String(portalId) } : {}),
  };
}

function call(ctx: ConnectorContext, method: string, path: string, body?: unknown): Promise<CrmAnswer> {
  const token = ctx.secrets.accessToken ?? '';
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return crmFetch(
    CRM,
    `${settingsOf(ctx).baseUrl}${path}`,
    { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) },
    ctx.now(),
  );
}

// ---- test ----

async function test(ctx: ConnectorContext) {
  if (!ctx.secrets.accessToken) return { ok: false, detail: 'no access token is set (secrets.accessToken)' };
  const { baseUrl } = settingsOf(ctx);
  const answer = await call(ctx, 'GET', '/crm/v3/objects/contacts?limit=1&archived=false');
  if (answer.ok)
    return { ok: true, detail: `connected to ${baseUrl}: contacts are readable with this token` };
  const r = answer.result;
  switch (r.outcome) {
    case 'unauthorized':
      return {
        ok: false,
        detail:
          r.status === 401
            ? `the access token was refused (401): ${r.detail}`
            : `the token lacks a scope (403, crm.objects.contacts.read needed): ${r.detail}`,
      };
    case 'retry':
      return {
        ok: false,
        detail: r.status ? `HubSpot failed: ${r.detail}` : `${baseUrl} unreachable: ${r.detail}`,
      };
    default:
      return { ok: false, detail: r.detail };
  }
}

// ---- deliver ----

type Party = DeliveryInput['activity']['parties'][number];

function headerPerson(p: { address: string; name?: string | null }) {
  const [firstName = '', ...rest] = (p.name ?? '').trim().split(/\s+/);
  return { email: p.address, firstName, lastName: rest.join(' ') };
}

/** `hs_email_headers` as HubSpot documents it: from/sender/to/cc/bcc with e-mail and names. */
export function hubspotEmailHeaders(activity: DeliveryInput['activity']): string {
  const of = (role: Party['role']) => activity.parties.filter((p) => p.role === role).map(headerPerson);
  const from = activity.from
    ? headerPerson({ address: activity.from, name: activity.fromName })
    : of('from')[0];
  return JSON.stringify({ from, sender: from, to: of('to'), cc: of('cc'), bcc: [] });
}

function emailProperties(input: DeliveryInput, deployment: string): Record<string, string> {
  const a = input.activity;
  const props: Record<string, string> = {
    [HUBSPOT_ACTIVITY_PROPERTY]: `${deployment}/${a.id}`,
    hs_timestamp: new Date(a.receivedAt).toISOString(),
    hs_email_direction: 'INCOMING_EMAIL',
    hs_email_headers: hubspotEmailHeaders(a),
  };
  if (a.subject != null) props.hs_email_subject = a.subject;
  if (input.content.text != null) props.hs_email_text = input.content.text;
  if (input.content.html != null) props.hs_email_html = input.content.html;
  return props;
}

async function ensureActivityProperty(ctx: ConnectorContext): Promise<DeliveryResult | undefined> {
  const cacheKey = `hubspot:${settingsOf(ctx).baseUrl}:property`;
  if (await ctx.cache.get(cacheKey)) return undefined;
  const found = await call(ctx, 'GET', `/crm/v3/properties/emails/${HUBSPOT_ACTIVITY_PROPERTY}`);
  if (!found.ok && !(found.result.outcome === 'refused' && found.result.status === 404)) return found.result;
  if (!found.ok) {
    const property: Wire<PropertyCreate> = {
      name: HUBSPOT_ACTIVITY_PROPERTY,
      label: 'Router activity id',
      description: 'Set by crm-edge-router: the activity this email was logged from (unique).',
      groupName: 'emailinformation',
      type: 'string',
      fieldType: 'text',
      hasUniqueValue: true,
    };
    const made = await call(ctx, 'POST', '/crm/v3/properties/emails', property);
    // 409: made meanwhile by another delivery.
    if (!made.ok && !(made.result.outcome === 'refused' && made.result.status === 409)) return made.result;
  }
  await ctx.cache.put(cacheKey, '1', PROPERTY_CHECK_TTL_S);
  return undefined;
}

/** Matched parties by HubSpot object type (our `account` is HubSpot's company). */
function associationTargets(activity: DeliveryInput['activity']): Record<'contacts' | 'companies', string[]> {
  const out = { contacts: new Set<string>(), companies: new Set<string>() };
  const add = (type: string | undefined, id: string | undefined) => {
    if (!id) return;
    if (type === 'contact') out.contacts.add(id);
    else if (type === 'account') out.companies.add(id);
  };
  for (const p of activity.parties) add(p.recordType, p.recordId);
  if (activity.regarding) add(activity.regarding.type, activity.regarding.id);
  return { contacts: [...out.contacts], companies: [...out.companies] };
}

async function associate(ctx: ConnectorContext, emailId: string, activity: DeliveryInput['activity']) {
  for (const [toType, ids] of Object.entries(associationTargets(activity))) {
    if (ids.length === 0) continue;
    // Default (unlabelled) associations: creating one that exists is a no-op, so retries are safe.
    const body: Wire<BatchInputPublicDefaultAssociationMultiPost> = {
      inputs: ids.map((id) => ({ from: { id: emailId }, to: { id } })),
    };
    const answer = await call(
      ctx,
      'POST',
      `/crm/v4/associations/emails/${toType}/batch/associate/default`,
      body,
    );
    if (!answer.ok) return answer.result;
    // 207: some associations were made, some refused (an id HubSpot does not know): permanent.
    if (answer.status === 207) {
      const errors = (answer.body as { errors?: { message?: string }[] }).errors ?? [];
      return {
        outcome: 'refused' as const,
        status: 207,
        detail: `HubSpot refused an association: ${errors.map((e) => e.message).join('; ') || 'no reason given'}`,
      };
    }
  }
  return undefined;
}

async function deliver(ctx: ConnectorContext, input: DeliveryInput): Promise<DeliveryResult> {
  const { portalId } = settingsOf(ctx);
  let emailId = input.existing?.kind === 'hubspot' ? input.existing.id : undefined;
  if (!emailId) {
    const missing = await ensureActivityProperty(ctx);
    if (missing) return missing;
    const body: Wire<BatchInputSimplePublicObjectBatchInputUpsert> = {
      inputs: [
        {
          idProperty: HUBSPOT_ACTIVITY_PROPERTY,
          id: `${ctx.deployment}/${input.activity.id}`,
          properties: emailProperties(input, ctx.deployment),
        },
      ],
    };
    const answer = await call(ctx, 'POST', '/crm/v3/objects/emails/batch/upsert', body);
    if (!answer.ok) return answer.result;
    const made = answer.body as Wire<BatchResponseSimplePublicUpsertObject>;
    emailId = made.results?.[0]?.id;
    if (!emailId)
      return { outcome: 'retry', status: answer.status, detail: 'HubSpot upsert answered without an id' };
  }
  const failed = await associate(ctx, emailId, input.activity);
  if (failed) return failed;
  return {
    outcome: 'delivered',
    crmObject: {
      kind: 'hubspot',
      id: emailId,
      ...(portalId ? { url: `https://app.hubspot.com/contacts/${portalId}/record/0-49/${emailId}` } : {}),
    },
  };
}

// ---- pull ----

/** One run walks these steps in order; each pull answers one page of one step. */
const STEPS = [
  'contacts',
  'companies',
  'emails',
  'contacts-archived',
  'companies-archived',
  'owners',
] as const;
type Step = (typeof STEPS)[number];
type SearchStep = 'contacts' | 'companies' | 'emails';

/** The cursor (JSON): completed high-water marks per step, and where the current run stands. */
export interface HubspotCursor {
  v: 1;
  /** Per step: changes at or after this instant (ms) are read by the next run. */
  since: Record<Step, number>;
  /** The current run's upper bound (ms), fixed when the run starts. */
  runTo: number;
  step: number;
  /** Search steps: the window being read, [from, to), and the last object id read in it. */
  window?: { from: number; to: number; afterId?: string };
  /** List steps: the page after which to continue. */
  after?: string;
  /** Records seen in this run (progress). */
  seen: number;
}

const LAST_MODIFIED: Record<SearchStep, string> = {
  contacts: 'lastmodifieddate',
  companies: 'hs_lastmodifieddate',
  emails: 'hs_lastmodifieddate',
};
const SEARCH_PROPERTIES: Record<SearchStep, string[]> = {
  contacts: ['email', 'hs_additional_emails', 'lastmodifieddate'],
  companies: ['name', 'domain', 'hs_lastmodifieddate'],
  emails: [
    'hs_email_direction',
    'hs_email_message_id',
    'hs_email_subject',
    'hs_email_to_email',
    'hubspot_owner_id',
    'hs_lastmodifieddate',
  ],
};

function parseCursor(raw: string | undefined, now: number): HubspotCursor {
  const fresh = (since: Record<Step, number>): HubspotCursor => ({
    v: 1,
    since,
    runTo: now,
    step: 0,
    seen: 0,
  });
  if (!raw) return fresh(Object.fromEntries(STEPS.map((s) => [s, 0])) as Record<Step, number>);
  const c = JSON.parse(raw) as HubspotCursor;
  if (c.v !== 1)
    throw new CrmPullError({ outcome: 'refused', detail: `unknown HubSpot cursor version ${c.v}` });
  return c;
}

function splitEmails(...values: (string | null | undefined)[]): string[] {
  return [
    ...new Set(
      values
        .flatMap((v) => (v ?? '').split(';'))
        .map((e) => e.trim().toLowerCase())
        .filter(Boolean),
    ),
  ];
}

function emptyPage(cursor: HubspotCursor, done: boolean): PullPage {
  return {
    upserts: [],
    deleted: [],
    outbound: [],
    nextCursor: JSON.stringify(cursor),
    done,
    progress: { done: cursor.seen },
  };
}

function advance(cursor: HubspotCursor, step: Step): HubspotCursor {
  const { window: _w, after: _a, ...rest } = cursor;
  return {
    ...rest,
    since: { ...cursor.since, [step]: Math.max(0, cursor.runTo - HUBSPOT_SEARCH_OVERLAP_MS) },
    step: cursor.step + 1,
  };
}

async function searchPage(ctx: ConnectorContext, cursor: HubspotCursor, step: SearchStep): Promise<PullPage> {
  const prop = LAST_MODIFIED[step];
  let window = cursor.window ?? { from: cursor.since[step], to: cursor.runTo };
  for (;;) {
    const filters: NonNullable<SearchRequest['filterGroups']>[number]['filters'] = [
      { propertyName: prop, operator: 'GTE', value: String(window.from) },
      { propertyName: prop, operator: 'LT', value: String(window.to) },
    ];
    if (step === 'emails')
      filters.push({ propertyName: 'hs_email_direction', operator: 'EQ', value: 'EMAIL' });
    // Keyset paging by id, never `after` offsets: an object modified meanwhile leaves the window
    // (its new date is past the run) and would shift every later one back by a place under an
    // offset, so one would go unread, for good. Each query also starts at its first result, so
    // none pages towards the 10,000 cap.
    if (window.afterId) filters.push({ propertyName: 'hs_object_id', operator: 'GT', value: window.afterId });
    const body: SearchRequest = {
      filterGroups: [{ filters }],
      sorts: [{ propertyName: 'hs_object_id', direction: 'ASCENDING' }],
      properties: SEARCH_PROPERTIES[step],
      limit: SEARCH_PAGE_SIZE,
    };
    const answer = await call(ctx, 'POST', `/crm/v3/objects/${step}/search`, body);
    if (!answer.ok) throw new CrmPullError(answer.result);
    const res = answer.body as SearchResponse;
    // The cap is per query: a window holding more is halved (by time) until each half fits.
    if (!window.afterId && res.total > HUBSPOT_SEARCH_RESULT_CAP) {
      if (window.to - window.from <= 1)
        throw new CrmPullError({
          outcome: 'refused',
          detail: `more than ${HUBSPOT_SEARCH_RESULT_CAP} ${step} modified in the same millisecond ${window.from}`,
        });
      window = { from: window.from, to: window.from + Math.floor((window.to - window.from) / 2) };
      continue;
    }
    const last = res.results.at(-1)?.id;
    let nextCursor: HubspotCursor;
    if (res.paging?.next && last) nextCursor = { ...cursor, window: { ...window, afterId: last } };
    else if (window.to >= cursor.runTo) nextCursor = advance(cursor, step);
    else nextCursor = { ...cursor, window: { from: window.to, to: cursor.runTo } };
    nextCursor.seen += res.results.length;
    const page = emptyPage(nextCursor, false);
    if (step === 'emails') page.outbound = res.results.flatMap(outboundOf);
    else
      page.upserts = res.results.map(
        (r): PulledRecord =>
          step === 'contacts'
            ? {
                type: 'contact',
                id: r.id,
                emails: splitEmails(r.properties.email, r.properties.hs_additional_emails),
              }
            : { type: 'account', id: r.id, emails: [] },
      );
    return page;
  }
}

function outboundOf(r: SearchResponse['results'][number]): PulledOutbound[] {
  const p = r.properties;
  // Only mail we can correlate: a Message-ID to match In-Reply-To, an owner to attribute it to.
  if (p.hs_email_direction !== 'EMAIL' || !p.hs_email_message_id || !p.hubspot_owner_id) return [];
  const to = splitEmails(p.hs_email_to_email);
  return [
    {
      messageId: p.hs_email_message_id,
      userId: p.hubspot_owner_id,
      ...(p.hs_email_subject ? { subject: p.hs_email_subject } : {}),
      ...(to.length ? { to } : {}),
    },
  ];
}

async function listPage(ctx: ConnectorContext, cursor: HubspotCursor, step: Step): Promise<PullPage> {
  const after = cursor.after ? `&after=${encodeURIComponent(cursor.after)}` : '';
  const since = cursor.since[step];
  if (step === 'owners') {
    const answer = await call(ctx, 'GET', `/crm/v3/owners?limit=${LIST_PAGE_SIZE}${after}`);
    // Owners need their own scope (crm.objects.owners.read): without it users come from elsewhere.
    if (!answer.ok && answer.result.outcome === 'unauthorized' && answer.result.status === 403)
      return emptyPage(advance(cursor, step), true);
    if (!answer.ok) throw new CrmPullError(answer.result);
    const res = answer.body as OwnersResponse;
    const next = res.paging?.next?.after;
    const nextCursor = next ? { ...cursor, after: next } : advance(cursor, step);
    const changed = res.results.filter((o) => Date.parse(o.updatedAt) >= since && o.type === 'PERSON');
    nextCursor.seen += changed.length;
    const page = emptyPage(nextCursor, !next);
    page.upserts = changed
      .filter((o) => !o.archived)
      .map((o) => ({ type: 'user', id: o.id, emails: splitEmails(o.email) }));
    page.deleted = changed.filter((o) => o.archived).map((o) => ({ type: 'user', id: o.id }));
    return page;
  }
  const objectType = step === 'contacts-archived' ? 'contacts' : 'companies';
  const answer = await call(
    ctx,
    'GET',
    `/crm/v3/objects/${objectType}?archived=true&limit=${LIST_PAGE_SIZE}${after}`,
  );
  if (!answer.ok) throw new CrmPullError(answer.result);
  const res = answer.body as ListResponse;
  const next = res.paging?.next?.after;
  const nextCursor = next ? { ...cursor, after: next } : advance(cursor, step);
  // The archived list has no filter: everything archived since the last run is new to us.
  const gone = res.results.filter((r) => r.archivedAt && Date.parse(r.archivedAt) >= since);
  nextCursor.seen += gone.length;
  const page = emptyPage(nextCursor, false);
  page.deleted = gone.map((r) => ({ type: objectType === 'contacts' ? 'contact' : 'account', id: r.id }));
  return page;
}

async function pull(ctx: ConnectorContext, raw: string | undefined): Promise<PullPage> {
  let cursor = parseCursor(raw, ctx.now());
  // A finished run: the next one starts now, from the high-water marks it left.
  if (cursor.step >= STEPS.length) cursor = { v: 1, since: cursor.since, runTo: ctx.now(), step: 0, seen: 0 };
  const step = STEPS[cursor.step] as Step;
  const page =
    step === 'contacts' || step === 'companies' || step === 'emails'
      ? await searchPage(ctx, cursor, step)
      : await listPage(ctx, cursor, step);
  const next = JSON.parse(page.nextCursor) as HubspotCursor;
  return { ...page, done: next.step >= STEPS.length };
}

export const hubspotAdapter: ConnectorAdapter = { kind: 'hubspot', test, deliver, pull };
