/** @jsxImportSource hono/jsx */
import { Hono } from 'hono';
import {
  activityCounts,
  mailboxCountsByDeployment,
  recordCounts,
  suppressionCounts,
} from '../../db/queries/dashboard.js';
import { listDeployments } from '../../db/queries/deployments.js';
import { takeFlash } from '../middleware/flash.js';
import type { DashboardEnv } from '../middleware/session.js';
import { DeploymentsPage } from '../views/deployments-page.js';
import { pageContext, scopeOf } from './dashboard-context.js';

export const dashboardDeploymentPages = new Hono<DashboardEnv>().get('/deployments', async (c) => {
  const db = c.get('db');
  const scope = scopeOf(c);
  const [rows, records, mailboxes, suppressions, activities] = await Promise.all([
    listDeployments(db),
    recordCounts(db, scope),
    mailboxCountsByDeployment(db, scope),
    suppressionCounts(db, scope),
    activityCounts(db, scope),
  ]);
  const views = rows
    .filter((d) => !scope || d.id === scope)
    .map((row) => ({
      row,
      records: records.get(row.id) ?? {},
      mailboxes: mailboxes.get(row.id) ?? 0,
      suppressions: suppressions.get(row.id) ?? 0,
      activities: activities.get(row.id) ?? 0,
    }));
  return c.html(<DeploymentsPage page={pageContext(c)} views={views} flash={takeFlash(c)} />);
});
