// A stateful Dataverse Web API (v9.2) and Entra ID token endpoint stand-in. Every request is checked
// against fakes/dynamics-csdl.xml (written from Microsoft's documented entity references): property
// names and types, option-set values, navigation names, `@odata.bind` targets (entity set of the
// navigation's type, record must exist), deep-inserted activity parties, `$select`/`$filter`
// names. Beyond the CSDL it enforces what the Web API documentation says: OAuth2 client
// credentials with a `<org>/.default` scope, expiring bearer tokens, `If-None-Match: *` /
// `If-Match: *` upsert semantics, closed activities being read-only, change tracking
// (`Prefer: odata.track-changes`, delta links, `$deletedEntity`; no `$filter` with it) and
// `odata.maxpagesize` paging. Not Dataverse: plug-ins, business rules and security roles are not
// modelled.
//
// `npx tsx fakes/dynamics365.ts [port]` runs it alone; tests start it from test/support/crm-fakes.ts.
import { readFileSync } from 'node:fs';
import { type FakeAnswer, type FakeRequest, type FakeTenant, startFake } from './fake-http.js';

export const DYNAMICS_FAKE_CLIENT_ID = 'fake-client-id';
export const DYNAMICS_FAKE_CLIENT_SECRET = 'fake-client-secret';
const API = '/api/data/v9.2';
const DEFAULT_PAGE_SIZE = 5000;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ---- the CSDL fixture ----

interface PropertyDef {
  type: string;
  maxLength?: number;
  allowed?: string[];
}
interface NavDef {
  target: string;
  collection: boolean;
}
interface EntityDef {
  name: string;
  key: string;
  properties: Map<string, PropertyDef>;
  navigations: Map<string, NavDef>;
}

