// The dashboard in a real browser (chromium from the npm registry driven by playwright-core) against the running
// local network. Screenshots of every page go to test-output/screenshots/.
import { createHmac, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { demoMailbox } from '../../scripts/demo-data.js';
import { deriveEdgeCredentials, LOCAL_EDGE_KEY_SECRET, ROOT } from '../../scripts/network.js';
import {
  central,
  centralUrl,
  edgeHolds,
  edgeUrl,
  eventually,
  firstListed,
  forwardMail,
  listedFor,
  uniqueMessageId,
} from '../e2e/helpers.js';
import { launchBrowser } from './launch.js';

const SHOTS = join(ROOT, 'test-output', 'screenshots');
const DESKTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };
const NAV = ['Overview', 'Regions', 'Routes', 'Activities', 'Dispositions', 'Dead letters', 'Deployments'];
const XSS_SUBJECT = '<img src=x onerror="window.__xss=1;alert(1)"> quote';
const XSS_NAME = '<script>window.__xss=2;alert(2)</script>';

let browser: Browser;

interface Session {
  context: BrowserContext;
  page: Page;
  dialogs: string[];
  problems: string[];
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
});

/** A fresh browser context that records dialogs (none may open) and CSP or script errors. */
async function open(viewport = DESKTOP): Promise<Session> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const dialogs: string[] = [];
  const problems: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  return { context, page, dialogs, problems };
}

async function signIn(s: Session, token: string) {
  await s.page.goto(`${centralUrl()}/`);
  expect(new URL(s.page.url()).pathname).toBe('/login');
  await s.page.getByLabel('API token').fill(token);
  await s.page.getByRole('button', { name: 'Sign in' }).click();
  await s.page.waitForURL((url) => url.pathname === '/');
}

/** Desktop screenshots show the whole page; phone ones the first screenful, as a phone would. */
async function shot(page: Page, name: string) {
  const phone = (page.viewportSize()?.width ?? DESKTOP.width) < 600;
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: !phone });
}

async function nav(page: Page, label: string) {
  await page
    .getByRole('navigation', { name: 'Main' })
    .getByRole('link', { name: label, exact: true })
    .click();
  await page.waitForLoadState('domcontentloaded');
}

/** Posts a signed batch to central as the region's edge would (design §2, step 6). */
async function edgeBatch(region: string, batch: Record<string, unknown>) {
  const { signingKey, token } = await deriveEdgeCredentials(LOCAL_EDGE_KEY_SECRET, region);
  const body = gzipSync(JSON.stringify(batch));
  const timestamp = Date.now();
  const signature = createHmac('sha256', signingKey)
    .update(Buffer.concat([Buffer.from(`${timestamp}.`), body]))
    .digest('hex');
  const res = await fetch(`${centralUrl()}/api/v1/ingest`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'x-edge-region': region,
      'x-edge-timestamp': String(timestamp),
      'x-edge-signature': signature,
    },
    body,
  });
  return { status: res.status, json: await res.json() };
}

