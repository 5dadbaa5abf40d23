import type { MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';

/**
 * Headers for every dashboard response: a Content-Security-Policy with no inline script and no
 * inline style (the one script and stylesheet are served from `/assets/`), no framing, no
 * referrer to other origins (the edges that serve raw messages learn nothing of the dashboard's
 * URLs), and no caching of pages that show mail metadata.
 */
export function dashboardSecureHeaders(): MiddlewareHandler {
  const headers = secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
      objectSrc: ["'none'"],
    },
    xFrameOptions: 'DENY',
    referrerPolicy: 'same-origin',
    crossOriginResourcePolicy: 'same-origin',
    crossOriginOpenerPolicy: 'same-origin',
    permissionsPolicy: { camera: [], microphone: [], geolocation: [] },
  });
  return async (c, next) => {
    await headers(c, next);
    if (!c.req.path.startsWith('/assets/')) c.header('cache-control', 'no-store');
  };
}
