// A stateful HubSpot stand-in, written from HubSpot's public developer documentation (CRM objects
// v3, search, batch upsert, properties, associations v4, owners). It is strict where the
// documentation is: required properties (`hs_timestamp`), enums (`hs_email_direction`,
// `hs_email_status`, filter operators, property types), unknown properties, the upsert key being
// a unique property, association shapes, and the search API's 10,000-result cap (paging past it
// is a 400). Not HubSpot: what HubSpot does beyond its documentation is not modelled.
//
// `npx tsx fakes/hubspot.ts [port]` runs it alone; tests start it from test/support/crm-fakes.ts.
import { type FakeAnswer, type FakeRequest, type FakeTenant, startFake } from './fake-http.js';

export const HUBSPOT_FAKE_TOKEN = 'fake-hubspot-token';
export const HUBSPOT_FAKE_DEFAULT_PORT = 8795;
const SEARCH_CAP = 10_000;
const SEARCH_MAX_LIMIT = 200;
const LIST_MAX_LIMIT = 100;
const MAX_FILTER_GROUPS = 5;
const MAX_FILTERS_PER_GROUP = 6;
const MAX_FILTERS = 18;
const BATCH_MAX_INPUTS = 100;

const OBJECT_TYPES = ['contacts', 'companies', 'emails'] as const;
type ObjectType = (typeof OBJECT_TYPES)[number];

interface HsObject {
  id: string;
  properties: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
  archivedAt?: string;
}

interface PropertyDef {
  name: string;
  type: string;
  fieldType: string;
  hasUniqueValue?: boolean;
  options?: string[];
  readOnly?: boolean;
  label?: string;
  groupName?: string;
}