/** Reads the fixture (our own, regular XML: a small reader is enough, no general XML parser). */
export function readCsdl(xml: string) {
  const entities = new Map<string, EntityDef>();
  for (const m of xml.matchAll(/<EntityType Name="(\w+)">([\s\S]*?)<\/EntityType>/g)) {
    const [, name, inner] = m as unknown as [string, string, string];
    const key = /<PropertyRef Name="(\w+)"/.exec(inner)?.[1] ?? '';
    const properties = new Map<string, PropertyDef>();
    for (const p of inner.matchAll(
      /<Property Name="(\w+)" Type="([\w.]+)"(?: MaxLength="(\d+)")?\s*(\/>|>([\s\S]*?)<\/Property>)/g,
    )) {
      const allowed = /fixture\.AllowedValues" String="([^"]+)"/.exec(p[5] ?? '')?.[1]?.split(' ');
      properties.set(p[1] as string, {
        type: p[2] as string,
        ...(p[3] ? { maxLength: Number(p[3]) } : {}),
        ...(allowed ? { allowed } : {}),
      });
    }
    const navigations = new Map<string, NavDef>();
    for (const n of inner.matchAll(/<NavigationProperty Name="(\w+)" Type="(Collection\()?mscrm\.(\w+)\)?"/g))
      navigations.set(n[1] as string, { target: n[3] as string, collection: Boolean(n[2]) });
    entities.set(name, { name, key, properties, navigations });
  }
  const sets = new Map<string, string>();
  for (const m of xml.matchAll(/<EntitySet Name="(\w+)" EntityType="Microsoft\.Dynamics\.CRM\.(\w+)"/g))
    sets.set(m[1] as string, m[2] as string);
  return { entities, sets };
}

const CSDL = readCsdl(readFileSync(new URL('./dynamics-csdl.xml', import.meta.url), 'utf8'));

// ---- state ----

interface Row {
  fields: Record<string, unknown>;
  version: number;
  parties?: Record<string, unknown>[];
}

export interface DynamicsTenant extends FakeTenant {
  clientId: string;
  clientSecret: string;
  tokenLifetimeS: number;
  tokens: Map<string, number>;
  tokensIssued: number;
  tables: Map<string, Map<string, Row>>;
  tombstones: Map<string, { id: string; version: number }[]>;
  version: number;
}

function createTenant(): DynamicsTenant {
  return {
    faults: [],
    log: [],
    clientId: DYNAMICS_FAKE_CLIENT_ID,
    clientSecret: DYNAMICS_FAKE_CLIENT_SECRET,
    tokenLifetimeS: 3599,
    tokens: new Map(),
    tokensIssued: 0,
    tables: new Map([...CSDL.entities.keys()].map((e) => [e, new Map()])),
    tombstones: new Map([...CSDL.entities.keys()].map((e) => [e, []])),
    version: 1,
  };
}

const odataError = (
  status: number,
  code: string,
  message: string,
  headers?: Record<string, string>,
): FakeAnswer => ({
  status,
  body: { error: { code, message } },
  ...(headers ? { headers } : {}),
});
const invalid = (message: string) => odataError(400, '0x80060888', message);

function table(t: DynamicsTenant, entity: string) {
  return t.tables.get(entity) as Map<string, Row>;
}

function write(
  t: DynamicsTenant,
  entity: string,
  id: string,
  fields: Record<string, unknown>,
  row?: Row,
): Row {
  const key = (CSDL.entities.get(entity) as EntityDef).key;
  const now = new Date().toISOString();
  const r: Row = row ?? { fields: { [key]: id, createdon: now }, version: 0 };
  Object.assign(r.fields, fields, { modifiedon: now });
  r.version = ++t.version;
  table(t, entity).set(id, r);
  return r;
}

// ---- validation against the CSDL ----

function checkValue(entity: string, name: string, def: PropertyDef, value: unknown): string | undefined {
  const where = `property '${name}' of 'Microsoft.Dynamics.CRM.${entity}'`;
  if (value === null) return undefined;
  switch (def.type) {
    case 'Edm.String':
      if (typeof value !== 'string') return `A value of type string is expected for ${where}`;
      if (def.maxLength && value.length > def.maxLength) return `${where} is longer than ${def.maxLength}`;
      break;
    case 'Edm.Boolean':
      if (typeof value !== 'boolean') return `A value of type boolean is expected for ${where}`;
      break;
    case 'Edm.Int32':
      if (!Number.isInteger(value)) return `A value of type Edm.Int32 is expected for ${where}`;
      if (def.allowed && !def.allowed.some((a) => a === String(value) || a.endsWith(`:${value}`)))
        return `${String(value)} is not a valid value for ${where}`;
      break;
    case 'Edm.Guid':
      if (typeof value !== 'string' || !GUID.test(value)) return `A GUID is expected for ${where}`;
      break;
    case 'Edm.DateTimeOffset':
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value)))
        return `A DateTimeOffset is expected for ${where}`;
      break;
  }
  return undefined;
}

