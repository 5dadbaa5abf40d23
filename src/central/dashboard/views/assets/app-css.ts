// The dashboard's stylesheet, served as /assets/app.css. System fonts only (no external fonts).
export const APP_CSS = `
:root {
  --bg: #f5f6f8; --panel: #fff; --ink: #1d2330; --muted: #5b6475; --line: #d9dde5;
  --accent: #1f5fbf; --accent-ink: #fff; --ok: #17663a; --ok-bg: #e3f4e9; --bad: #a3161c; --bad-bg: #fde8e8;
  --warn: #7a4b00; --warn-bg: #fff3d6; --received: #9db7dd; --crm: #1f5fbf; --bytes: #6d4bb5;
  color-scheme: light;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  background: var(--bg); color: var(--ink); }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible, textarea:focus-visible {
  outline: 3px solid #f0a500; outline-offset: 2px; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9em; }
pre { background: #f0f2f6; border: 1px solid var(--line); padding: 0.75rem; overflow-x: auto; white-space: pre; max-height: 24rem; }
.skip { position: absolute; left: -999px; top: 0; background: var(--panel); padding: 0.5rem 1rem; z-index: 10; }
.skip:focus { left: 0.5rem; }
.visually-hidden { position: absolute !important; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }

header.top { background: #17202f; color: #fff; }
header.top .bar { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1.5rem; max-width: 1400px; margin: 0 auto; padding: 0.5rem 1rem; }
header.top .brand { font-weight: 700; color: #fff; text-decoration: none; white-space: nowrap; }
nav.main ul { display: flex; flex-wrap: wrap; gap: 0.25rem; list-style: none; margin: 0; padding: 0; }
nav.main a { display: block; color: #dfe6f3; text-decoration: none; padding: 0.35rem 0.6rem; border-radius: 4px; }
nav.main a:hover { background: #2a3750; color: #fff; }
nav.main a[aria-current="page"] { background: #fff; color: #17202f; font-weight: 600; }
.who { margin-left: auto; display: flex; align-items: center; gap: 0.75rem; font-size: 0.9em; color: #c7d0df; }
.who form { margin: 0; }
.who button { background: transparent; color: #fff; border: 1px solid #6b7a94; }

main { max-width: 1400px; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; margin: 0.25rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 1.5rem 0 0.5rem; }
h3 { font-size: 1.05rem; margin: 0 0 0.5rem; }
p.lead { color: var(--muted); margin-top: -0.5rem; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 1rem; margin-bottom: 1rem; }
.grid { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fill, minmax(min(100%, 400px), 1fr)); }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 1rem; }
.card.unhealthy { border-color: var(--bad); box-shadow: inset 4px 0 0 var(--bad); }
.panel > h2:first-child, .card h2, .card header h2 { margin-top: 0; }
.chart-figure { margin: 0.75rem 0 0; }
.card header { display: flex; flex-wrap: wrap; justify-content: space-between; gap: 0.5rem; align-items: baseline; margin-bottom: 0.5rem; }
dl.facts { display: grid; grid-template-columns: minmax(9rem, max-content) 1fr; gap: 0.2rem 1rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 0.05rem 0.5rem; border-radius: 999px; font-size: 0.85em; font-weight: 600; border: 1px solid transparent; }
.badge.ok { background: var(--ok-bg); color: var(--ok); border-color: #a9d8b9; }
.badge.bad { background: var(--bad-bg); color: var(--bad); border-color: #f1a9ab; }
.badge.warn { background: var(--warn-bg); color: var(--warn); border-color: #efcf86; }
.badge.neutral { background: #eef0f4; color: var(--muted); border-color: var(--line); }
.flash { padding: 0.6rem 1rem; border-radius: 6px; margin-bottom: 1rem; border: 1px solid; }
.flash.ok { background: var(--ok-bg); color: var(--ok); border-color: #a9d8b9; }
.flash.bad { background: var(--bad-bg); color: var(--bad); border-color: #f1a9ab; }
.muted { color: var(--muted); }
.nowrap { white-space: nowrap; }
.wrap-anywhere { overflow-wrap: anywhere; }
td.wrap-anywhere, td .wrap-anywhere { overflow-wrap: break-word; word-break: normal; }
details.add { margin: 0 0 1rem; }
details.add[open] summary { margin-bottom: 0.75rem; }

.table-wrap { overflow-x: auto; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 0.45rem 0.6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef1f6; font-weight: 600; white-space: nowrap; }
tbody tr:last-child td { border-bottom: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.compact td, table.compact th { padding: 0.2rem 0.4rem; }

form.inline { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: flex-end; margin: 0; }
form.stack { display: grid; gap: 0.75rem; max-width: 40rem; }
.field { display: grid; gap: 0.2rem; }
label { font-weight: 600; font-size: 0.92em; }
input[type="text"], input[type="password"], input[type="search"], input[type="email"], select {
  font: inherit; padding: 0.4rem 0.5rem; border: 1px solid #9aa3b2; border-radius: 4px; background: #fff; color: var(--ink); min-width: 0; max-width: 100%; }
input[type="search"], input.wide { min-width: min(100%, 22rem); }
button, .button { font: inherit; display: inline-block; padding: 0.4rem 0.9rem; border-radius: 4px; border: 1px solid var(--accent);
  background: var(--accent); color: var(--accent-ink); cursor: pointer; text-decoration: none; }
button.secondary, .button.secondary { background: #fff; color: var(--accent); }
button.danger, .button.danger { background: var(--bad); border-color: var(--bad); color: #fff; }
.actions { display: flex; flex-wrap: wrap; gap: 0.75rem; align-items: center; margin-top: 1rem; }
details { margin-top: 0.5rem; }
details h3 { margin-top: 1rem; }
details.panel { margin-top: 0; }
summary { cursor: pointer; font-weight: 600; }

.chart { width: 100%; height: auto; display: block; }
.chart .bar-received { fill: var(--received); }
.chart .bar-crm { fill: var(--crm); }
.chart .bar-bytes { fill: var(--bytes); }
.chart .axis { stroke: #8a93a3; stroke-width: 1; }
.chart text { font-size: 13px; fill: var(--muted); }
.legend { display: flex; flex-wrap: wrap; gap: 1rem; font-size: 0.85em; color: var(--muted); margin: 0.25rem 0 0; padding: 0; list-style: none; }
.legend .swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.3em; vertical-align: -0.05em; border-radius: 2px; }
.swatch.received { background: var(--received); }
.swatch.crm { background: var(--crm); }
.swatch.bytes { background: var(--bytes); }
.tossed { margin: 0; padding-left: 1.1rem; }
.why { border-left: 4px solid var(--accent); }
.login { max-width: 26rem; margin: 8vh auto; }
.error-list { margin: 0; padding-left: 1.2rem; }

@media (max-width: 700px) {
  body { font-size: 16px; }
  header.top .bar { padding: 0.5rem; }
  .who { margin-left: 0; width: 100%; justify-content: space-between; }
  main { padding: 0.75rem 0.5rem; }
  dl.facts { grid-template-columns: 1fr; }
  dl.facts dd { margin-bottom: 0.35rem; }
  table.responsive thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  table.responsive, table.responsive tbody, table.responsive tr, table.responsive td { display: block; width: 100%; }
  table.responsive tr { border-bottom: 1px solid var(--line); padding: 0.35rem 0; }
  table.responsive td { border: 0; padding: 0.15rem 0.6rem; }
  table.responsive td[data-label]::before { content: attr(data-label) ": "; font-weight: 600; color: var(--muted); }
  table.responsive td.num { text-align: left; }
}
@media (prefers-reduced-motion: reduce) { * { transition: none !important; } }
@media print { header.top, .actions, form { display: none; } }
`;
