// The browser for the dashboard suite comes from the npm registry: @sparticuz/chromium ships its
// binary inside the package, so `npm install && npm test` needs nothing from apt. Set
// CRM_CHROMIUM=/path/to/chromium to use another build (Debian's, say) instead.
import sparticuz from '@sparticuz/chromium';
import { type Browser, chromium } from 'playwright-core';

const QUIET = [
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchBrowser(): Promise<Browser> {
  const own = process.env.CRM_CHROMIUM;
  if (own)
    return chromium.launch({
      executablePath: own,
      args: ['--headless', '--no-sandbox', '--disable-gpu', ...QUIET],
    });
  return chromium.launch({
    executablePath: await sparticuz.executablePath(),
    // Not sparticuz.args: those are for Lambda (--single-process, which crashes when contexts
    // close, and --disable-web-security, which would void the CSP checks of this suite).
    args: ['--no-sandbox', '--no-zygote', '--disable-gpu', ...QUIET],
    headless: true,
  });
}