/** Checks a written body (create, update, deep insert); returns the first violation. */
function validateBody(t: DynamicsTenant, entity: string, body: unknown): string | undefined {
  const def = CSDL.entities.get(entity) as EntityDef;
  if (!body || typeof body !== 'object' || Array.isArray(body))
    return `The body for ${entity} must be a JSON object`;
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (key.endsWith('@odata.bind')) {
      const navName = key.slice(0, -'@odata.bind'.length);
      const nav = def.navigations.get(navName);
      if (!nav)
        return `An undeclared property '${navName}' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.`;
      if (nav.collection) return `'${navName}' is a collection: bind its members with deep insert or $ref`;
      const m = typeof value === 'string' ? /^\/?(\w+)\(([^)]+)\)$/.exec(value) : null;
      if (!m)
        return `Invalid @odata.bind value '${String(value)}' for '${navName}': expected /<entityset>(<id>)`;
      const targetEntity = CSDL.sets.get(m[1] as string);
      if (!targetEntity) return `Resource not found for the segment '${m[1]}'.`;
      if (targetEntity !== nav.target)
        return `'${navName}' binds a ${nav.target}; '${m[1]}' holds ${targetEntity} records`;
      if (!GUID.test(m[2] as string)) return `'${m[2]}' is not a valid GUID for '${navName}'`;
      if (!table(t, targetEntity).has((m[2] as string).toLowerCase()))
        return `${targetEntity} With Id = ${m[2]} Does Not Exist`;
      continue;
    }
    const nav = def.navigations.get(key);
    if (nav) {
      if (!nav.collection || !Array.isArray(value))
        return `'${key}' takes an array of ${nav.target} records (deep insert)`;
      for (const child of value) {
        const bad = validateBody(t, nav.target, child);
        if (bad) return bad;
        if (nav.target === 'activityparty') {
          const c = child as Record<string, unknown>;
          const binds = Object.keys(c).filter((k) => k.startsWith('partyid_'));
          if (c.participationtypemask === undefined) return 'An activity party needs participationtypemask';
          if (binds.length + (c.addressused ? 1 : 0) !== 1)
            return 'An activity party names exactly one party: a partyid_<table>@odata.bind or an addressused';
        }
      }
      continue;
    }
    const prop = def.properties.get(key);
    if (!prop) return `Invalid property '${key}' was found in entity 'Microsoft.Dynamics.CRM.${entity}'.`;
    if (key.startsWith('_') || key === def.key || key === 'modifiedon' || key === 'createdon')
      return `'${key}' is read-only: set lookups with <navigation>@odata.bind`;
    const bad = checkValue(entity, key, prop, value);
    if (bad) return bad;
  }
  const b = body as Record<string, unknown>;
  if (entity === 'email' && b.statuscode !== undefined) {
    const pairs = CSDL.entities.get('email')?.properties.get('statuscode')?.allowed ?? [];
    const state = b.statecode;
    if (state !== undefined && !pairs.includes(`${String(state)}:${String(b.statuscode)}`))
      return `${String(b.statuscode)} is not a valid status code for state code ${String(state)} on email`;
  }
  return undefined;
}

function checkSelect(entity: string, select: string | null): string | undefined {
  if (!select) return undefined;
  const def = CSDL.entities.get(entity) as EntityDef;
  for (const name of select.split(','))
    if (!def.properties.has(name.trim()))
      return `Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.${entity}'.`;
  return undefined;
}

type Clause = { name: string; op: string; literal: unknown };

/** The `$filter` subset the router uses: comparisons joined by `and`. */
function parseFilter(entity: string, filter: string): Clause[] | string {
  const def = CSDL.entities.get(entity) as EntityDef;
  const clauses: Clause[] = [];
  for (const part of filter.split(/\s+and\s+/)) {
    const m = /^\s*(\w+)\s+(eq|ne|gt|ge|lt|le)\s+(.+?)\s*$/.exec(part);
    if (!m) return `Syntax error in $filter at '${part}'`;
    const [, name, op, lit] = m as unknown as [string, string, string, string];
    const prop = def.properties.get(name);
    if (!prop) return `Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.${entity}'.`;
    let literal: unknown;
    if (lit === 'null') literal = null;
    else if (lit === 'true' || lit === 'false') literal = lit === 'true';
    else if (/^'.*'$/.test(lit)) literal = lit.slice(1, -1).replace(/''/g, "'");
    else if (prop.type === 'Edm.DateTimeOffset' && !Number.isNaN(Date.parse(lit))) literal = lit;
    else if (/^-?\d+$/.test(lit)) literal = Number(lit);
    else return `Invalid literal '${lit}' for '${name}' in $filter`;
    clauses.push({ name, op, literal });
  }
  return clauses;
}