interface Owner {
  id: string;
  email: string;
  firstName?: string;
  lastName?: string;
  type: 'PERSON' | 'QUEUE';
  archived: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface HubspotTenant extends FakeTenant {
  token: string;
  /** Scopes the token lacks: requests needing one are 403 MISSING_SCOPES. */
  missingScopes: string[];
  objects: Record<ObjectType, Map<string, HsObject>>;
  properties: Record<ObjectType, Map<string, PropertyDef>>;
  /** `emails:<id>` → set of `contacts:<id>` / `companies:<id>`. */
  associations: Map<string, Set<string>>;
  owners: Map<string, Owner>;
  nextId: number;
}

const PROPERTY_TYPES = ['string', 'number', 'date', 'datetime', 'enumeration', 'bool'];
const FIELD_TYPES = [
  'textarea',
  'text',
  'date',
  'file',
  'number',
  'select',
  'radio',
  'checkbox',
  'booleancheckbox',
  'calculation_equation',
  'html',
  'phonenumber',
];
const OPERATORS = [
  'EQ',
  'NEQ',
  'LT',
  'LTE',
  'GT',
  'GTE',
  'BETWEEN',
  'IN',
  'NOT_IN',
  'HAS_PROPERTY',
  'NOT_HAS_PROPERTY',
  'CONTAINS_TOKEN',
  'NOT_CONTAINS_TOKEN',
];

function builtInProperties(): Record<ObjectType, Map<string, PropertyDef>> {
  const defs = (list: PropertyDef[]) => new Map(list.map((p) => [p.name, p]));
  const str = (name: string, extra: Partial<PropertyDef> = {}): PropertyDef => ({
    name,
    type: 'string',
    fieldType: 'text',
    ...extra,
  });
  const dt = (name: string, extra: Partial<PropertyDef> = {}): PropertyDef => ({
    name,
    type: 'datetime',
    fieldType: 'date',
    ...extra,
  });
  const common = [
    dt('hs_createdate', { readOnly: true }),
    { name: 'hs_object_id', type: 'number', fieldType: 'number', readOnly: true },
  ];
  return {
    contacts: defs([
      ...common,
      str('email'),
      str('firstname'),
      str('lastname'),
      str('hs_additional_emails', { readOnly: true }),
      dt('lastmodifieddate', { readOnly: true }),
      dt('createdate', { readOnly: true }),
      str('hubspot_owner_id'),
    ]),
    companies: defs([
      ...common,
      str('name'),
      str('domain'),
      dt('hs_lastmodifieddate', { readOnly: true }),
      dt('createdate', { readOnly: true }),
      str('hubspot_owner_id'),
    ]),
    emails: defs([
      ...common,
      dt('hs_timestamp'),
      dt('hs_lastmodifieddate', { readOnly: true }),
      str('hubspot_owner_id'),
      {
        name: 'hs_email_direction',
        type: 'enumeration',
        fieldType: 'select',
        options: ['EMAIL', 'INCOMING_EMAIL', 'FORWARDED_EMAIL'],
      },
      {
        name: 'hs_email_status',
        type: 'enumeration',
        fieldType: 'select',
        options: ['BOUNCED', 'FAILED', 'SCHEDULED', 'SENDING', 'SENT'],
      },
      str('hs_email_subject'),
      str('hs_email_text', { fieldType: 'textarea' }),
      str('hs_email_html', { fieldType: 'html' }),
      str('hs_email_headers', { fieldType: 'textarea' }),
      str('hs_attachment_ids'),
      str('hs_email_message_id'),
      str('hs_email_to_email', { readOnly: true }),
      str('hs_email_from_email', { readOnly: true }),
    ]),
  };
}

function createTenant(): HubspotTenant {
  return {
    faults: [],
    log: [],
    token: HUBSPOT_FAKE_TOKEN,
    missingScopes: [],
    objects: { contacts: new Map(), companies: new Map(), emails: new Map() },
    properties: builtInProperties(),
    associations: new Map(),
    owners: new Map(),
    nextId: 1000,
  };
}

const err = (status: number, message: string, category = 'VALIDATION_ERROR'): FakeAnswer => ({
  status,
  body: { status: 'error', message, category, correlationId: crypto.randomUUID() },
});

const LAST_MODIFIED: Record<ObjectType, string> = {
  contacts: 'lastmodifieddate',
  companies: 'hs_lastmodifieddate',
  emails: 'hs_lastmodifieddate',
};

function isObjectType(s: string): s is ObjectType {
  return (OBJECT_TYPES as readonly string[]).includes(s);
}

/** datetime values: ms since the epoch or ISO 8601 (both accepted by HubSpot). */
function toMs(v: string): number {
  let ms = parsedDates.get(v);
  if (ms === undefined) {
    ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
    // Bounded: a search over 100,000 objects parses each date once, not once per query.
    if (parsedDates.size > 1_000_000) parsedDates.clear();
    parsedDates.set(v, ms);
  }
  return ms;
}
const parsedDates = new Map<string, number>();

function touch(type: ObjectType, o: HsObject, at = Date.now()) {
  const iso = new Date(at).toISOString();
  o.updatedAt = iso;
  o.properties[LAST_MODIFIED[type]] = iso;
}

function putObject(t: HubspotTenant, type: ObjectType, props: Record<string, string>, at?: number): HsObject {
  const id = String(t.nextId++);
  const iso = new Date(at ?? Date.now()).toISOString();
  const o: HsObject = {
    id,
    properties: { ...props, hs_object_id: id, hs_createdate: iso },
    createdAt: iso,
    updatedAt: iso,
    archived: false,
  };
  touch(type, o, at);
  if (type === 'emails') deriveEmailAddresses(o);
  t.objects[type].set(id, o);
  return o;
}

/** HubSpot fills the read-only address properties from `hs_email_headers`. */
function deriveEmailAddresses(o: HsObject) {
  const raw = o.properties.hs_email_headers;
  if (!raw) return;
  const h = JSON.parse(raw) as { from?: { email?: string }; to?: { email?: string }[] };
  if (h.from?.email) o.properties.hs_email_from_email = h.from.email;
  if (h.to?.length) o.properties.hs_email_to_email = h.to.map((p) => p.email).join(';');
}

const SCOPE_OF: Record<ObjectType | 'owners', string> = {
  contacts: 'crm.objects.contacts.read',
  companies: 'crm.objects.companies.read',
  emails: 'sales-email-read',
  owners: 'crm.objects.owners.read',
};

/** Validates written properties; returns a 400 or undefined. */
function validateProperties(
  t: HubspotTenant,
  type: ObjectType,
  props: unknown,
  creating: boolean,
): FakeAnswer | undefined {
  if (!props || typeof props !== 'object' || Array.isArray(props))
    return err(400, 'properties must be an object');
  const defs = t.properties[type];
  const errors: string[] = [];
  for (const [name, value] of Object.entries(props as Record<string, unknown>)) {
    const def = defs.get(name);
    if (!def) {
      errors.push(`Property "${name}" does not exist`);
      continue;
    }
    if (def.readOnly) errors.push(`"${name}" is a read only property; its value cannot be set.`);
    if (typeof value !== 'string') errors.push(`Property values must be strings: ${name}`);
    else if (def.options && !def.options.includes(value))
      errors.push(`${value} was not one of the allowed options: [${def.options.join(', ')}] for ${name}`);
    else if (def.type === 'datetime' && value !== '' && Number.isNaN(toMs(value)))
      errors.push(`${value} is not a valid datetime for ${name}`);
    else if (name === 'hs_email_headers') {
      try {
        JSON.parse(value);
      } catch {
        errors.push('hs_email_headers must be a JSON string');
      }
    }
  }
  if (creating && type === 'emails' && !(props as Record<string, unknown>).hs_timestamp)
    errors.push('Missing required property: hs_timestamp');
  if (errors.length) return err(400, `Property values were not valid: ${errors.join('; ')}`);
  return undefined;
}

function upsertEmails(t: HubspotTenant, body: unknown): FakeAnswer {
  const inputs = (body as { inputs?: unknown })?.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0) return err(400, 'inputs must be a non-empty array');
  if (inputs.length > BATCH_MAX_INPUTS) return err(400, `at most ${BATCH_MAX_INPUTS} inputs`);
  const results: unknown[] = [];
  for (const input of inputs as { idProperty?: unknown; id?: unknown; properties?: unknown }[]) {
    if (typeof input.id !== 'string' || !input.id) return err(400, 'each input needs an id');
    if (typeof input.idProperty !== 'string') return err(400, 'each input needs an idProperty');
    const def = t.properties.emails.get(input.idProperty);
    if (!def) return err(400, `Property "${input.idProperty}" does not exist`);
    if (!def.hasUniqueValue) return err(400, `${input.idProperty} is not a unique identifier property`);
    const existing = [...t.objects.emails.values()].find(
      (o) => !o.archived && o.properties[input.idProperty as string] === input.id,
    );
    const bad = validateProperties(t, 'emails', input.properties, !existing);
    if (bad) return bad;
    const props = { ...(input.properties as Record<string, string>), [input.idProperty]: input.id };
    let o: HsObject;
    if (existing) {
      Object.assign(existing.properties, props);
      touch('emails', existing);
      deriveEmailAddresses(existing);
      o = existing;
    } else o = putObject(t, 'emails', props);
    results.push({ ...o, new: !existing });
  }
  const now = new Date().toISOString();
  return { status: 200, body: { status: 'COMPLETE', results, startedAt: now, completedAt: now } };
}

