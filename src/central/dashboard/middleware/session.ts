// Dashboard sessions. Stateless: the cookie carries the API token the user signed in with,
// AES-GCM encrypted and HMAC-signed with keys derived from the session secret, plus an expiry.
// Every request decrypts it and resolves the token again, so revoking the token ends the session
// on the next click. CSRF: a synchronizer token derived from the session id, required on every
// POST; sign-in itself is protected by a pre-session nonce cookie in the same way.
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { hmacHex, timingSafeEqual } from '../../../core/request-signature.js';
import { isSessionRevoked, revokeSessionId } from '../../../db/queries/sessions.js';
import { readCentralConfig } from '../../config.js';
import type { AppEnv, CentralBindings, Principal } from '../../context.js';
import { resolveToken } from '../../http/auth.js';

/** How long a session lasts after sign-in (a working day). */
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000;
const LOGIN_NONCE_TTL_S = 30 * 60;
export const CSRF_FIELD = '_csrf';

export interface DashboardSession {
  expiresAt: number;
  csrfToken: string;
}

export interface DashboardEnv {
  Bindings: CentralBindings;
  Variables: AppEnv['Variables'] & { session: DashboardSession };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function b64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromB64url(s: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) return undefined;
  try {
    const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

interface SessionKeys {
  mac: string;
  enc: CryptoKey;
}

const keyCache = new Map<string, Promise<SessionKeys>>();

/** Separate MAC and encryption keys, so that neither is the secret the webhooks are signed with. */
function sessionKeys(env: CentralBindings): Promise<SessionKeys> {
  const secret = readCentralConfig(env).sessionSecret;
  let keys = keyCache.get(secret);
  if (!keys) {
    keys = (async () => {
      const mac = await hmacHex(secret, 'dashboard:session-mac');
      const raw = hexToBytes(await hmacHex(secret, 'dashboard:session-enc'));
      const enc = await crypto.subtle.importKey('raw', raw as Uint8Array<ArrayBuffer>, 'AES-GCM', false, [
        'encrypt',
        'decrypt',
      ]);
      return { mac, enc };
    })();
    keyCache.set(secret, keys);
  }
  return keys;
}

function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === 'https:';
}

/** `__Host-` pins the cookie to this host and path `/`, but browsers accept it only over HTTPS. */
function sessionCookieName(c: Context): string {
  return isHttps(c) ? '__Host-crm_session' : 'crm_session';
}

function loginCookieName(c: Context): string {
  return isHttps(c) ? '__Host-crm_login' : 'crm_login';
}

function cookieOptions(c: Context, maxAgeSeconds: number) {
  return {
    path: '/',
    httpOnly: true,
    sameSite: 'Strict' as const,
    secure: isHttps(c),
    maxAge: maxAgeSeconds,
  };
}

/** Cookie value: `v1.<exp>.<sid>.<b64url(iv ‖ AES-GCM(token))>.<hex HMAC of the rest>`. */
export async function encodeSession(env: CentralBindings, token: string, now = Date.now()): Promise<string> {
  const keys = await sessionKeys(env);
  const exp = now + SESSION_TTL_MS;
  const sid = b64url(crypto.getRandomValues(new Uint8Array(16)));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: encoder.encode(`${exp}.${sid}`) },
      keys.enc,
      encoder.encode(token),
    ),
  );
  const box = new Uint8Array(iv.length + sealed.length);
  box.set(iv, 0);
  box.set(sealed, iv.length);
  const body = `v1.${exp}.${sid}.${b64url(box)}`;
  return `${body}.${await hmacHex(keys.mac, body)}`;
}

/** The token, session id and expiry of a valid, unexpired cookie; undefined for anything else. */
export async function decodeSession(
  env: CentralBindings,
  value: string,
  now = Date.now(),
): Promise<{ token: string; sid: string; expiresAt: number } | undefined> {
  const parts = value.split('.');
  if (parts.length !== 5 || parts[0] !== 'v1') return undefined;
  const [, expText, sid, sealedText, mac] = parts as [string, string, string, string, string];
  const keys = await sessionKeys(env);
  const expected = await hmacHex(keys.mac, parts.slice(0, 4).join('.'));
  if (!timingSafeEqual(expected, mac.toLowerCase())) return undefined;
  const expiresAt = Number(expText);
  if (!Number.isSafeInteger(expiresAt) || expiresAt <= now) return undefined;
  const box = fromB64url(sealedText);
  if (!box || box.length < 13) return undefined;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: box.slice(0, 12), additionalData: encoder.encode(`${expText}.${sid}`) },
      keys.enc,
      box.slice(12),
    );
    return { token: decoder.decode(plain), sid, expiresAt };
  } catch {
    return undefined;
  }
}

async function csrfFor(env: CentralBindings, purpose: string): Promise<string> {
  return hmacHex((await sessionKeys(env)).mac, `csrf:${purpose}`);
}

/** Why a principal may not use the dashboard, or undefined when it may. */
export function dashboardRefusal(p: Principal): string | undefined {
  if (p.kind === 'edge') return 'Edge tokens are for edge workers only and cannot sign in to the dashboard.';
  if (p.kind === 'user')
    return 'User tokens are for the Track-in-CRM API; sign in with an admin or a deployment token.';
  return undefined;
}

