/** @jsxImportSource hono/jsx */
import { Hono } from 'hono';
import { EGRESS_POLICIES } from '../../../core/types.js';
import type { regions } from '../../../db/schema.js';
import { readCentralConfig } from '../../config.js';
import { badRequest, forbidden, notFound } from '../../http/errors.js';
import { listDeployments } from '../../services/deployment-admin.js';
import { forwardingKeys, regionRuleScript } from '../../services/forwarding.js';
import { listMailboxes } from '../../services/mailbox-admin.js';
import { findRegion, listRegions, mailboxCountsByRegion, saveRegion } from '../../services/regions.js';
import { computeStats } from '../../services/stats.js';
import { changeSite } from '../../snapshot/config-changed.js';
import { type DashboardContext, formFields, isAdmin, pageContext, pageProps, scopeOf } from '../context.js';
import { setFlash } from '../middleware/flash.js';
import type { DashboardEnv } from '../middleware/session.js';
import {
  RegionRulesConfirmPage,
  RegionsPage,
  type RegionView,
  RULE_FORMATS,
  type RuleScript,
} from '../views/regions-page.js';

const WEEK_MS = 7 * 24 * 60 * 60 * 1000;

/** The forwarding-rule scripts of a region, as GET /api/v1/regions/:id/rules builds them. */
async function ruleScripts(c: DashboardContext, region: typeof regions.$inferSelect): Promise<RuleScript[]> {
  const rows = await listMailboxes(c.get('db'), { region: region.id, deployment: scopeOf(c), limit: 50_000 });
  const deployments = await listDeployments(c.get('db'));
  const scripts: RuleScript[] = [];
  for (const f of RULE_FORMATS) {
    const { script } = await regionRuleScript(forwardingKeys(c.env), {
      format: f.id,
      region: region.id,
      regionName: region.name,
      rulesEnabled: region.rulesEnabled,
      mailboxes: rows,
      deployments,
      updatedAt: new Date().toISOString(),
    });
    scripts.push({ format: f.id, label: f.label, text: script });
  }
  return scripts;
}

async function regionViews(c: DashboardContext, only?: string): Promise<RegionView[]> {
  const db = c.get('db');
  const scope = scopeOf(c);
  const homeRegion = readCentralConfig(c.env).homeRegion;
  const now = Date.now();
  const [rows, stats, counts] = await Promise.all([
    listRegions(db),
    computeStats(db, { since: now - WEEK_MS, homeRegion, deployment: scope, now }),
    mailboxCountsByRegion(db, scope),
  ]);
  const views: RegionView[] = [];
  for (const row of rows) {
    if (only && row.id !== only) continue;
    views.push({
      row,
      week: stats.regions.find((r) => r.region === row.id),
      mailboxes: counts.get(row.id) ?? 0,
      home: row.id === homeRegion,
      scripts: await ruleScripts(c, row),
    });
  }
  return views.sort((a, b) => Number(b.home) - Number(a.home) || a.row.id.localeCompare(b.row.id));
}

async function adminRegion(c: DashboardContext): Promise<typeof regions.$inferSelect> {
  if (!isAdmin(c)) throw forbidden('Only an administrator can change regions.');
  const row = await findRegion(c.get('db'), c.req.param('id') ?? '');
  if (!row) throw notFound(`Region ${c.req.param('id')} does not exist.`);
  return row;
}

function parseEnable(value: string | undefined): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw badRequest('enable must be true or false');
}

export const dashboardRegionPages = new Hono<DashboardEnv>()
  .get('/regions', async (c) =>
    c.html(<RegionsPage {...pageProps(c)} views={await regionViews(c)} admin={isAdmin(c)} />),
  )
  .get('/regions/:id/rules', async (c) => {
    const row = await adminRegion(c);
    const enable = parseEnable(c.req.query('enable'));
    const [view] = await regionViews(c, row.id);
    if (!view) throw notFound(`Region ${row.id} does not exist.`);
    return c.html(<RegionRulesConfirmPage page={pageContext(c)} view={view} enable={enable} />);
  })
  .post('/regions/:id/rules', async (c) => {
    const row = await adminRegion(c);
    const enable = parseEnable((await formFields(c)).enable);
    // The same write as PUT /api/v1/regions/:id: saveRegion bumps the region's snapshot version.
    const updated = await saveRegion(c.get('db'), changeSite(c), {
      id: row.id,
      name: row.name,
      rulesEnabled: enable,
      egress: row.egress,
    });
    setFlash(c, {
      kind: 'ok',
      text: `Rules ${enable ? 'enabled' : 'disabled'} for ${row.id} (snapshot v${updated.configVersion}). Its edge picks up the change with its next snapshot refresh.`,
    });
    return c.redirect('/regions', 303);
  })
  .post('/regions/:id/egress', async (c) => {
    const row = await adminRegion(c);
    const egress = (await formFields(c)).egress ?? '';
    if (!(EGRESS_POLICIES as readonly string[]).includes(egress))
      throw badRequest(`egress must be one of ${EGRESS_POLICIES.join(', ')}`);
    const updated = await saveRegion(c.get('db'), changeSite(c), {
      id: row.id,
      name: row.name,
      rulesEnabled: row.rulesEnabled,
      egress,
    });
    setFlash(c, {
      kind: 'ok',
      text: `Egress policy of ${row.id} is now ${egress} (snapshot v${updated.configVersion}).`,
    });
    return c.redirect('/regions', 303);
  });
