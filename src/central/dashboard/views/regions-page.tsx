/** @jsxImportSource hono/jsx */
import type { FC } from 'hono/jsx';
import { EGRESS_POLICIES } from '../../../core/types.js';
import type { regions } from '../../../db/schema.js';
import type { RegionStats } from '../../services/stats.js';
import { PostForm, SelectField } from './components.js';
import { formatBytes, formatCount } from './format.js';
import { type Flash, Layout, type PageContext, Time } from './layout.js';

type RegionRow = typeof regions.$inferSelect;

export const EGRESS_TEXT: Record<string, string> = {
  full: 'full — subject, body and addresses go to central',
  'metadata+subject': 'metadata + subject — no body leaves the region',
  metadata: 'metadata only — no subject or body leaves the region',
};

export const RULE_FORMATS = [
  { id: 'exchange', label: 'Exchange (PowerShell)' },
  { id: 'sieve', label: 'Sieve' },
  { id: 'gmail', label: 'Gmail' },
  { id: 'gmail-filters', label: 'Gmail filters (XML)' },
] as const;

/** The generated forwarding-rule script of one region in one format, or why there is none. */
export interface RuleScript {
  format: string;
  label: string;
  text?: string;
  problem?: string;
}

export interface RegionView {
  row: RegionRow;
  /** Last 7 days, from the edge's counters and receipts (or the deployment's own data when scoped). */
  week: RegionStats | undefined;
  mailboxes: number;
  home: boolean;
  scripts: RuleScript[];
}

/** What changing a region's rules would do, judged from the last 7 days. */
export function whatIf(v: RegionView, enable: boolean): string[] {
  const w = v.week;
  const id = v.row.id;
  if (!w) return [`No traffic was recorded for ${id} in the last 7 days.`];
  if (!enable) {
    const lines = [
      `${formatCount(w.crmBound)} CRM-bound message${w.crmBound === 1 ? '' : 's'} (${formatBytes(w.crmBoundBytes)}) received in ${id} in the last 7 days would no longer be captured: every message would be tossed as region-rules-disabled.`,
      `${formatCount(v.mailboxes)} routed mailbox${v.mailboxes === 1 ? '' : 'es'} in ${id} would stop being tracked.`,
    ];
    lines.push(
      v.home
        ? `Cross-region bytes would not change: ${id} is the home region, its items never cross regions.`
        : `Cross-region bytes sent from ${id} would fall from ${formatBytes(w.crossRegionBytes)} to only the content-free receipts (a few hundred bytes per message).`,
    );
    return lines;
  }
  const held = w.tossed['region-rules-disabled'] ?? 0;
  return [
    `${formatCount(held)} message${held === 1 ? ' was' : 's were'} tossed in ${id} in the last 7 days because its rules were off; with rules on, each would be classified by its mailbox's filter mode and CRM mail captured again.`,
    v.home
      ? `Cross-region bytes would not change: ${id} is the home region.`
      : `Cross-region bytes from ${id} would grow by the CRM-bound share of its mail (at most ${formatBytes(w.receivedBytes)} for those 7 days).`,
  ];
}

const RegionCardView: FC<{ v: RegionView; admin: boolean; csrfToken: string }> = ({
  v,
  admin,
  csrfToken,
}) => {
  const r = v.row;
  const w = v.week;
  return (
    <section class="card" aria-labelledby={`r-${r.id}`}>
      <header>
        <h2 id={`r-${r.id}`}>
          {r.name}{' '}
          <span class="muted">
            ({r.id}
            {v.home ? ', home' : ''})
          </span>
        </h2>
        {r.rulesEnabled ? <span class="badge ok">rules on</span> : <span class="badge warn">rules off</span>}
      </header>
      <dl class="facts">
        <dt>Egress policy</dt>
        <dd>{EGRESS_TEXT[r.egress] ?? r.egress}</dd>
        <dt>Routed mailboxes</dt>
        <dd>
          <a href={`/routes?region=${encodeURIComponent(r.id)}`}>{formatCount(v.mailboxes)}</a>
        </dd>
        <dt>Last 7 days</dt>
        <dd>
          {w
            ? `${formatCount(w.received)} received, ${formatCount(w.crmBound)} CRM-bound, ${formatBytes(w.crossRegionBytes)} cross-region`
            : 'no traffic'}
        </dd>
        <dt>Snapshot</dt>
        <dd>
          central v{r.configVersion}, edge{' '}
          {r.edgeSnapshotVersion == null ? 'unknown' : `v${r.edgeSnapshotVersion}`}
        </dd>
        <dt>Edge</dt>
        <dd class="wrap-anywhere">
          {r.edgeUrl ?? <span class="muted">URL not reported yet</span>} · last heartbeat{' '}
          <Time ms={r.lastHeartbeatAt} />
        </dd>
      </dl>
      <h3 class="visually-hidden">What if</h3>
      <details>
        <summary>What if rules were {r.rulesEnabled ? 'disabled' : 'enabled'}?</summary>
        <ul>
          {whatIf(v, !r.rulesEnabled).map((line) => (
            <li>{line}</li>
          ))}
        </ul>
      </details>
      {admin ? (
        <div class="actions">
          <form method="get" action={`/regions/${encodeURIComponent(r.id)}/rules`}>
            <input type="hidden" name="enable" value={r.rulesEnabled ? 'false' : 'true'} />
            <button type="submit" class={r.rulesEnabled ? 'danger' : ''}>
              {r.rulesEnabled ? `Disable rules for ${r.id}…` : `Enable rules for ${r.id}…`}
            </button>
          </form>
          <PostForm action={`/regions/${encodeURIComponent(r.id)}/egress`} csrf={csrfToken} class="inline">
            <SelectField
              id={`egress-${r.id}`}
              name="egress"
              label={`Egress policy for ${r.id}`}
              values={EGRESS_POLICIES}
              selected={r.egress}
            />
            <button type="submit" class="secondary">
              Save egress policy
            </button>
          </PostForm>
        </div>
      ) : null}
    </section>
  );
};

