// Tryton (6.0 LTS) over its JSON-RPC protocol, with fetch only so it runs in workerd and in Node.
// Protocol facts below are from the trytond 6.0 source (protocols/jsonrpc.py, protocols/
// dispatcher.py, protocols/wrappers.py, security.py, wsgi.py), not from memory:
// - a call is `POST <url>/<database>/` with exactly `{ id, method, params }`; the answer is
//   `{ id, result }` or `{ id, error }` (HTTP 200) where error is `[name, args]` for a Tryton
//   exception (`UserError`, `UserWarning`, `ConcurrencyException`, …) or `[text, traceback]`;
// - `common.db.login(login, { password })` answers `[user_id, session_key]`; a wrong password is
//   HTTP 401, an unknown database HTTP 404, too many failed logins HTTP 429;
// - later calls carry `Authorization: Session base64(login:user_id:session_key)`; an unknown or
//   expired session (`session.max_age`, 30 days by default) is HTTP 401, a method outside the
//   model's `__rpc__` HTTP 403;
// - bytes travel as `{ "__class__": "bytes", "base64": … }`, datetimes as
//   `{ "__class__": "datetime", year, …, microsecond }` (naive, UTC on the server's clock).
// Tryton 6.0 keeps no deletion log and exposes no e-mail model over RPC: a delivery is the raw
// message as an `ir.attachment` plus an `ir.note` on each matched party; deletions are found by
// comparing the ids the record store knows with Tryton's and confirmed one read later.
import {
  type ConnectorAdapter,
  type ConnectorContext,
  ConnectorError,
  type CrmObjectRef,
  type DeliveryInput,
  type DeliveryResult,
  type PulledRecord,
  type PullPage,
  type TestResult,
} from './types.js';

/** Parties per pull page: one `search` + two `read`s of this size stay well under Tryton's 2 GiB request cap and a Worker's 30 s. */
export const TRYTON_PULL_PAGE = 200;
/** The record store takes at most 20 addresses per record (recordInput in api/schemas.ts). */
const MAX_EMAILS_PER_RECORD = 20;
/** Session cache lifetime: far below Tryton's default `session.max_age` (30 days); a login is cheap. */
const SESSION_TTL_SECONDS = 3600;
/** Tryton sends no Retry-After with its 429 (failed-login rate limit, `session.max_attempt`). */
const DEFAULT_RETRY_AFTER_MS = 60_000;
/** A JSON-RPC call that takes longer is a timeout: the delivery backs off and retries. */
const CALL_TIMEOUT_MS = 30_000;
/** Tryton's `ir.attachment.name` is a Char without size; keep file names readable in its client. */
const MAX_ATTACHMENT_NAME = 120;
/** How much of the text body the note quotes (the whole message is the attachment). */
const NOTE_BODY_CHARS = 2000;

/** Marker written into every attachment description and note: the idempotency key, searchable. */
export function deliveryMarker(activityId: string): string {
  return `crm-edge-router activity ${activityId}`;
}

interface TrytonSettings {
  url: string;
  database: string;
}
interface TrytonSecrets {
  username: string;
  password: string;
}

type RpcFailure =
  | { kind: 'unreachable'; detail: string }
  | { kind: 'http'; status: number; detail: string; retryAfterMs?: number }
  | { kind: 'rpc'; name: string; detail: string };

class TrytonError extends Error {
  constructor(readonly failure: RpcFailure) {
    super(failure.detail);
  }
}

