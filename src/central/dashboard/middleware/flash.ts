// One-shot messages shown on the page a form redirects to (post/redirect/get), carried in a
// short-lived cookie rather than the URL so that nobody can craft a link that shows a message.
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Flash } from '../views/layout.js';

const FLASH_COOKIE = 'crm_flash';

export function setFlash(c: Context, flash: Flash): void {
  const value = btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(flash))));
  setCookie(c, FLASH_COOKIE, value, {
    path: '/',
    httpOnly: true,
    sameSite: 'Strict',
    secure: new URL(c.req.url).protocol === 'https:',
    maxAge: 60,
  });
}

/** Reads and clears the pending message, if any. */
export function takeFlash(c: Context): Flash | undefined {
  const value = getCookie(c, FLASH_COOKIE);
  if (!value) return undefined;
  deleteCookie(c, FLASH_COOKIE, { path: '/', secure: new URL(c.req.url).protocol === 'https:' });
  try {
    const parsed = JSON.parse(
      new TextDecoder().decode(Uint8Array.from(atob(value), (ch) => ch.charCodeAt(0))),
    );
    if ((parsed.kind === 'ok' || parsed.kind === 'bad') && typeof parsed.text === 'string')
      return { kind: parsed.kind, text: parsed.text.slice(0, 500) };
  } catch {
    /* a mangled cookie is simply dropped */
  }
  return undefined;
}