export async function startSession(c: Context<DashboardEnv>, token: string): Promise<void> {
  setCookie(
    c,
    sessionCookieName(c),
    await encodeSession(c.env, token),
    cookieOptions(c, SESSION_TTL_MS / 1000),
  );
  deleteCookie(c, loginCookieName(c), { path: '/', secure: isHttps(c) });
}

export function endSession(c: Context<DashboardEnv>): void {
  deleteCookie(c, sessionCookieName(c), { path: '/', secure: isHttps(c) });
}

/** Signs out: the session id is revoked server-side (a copied cookie stops working too), then the cookie goes. */
export async function revokeSession(c: Context<DashboardEnv>): Promise<void> {
  const cookie = getCookie(c, sessionCookieName(c));
  const decoded = cookie ? await decodeSession(c.env, cookie) : undefined;
  if (decoded) {
    await revokeSessionId(c.get('db'), decoded.sid, decoded.expiresAt);
  }
  endSession(c);
}

/** Reads the session cookie, re-resolving its token; sets `principal` and `session` when valid. */
async function loadSession(c: Context<DashboardEnv>): Promise<boolean> {
  const cookie = getCookie(c, sessionCookieName(c));
  if (!cookie) return false;
  const decoded = await decodeSession(c.env, cookie);
  const live = decoded && !(await isSessionRevoked(c.get('db'), decoded.sid)) ? decoded : undefined;
  const principal = live ? await resolveToken(c.env, c.get('db'), live.token) : undefined;
  if (!decoded || !live || !principal || dashboardRefusal(principal)) {
    endSession(c);
    return false;
  }
  c.set('principal', principal);
  c.set('session', {
    expiresAt: decoded.expiresAt,
    csrfToken: await csrfFor(c.env, `session:${decoded.sid}`),
  });
  return true;
}

/** A local path to return to after sign-in; anything else (other hosts, `//x`, `/\x`) becomes `/`. */
export function safeNext(next: string | undefined): string {
  // Printable ASCII only (browsers drop tabs and newlines, so `/\t/x` would become `//x`), no
  // backslash anywhere (browsers read it as `/`), one leading slash not followed by another.
  if (!next || !/^\/(?![/\\])[\x21-\x7e]*$/.test(next) || next.includes('\\')) return '/';
  return next;
}

/**
 * Requires a signed-in dashboard session. Unauthenticated page requests are redirected to
 * `/login?next=…`; unauthenticated form posts go to `/login` (their body is not replayed).
 */
export function requireSession(): MiddlewareHandler<DashboardEnv> {
  return async (c, next) => {
    if (await loadSession(c)) return next();
    const url = new URL(c.req.url);
    if (c.req.method === 'GET' || c.req.method === 'HEAD') {
      const back =
        url.pathname === '/' && !url.search ? '' : `?next=${encodeURIComponent(url.pathname + url.search)}`;
      return c.redirect(`/login${back}`, 303);
    }
    return c.redirect('/login', 303);
  };
}

/**
 * Same-origin check on top of the token, from what the browser says about the request: Fetch
 * Metadata (`Sec-Fetch-Site`) when sent, else the Origin header. Clients that send neither are
 * not browsers, and still need the token.
 */
function originMatches(c: Context): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site) return site === 'same-origin';
  const origin = c.req.header('origin');
  return !origin || origin === new URL(c.req.url).origin;
}

async function formField(c: Context, name: string): Promise<string | undefined> {
  const type = c.req.header('content-type') ?? '';
  if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type)) return undefined;
  const body = await c.req.parseBody();
  const value = body[name];
  return typeof value === 'string' ? value : undefined;
}

/** Refuses any non-GET request whose `_csrf` form field is not the session's synchronizer token. */
export function requireCsrf(
  onRefused: (c: Context<DashboardEnv>) => Response | Promise<Response>,
): MiddlewareHandler<DashboardEnv> {
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const sent = await formField(c, CSRF_FIELD);
    const expected = c.get('session')?.csrfToken;
    if (!expected || !sent || !originMatches(c) || !timingSafeEqual(expected, sent.toLowerCase()))
      return onRefused(c);
    return next();
  };
}

/** The sign-in form's CSRF token, bound to a random nonce cookie set with the form. */
export async function loginCsrfToken(c: Context<DashboardEnv>): Promise<string> {
  let nonce = getCookie(c, loginCookieName(c));
  if (!nonce || !/^[A-Za-z0-9_-]{22}$/.test(nonce)) {
    nonce = b64url(crypto.getRandomValues(new Uint8Array(16)));
    setCookie(c, loginCookieName(c), nonce, cookieOptions(c, LOGIN_NONCE_TTL_S));
  }
  return csrfFor(c.env, `login:${nonce}`);
}

export async function checkLoginCsrf(c: Context<DashboardEnv>, sent: string | undefined): Promise<boolean> {
  const nonce = getCookie(c, loginCookieName(c));
  if (!nonce || !sent || !originMatches(c)) return false;
  return timingSafeEqual(await csrfFor(c.env, `login:${nonce}`), sent.toLowerCase());
}