function readSettings(ctx: ConnectorContext): { settings: TrytonSettings; secrets: TrytonSecrets } | string {
  const { url, database } = ctx.settings as Partial<Record<string, unknown>>;
  const { username, password } = ctx.secrets;
  if (typeof url !== 'string' || !/^https?:\/\//.test(url))
    return 'settings.url must be an http(s) URL of trytond';
  if (typeof database !== 'string' || !database) return 'settings.database is required';
  if (!username || password === undefined) return 'secrets.username and secrets.password are required';
  return { settings: { url: url.replace(/\/+$/, ''), database }, secrets: { username, password } };
}

function bytesToBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

interface TrytonDate {
  __class__: 'datetime';
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  microsecond: number;
}

/** Tryton's naive datetime as a sortable ISO string (microseconds kept: the cursor must not lose them). */
function isoOf(d: unknown): string | undefined {
  if (!d || typeof d !== 'object' || (d as TrytonDate).__class__ !== 'datetime') return undefined;
  const t = d as TrytonDate;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(t.year, 4)}-${p(t.month)}-${p(t.day)}T${p(t.hour)}:${p(t.minute)}:${p(t.second)}.${p(t.microsecond, 6)}`;
}

function trytonDate(iso: string): TrytonDate {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})$/.exec(iso);
  if (!m) throw new Error(`bad cursor date ${iso}`);
  const [, y, mo, d, h, mi, s, us] = m.map(Number) as number[];
  return {
    __class__: 'datetime',
    year: y!,
    month: mo!,
    day: d!,
    hour: h!,
    minute: mi!,
    second: s!,
    microsecond: us!,
  };
}

/** One JSON-RPC session against one database; logs in lazily, re-logs in once on 401/403. */
class TrytonClient {
  private session: { userId: number; key: string } | undefined;
  private readonly cacheKey: string;

  constructor(
    private readonly ctx: ConnectorContext,
    private readonly settings: TrytonSettings,
    private readonly secrets: TrytonSecrets,
  ) {
    this.cacheKey = `tryton:session:${ctx.deployment}:${settings.url}/${settings.database}:${secrets.username}`;
  }

  private async post(path: string, method: string, params: unknown[], auth?: string): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.settings.url}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          // Without it trytond answers 401 with `WWW-Authenticate: Basic`, which some fetch
          // implementations turn into a credentials prompt or retry (wsgi.py auth_required).
          'x-requested-with': 'XMLHttpRequest',
          ...(auth ? { authorization: auth } : {}),
        },
        body: JSON.stringify({ id: 0, method, params }),
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
    } catch (err) {
      throw new TrytonError({
        kind: 'unreachable',
        detail: `Tryton at ${this.settings.url} is unreachable (${(err as Error).name === 'TimeoutError' ? `no answer in ${CALL_TIMEOUT_MS / 1000} s` : (err as Error).message})`,
      });
    }
    if (res.status !== 200) {
      const text = (await res.text().catch(() => '')).slice(0, 200);
      throw new TrytonError({
        kind: 'http',
        status: res.status,
        detail: `${method}: HTTP ${res.status}${text ? ` ${text.replace(/\s+/g, ' ').trim()}` : ''}`,
        ...(res.status === 429
          ? { retryAfterMs: retryAfterMs(res.headers.get('retry-after'), this.ctx.now()) }
          : {}),
      });
    }
    let body: { result?: unknown; error?: unknown };
    try {
      body = (await res.json()) as typeof body;
    } catch {
      throw new TrytonError({ kind: 'http', status: 502, detail: `${method}: the answer is not JSON-RPC` });
    }
    if (body.error !== undefined && body.error !== null) throw new TrytonError(rpcError(method, body.error));
    return body.result;
  }

  private async login(): Promise<{ userId: number; key: string }> {
    const path = `/${encodeURIComponent(this.settings.database)}/`;
    let result: unknown;
    try {
      result = await this.post(path, 'common.db.login', [
        this.secrets.username,
        { password: this.secrets.password },
      ]);
    } catch (err) {
      const f = err instanceof TrytonError ? err.failure : undefined;
      // PostgreSQL backend: HTTP 404; SQLite backend: an IOError "Database '…' doesn't exist!" in
      // the JSON-RPC error (dispatcher.py login catches only DatabaseOperationalError).
      if (
        (f?.kind === 'http' && f.status === 404) ||
        (f?.kind === 'rpc' && f.name === 'ServerError' && /doesn't exist|does not exist/i.test(f.detail))
      )
        throw new TrytonError({
          kind: 'http',
          status: 404,
          detail: `Tryton has no database "${this.settings.database}"`,
        });
      if (f?.kind === 'http' && f.status === 401)
        throw new TrytonError({
          ...f,
          detail: `Tryton refused the login "${this.secrets.username}" on database "${this.settings.database}" (bad credentials)`,
        });
      if (f?.kind === 'http' && f.status === 429)
        throw new TrytonError({
          ...f,
          detail: 'Tryton rate-limits this login after failed attempts (HTTP 429)',
        });
      throw err;
    }
    if (!Array.isArray(result) || typeof result[0] !== 'number' || typeof result[1] !== 'string')
      throw new TrytonError({ kind: 'http', status: 502, detail: 'common.db.login: unexpected answer' });
    const session = { userId: result[0], key: result[1] };
    await this.ctx.cache.put(this.cacheKey, `${session.userId}:${session.key}`, SESSION_TTL_SECONDS);
    return session;
  }

  private async currentSession(): Promise<{ userId: number; key: string }> {
    if (this.session) return this.session;
    const cached = await this.ctx.cache.get(this.cacheKey);
    const m = cached ? /^(\d+):(.+)$/.exec(cached) : null;
    this.session = m ? { userId: Number(m[1]), key: m[2]! } : await this.login();
    return this.session;
  }

  /** Calls `model.<model>.<method>`; a 401/403 (expired or revoked session) logs in again once. */
  async call(
    model: string,
    method: string,
    args: unknown[],
    context: Record<string, unknown> = {},
  ): Promise<unknown> {
    const path = `/${encodeURIComponent(this.settings.database)}/`;
    const rpc = `model.${model}.${method}`;
    for (let attempt = 0; ; attempt++) {
      const s = await this.currentSession();
      // security.py/wrappers.py: `Session base64(login:user_id:key)`, split on the first two colons.
      const auth = `Session ${btoa(unescape(encodeURIComponent(`${this.secrets.username}:${s.userId}:${s.key}`)))}`;
      try {
        return await this.post(path, rpc, [...args, context], auth);
      } catch (err) {
        const f = err instanceof TrytonError ? err.failure : undefined;
        if (attempt === 0 && f?.kind === 'http' && (f.status === 401 || f.status === 403)) {
          this.session = await this.login();
          continue;
        }
        throw err;
      }
    }
  }

  async version(): Promise<string> {
    return String(await this.post('/', 'common.server.version', []));
  }

  async ensureLogin(): Promise<void> {
    this.session = await this.login();
  }
}

function retryAfterMs(header: string | null, now: number): number {
  if (!header) return DEFAULT_RETRY_AFTER_MS;
  const secs = Number(header);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - now) : DEFAULT_RETRY_AFTER_MS;
}

function rpcError(method: string, error: unknown): RpcFailure {
  if (Array.isArray(error) && typeof error[0] === 'string') {
    const [name, args] = error as [string, unknown];
    // TrytonException subclasses: `[name, args]`; anything else: `[str(exception), traceback]`.
    if (
      ['UserError', 'UserWarning', 'ConcurrencyException', 'LoginException', 'RateLimitException'].includes(
        name,
      )
    ) {
      const message = Array.isArray(args) ? args.filter((a) => typeof a === 'string' && a).join(' — ') : '';
      return {
        kind: 'rpc',
        name,
        detail: `${method}: ${name}${message ? `: ${message}` : ''}`.slice(0, 500),
      };
    }
    return { kind: 'rpc', name: 'ServerError', detail: `${method}: server error: ${name}`.slice(0, 500) };
  }
  return { kind: 'rpc', name: 'ServerError', detail: `${method}: server error` };
}

/** A Tryton failure as the delivery path classifies it (types.ts DeliveryResult). */
function classify(err: unknown): DeliveryResult {
  if (!(err instanceof TrytonError))
    return { outcome: 'retry', detail: `Tryton adapter: ${(err as Error).message}` };
  const f = err.failure;
  if (f.kind === 'unreachable') return { outcome: 'retry', detail: f.detail };
  if (f.kind === 'rpc') {
    // A UserError is Tryton refusing the data (access rule, required field, validation): it will
    // refuse it again. A ConcurrencyException or a server fault may pass on the next attempt.
    if (f.name === 'UserError' || f.name === 'UserWarning') return { outcome: 'refused', detail: f.detail };
    return { outcome: 'retry', detail: f.detail };
  }
  // A missing database fails every delivery the same way bad credentials do: pause, not dead letters.
  if (f.status === 401 || f.status === 403 || f.status === 404)
    return { outcome: 'unauthorized', status: f.status, detail: f.detail };
  if (f.status === 429)
    return {
      outcome: 'rate-limited',
      retryAfterMs: f.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS,
      detail: f.detail,
    };
  if (f.status >= 400 && f.status < 500 && f.status !== 408)
    return { outcome: 'refused', status: f.status, detail: f.detail };
  return { outcome: 'retry', status: f.status, detail: f.detail };
}

function clientFor(ctx: ConnectorContext): TrytonClient | string {
  const read = readSettings(ctx);
  if (typeof read === 'string') return read;
  return new TrytonClient(ctx, read.settings, read.secrets);
}

const NO_ARCHIVE_FILTER = { active_test: false };

// ---------------------------------------------------------------------------------------------
// test

async function test(ctx: ConnectorContext): Promise<TestResult> {
  const client = clientFor(ctx);
  if (typeof client === 'string') return { ok: false, detail: client };
  let version: string;
  try {
    version = await client.version();
  } catch (err) {
    return { ok: false, detail: err instanceof TrytonError ? err.failure.detail : String(err) };
  }
  try {
    await client.ensureLogin();
    const count = await client.call('party.party', 'search_count', [[]], NO_ARCHIVE_FILTER);
    const { database } = ctx.settings as { database: string };
    return {
      ok: true,
      detail: `Tryton ${version}, database "${database}", logged in as "${ctx.secrets.username}": ${count} parties`,
    };
  } catch (err) {
    return { ok: false, detail: err instanceof TrytonError ? err.failure.detail : String(err) };
  }
}

// ---------------------------------------------------------------------------------------------
// deliver

/** `<party id>:<attachment id>` pairs, space-separated: what the activity became in Tryton. */
function parseObjectId(id: string | undefined): Map<number, number> {
  const pairs = new Map<number, number>();
  for (const m of (id ?? '').matchAll(/(\d+):(\d+)/g)) pairs.set(Number(m[1]), Number(m[2]));
  return pairs;
}

function formatObjectId(pairs: Map<number, number>): string {
  return [...pairs]
    .sort((a, b) => a[0] - b[0])
    .map(([p, a]) => `${p}:${a}`)
    .join(' ');
}

/** Party ids among the activity's parties: our `contact` records pulled from Tryton are parties. */
export function matchedPartyIds(activity: DeliveryInput['activity']): number[] {
  const ids = new Set<number>();
  for (const p of activity.parties ?? [])
    if (p.recordType === 'contact' && p.recordId && /^[1-9]\d{0,17}$/.test(p.recordId))
      ids.add(Number(p.recordId));
  return [...ids].sort((a, b) => a - b);
}

function attachmentName(subject: string | null): string {
  // A file name in Tryton's client and on the disk it is saved to: no path separators or controls.
  const base =
    (subject ?? '')
      .replace(/\p{Cc}+/gu, ' ')
      .replace(/[/\\:*?"<>|]+/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, MAX_ATTACHMENT_NAME) || 'message';
  return `${base}.eml`;
}

/** RFC 5322 header field value: folded to one line, CR/LF removed (no header injection). */
function headerValue(v: string): string {
  return v.replace(/[\r\n]+/g, ' ');
}

/** The message when its raw copy was not kept: what the egress policy let leave, as text/plain. */
function renderMessage(input: DeliveryInput): Uint8Array {
  const a = input.activity;
  const to = (a.parties ?? []).filter((p) => p.role === 'to').map((p) => p.address);
  const cc = (a.parties ?? []).filter((p) => p.role === 'cc').map((p) => p.address);
  const lines = [
    `From: ${headerValue(a.fromName ? `"${a.fromName.replace(/"/g, "'")}" <${a.from ?? ''}>` : (a.from ?? ''))}`,
    ...(to.length ? [`To: ${headerValue(to.join(', '))}`] : []),
    ...(cc.length ? [`Cc: ${headerValue(cc.join(', '))}`] : []),
    `Subject: ${headerValue(a.subject ?? '')}`,
    `Date: ${new Date(a.receivedAt).toUTCString()}`,
    ...(a.messageId ? [`Message-ID: <${headerValue(a.messageId)}>`] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    `X-CRM-Edge-Router-Activity: ${a.id}`,
    '',
    (input.content.text ?? '(the body was not kept by the egress policy)').replace(/\r?\n/g, '\r\n'),
  ];
  return new TextEncoder().encode(lines.join('\r\n'));
}

function noteMessage(input: DeliveryInput, fileName: string): string {
  const a = input.activity;
  const body = input.content.text?.trim();
  return [
    `E-mail "${a.subject ?? ''}" from ${a.fromName ? `${a.fromName} <${a.from}>` : (a.from ?? 'unknown sender')}, received ${a.receivedAt}.`,
    `Tracked by crm-edge-router (${a.reason}); the message is attached to this party as "${fileName}".`,
    ...(body ? ['', body.length > NOTE_BODY_CHARS ? `${body.slice(0, NOTE_BODY_CHARS)}…` : body] : []),
    '',
    deliveryMarker(a.id),
  ].join('\n');
}

async function deliver(ctx: ConnectorContext, input: DeliveryInput): Promise<DeliveryResult> {
  const client = clientFor(ctx);
  if (typeof client === 'string') return { outcome: 'refused', detail: client };
  const a = input.activity;
  const wanted = matchedPartyIds(a);
  const pairs =
    input.existing?.kind === 'tryton' ? parseObjectId(input.existing.id) : new Map<number, number>();
  if (!wanted.length && !pairs.size)
    return {
      outcome: 'refused',
      detail: 'no party of this activity is a Tryton party (a contact record pulled from Tryton)',
    };
  const marker = deliveryMarker(a.id);
  try {
    // A party deleted in Tryton since the activity matched it gets nothing (a Reference field has
    // no foreign key: Tryton would accept an attachment on a party that is gone).
    const present = new Set(
      (await client.call(
        'party.party',
        'search',
        [[['id', 'in', wanted]], 0, null, null],
        NO_ARCHIVE_FILTER,
      )) as number[],
    );
    const parties = wanted.filter((id) => present.has(id));
    if (!parties.length && !pairs.size)
      return {
        outcome: 'refused',
        detail: `the matched parties (${wanted.join(', ')}) no longer exist in Tryton`,
      };
    const refs = parties.map((id) => `party.party,${id}`);
    // Idempotency: what an earlier attempt of this activity's delivery already made (an answer
    // lost after Tryton committed, a redelivery, a later copy) is found by its marker.
    const [attachments, notes] = refs.length
      ? await Promise.all([
          client.call(
            'ir.attachment',
            'search_read',
            [
              [
                ['resource', 'in', refs],
                ['description', 'like', `%${marker}%`],
              ],
              0,
              null,
              [['id', 'ASC']],
              ['id', 'resource', 'description'],
            ],
            NO_ARCHIVE_FILTER,
          ) as Promise<Array<{ id: number; resource: string; description: string | null }>>,
          client.call(
            'ir.note',
            'search_read',
            [
              [
                ['resource', 'in', refs],
                ['message', 'like', `%${marker}%`],
              ],
              0,
              null,
              [['id', 'ASC']],
              ['id', 'resource', 'message'],
            ],
            NO_ARCHIVE_FILTER,
          ) as Promise<Array<{ id: number; resource: string; message: string | null }>>,
        ])
      : [[], []];
    // LIKE treats `_` and `%` in the marker as wildcards: keep only exact holders of the marker.
    const partyOf = (resource: string) => Number(resource.split(',')[1]);
    for (const att of attachments) {
      const partyId = partyOf(att.resource);
      if (att.description?.split('\n').includes(marker) && !pairs.has(partyId)) pairs.set(partyId, att.id);
    }
    const noted = new Set(
      notes.filter((n) => n.message?.split('\n').includes(marker)).map((n) => partyOf(n.resource)),
    );
    const fileName = attachmentName(a.subject);
    const needAttachment = parties.filter((id) => !pairs.has(id));
    if (needAttachment.length) {
      const raw = (await input.loadRaw()) ?? renderMessage(input);
      const data = { __class__: 'bytes', base64: bytesToBase64(raw) };
      const description = [
        marker,
        `Message-ID: ${a.messageId ?? '(none)'}`,
        `delivery ${input.deliveryId}`,
        `reason ${a.reason}`,
      ].join('\n');
      // One create for all parties: one Tryton transaction, so all of them or none.
      const ids = (await client.call('ir.attachment', 'create', [
        needAttachment.map((id) => ({
          name: fileName,
          type: 'data',
          data,
          resource: `party.party,${id}`,
          description,
        })),
      ])) as number[];
      for (const [i, partyId] of needAttachment.entries()) pairs.set(partyId, ids[i]!);
    }
    const needNote = parties.filter((id) => !noted.has(id));
    if (needNote.length) {
      const message = noteMessage(input, fileName);
      await client.call('ir.note', 'create', [
        needNote.map((id) => ({ resource: `party.party,${id}`, message })),
      ]);
    }
    const first = [...pairs.keys()].sort((x, y) => x - y)[0];
    const { url, database } = ctx.settings as { url: string; database: string };
    const crmObject: CrmObjectRef = {
      kind: 'tryton',
      id: formatObjectId(pairs),
      // The Tryton client's own URL scheme (tryton://host:port/database/model/<model>/<id>).
      ...(first !== undefined
        ? {
            url: `tryton://${new URL(url).host}/${encodeURIComponent(database)}/model/party.party/${first}`,
          }
        : {}),
    };
    return { outcome: 'delivered', crmObject, status: 200 };
  } catch (err) {
    return classify(err);
  }
}