describe('the dashboard in a browser', () => {
  test('an admin signs in and every page renders with the seeded data', async () => {
    const s = await open();
    await s.page.goto(`${centralUrl()}/login`);
    await shot(s.page, '00-login');
    await signIn(s, inject('adminToken'));

    const expectations: [string, string, string][] = [
      ['Overview', 'United States (home)', '01-overview'],
      ['Regions', 'Forwarding rule scripts for eu', '02-regions'],
      ['Routes', 'alice@contoso.example', '03-routes'],
      ['Activities', 'Tracked e-mail, newest first', '04-activities'],
      ['Dispositions', 'Recent receipts', '05-dispositions'],
      ['Dead letters', 'Items an edge could not deliver', '06-dead-letters'],
      ['Deployments', 'Contoso Ltd', '07-deployments'],
    ];
    for (const [label, text, name] of expectations) {
      await nav(s.page, label);
      await expect.poll(() => s.page.getByRole('heading', { level: 1 }).textContent()).toBe(label);
      expect(await s.page.getByText(text).first().isVisible(), `${label} shows ${text}`).toBe(true);
      const links = s.page.getByRole('navigation', { name: 'Main' }).getByRole('link');
      expect(await links.allTextContents()).toEqual(NAV);
      expect(
        await s.page
          .getByRole('navigation', { name: 'Main' })
          .getByRole('link', { name: label })
          .getAttribute('aria-current'),
      ).toBe('page');
      await shot(s.page, name);
    }
    // Demo data on the pages: 30 routes, both deployments, three regions. Other suites on this
    // network (the CLI's route imports) add routes of their own deployments, so the page's count
    // is checked against the API's, and the demo's share of it against 30.
    const routes = ((await central('GET', '/api/v1/mailboxes?limit=5000')).json?.items ?? []) as {
      deployment: string;
    }[];
    expect(routes.filter((r) => r.deployment === 'contoso' || r.deployment === 'fabrikam')).toHaveLength(30);
    await nav(s.page, 'Routes');
    expect(
      await s.page.getByRole('heading', { name: new RegExp(`^${routes.length} routes?( |$)`) }).isVisible(),
    ).toBe(true);
    await nav(s.page, 'Regions');
    for (const name of ['United States (home)', 'Europe', 'Asia-Pacific'])
      expect(await s.page.getByRole('heading', { level: 2, name }).first().isVisible()).toBe(true);

    // Keyboard: the first Tab reaches the skip link, which moves focus to the content.
    await s.page.keyboard.press('Tab');
    expect(await s.page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await s.page.keyboard.press('Enter');
    expect(await s.page.evaluate(() => document.activeElement?.id)).toBe('content');

    // Phone width: the navigation wraps and the pages stay readable.
    const phone = await open(PHONE);
    await signIn(phone, inject('adminToken'));
    await shot(phone.page, '08-overview-phone');
    for (const label of NAV) {
      await nav(phone.page, label);
      const overflow = await phone.page.evaluate(
        () => document.documentElement.scrollWidth - window.innerWidth,
      );
      expect(overflow, `${label} fits a phone's width`).toBeLessThanOrEqual(1);
      if (label === 'Routes') await shot(phone.page, '09-routes-phone');
      if (label === 'Activities') await shot(phone.page, '09b-activities-phone');
    }
    await phone.context.close();

    expect(s.dialogs).toEqual([]);
    expect(s.problems).toEqual([]);
    await s.context.close();
  });

  test('disabling eu rules (with confirmation) makes its edge toss mail as region-rules-disabled', async () => {
    const s = await open();
    await signIn(s, inject('adminToken'));
    const mailbox = demoMailbox({ region: 'eu', filter: 'all' });
    try {
      await nav(s.page, 'Regions');
      await s.page.getByRole('button', { name: 'Disable rules for eu…' }).click();
      await expect
        .poll(() => s.page.getByRole('heading', { level: 1 }).textContent())
        .toBe('Disable rules for eu?');
      expect(await s.page.getByText('would no longer be captured').isVisible()).toBe(true);
      await shot(s.page, '10-regions-confirm-disable');
      await s.page.getByRole('button', { name: 'Yes, disable rules for eu' }).click();
      await s.page.waitForURL((url) => url.pathname === '/regions');
      expect(await s.page.getByRole('status').textContent()).toContain('Rules disabled for eu');
      expect((await central('GET', '/api/v1/regions/eu')).json.rulesEnabled).toBe(false);
      await shot(s.page, '11-regions-eu-disabled');

      // The edge refreshes its snapshot on its own schedule (≤ 30 s plus a 15 s tick locally).
      const target = (await central('GET', '/api/v1/regions/eu')).json.snapshotVersion as number;
      await edgeHolds('eu', target, 90_000);
      const messageId = uniqueMessageId('rules-off');
      const sent = await forwardMail('eu', mailbox, {
        from: 'Customer <someone@unknown-customer.example>',
        subject: 'Sent while eu rules are off',
        messageId,
      });
      expect(sent.status).toBeLessThan(300);

      await nav(s.page, 'Dispositions');
      await eventually(
        async () => {
          await s.page.getByLabel('Message-ID', { exact: true }).fill(messageId);
          await s.page.getByRole('button', { name: 'Look up' }).click();
          await s.page.waitForLoadState('domcontentloaded');
          const table = s.page.getByRole('table', { name: `Receipts for ${messageId}` });
          const text = (await table.count()) ? await table.textContent() : '';
          return text?.includes('region-rules-disabled') ? true : undefined;
        },
        20_000,
        1000,
      );
      expect(await s.page.getByText('No activity has this Message-ID.').isVisible()).toBe(true);
      await shot(s.page, '12-dispositions-rules-disabled');
    } finally {
      await nav(s.page, 'Regions');
      if (await s.page.getByRole('button', { name: 'Enable rules for eu…' }).count()) {
        await s.page.getByRole('button', { name: 'Enable rules for eu…' }).click();
        await s.page.getByRole('button', { name: 'Yes, enable rules for eu' }).click();
        await s.page.waitForURL((url) => url.pathname === '/regions');
      }
      const region = (await central('GET', '/api/v1/regions/eu')).json;
      if (!region.rulesEnabled) await central('PUT', '/api/v1/regions/eu', { ...region, rulesEnabled: true });
      expect((await central('GET', '/api/v1/regions/eu')).json.rulesEnabled).toBe(true);
      // Leave the network as we found it: wait until the eu edge holds the re-enabled snapshot.
      const target = (await central('GET', '/api/v1/regions/eu')).json.snapshotVersion as number;
      await edgeHolds('eu', target, 90_000);
    }
    expect(s.dialogs).toEqual([]);
    expect(s.problems).toEqual([]);
    await s.context.close();
  });

  test('an activity is found by search and explains why it was tracked; mail-borne markup stays text', async () => {
    const mailbox = demoMailbox({ region: 'us', filter: 'all' });
    const messageId = uniqueMessageId('xss');
    const sent = await forwardMail('us', mailbox, {
      from: `"${XSS_NAME}" <attacker@unknown-customer.example>`,
      subject: XSS_SUBJECT,
      messageId,
    });
    expect(sent.status).toBeLessThan(300);
    await firstListed('activities', messageId, 15_000);

    const s = await open();
    await s.context.addInitScript(() => {
      (window as unknown as { __xss: number }).__xss = 0;
    });
    await signIn(s, inject('adminToken'));
    await nav(s.page, 'Activities');
    await s.page.getByLabel('Subject, address or Message-ID').fill('onerror');
    await s.page.getByRole('button', { name: 'Search' }).click();
    await s.page.waitForLoadState('domcontentloaded');
    const link = s.page.getByRole('link', { name: XSS_SUBJECT });
    expect(await link.count()).toBeGreaterThan(0);
    expect(await s.page.getByText(XSS_NAME, { exact: false }).first().isVisible()).toBe(true);
    await shot(s.page, '13-activities-search');
    await link.first().click();
    await s.page.waitForURL((url) => url.pathname.startsWith('/activities/'));
    expect(await s.page.getByRole('heading', { level: 1 }).textContent()).toBe(XSS_SUBJECT);
    const why = s.page.getByRole('region', { name: 'Why tracked' });
    expect(await why.isVisible()).toBe(true);
    expect(await why.textContent()).toContain('tracked:all');
    expect(await why.textContent()).toContain('Correlation method');
    const stored = s.page.getByRole('region', { name: 'Raw message and attachments' });
    const rawLink = stored.getByRole('link', { name: 'Raw message (.eml)' });
    expect(await rawLink.getAttribute('href')).toMatch(
      new RegExp(`^${edgeUrl('us').replace(/[.]/g, '\\.')}/raw/raw/.+\\.eml\\?exp=\\d+&sig=[0-9a-f]{64}$`),
    );
    // The signed link really opens the raw message in its region.
    const raw = await fetch((await rawLink.getAttribute('href'))!);
    expect(raw.status).toBe(200);
    expect(await raw.text()).toContain(messageId);
    await shot(s.page, '14-activity-why-tracked');

    // Nothing from the message ran or became markup.
    expect(await s.page.evaluate(() => (window as unknown as { __xss: number }).__xss)).toBe(0);
    expect(await s.page.locator('main img, main script').count()).toBe(0);
    expect(await s.page.locator('script').count()).toBe(1);
    expect(s.dialogs).toEqual([]);
    expect(s.problems).toEqual([]);
    await s.context.close();
  });

  test('a dead letter reported by an edge is replayed from the dashboard', async () => {
    const mailbox = demoMailbox({ region: 'apac', filter: 'all' });
    const messageId = `dead-letter-${randomUUID()}@test.example`;
    const item = {
      kind: 'item',
      id: randomUUID(),
      region: 'apac',
      deployment: mailbox.deployment,
      messageId,
      contentHash: 'b'.repeat(64),
      receivedAt: Date.now() - 60_000,
      sizeBytes: 1500,
      mailboxes: [mailbox.address],
      reason: 'tracked:all',
      correlation: { method: 'all', detail: `mailbox ${mailbox.address} tracks all mail` },
      egress: 'metadata+subject',
      from: { address: 'someone@unknown-customer.example', name: 'Some One' },
      to: [{ address: mailbox.address }],
      cc: [],
      subject: 'Delivered after a dead letter replay',
      attachments: [],
    };
    const res = await edgeBatch('apac', {
      batchId: randomUUID(),
      region: 'apac',
      sentAt: Date.now(),
      items: [],
      receipts: [],
      deadLetters: [
        {
          id: randomUUID(),
          item,
          error: 'central unreachable after 10 attempts (browser test)',
          attempts: 10,
        },
      ],
    });
    expect(res.status).toBe(200);

    const s = await open();
    await signIn(s, inject('adminToken'));
    await nav(s.page, 'Dead letters');
    const row = s.page.getByRole('row').filter({ hasText: messageId });
    expect(await row.textContent()).toContain('central unreachable after 10 attempts (browser test)');
    await shot(s.page, '15-dead-letters-pending');
    await row.getByRole('button', { name: /^Replay/ }).click();
    await s.page.waitForURL((url) => url.pathname === '/dead-letters');
    expect(await s.page.getByRole('status').textContent()).toMatch(/accepted as activity/);
    await shot(s.page, '16-dead-letters-replayed');
    expect((await listedFor('activities', messageId))[0]).toMatchObject({
      subject: 'Delivered after a dead letter replay',
      regions: ['apac'],
    });
    expect(s.problems).toEqual([]);
    await s.context.close();
  });

  test('a deployment token’s session sees only its deployment', async () => {
    const minted = await central('POST', '/api/v1/tokens', {
      scope: 'deployment:fabrikam',
      label: 'browser test',
    });
    expect(minted.status).toBe(201);
    const s = await open();
    await signIn(s, minted.json.token);
    expect(await s.page.getByText('Signed in as deployment fabrikam').isVisible()).toBe(true);
    await nav(s.page, 'Routes');
    const routes = (await s.page.getByRole('table').textContent()) ?? '';
    expect(routes).toContain('@fabrikam.example');
    expect(routes).not.toContain('@contoso.example');
    await shot(s.page, '17-deployment-routes');
    await nav(s.page, 'Activities');
    const acts = (await s.page.locator('main').textContent()) ?? '';
    expect(acts).not.toContain('contoso');
    await nav(s.page, 'Deployments');
    expect(await s.page.getByText('Fabrikam Inc').isVisible()).toBe(true);
    expect(await s.page.getByText('Contoso Ltd').count()).toBe(0);
    await shot(s.page, '18-deployment-deployments');
    // Its full syncs: start one (completing it would remove the demo records, so it is left open).
    await s.page.getByRole('link', { name: 'full syncs' }).click();
    await expect
      .poll(() => s.page.getByRole('heading', { level: 1 }).textContent())
      .toBe('Full syncs of fabrikam');
    await s.page.getByRole('button', { name: 'Start a full sync' }).click();
    await s.page.waitForURL((url) => url.pathname === '/deployments/fabrikam/syncs');
    expect(await s.page.getByRole('status').textContent()).toMatch(/^Started full sync sync_[0-9a-f]{24}/);
    expect(await s.page.getByRole('cell', { name: 'open — receiving records' }).first().isVisible()).toBe(
      true,
    );
    expect(await s.page.getByRole('button', { name: /^Complete sync_/ }).count()).toBe(1);
    await shot(s.page, '18b-deployment-syncs');
    // Another deployment's syncs: refused for this session's cookie (asked outside the page, whose
    // console must stay free of errors).
    const foreign = await s.context.request.get(`${centralUrl()}/deployments/contoso/syncs`);
    expect(foreign.status()).toBe(403);
    await nav(s.page, 'Dead letters');
    expect((await s.page.locator('main').textContent()) ?? '').not.toContain('contoso');
    await nav(s.page, 'Dispositions');
    expect((await s.page.locator('main').textContent()) ?? '').not.toContain('contoso');
    await nav(s.page, 'Regions');
    expect(await s.page.getByRole('button', { name: /Disable rules/ }).count()).toBe(0);
    expect(s.problems).toEqual([]);
    await s.context.close();
  });
});