/** One region's generated forwarding rules, full width so that long commands stay readable. */
const RuleScripts: FC<{ v: RegionView }> = ({ v }) => {
  const id = v.row.id;
  return (
    <details class="panel">
      <summary>Forwarding rule scripts for {id}</summary>
      <p class="muted">
        {v.row.rulesEnabled
          ? `Install these for the ${v.mailboxes} routed mailbox${v.mailboxes === 1 ? '' : 'es'} of ${id}: each forwards a copy of its mail to the region's edge.`
          : `Rules are off for ${id}: these scripts remove the forwarding rules.`}
      </p>
      {v.scripts.map((s) => (
        <div>
          <h3>{s.label}</h3>
          {s.text !== undefined ? (
            <>
              <pre id={`script-${id}-${s.format}`}>{s.text}</pre>
              <button type="button" class="secondary" data-copy={`script-${id}-${s.format}`} hidden>
                Copy {s.label} script
              </button>
            </>
          ) : (
            <p class="muted">{s.problem}</p>
          )}
        </div>
      ))}
    </details>
  );
};

export const RegionsPage: FC<{
  page: PageContext;
  views: RegionView[];
  admin: boolean;
  flash?: Flash | undefined;
}> = ({ page, views, admin, flash }) => (
  <Layout title="Regions" active="regions" page={page} flash={flash}>
    <p class="lead">
      Choose where rules run. A region with rules off tosses everything its edge receives (reason{' '}
      <code>region-rules-disabled</code>); its users promote mail by hand.
      {admin ? '' : ' Only an administrator can change regions.'}
    </p>
    <div class="grid">
      {views.map((v) => (
        <RegionCardView v={v} admin={admin} csrfToken={page.csrfToken} />
      ))}
    </div>
    <h2>Forwarding rule scripts</h2>
    {views.map((v) => (
      <RuleScripts v={v} />
    ))}
  </Layout>
);

/** The confirmation step for turning a region's rules on or off. */
export const RegionRulesConfirmPage: FC<{ page: PageContext; view: RegionView; enable: boolean }> = ({
  page,
  view,
  enable,
}) => {
  const id = view.row.id;
  const title = `${enable ? 'Enable' : 'Disable'} rules for ${id}?`;
  return (
    <Layout title={title} active="regions" page={page}>
      <section class="panel" aria-labelledby="what-if">
        <h2 id="what-if">What would change (judged from the last 7 days)</h2>
        <ul>
          {whatIf(view, enable).map((line) => (
            <li>{line}</li>
          ))}
        </ul>
        <p class="muted">
          Edges pick up the change with their next snapshot refresh (within about a minute).
        </p>
      </section>
      <PostForm
        action={`/regions/${encodeURIComponent(id)}/rules`}
        csrf={page.csrfToken}
        class="actions"
        hidden={{ enable: enable ? 'true' : 'false' }}
      >
        <button type="submit" class={enable ? '' : 'danger'}>
          {enable ? `Yes, enable rules for ${id}` : `Yes, disable rules for ${id}`}
        </button>
        <a href="/regions">Cancel</a>
      </PostForm>
    </Layout>
  );
};