// ---------------------------------------------------------------------------------------------
// pull

/**
 * `since`: the newest write/create date seen by the last completed pass (changes at or after it
 * are read again: at-least-once, and a same-second change is never missed); `after`: the last
 * party id of this pass; `max`: the newest date seen in this pass; `phase` `deletions` walks the
 * record store's known ids after `known`.
 */
interface Cursor {
  v: 1;
  since: string | null;
  after: number;
  max: string | null;
  phase: 'changes' | 'deletions';
  known?: string;
  done: number;
  total?: number;
}

function parseCursor(cursor: string | undefined): Cursor {
  const fresh: Cursor = { v: 1, since: null, after: 0, max: null, phase: 'changes', done: 0 };
  if (!cursor) return fresh;
  try {
    const c = JSON.parse(cursor) as Cursor;
    if (c.v === 1 && (c.phase === 'changes' || c.phase === 'deletions')) return c;
  } catch {}
  return fresh;
}

function laterOf(a: string | null, b: string | undefined): string | null {
  if (!b) return a;
  return a === null || b > a ? b : a;
}

async function pull(ctx: ConnectorContext, cursorText: string | undefined): Promise<PullPage> {
  const client = clientFor(ctx);
  if (typeof client === 'string') throw new ConnectorError(client);
  const cursor = parseCursor(cursorText);
  try {
    if (cursor.phase === 'deletions') return await pullDeletions(ctx, client, cursor);
    return await pullChanges(ctx, client, cursor);
  } catch (err) {
    // A ConnectorError's message is the connector's lastError as it is (types.ts): no secret in it.
    throw err instanceof TrytonError ? new ConnectorError(err.failure.detail) : err;
  }
}