function associateDefault(t: HubspotTenant, from: string, to: string, body: unknown): FakeAnswer {
  if (from !== 'emails' || !(to === 'contacts' || to === 'companies'))
    return err(400, `no default association from ${from} to ${to} in this fake`);
  const inputs = (body as { inputs?: unknown })?.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0) return err(400, 'inputs must be a non-empty array');
  const results: unknown[] = [];
  const errors: unknown[] = [];
  for (const input of inputs as { from?: { id?: unknown }; to?: { id?: unknown } }[]) {
    if (typeof input.from?.id !== 'string' || typeof input.to?.id !== 'string')
      return err(400, 'each input is { from: { id }, to: { id } } with string ids');
    const email = t.objects.emails.get(input.from.id);
    const target = t.objects[to].get(input.to.id);
    if (!email || email.archived || !target || target.archived) {
      errors.push({
        status: 'error',
        category: 'OBJECT_NOT_FOUND',
        message: `${!email ? `emails ${input.from.id}` : `${to} ${input.to.id}`} was not found`,
      });
      continue;
    }
    const key = `emails:${email.id}`;
    const set = t.associations.get(key) ?? new Set<string>();
    set.add(`${to}:${target.id}`);
    t.associations.set(key, set);
    results.push({
      from: { id: email.id },
      to: { id: target.id },
      associationSpec: {
        associationCategory: 'HUBSPOT_DEFINED',
        associationTypeId: to === 'contacts' ? 198 : 186,
      },
    });
  }
  const now = new Date().toISOString();
  const payload = { status: 'COMPLETE', results, startedAt: now, completedAt: now };
  return errors.length
    ? { status: 207, body: { ...payload, errors, numErrors: errors.length } }
    : { status: 200, body: payload };
}

