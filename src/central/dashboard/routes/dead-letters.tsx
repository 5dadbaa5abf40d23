/** @jsxImportSource hono/jsx */
import { Hono } from 'hono';
import { readCentralConfig } from '../../config.js';
import { findDelivery, listFailingDeliveries, replayDelivery } from '../../delivery/webhooks.js';
import { notFound } from '../../http/errors.js';
import { findDeadLetter, listDeadLetters } from '../../ingest/dead-letters.js';
import { replayDeadLetter } from '../../ingest/replay.js';
import { pageProps, scopeOf, visibleRow } from '../context.js';
import { setFlash } from '../middleware/flash.js';
import type { DashboardEnv } from '../middleware/session.js';
import { DeadLettersPage } from '../views/dead-letters-page.js';

type ReplayResult = NonNullable<Awaited<ReturnType<typeof replayDeadLetter>>>;

function describeReplay(r: ReplayResult): string {
  if (r.status === 'rejected') return `rejected again: ${r.reason ?? 'no reason given'}`;
  return `${r.status}${r.activityId ? ` as activity ${r.activityId}` : ''}`;
}

export const dashboardDeadLetterPages = new Hono<DashboardEnv>()
  .get('/dead-letters', async (c) => {
    const filter = c.req.query('show') === 'all' ? 'all' : 'pending';
    const rows = await listDeadLetters(c.get('db'), {
      deployment: scopeOf(c),
      pending: filter === 'pending',
      limit: 200,
    });
    const deliveries = await listFailingDeliveries(c.get('db'), { deployment: scopeOf(c), limit: 200 });
    return c.html(<DeadLettersPage {...pageProps(c)} rows={rows} filter={filter} deliveries={deliveries} />);
  })
  .post('/dead-letters/webhooks/:id/replay', async (c) => {
    const db = c.get('db');
    const id = c.req.param('id').slice(0, 64);
    const row = visibleRow(c, await findDelivery(db, id), `Webhook delivery ${id} does not exist.`);
    const outcome = await replayDelivery(db, id, readCentralConfig(c.env), Date.now(), { env: c.env });
    setFlash(c, {
      kind: outcome === 'delivered' ? 'ok' : 'bad',
      text: `Webhook delivery for activity ${row.activityId}: ${outcome ?? 'already delivered'}.`,
    });
    return c.redirect('/dead-letters#webhooks', 303);
  })
  .post('/dead-letters/replay', async (c) => {
    const db = c.get('db');
    const rows = await listDeadLetters(db, { deployment: scopeOf(c), pending: true, limit: 500 });
    let ok = 0;
    let rejected = 0;
    for (const row of rows) {
      const r = await replayDeadLetter(db, row.id);
      if (r?.status === 'rejected') rejected++;
      else if (r) ok++;
    }
    setFlash(c, {
      kind: rejected ? 'bad' : 'ok',
      text: `Replayed ${rows.length} dead letter${rows.length === 1 ? '' : 's'}: ${ok} ingested, ${rejected} rejected again.`,
    });
    return c.redirect('/dead-letters', 303);
  })
  .post('/dead-letters/:id/replay', async (c) => {
    const db = c.get('db');
    const id = c.req.param('id').slice(0, 64);
    visibleRow(c, await findDeadLetter(db, id), `Dead letter ${id} does not exist.`);
    const r = await replayDeadLetter(db, id);
    if (!r) throw notFound(`Dead letter ${id} does not exist.`);
    setFlash(c, {
      kind: r.status === 'rejected' ? 'bad' : 'ok',
      text: `Dead letter ${id}: ${describeReplay(r)}.`,
    });
    return c.redirect(r.status === 'rejected' ? '/dead-letters' : '/dead-letters?show=all', 303);
  });
