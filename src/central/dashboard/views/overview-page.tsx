/** @jsxImportSource hono/jsx */
import type { FC } from 'hono/jsx';
import {
  CANARY_STALE_MS,
  type CrossRegionBytes,
  HEARTBEAT_STALE_MS,
  type RegionStats,
  type StatsResult,
} from '../../services/stats.js';
import { DataTable } from './components.js';
import type { ConnectorStatusView } from './connector-page.js';
import { formatBytes, formatCount, formatDuration, formatMs, formatPercent } from './format.js';
import { type Flash, Layout, type PageContext, Time } from './layout.js';
import { TrafficChart } from './traffic-chart.js';

export const WINDOWS = {
  '1h': { label: 'Last hour', ms: 60 * 60 * 1000 },
  '24h': { label: 'Last 24 hours', ms: 24 * 60 * 60 * 1000 },
  '7d': { label: 'Last 7 days', ms: 7 * 24 * 60 * 60 * 1000 },
} as const;
export type WindowKey = keyof typeof WINDOWS;

/**
 * The health badge: an edge that has not reported recently, or whose canary has not come through
 * recently, is never shown as fine.
 */
export const HealthBadge: FC<{ region: RegionStats; now: number }> = ({ region, now }) => {
  if (region.healthy && region.lastHeartbeatAt != null && region.canary.at != null)
    return (
      <span class="badge ok">
        healthy — heartbeat {formatDuration(now - region.lastHeartbeatAt)} ago, canary{' '}
        {formatDuration(now - region.canary.at)} ago
      </span>
    );
  if (region.lastHeartbeatAt == null)
    return <span class="badge bad">unhealthy — no heartbeat ever received</span>;
  if (now - region.lastHeartbeatAt >= HEARTBEAT_STALE_MS)
    return (
      <span class="badge bad">
        unhealthy — no heartbeat for {formatDuration(now - region.lastHeartbeatAt)}
      </span>
    );
  if (region.canary.at == null) return <span class="badge bad">unhealthy — no canary ever came through</span>;
  return (
    <span class="badge bad">
      unhealthy — no canary came through for {formatDuration(now - region.canary.at)}
    </span>
  );
};

