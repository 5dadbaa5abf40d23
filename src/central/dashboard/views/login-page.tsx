/** @jsxImportSource hono/jsx */
import type { FC } from 'hono/jsx';
import { CSRF_FIELD } from '../middleware/session.js';
import { Document, type Flash, FlashMessage } from './layout.js';

export const LoginPage: FC<{
  csrfToken: string;
  next: string;
  flash?: Flash | undefined;
  local: boolean;
}> = ({ csrfToken, next, flash, local }) => (
  <Document title="Sign in">
    <main id="content" class="login">
      <div class="panel">
        <h1>Sign in</h1>
        <p class="muted">CRM edge router dashboard</p>
        <FlashMessage flash={flash} />
        <form method="post" action="/login" class="stack">
          <input type="hidden" name={CSRF_FIELD} value={csrfToken} />
          <input type="hidden" name="next" value={next} />
          <div class="field">
            <label for="token">API token</label>
            <input
              id="token"
              name="token"
              type="password"
              required
              autocomplete="current-password"
              spellcheck={false}
              aria-describedby="token-help"
              autofocus
            />
            <small id="token-help" class="muted">
              An admin token, or a deployment token minted with POST /api/v1/tokens
              {local ? ' (locally: local-admin-token)' : ''}.
            </small>
          </div>
          <div>
            <button type="submit">Sign in</button>
          </div>
        </form>
      </div>
    </main>
  </Document>
);

/** A full page for refusals outside the signed-in layout (CSRF failures, expired forms). */
export const MessagePage: FC<{ title: string; text: string; back?: string }> = ({ title, text, back }) => (
  <Document title={title}>
    <main id="content" class="login">
      <div class="panel">
        <h1>{title}</h1>
        <p>{text}</p>
        <p>
          <a href={back ?? '/'}>Back to the dashboard</a>
        </p>
      </div>
    </main>
  </Document>
);