interface Filter {
  propertyName?: unknown;
  operator?: unknown;
  value?: unknown;
  values?: unknown;
  highValue?: unknown;
}

function matches(o: HsObject, f: Filter, defs: Map<string, PropertyDef>): boolean {
  const name = f.propertyName as string;
  const v = name === 'hs_object_id' ? o.id : o.properties[name];
  const type = defs.get(name)?.type;
  const cmp = (a: string, b: string) =>
    type === 'datetime'
      ? toMs(a) - toMs(b)
      : type === 'number'
        ? Number(a) - Number(b)
        : a < b
          ? -1
          : a > b
            ? 1
            : 0;
  const value = String(f.value ?? '');
  switch (f.operator) {
    case 'HAS_PROPERTY':
      return v != null && v !== '';
    case 'NOT_HAS_PROPERTY':
      return v == null || v === '';
    case 'EQ':
      return v != null && cmp(v, value) === 0;
    case 'NEQ':
      return v == null || cmp(v, value) !== 0;
    case 'LT':
      return v != null && cmp(v, value) < 0;
    case 'LTE':
      return v != null && cmp(v, value) <= 0;
    case 'GT':
      return v != null && cmp(v, value) > 0;
    case 'GTE':
      return v != null && cmp(v, value) >= 0;
    case 'BETWEEN':
      return v != null && cmp(v, value) >= 0 && cmp(v, String(f.highValue)) <= 0;
    case 'IN':
      return v != null && (f.values as string[]).includes(v);
    case 'NOT_IN':
      return v == null || !(f.values as string[]).includes(v);
    default:
      return (v ?? '').toLowerCase().split(/\W+/).includes(value.toLowerCase());
  }
}