/** Every byte between the region(s) and central, both ways, by kind, next to forward-everything. */
const AllTraffic: FC<{ c: CrossRegionBytes; forwardAll: number; label: string }> = ({
  c,
  forwardAll,
  label,
}) => {
  const total = c.bytesToCentral + c.bytesFromCentral;
  const kinds = Object.entries(c.byKind).filter(([, v]) => v.toCentral || v.fromCentral);
  return (
    <>
      {formatBytes(c.bytesToCentral)} to central + {formatBytes(c.bytesFromCentral)} from central ={' '}
      {formatBytes(total)} vs. {formatBytes(forwardAll)} if everything were forwarded (ratio{' '}
      {formatPercent(forwardAll > 0 ? total / forwardAll : null)})
      {kinds.length ? (
        <table class="cross-region" aria-label={label}>
          <thead>
            <tr>
              <th scope="col">kind</th>
              <th scope="col">to central</th>
              <th scope="col">from central</th>
            </tr>
          </thead>
          <tbody>
            {kinds.map(([kind, v]) => (
              <tr>
                <th scope="row">
                  <code>{kind}</code>
                </th>
                <td>{formatBytes(v.toCentral)}</td>
                <td>{formatBytes(v.fromCentral)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
};

const Tossed: FC<{ tossed: Record<string, number>; region?: string | undefined }> = ({ tossed, region }) => {
  const entries = Object.entries(tossed).sort((a, b) => b[1] - a[1]);
  if (!entries.length) return <span class="muted">none</span>;
  return (
    <ul class="tossed">
      {entries.map(([reason, n]) => (
        <li>
          <a href={`/dispositions?${new URLSearchParams({ ...(region ? { region } : {}), reason })}`}>
            <code>{reason}</code>
          </a>
          : {formatCount(n)}
        </li>
      ))}
    </ul>
  );
};

type Traffic = StatsResult['total'];

const TrafficFacts: FC<{ t: Traffic; home?: boolean; region?: string }> = ({ t, home, region }) => (
  <>
    <dt>Received</dt>
    <dd>
      {formatCount(t.received)} messages ({formatBytes(t.receivedBytes)})
    </dd>
    <dt>CRM-bound</dt>
    <dd>
      {formatCount(t.crmBound)} messages ({formatBytes(t.crmBoundBytes)})
    </dd>
    <dt>Tossed, by reason</dt>
    <dd>
      <Tossed tossed={t.tossed} region={region} />
    </dd>
    <dt>Cross-region bytes</dt>
    <dd>
      {home ? (
        'none: central runs in this region, so its mail never crosses regions'
      ) : (
        <>
          {formatBytes(t.crossRegionBytes)} sent vs. {formatBytes(t.forwardAllCrossRegionBytes)} if everything
          were forwarded to central (ratio {formatPercent(t.crossRegionBytesRatio)})
        </>
      )}
    </dd>
    <dt>All cross-region traffic</dt>
    <dd>
      {home ? (
        'none: central runs in this region'
      ) : (
        <AllTraffic
          c={t.crossRegion}
          forwardAll={t.forwardAllCrossRegionBytes}
          label={`Cross-region bytes by kind${region ? ` of ${region}` : ''}`}
        />
      )}
    </dd>
    <dt>Hops saved</dt>
    <dd>
      {formatCount(t.hopsSaved)} (hops per CRM-bound message: {t.hopsPerCrmBound})
    </dd>
    <dt>Receipt → commit</dt>
    <dd>
      p50 {formatMs(t.latencyMs.p50)} · p95 {formatMs(t.latencyMs.p95)} · p99 {formatMs(t.latencyMs.p99)}{' '}
      <span class="muted">({formatCount(t.latencyMs.samples)} samples)</span>
    </dd>
  </>
);

const RegionCard: FC<{ r: RegionStats; since: number; now: number; home: boolean }> = ({
  r,
  since,
  now,
  home,
}) => (
  <section class={`card${r.healthy ? '' : ' unhealthy'}`} aria-labelledby={`region-${r.region}`}>
    <header>
      <h2 id={`region-${r.region}`}>
        {r.name}{' '}
        <span class="muted">
          ({r.region}
          {home ? ', home' : ''})
        </span>
      </h2>
      <HealthBadge region={r} now={now} />
    </header>
    <p>
      {r.rulesEnabled ? <span class="badge ok">rules on</span> : <span class="badge warn">rules off</span>}{' '}
      <span class="badge neutral">egress: {r.egress}</span>
    </p>
    <dl class="facts">
      <TrafficFacts t={r} home={home} region={r.region} />
      <dt>Queue depth</dt>
      <dd>{r.queueDepth == null ? <span class="muted">not reported</span> : formatCount(r.queueDepth)}</dd>
      <dt>Last heartbeat</dt>
      <dd>
        <Time ms={r.lastHeartbeatAt} />
      </dd>
      <dt>Canary</dt>
      <dd>
        {r.canary.at == null ? (
          <span class="muted">none came through yet</span>
        ) : (
          <>
            round trip {formatMs(r.canary.lastRoundTripMs)}, {formatDuration(now - r.canary.at)} ago{' '}
            {now - r.canary.at < CANARY_STALE_MS ? (
              <span class="badge ok">fresh</span>
            ) : (
              <span class="badge bad">stale</span>
            )}
          </>
        )}
      </dd>
      <dt>Snapshot version</dt>
      <dd>
        central v{r.snapshotVersion}, edge{' '}
        {r.edgeSnapshotVersion == null ? 'unknown' : `v${r.edgeSnapshotVersion}`}{' '}
        {r.snapshotVersionLag == null ? null : r.snapshotVersionLag === 0 ? (
          <span class="badge ok">current</span>
        ) : (
          <span class="badge warn">{r.snapshotVersionLag} behind</span>
        )}
      </dd>
    </dl>
    <TrafficChart
      series={r.series}
      since={since}
      until={now}
      metric="messages"
      label={`Messages in ${r.region}`}
    />
    <TrafficChart
      series={r.series}
      since={since}
      until={now}
      metric="bytes"
      label={`Bytes sent from ${r.region}`}
    />
  </section>
);

/** The home region (where central runs) first, then the others by id. */
export function homeFirst<T extends { region: string }>(list: T[], home: string): T[] {
  return [...list].sort(
    (a, b) => Number(b.region === home) - Number(a.region === home) || a.region.localeCompare(b.region),
  );
}

export const OverviewPage: FC<{
  page: PageContext;
  stats: StatsResult;
  now: number;
  window: WindowKey;
  scope?: string | undefined;
  flash?: Flash | undefined;
  /** Each deployment's CRM connector and its health. */
  connectors?: Record<string, { kind: string } & ConnectorStatusView> | undefined;
}> = ({ page, stats, now, window, scope, flash, connectors = {} }) => {
  const unhealthy = stats.regions.filter((r) => !r.healthy);
  return (
    <Layout title="Overview" active="overview" page={page} flash={flash}>
      <nav class="actions" aria-label="Time window">
        {(Object.keys(WINDOWS) as WindowKey[]).map((k) =>
          k === window ? (
            <strong aria-current="true">{WINDOWS[k].label}</strong>
          ) : (
            <a href={`/?window=${k}`}>{WINDOWS[k].label}</a>
          ),
        )}
      </nav>
      {scope ? (
        <p class="muted">
          Traffic figures are for deployment <strong>{scope}</strong> only (from its activities and receipts);
          latency, queue depth and heartbeats are router-wide.
        </p>
      ) : null}
      {unhealthy.length ? (
        <div class="flash bad" role="alert">
          {unhealthy.length === 1
            ? `One region is unhealthy: ${unhealthy[0]?.region}. Its edge has`
            : `${unhealthy.length} regions are unhealthy: ${unhealthy.map((r) => r.region).join(', ')}. Their edges have`}{' '}
          not reported within the last {formatDuration(HEARTBEAT_STALE_MS)}, or no canary came through within
          the last {formatDuration(CANARY_STALE_MS)}.
        </div>
      ) : null}
      <section class="panel" aria-labelledby="total">
        <h2 id="total">All regions</h2>
        <dl class="facts">
          <TrafficFacts t={stats.total} />
        </dl>
      </section>
      <div class="grid">
        {homeFirst(stats.regions, stats.homeRegion).map((r) => (
          <RegionCard r={r} since={stats.since} now={now} home={r.region === stats.homeRegion} />
        ))}
      </div>
      {stats.regions.length === 0 ? <p>No regions yet. Create one with PUT /api/v1/regions/:id.</p> : null}
      <section class="panel" aria-labelledby="connectors">
        <h2 id="connectors">CRM connectors</h2>
        <DataTable
          labelledBy="connectors"
          rows={Object.entries(connectors)}
          empty="No deployment delivers to a CRM yet (Deployments › connect a CRM)."
          columns={[
            {
              label: 'Deployment',
              cell: ([id]) => <a href={`/deployments/${encodeURIComponent(id)}/connector`}>{id}</a>,
            },
            { label: 'Kind', cell: ([, c]) => c.kind },
            {
              label: 'State',
              cell: ([, c]) => (
                <strong class={c.state === 'ok' ? 'ok' : c.state === 'syncing' ? undefined : 'bad'}>
                  {c.state}
                </strong>
              ),
            },
            { label: 'Last delivery', time: ([, c]) => c.lastDeliveryAt },
            { label: 'Last sync', time: ([, c]) => c.lastSyncAt },
            { label: 'Backlog', class: 'num', cell: ([, c]) => formatCount(c.backlog) },
            {
              label: 'Lag p50 / p99',
              class: 'num',
              cell: ([, c]) =>
                c.lagMsP50 !== undefined ? `${formatMs(c.lagMsP50)} / ${formatMs(c.lagMsP99)}` : '—',
            },
            {
              label: 'Errors',
              cell: ([, c]) =>
                Object.entries(c.errors)
                  .map(([reason, n]) => `${formatCount(n)} ${reason}`)
                  .join(', ') || 'none',
            },
          ]}
        />
      </section>
    </Layout>
  );
};