function evaluate(row: Row, c: Clause, type: string): boolean {
  const v = row.fields[c.name] ?? null;
  if (c.literal === null) return c.op === 'eq' ? v === null : c.op === 'ne' ? v !== null : false;
  if (v === null) return c.op === 'ne';
  const [a, b] =
    type === 'Edm.DateTimeOffset'
      ? [Date.parse(String(v)), Date.parse(String(c.literal))]
      : [v as number, c.literal as number];
  switch (c.op) {
    case 'eq':
      return a === b;
    case 'ne':
      return a !== b;
    case 'gt':
      return a > b;
    case 'ge':
      return a >= b;
    case 'lt':
      return a < b;
    default:
      return a <= b;
  }
}

// ---- routes ----

function token(t: DynamicsTenant, req: FakeRequest): FakeAnswer {
  const form = new URLSearchParams(req.rawBody);
  if (!(req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded'))
    return {
      status: 400,
      body: {
        error: 'invalid_request',
        error_description: 'AADSTS900144: The request body must be form-urlencoded.',
      },
    };
  if (form.get('grant_type') !== 'client_credentials')
    return {
      status: 400,
      body: {
        error: 'unsupported_grant_type',
        error_description: 'AADSTS70003: grant_type must be client_credentials.',
      },
    };
  if (form.get('client_id') !== t.clientId)
    return {
      status: 400,
      body: {
        error: 'unauthorized_client',
        error_description: `AADSTS700016: Application with identifier '${form.get('client_id')}' was not found in the directory.`,
      },
    };
  if (form.get('client_secret') !== t.clientSecret)
    return {
      status: 401,
      body: { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' },
    };
  const scope = form.get('scope') ?? '';
  if (!/^https?:\/\/.+\/\.default$/.test(scope))
    return {
      status: 400,
      body: {
        error: 'invalid_scope',
        error_description: `AADSTS70011: The provided value for scope '${scope}' is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.`,
      },
    };
  const access = `fake-${crypto.randomUUID()}`;
  t.tokens.set(access, Date.now() + t.tokenLifetimeS * 1000);
  t.tokensIssued++;
  return {
    status: 200,
    body: {
      token_type: 'Bearer',
      expires_in: t.tokenLifetimeS,
      ext_expires_in: t.tokenLifetimeS,
      access_token: access,
    },
  };
}

function pageSize(req: FakeRequest): number {
  const m = /odata\.maxpagesize=(\d+)/.exec(String(req.headers.prefer ?? ''));
  return m ? Number(m[1]) : DEFAULT_PAGE_SIZE;
}

function list(t: DynamicsTenant, req: FakeRequest, set: string, entity: string): FakeAnswer {
  const def = CSDL.entities.get(entity) as EntityDef;
  const q = req.query;
  const select = q.get('$select');
  const badSelect = checkSelect(entity, select);
  if (badSelect) return invalid(badSelect);
  const tracking = String(req.headers.prefer ?? '').includes('odata.track-changes') || q.has('$deltatoken');
  if (tracking && (q.has('$filter') || q.has('$orderby') || q.has('$top') || q.has('$expand')))
    return invalid('Change tracking does not support $filter, $orderby, $top or $expand');
  const offset = Number((q.get('$skiptoken') ?? '0:0').split(':')[0]);
  // A listing is a snapshot at one version: pages of it never see later changes (those are in the next delta).
  const snapshot = Number((q.get('$skiptoken') ?? `0:${t.version}`).split(':')[1]);
  const project = (r: Row) => {
    const names = select ? select.split(',') : [...def.properties.keys()];
    return Object.fromEntries([[def.key, r.fields[def.key]], ...names.map((n) => [n, r.fields[n] ?? null])]);
  };
  let items: Record<string, unknown>[];
  if (q.has('$deltatoken')) {
    const since = Number(q.get('$deltatoken'));
    if (!Number.isInteger(since)) return invalid('Invalid $deltatoken');
    const changed = [...table(t, entity).values()].filter((r) => r.version > since && r.version <= snapshot);
    const gone = (t.tombstones.get(entity) ?? []).filter((d) => d.version > since && d.version <= snapshot);
    items = [
      ...changed.map(project),
      ...gone.map((d) => ({
        '@odata.context': `${req.base}${API}/$metadata#${set}/$deletedEntity`,
        id: d.id,
        reason: 'deleted',
      })),
    ];
  } else {
    let rows = [...table(t, entity).values()].filter((r) => r.version <= snapshot);
    const filter = q.get('$filter');
    if (filter) {
      const clauses = parseFilter(entity, filter);
      if (typeof clauses === 'string') return invalid(clauses);
      rows = rows.filter((r) => clauses.every((c) => evaluate(r, c, def.properties.get(c.name)?.type ?? '')));
    }
    const orderby = q.get('$orderby');
    if (orderby) {
      const [name, dir] = orderby.split(/\s+/) as [string, string | undefined];
      if (!def.properties.has(name)) return invalid(`Could not find a property named '${name}' to order by`);
      rows.sort(
        (a, b) => String(a.fields[name]).localeCompare(String(b.fields[name])) * (dir === 'desc' ? -1 : 1),
      );
    }
    items = rows.map(project);
  }
  const size = pageSize(req);
  const page = items.slice(offset, offset + size);
  const body: Record<string, unknown> = {
    '@odata.context': `${req.base}${API}/$metadata#${set}`,
    value: page,
  };
  const keep = new URLSearchParams(q);
  keep.delete('$skiptoken');
  if (offset + size < items.length) {
    keep.set('$skiptoken', `${offset + size}:${snapshot}`);
    body['@odata.nextLink'] = `${req.base}${API}/${set}?${keep.toString()}`;
  } else if (tracking) {
    keep.delete('$deltatoken');
    keep.set('$deltatoken', String(snapshot));
    body['@odata.deltaLink'] = `${req.base}${API}/${set}?${keep.toString()}`;
  }
  return { status: 200, body };
}

function upsert(t: DynamicsTenant, req: FakeRequest, entity: string, id: string): FakeAnswer {
  const existing = table(t, entity).get(id);
  if (req.headers['if-none-match'] === '*' && existing)
    return odataError(412, '0x80060892', `A record with matching key values already exists.`);
  if (req.headers['if-match'] === '*' && !existing)
    return odataError(404, '0x80040217', `${entity} With Id = ${id} Does Not Exist`);
  const bad = validateBody(t, entity, req.body);
  if (bad) return invalid(bad);
  const body = { ...(req.body as Record<string, unknown>) };
  if (entity === 'email' && existing && existing.fields.statecode !== 0) {
    const onlyState = Object.keys(body).every((k) => k === 'statecode' || k === 'statuscode');
    if (!onlyState)
      return odataError(
        400,
        '0x80043b09',
        'This email is closed: a completed or canceled activity is read-only. Reopen it first.',
      );
  }
  const fields: Record<string, unknown> = {};
  let parties: Record<string, unknown>[] | undefined;
  for (const [k, v] of Object.entries(body)) {
    if (k === 'email_activity_parties') parties = v as Record<string, unknown>[];
    else if (k.startsWith('regardingobjectid_')) {
      fields._regardingobjectid_value = /\(([^)]+)\)/.exec(String(v))?.[1];
      fields.regardingobjectid_type = k.split('_')[1];
    } else fields[k] = v;
  }
  if (entity === 'email' && !existing) {
    fields.statecode ??= 0;
    fields.statuscode ??= 1;
  }
  const row = write(t, entity, id, fields, existing);
  if (parties) row.parties = parties;
  return { status: 204, headers: { 'odata-entityid': `${req.base}${API}/${req.path.split('/').pop()}` } };
}

function handle(t: DynamicsTenant, req: FakeRequest): FakeAnswer {
  if (req.method === 'POST' && req.path.endsWith('/token')) return token(t, req);
  if (!req.path.startsWith(`${API}/`))
    return odataError(404, '0x8006088a', `Resource not found: ${req.path}`);
  const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
  const expiresAt = bearer ? t.tokens.get(bearer) : undefined;
  if (expiresAt === undefined || expiresAt <= Date.now())
    return odataError(
      401,
      '0x80072182',
      expiresAt === undefined ? 'The access token is missing or invalid.' : 'The access token has expired.',
      {
        'www-authenticate': `Bearer error="invalid_token", error_description="${expiresAt === undefined ? 'invalid' : 'The access token expired'}"`,
      },
    );
  const rest = req.path.slice(API.length + 1);
  if (req.method === 'GET' && rest === 'WhoAmI')
    return {
      status: 200,
      body: {
        UserId: '00000000-0000-0000-0000-0000000000aa',
        BusinessUnitId: '00000000-0000-0000-0000-0000000000bb',
        OrganizationId: '00000000-0000-0000-0000-0000000000cc',
      },
    };
  const m = /^(\w+)(?:\(([^)]+)\))?$/.exec(rest);
  const entity = m ? CSDL.sets.get(m[1] as string) : undefined;
  if (!m || !entity) return odataError(404, '0x8006088a', `Resource not found for the segment '${rest}'.`);
  const id = m[2]?.toLowerCase();
  if (id !== undefined && !GUID.test(id)) return invalid(`'${id}' is not a valid key for ${entity}`);
  if (req.method === 'GET' && id === undefined) return list(t, req, m[1] as string, entity);
  if (req.method === 'PATCH' && id !== undefined) return upsert(t, req, entity, id);
  return odataError(405, '0x80060888', `${req.method} ${rest} is not part of this fake`);
}

// ---- control ----

function control(t: DynamicsTenant, name: string, body: unknown): FakeAnswer | undefined {
  const b = (body ?? {}) as Record<string, unknown>;
  switch (name) {
    case 'seed': {
      const ids: Record<string, string[]> = {};
      for (const [set, rows] of Object.entries(b)) {
        const entity = CSDL.sets.get(set);
        if (!entity) return { status: 400, body: { message: `no entity set ${set}` } };
        ids[set] = (rows as Record<string, unknown>[]).map((fields) => {
          const id = crypto.randomUUID();
          write(t, entity, id, fields);
          return id;
        });
      }
      return { status: 200, body: ids };
    }
    case 'update': {
      const entity = CSDL.sets.get(b.set as string) as string;
      const row = table(t, entity).get(b.id as string);
      if (row) write(t, entity, b.id as string, b.fields as Record<string, unknown>, row);
      return { status: 204 };
    }
    case 'delete': {
      const entity = CSDL.sets.get(b.set as string) as string;
      for (const id of b.ids as string[])
        if (table(t, entity).delete(id)) t.tombstones.get(entity)?.push({ id, version: ++t.version });
      return { status: 204 };
    }
    case 'settings':
      if (typeof b.clientSecret === 'string') t.clientSecret = b.clientSecret;
      if (typeof b.tokenLifetimeS === 'number') t.tokenLifetimeS = b.tokenLifetimeS;
      return { status: 204 };
    case 'expire-tokens':
      for (const k of t.tokens.keys()) t.tokens.set(k, 0);
      return { status: 204 };
    default:
      return undefined;
  }
}

function state(t: DynamicsTenant) {
  return {
    tokensIssued: t.tokensIssued,
    emails: [...table(t, 'email').values()].map((r) => ({ ...r.fields, parties: r.parties ?? [] })),
  };
}

export function startDynamicsFake(port = 0) {
  return startFake<DynamicsTenant>({ createTenant, handle, state, control }, port);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const fake = await startDynamicsFake(Number(process.argv[2] ?? 0));
  console.log(
    `Dynamics 365 fake at ${fake.url} (client ${DYNAMICS_FAKE_CLIENT_ID} / ${DYNAMICS_FAKE_CLIENT_SECRET})`,
  );
}