function search(t: HubspotTenant, type: ObjectType, body: unknown): FakeAnswer {
  const b = (body ?? {}) as {
    filterGroups?: unknown;
    limit?: unknown;
    after?: unknown;
    properties?: unknown;
    sorts?: unknown;
  };
  const limit = b.limit === undefined ? 10 : b.limit;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > SEARCH_MAX_LIMIT)
    return err(400, `limit must be an integer from 1 to ${SEARCH_MAX_LIMIT}`);
  const groups = (b.filterGroups ?? []) as { filters?: Filter[] }[];
  if (!Array.isArray(groups) || groups.length > MAX_FILTER_GROUPS)
    return err(400, `at most ${MAX_FILTER_GROUPS} filterGroups`);
  let total = 0;
  for (const g of groups) {
    if (!Array.isArray(g.filters) || g.filters.length > MAX_FILTERS_PER_GROUP)
      return err(400, `each filterGroup has at most ${MAX_FILTERS_PER_GROUP} filters`);
    total += g.filters.length;
    for (const f of g.filters) {
      if (typeof f.propertyName !== 'string' || !t.properties[type].has(f.propertyName))
        return err(400, `filter on unknown property ${String(f.propertyName)}`);
      if (!OPERATORS.includes(f.operator as string))
        return err(400, `unknown operator ${String(f.operator)}`);
    }
  }
  if (total > MAX_FILTERS) return err(400, `at most ${MAX_FILTERS} filters in all`);
  const offset = b.after === undefined ? 0 : Number(b.after);
  if (!Number.isInteger(offset) || offset < 0)
    return err(400, 'after must be a paging token from a previous page');
  // The documented cap: a query cannot page past its 10,000th result.
  if (offset >= SEARCH_CAP) return err(400, `Cannot page beyond ${SEARCH_CAP} results`);
  const defs = t.properties[type];
  const sorts = (b.sorts ?? []) as unknown[];
  // "You can only use one sorting rule per search."
  if (!Array.isArray(sorts) || sorts.length > 1) return err(400, 'sorts takes at most one sorting rule');
  const sort = sorts[0] as { propertyName?: unknown; direction?: unknown } | string | undefined;
  const sortBy = typeof sort === 'string' ? sort : sort?.propertyName;
  if (sort !== undefined && (typeof sortBy !== 'string' || !defs.has(sortBy)))
    return err(400, `sort on unknown property ${String(sortBy)}`);
  if (
    typeof sort === 'object' &&
    sort.direction !== undefined &&
    !['ASCENDING', 'DESCENDING'].includes(String(sort.direction))
  )
    return err(400, 'direction is ASCENDING or DESCENDING');
  const descending = typeof sort === 'object' && sort.direction === 'DESCENDING';
  const all = [...t.objects[type].values()].filter(
    (o) =>
      !o.archived &&
      (groups.length === 0 || groups.some((g) => (g.filters ?? []).every((f) => matches(o, f, defs)))),
  );
  if (typeof sortBy === 'string') {
    const kind = defs.get(sortBy)?.type;
    const key = (o: HsObject) => {
      const v = sortBy === 'hs_object_id' ? o.id : (o.properties[sortBy] ?? '');
      return kind === 'number' ? Number(v) : kind === 'datetime' ? toMs(v) : v;
    };
    all.sort((x, y) => {
      const [p, q] = [key(x), key(y)];
      return (p < q ? -1 : p > q ? 1 : 0) * (descending ? -1 : 1);
    });
  }
  const page = all.slice(offset, offset + limit);
  const wanted = Array.isArray(b.properties) ? (b.properties as string[]) : ['hs_object_id'];
  const next = offset + limit < all.length ? { next: { after: String(offset + limit) } } : undefined;
  return {
    status: 200,
    body: {
      total: all.length,
      results: page.map((o) => shape(o, wanted)),
      ...(next ? { paging: next } : {}),
    },
  };
}

function shape(o: HsObject, wanted: string[]) {
  return {
    id: o.id,
    properties: Object.fromEntries(wanted.map((p) => [p, o.properties[p] ?? null])),
    createdAt: o.createdAt,
    updatedAt: o.updatedAt,
    archived: o.archived,
    ...(o.archivedAt ? { archivedAt: o.archivedAt } : {}),
  };
}

function listPage<T>(items: T[], query: URLSearchParams, max: number) {
  const limit = Number(query.get('limit') ?? 10);
  if (!Number.isInteger(limit) || limit < 1 || limit > max) return undefined;
  const offset = Number(query.get('after') ?? 0);
  const page = items.slice(offset, offset + limit);
  return {
    results: page,
    ...(offset + limit < items.length ? { paging: { next: { after: String(offset + limit) } } } : {}),
  };
}

function createProperty(t: HubspotTenant, type: ObjectType, body: unknown): FakeAnswer {
  const p = (body ?? {}) as Record<string, unknown>;
  for (const k of ['name', 'label', 'type', 'fieldType', 'groupName'])
    if (typeof p[k] !== 'string' || !p[k]) return err(400, `${k} is required`);
  if (!PROPERTY_TYPES.includes(p.type as string))
    return err(400, `type must be one of ${PROPERTY_TYPES.join(', ')}`);
  if (!FIELD_TYPES.includes(p.fieldType as string))
    return err(400, `fieldType must be one of ${FIELD_TYPES.join(', ')}`);
  if (!/^[a-z][a-z0-9_]*$/.test(p.name as string))
    return err(400, 'name must be lower case letters, digits, _');
  if (t.properties[type].has(p.name as string))
    return err(409, `A property named '${String(p.name)}' already exists.`, 'OBJECT_ALREADY_EXISTS');
  const def: PropertyDef = {
    name: p.name as string,
    label: p.label as string,
    type: p.type as string,
    fieldType: p.fieldType as string,
    groupName: p.groupName as string,
    hasUniqueValue: p.hasUniqueValue === true,
  };
  t.properties[type].set(def.name, def);
  return { status: 201, body: def };
}

