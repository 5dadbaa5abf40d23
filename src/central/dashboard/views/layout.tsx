/** @jsxImportSource hono/jsx */
import { raw } from 'hono/html';
import type { Child, FC, PropsWithChildren } from 'hono/jsx';
import type { Principal } from '../../context.js';
import { CSRF_FIELD } from '../middleware/session.js';

/** The navigation: link text is part of the contract (design §4, Dashboard). */
export const NAV = [
  { key: 'overview', href: '/', label: 'Overview' },
  { key: 'regions', href: '/regions', label: 'Regions' },
  { key: 'routes', href: '/routes', label: 'Routes' },
  { key: 'activities', href: '/activities', label: 'Activities' },
  { key: 'dispositions', href: '/dispositions', label: 'Dispositions' },
  { key: 'dead-letters', href: '/dead-letters', label: 'Dead letters' },
  { key: 'deployments', href: '/deployments', label: 'Deployments' },
] as const;

/** A constant, never data: the only markup the dashboard does not let hono/jsx escape. */
const DOCTYPE = raw('<!doctype html>');

export type NavKey = (typeof NAV)[number]['key'];

export interface Flash {
  kind: 'ok' | 'bad';
  text: string;
}

export interface PageContext {
  principal: Principal;
  csrfToken: string;
}

export function describePrincipal(p: Principal): string {
  if (p.kind === 'admin') return 'admin';
  if (p.kind === 'deployment') return `deployment ${p.deployment}`;
  if (p.kind === 'user') return `user ${p.userId} of ${p.deployment}`;
  return `edge ${p.region}`;
}

export const Document: FC<PropsWithChildren<{ title: string }>> = ({ title, children }) => (
  <>
    {DOCTYPE}
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <link rel="icon" href="data:," />
        <title>{`${title} · CRM edge router`}</title>
        <link rel="stylesheet" href="/assets/app.css" />
        <script src="/assets/app.js" defer />
      </head>
      <body>{children}</body>
    </html>
  </>
);

/** A hidden CSRF field: every dashboard form posts it. */
export const Csrf: FC<{ token: string }> = ({ token }) => (
  <input type="hidden" name={CSRF_FIELD} value={token} />
);

export const FlashMessage: FC<{ flash?: Flash | undefined }> = ({ flash }) =>
  flash ? (
    <div class={`flash ${flash.kind}`} role={flash.kind === 'bad' ? 'alert' : 'status'}>
      {flash.text}
    </div>
  ) : null;

export const Layout: FC<
  PropsWithChildren<{
    title: string;
    active?: NavKey;
    page: PageContext;
    flash?: Flash | undefined;
    heading?: Child;
  }>
> = ({ title, active, page, flash, heading, children }) => (
  <Document title={title}>
    <a class="skip" href="#content">
      Skip to content
    </a>
    <header class="top">
      <div class="bar">
        <a class="brand" href="/">
          CRM edge router
        </a>
        <nav class="main" aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li>
                <a href={n.href} aria-current={n.key === active ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span>
            Signed in as <strong>{describePrincipal(page.principal)}</strong>
          </span>
          <form method="post" action="/logout">
            <Csrf token={page.csrfToken} />
            <button type="submit">Sign out</button>
          </form>
        </div>
      </div>
    </header>
    <main id="content" tabindex={-1}>
      <h1>{heading ?? title}</h1>
      <FlashMessage flash={flash} />
      {children}
    </main>
  </Document>
);

/** Renders a time as UTC text in a `<time>` element (the page script localises it). */
export const Time: FC<{ ms: number | null | undefined }> = ({ ms }) => {
  if (ms == null) return <span class="muted">—</span>;
  const iso = new Date(ms).toISOString();
  return <time datetime={iso}>{`${iso.slice(0, 19).replace('T', ' ')} UTC`}</time>;
};

/** `<option>`s for `values`, `selected` marked, led by an empty "any …" choice when `any` is given. */
export const Options: FC<{
  values: readonly string[];
  selected: string;
  any?: string;
  /** The text of each value's option (default: the value itself). */
  texts?: Readonly<Record<string, string>>;
}> = ({ values, selected, any, texts }) => (
  <>
    {any !== undefined ? (
      <option value="" selected={selected === ''}>
        {any}
      </option>
    ) : null}
    {values.map((v) => (
      <option value={v} selected={v === selected}>
        {texts?.[v] ?? v}
      </option>
    ))}
  </>
);