async function pullChanges(ctx: ConnectorContext, client: TrytonClient, cursor: Cursor): Promise<PullPage> {
  // First pass: every party with an e-mail mechanism. Later passes: every party whose row or one of
  // whose contact mechanisms was created or written since `since` (archived ones included).
  const since = cursor.since ? trytonDate(cursor.since) : null;
  const changed: unknown[] = since
    ? [
        'OR',
        ['write_date', '>=', since],
        ['create_date', '>=', since],
        ['contact_mechanisms.write_date', '>=', since],
        ['contact_mechanisms.create_date', '>=', since],
      ]
    : ['contact_mechanisms.type', '=', 'email'];
  const total =
    cursor.total ??
    (cursor.after === 0
      ? ((await client.call('party.party', 'search_count', [[changed]], NO_ARCHIVE_FILTER)) as number)
      : undefined);
  const ids = (await client.call(
    'party.party',
    'search',
    [[changed, ['id', '>', cursor.after]], 0, TRYTON_PULL_PAGE, [['id', 'ASC']]],
    NO_ARCHIVE_FILTER,
  )) as number[];
  let max = cursor.max;
  const upserts: PulledRecord[] = [];
  if (ids.length) {
    const [parties, mechanisms] = (await Promise.all([
      client.call(
        'party.party',
        'read',
        [ids, ['id', 'active', 'write_date', 'create_date']],
        NO_ARCHIVE_FILTER,
      ),
      client.call(
        'party.contact_mechanism',
        'search_read',
        [
          [
            ['party', 'in', ids],
            ['type', '=', 'email'],
          ],
          0,
          null,
          [['id', 'ASC']],
          ['party', 'value', 'active', 'write_date', 'create_date'],
        ],
        NO_ARCHIVE_FILTER,
      ),
    ])) as [
      Array<{ id: number; active: boolean | number; write_date: unknown; create_date: unknown }>,
      Array<{
        party: number;
        value: string | null;
        active: boolean | number;
        write_date: unknown;
        create_date: unknown;
      }>,
    ];
    const emails = new Map<number, string[]>();
    for (const m of mechanisms) {
      max = laterOf(laterOf(max, isoOf(m.create_date)), isoOf(m.write_date));
      const value = m.value?.trim().toLowerCase();
      if (!m.active || !value?.includes('@')) continue;
      const list = emails.get(m.party) ?? [];
      if (!list.includes(value) && list.length < MAX_EMAILS_PER_RECORD) list.push(value);
      emails.set(m.party, list);
    }
    for (const p of parties) {
      max = laterOf(laterOf(max, isoOf(p.create_date)), isoOf(p.write_date));
      const list = emails.get(p.id) ?? [];
      // The first pass takes parties with addresses only; a later one reports every changed party,
      // so that a removed or archived address leaves the record store (emails: []).
      if (!since && !list.length) continue;
      // An archived party stays known (its mail is not tracked: emailEnabled false) until deleted.
      // Boolean(): the SQLite backend answers booleans as 0/1.
      upserts.push({ type: 'contact', id: String(p.id), emails: list, emailEnabled: Boolean(p.active) });
    }
  }
  const done = cursor.done + ids.length;
  if (ids.length === TRYTON_PULL_PAGE) {
    const next: Cursor = {
      ...cursor,
      after: ids.at(-1)!,
      max,
      done,
      ...(total !== undefined ? { total } : {}),
    };
    return page(upserts, [], next, false, done, total);
  }
  if (ctx.knownRecordIds) {
    const next: Cursor = { v: 1, since: cursor.since, after: 0, max, phase: 'deletions', done: 0 };
    return page(upserts, [], next, false, done, total);
  }
  return page(upserts, [], passComplete(cursor.since, max), true, done, total);
}