function handle(t: HubspotTenant, req: FakeRequest): FakeAnswer {
  if ((req.headers.authorization ?? '') !== `Bearer ${t.token}`)
    return err(
      401,
      'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
      'INVALID_AUTHENTICATION',
    );
  const seg = req.path.split('/').filter(Boolean);
  const denied = (scope: string) =>
    t.missingScopes.includes(scope)
      ? err(
          403,
          `This app hasn't been granted all required scopes to make this call. Missing: ${scope}`,
          'MISSING_SCOPES',
        )
      : undefined;
  // /crm/v3/objects/:type[/search | /batch/upsert | /:id]
  if (seg[0] === 'crm' && seg[1] === 'v3' && seg[2] === 'objects' && seg[3] && isObjectType(seg[3])) {
    const type = seg[3];
    const scope = denied(SCOPE_OF[type]);
    if (scope) return scope;
    if (req.method === 'POST' && seg[4] === 'search' && seg.length === 5) return search(t, type, req.body);
    if (req.method === 'POST' && seg[4] === 'batch' && seg[5] === 'upsert' && type === 'emails')
      return upsertEmails(t, req.body);
    if (req.method === 'GET' && seg.length === 4) {
      const archived = req.query.get('archived') === 'true';
      const wanted = (req.query.get('properties') ?? 'hs_object_id').split(',');
      const items = [...t.objects[type].values()]
        .filter((o) => o.archived === archived)
        .map((o) => shape(o, wanted));
      const page = listPage(items, req.query, LIST_MAX_LIMIT);
      return page ? { status: 200, body: page } : err(400, `limit must be 1 to ${LIST_MAX_LIMIT}`);
    }
    if (req.method === 'GET' && seg.length === 5) {
      const o = t.objects[type].get(seg[4] as string);
      return o && !o.archived
        ? { status: 200, body: shape(o, Object.keys(o.properties)) }
        : err(404, 'Object not found', 'OBJECT_NOT_FOUND');
    }
  }
  // /crm/v3/properties/:type[/:name]
  if (seg[0] === 'crm' && seg[1] === 'v3' && seg[2] === 'properties' && seg[3] && isObjectType(seg[3])) {
    const type = seg[3];
    if (req.method === 'GET' && seg[4]) {
      const def = t.properties[type].get(seg[4]);
      return def
        ? { status: 200, body: def }
        : err(404, `Unable to find property ${seg[4]}`, 'OBJECT_NOT_FOUND');
    }
    if (req.method === 'POST' && seg.length === 4) return createProperty(t, type, req.body);
  }
  // /crm/v4/associations/:from/:to/batch/associate/default
  if (
    req.method === 'POST' &&
    seg[0] === 'crm' &&
    seg[1] === 'v4' &&
    seg[2] === 'associations' &&
    seg[5] === 'batch' &&
    seg[6] === 'associate' &&
    seg[7] === 'default'
  )
    return associateDefault(t, seg[3] as string, seg[4] as string, req.body);
  // /crm/v3/owners
  if (req.method === 'GET' && req.path === '/crm/v3/owners') {
    const scope = denied(SCOPE_OF.owners);
    if (scope) return scope;
    const archived = req.query.get('archived') === 'true';
    const page = listPage(
      [...t.owners.values()].filter((o) => o.archived === archived),
      req.query,
      500,
    );
    return page ? { status: 200, body: page } : err(400, 'limit must be 1 to 500');
  }
  return err(404, `${req.method} ${req.path} is not part of this fake`, 'NOT_FOUND');
}

