/** @jsxImportSource hono/jsx */
// The dashboard (design §4): server-rendered hono/jsx pages at `/`, signed-in with an API token.
// Mounted on the central app at `/`; its middleware is registered per page path so that it never
// touches the JSON API.
import { type Context, Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { readCentralConfig } from '../config.js';
import { connectorsHealth } from '../connectors/service.js';
import { resolveToken } from '../http/auth.js';
import { ApiError } from '../http/errors.js';
import { clientKey, countEvent, retryAfterSeconds, SIGN_IN_FAILURES } from '../http/rate-limit.js';
import { dashboardSecureHeaders } from '../http/secure-headers.js';
import { computeStats } from '../services/stats.js';
import { pageProps, scopeOf } from './context.js';
import {
  checkLoginCsrf,
  type DashboardEnv,
  dashboardRefusal,
  loginCsrfToken,
  requireCsrf,
  requireSession,
  revokeSession,
  safeNext,
  startSession,
} from './middleware/session.js';
import { dashboardActivityPages } from './routes/activities.js';
import { dashboardConnectorPages } from './routes/connector.js';
import { dashboardDeadLetterPages } from './routes/dead-letters.js';
import { dashboardDeploymentPages } from './routes/deployments.js';
import { dashboardMailboxPages } from './routes/mailboxes.js';
import { dashboardRegionPages } from './routes/regions.js';
import { dashboardTokenPages } from './routes/tokens.js';
import { APP_CSS } from './views/assets/app-css.js';
import { APP_JS } from './views/assets/app-js.js';
import { LoginPage, MessagePage } from './views/login-page.js';
import { OverviewPage, WINDOWS, type WindowKey } from './views/overview-page.js';

/** Paths of signed-in pages (`/x/*` also matches `/x`). */
const SIGNED_IN = [
  '/',
  '/logout',
  '/regions/*',
  '/routes/*',
  '/activities/*',
  '/dispositions/*',
  '/dead-letters/*',
  '/deployments/*',
];

function refuseCsrf(c: Context<DashboardEnv>) {
  return c.html(
    <MessagePage
      title="Form refused"
      text="This form did not carry a valid security token (CSRF check). It may have expired or come from another site. Go back, reload the page and try again."
      back={c.req.header('referer') ? undefined : '/'}
    />,
    403,
  );
}

export const dashboardRoutes = new Hono<DashboardEnv>();

for (const path of [...SIGNED_IN, '/login', '/assets/*']) dashboardRoutes.use(path, dashboardSecureHeaders());
for (const path of SIGNED_IN) dashboardRoutes.use(path, requireSession(), requireCsrf(refuseCsrf));

dashboardRoutes.get('/assets/app.css', (c) =>
  c.body(APP_CSS, 200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'public, max-age=300' }),
);
dashboardRoutes.get('/assets/app.js', (c) =>
  c.body(APP_JS, 200, {
    'content-type': 'text/javascript; charset=utf-8',
    'cache-control': 'public, max-age=300',
  }),
);

dashboardRoutes.get('/login', async (c) => {
  const next = safeNext(c.req.query('next'));
  const local = !readCentralConfig(c.env).production;
  return c.html(<LoginPage csrfToken={await loginCsrfToken(c)} next={next} local={local} />);
});

/** The one answer to a token that cannot sign in, whatever the reason. */
const SIGN_IN_REFUSED = 'Unknown or revoked token. The dashboard takes admin and deployment tokens only.';

dashboardRoutes.post('/login', async (c) => {
  // The body is at most LOGIN_BODY_LIMIT bytes (requestBodyLimits, before anything reads it).
  const body = await c.req.parseBody();
  const field = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : '');
  const next = safeNext(field('next'));
  const local = !readCentralConfig(c.env).production;
  const again = async (text: string, status: ContentfulStatusCode) =>
    c.html(
      <LoginPage
        csrfToken={await loginCsrfToken(c)}
        next={next}
        local={local}
        flash={{ kind: 'bad', text }}
      />,
      status,
    );
  if (!(await checkLoginCsrf(c, field('_csrf'))))
    return again('The sign-in form expired or did not come from this dashboard. Please try again.', 403);
  const db = c.get('db');
  const limitKey = `sign-in:${clientKey(c)}`;
  const wait = await retryAfterSeconds(db, limitKey, SIGN_IN_FAILURES);
  if (wait > 0) {
    c.header('retry-after', String(wait));
    return again(
      `Too many failed sign-ins from this client. Try again in ${Math.ceil(wait / 60)} minutes.`,
      429,
    );
  }
  const token = field('token').trim();
  const principal = token ? await resolveToken(c.env, db, token) : undefined;
  // A token that exists but may not sign in (user, edge) is answered and counted exactly like an
  // unknown one: the form must not tell a guesser which of its tokens are real.
  if (!principal || dashboardRefusal(principal)) {
    await countEvent(db, limitKey, SIGN_IN_FAILURES);
    return again(SIGN_IN_REFUSED, 401);
  }
  await startSession(c, token);
  return c.redirect(next, 303);
});

dashboardRoutes.post('/logout', async (c) => {
  await revokeSession(c);
  return c.redirect('/login', 303);
});

dashboardRoutes.get('/', async (c) => {
  const key = (c.req.query('window') ?? '24h') as WindowKey;
  const window: WindowKey = key in WINDOWS ? key : '24h';
  const now = Date.now();
  const scope = scopeOf(c);
  const stats = await computeStats(c.get('db'), {
    since: now - WINDOWS[window].ms,
    homeRegion: readCentralConfig(c.env).homeRegion,
    deployment: scope,
    now,
  });
  const connectors = await connectorsHealth(c.get('db'), scope);
  return c.html(
    <OverviewPage
      {...pageProps(c)}
      stats={stats}
      now={now}
      window={window}
      scope={scope}
      connectors={connectors}
    />,
  );
});

dashboardRoutes.route('/', dashboardRegionPages);
dashboardRoutes.route('/', dashboardMailboxPages);
dashboardRoutes.route('/', dashboardActivityPages);
dashboardRoutes.route('/', dashboardDeadLetterPages);
dashboardRoutes.route('/', dashboardConnectorPages);
dashboardRoutes.route('/', dashboardDeploymentPages);
dashboardRoutes.route('/', dashboardTokenPages);

dashboardRoutes.onError((err, c) => {
  if (err instanceof ApiError || err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    const title = status === 404 ? 'Not found' : status === 403 ? 'Not allowed' : 'Request refused';
    return c.html(<MessagePage title={title} text={err.message || title} />, status);
  }
  const requestId = c.get('requestId') ?? '';
  console.error(`[${requestId}]`, err);
  return c.html(
    <MessagePage title="Something went wrong" text={`An internal error occurred (request ${requestId}).`} />,
    500,
  );
});