function passComplete(since: string | null, max: string | null): Cursor {
  return { v: 1, since: max ?? since, after: 0, max: null, phase: 'changes', done: 0 };
}

async function pullDeletions(ctx: ConnectorContext, client: TrytonClient, cursor: Cursor): Promise<PullPage> {
  const known = (await ctx.knownRecordIds!('contact', cursor.known, TRYTON_PULL_PAGE)) ?? [];
  const ids = known.filter((id) => /^[1-9]\d{0,17}$/.test(id)).map(Number);
  const deleted: PullPage['deleted'] = [];
  if (ids.length) {
    const existing = async (candidates: number[]) =>
      new Set(
        (await client.call(
          'party.party',
          'search',
          [[['id', 'in', candidates]], 0, null, null],
          NO_ARCHIVE_FILTER,
        )) as number[],
      );
    const present = await existing(ids);
    const candidates = ids.filter((id) => !present.has(id));
    if (candidates.length) {
      // Confirmed by a second read: a party is reported deleted only when Tryton, asked for that
      // id alone among the candidates, returns nothing (archived parties are included).
      const still = await existing(candidates);
      for (const id of candidates) if (!still.has(id)) deleted.push({ type: 'contact', id: String(id) });
    }
  }
  if (known.length === TRYTON_PULL_PAGE) {
    return page([], deleted, { ...cursor, known: known.at(-1)! }, false, cursor.done + known.length);
  }
  return page([], deleted, passComplete(cursor.since, cursor.max), true, cursor.done + known.length);
}

function page(
  upserts: PulledRecord[],
  deleted: PullPage['deleted'],
  next: Cursor,
  done: boolean,
  progressDone: number,
  total?: number,
): PullPage {
  return {
    upserts,
    deleted,
    outbound: [],
    nextCursor: JSON.stringify(next),
    done,
    progress: { done: progressDone, ...(total !== undefined ? { total } : {}) },
  };
}

export const trytonAdapter: ConnectorAdapter = { kind: 'tryton', test, deliver, pull };