interface SeedBody {
  contacts?: { email: string; additionalEmails?: string[]; modifiedAt?: number }[];
  /** `count` contacts `bulkN@example.test`, modification times spread evenly over [from, to). */
  bulkContacts?: { count: number; from: number; to: number };
  companies?: { name: string; domain?: string; modifiedAt?: number }[];
  owners?: { email: string; firstName?: string; lastName?: string; updatedAt?: number }[];
  emails?: Record<string, string>[];
}

function seed(t: HubspotTenant, body: SeedBody): FakeAnswer {
  const ids: Record<string, string[]> = { contacts: [], companies: [], owners: [], emails: [] };
  for (const c of body.contacts ?? []) {
    const props: Record<string, string> = { email: c.email };
    if (c.additionalEmails?.length) props.hs_additional_emails = c.additionalEmails.join(';');
    ids.contacts?.push(putObject(t, 'contacts', props, c.modifiedAt).id);
  }
  if (body.bulkContacts) {
    const { count, from, to } = body.bulkContacts;
    for (let i = 0; i < count; i++)
      putObject(
        t,
        'contacts',
        { email: `bulk${i}@example.test` },
        from + Math.floor(((to - from) * i) / count),
      );
  }
  for (const c of body.companies ?? [])
    ids.companies?.push(
      putObject(t, 'companies', { name: c.name, ...(c.domain ? { domain: c.domain } : {}) }, c.modifiedAt).id,
    );
  for (const o of body.owners ?? []) {
    const id = String(t.nextId++);
    const at = new Date(o.updatedAt ?? Date.now()).toISOString();
    t.owners.set(id, { ...o, id, type: 'PERSON', archived: false, createdAt: at, updatedAt: at });
    ids.owners?.push(id);
  }
  for (const e of body.emails ?? []) ids.emails?.push(putObject(t, 'emails', e).id);
  return { status: 200, body: ids };
}

function control(t: HubspotTenant, name: string, body: unknown): FakeAnswer | undefined {
  const b = (body ?? {}) as Record<string, unknown>;
  switch (name) {
    case 'seed':
      return seed(t, b as SeedBody);
    case 'settings':
      if (typeof b.token === 'string') t.token = b.token;
      if (Array.isArray(b.missingScopes)) t.missingScopes = b.missingScopes as string[];
      return { status: 204 };
    case 'archive': {
      const type = b.type as ObjectType | 'owners';
      const at = new Date((b.at as number | undefined) ?? Date.now()).toISOString();
      for (const id of b.ids as string[]) {
        if (type === 'owners') {
          const o = t.owners.get(id);
          if (o) Object.assign(o, { archived: true, updatedAt: at });
        } else {
          const o = t.objects[type].get(id);
          if (o) Object.assign(o, { archived: true, archivedAt: at });
        }
      }
      return { status: 204 };
    }
    case 'touch': {
      const type = b.type as ObjectType;
      for (const id of b.ids as string[]) {
        const o = t.objects[type].get(id);
        if (o) {
          Object.assign(o.properties, (b.properties as Record<string, string>) ?? {});
          touch(type, o, b.at as number | undefined);
        }
      }
      return { status: 204 };
    }
    default:
      return undefined;
  }
}

function state(t: HubspotTenant) {
  const objects = (type: ObjectType) => [...t.objects[type].values()];
  return {
    emails: objects('emails').map((o) => ({
      ...o,
      associations: [...(t.associations.get(`emails:${o.id}`) ?? [])].sort(),
    })),
    contacts: t.objects.contacts.size,
    companies: t.objects.companies.size,
    owners: t.owners.size,
    customProperties: Object.fromEntries(
      OBJECT_TYPES.map((type) => [
        type,
        [...t.properties[type].values()].filter((p) => p.groupName).map((p) => p.name),
      ]),
    ),
  };
}

export function startHubspotFake(port = 0) {
  return startFake<HubspotTenant>({ createTenant, handle, state, control }, port);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.argv[2] ?? process.env.HUBSPOT_FAKE_PORT ?? HUBSPOT_FAKE_DEFAULT_PORT);
  const fake = await startHubspotFake(port);
  console.log(`HubSpot fake at ${fake.url} (token ${HUBSPOT_FAKE_TOKEN})`);
}
