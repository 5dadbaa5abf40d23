// Renders the OpenAPI document as one readable HTML page, server-side: no script, no CDN, every
// value from the document escaped.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

export const API_REFERENCE_CSS = `
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1f2328;background:#fff}
header,main{max-width:1100px;margin:0 auto;padding:0 24px}
header{padding-top:24px;border-bottom:1px solid #d0d7de}
h1{margin:0 0 4px}h2{margin-top:40px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{margin:28px 0 6px;font-size:16px}
code,pre{font:13px/1.45 ui-monospace,monospace}
pre{background:#f6f8fa;padding:10px;overflow:auto;border-radius:6px}
.op{border:1px solid #d0d7de;border-radius:6px;padding:4px 16px 12px;margin:16px 0}
.m{display:inline-block;min-width:60px;font-weight:700;text-transform:uppercase}
.get{color:#0969da}.post{color:#1a7f37}.put{color:#9a6700}.delete{color:#cf222e}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}.muted{color:#59636e}nav ul{columns:3;padding-left:18px}
`.trim();

const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options'] as const;

export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Escapes text and renders `code spans` (the only markdown the descriptions use). */
function prose(text: unknown): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

const isObj = (v: Json | undefined): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function anchor(kind: string, name: string): string {
  return `${kind}-${name.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

/** A compact, readable type for a JSON schema: `Deployment`, `string[]`, `"a" | "b"`, `{ a, b? }`. */
export function describeSchema(schema: Json | undefined, depth = 0): string {
  if (!isObj(schema)) return 'any';
  const ref = schema.$ref;
  if (typeof ref === 'string') {
    const name = ref.split('/').pop() ?? ref;
    return `<a href="#${escapeHtml(anchor('schema', name))}">${escapeHtml(name)}</a>`;
  }
  for (const key of ['anyOf', 'oneOf'] as const) {
    const list = schema[key];
    if (Array.isArray(list)) return list.map((s) => describeSchema(s, depth)).join(' | ');
  }
  if (Array.isArray(schema.allOf)) return schema.allOf.map((s) => describeSchema(s, depth)).join(' &amp; ');
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => escapeHtml(JSON.stringify(v))).join(' | ');
  if (schema.const !== undefined) return escapeHtml(JSON.stringify(schema.const));
  const types = Array.isArray(schema.type)
    ? schema.type
    : [schema.type ?? (isObj(schema.properties) ? 'object' : 'any')];
  const parts = types.map((t) => {
    if (t === 'array') return `${describeSchema(schema.items, depth)}[]`;
    if (t === 'object' && isObj(schema.properties)) {
      if (depth > 1) return 'object';
      const required = new Set(Array.isArray(schema.required) ? schema.required : []);
      const fields = Object.entries(schema.properties).map(
        ([k, v]) => `${escapeHtml(k)}${required.has(k) ? '' : '?'}: ${describeSchema(v, depth + 1)}`,
      );
      return `{ ${fields.join(', ')} }`;
    }
    const format = typeof schema.format === 'string' ? ` (${escapeHtml(schema.format)})` : '';
    return `${escapeHtml(t)}${format}`;
  });
  if (schema.nullable === true) parts.push('null');
  return parts.join(' | ');
}

function parametersTable(params: Json[]): string {
  const rows = params
    .filter(isObj)
    .map(
      (p) =>
        `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.in)}</td><td>${p.required ? 'yes' : 'no'}</td><td><code>${describeSchema(p.schema)}</code></td><td>${prose(p.description ?? (isObj(p.schema) ? p.schema.description : ''))}</td></tr>`,
    );
  return rows.length
    ? `<table><tr><th>parameter</th><th>in</th><th>required</th><th>type</th><th>description</th></tr>${rows.join('')}</table>`
    : '';
}

function contentList(content: Json | undefined): string {
  if (!isObj(content)) return '';
  return Object.entries(content)
    .map(
      ([type, media]) =>
        `<code>${escapeHtml(type)}</code>: <code>${describeSchema(isObj(media) ? media.schema : undefined)}</code>`,
    )
    .join('<br>');
}

function operation(path: string, method: string, op: Obj): string {
  const security =
    Array.isArray(op.security) && op.security.length === 0 ? ' <span class="muted">(public)</span>' : '';
  const body = isObj(op.requestBody)
    ? `<p><strong>Body</strong>${op.requestBody.required ? '' : ' (optional)'}: ${contentList(op.requestBody.content)}</p>`
    : '';
  const responses = isObj(op.responses)
    ? `<table><tr><th>status</th><th>description</th><th>content</th></tr>${Object.entries(op.responses)
        .map(([status, r]) =>
          isObj(r)
            ? `<tr><td>${escapeHtml(status)}</td><td>${prose(r.description)}</td><td>${contentList(r.content)}</td></tr>`
            : '',
        )
        .join('')}</table>`
    : '';
  return `<section class="op" id="${escapeHtml(anchor('op', `${method}-${path}`))}">
<h3><span class="m ${escapeHtml(method)}">${escapeHtml(method)}</span> <code>${escapeHtml(path)}</code>${security}</h3>
<p>${prose(op.summary)}</p>${op.description ? `<p class="muted">${prose(op.description)}</p>` : ''}
${parametersTable(Array.isArray(op.parameters) ? op.parameters : [])}${body}${responses}</section>`;
}

function schemaSection(name: string, schema: Json): string {
  const props = isObj(schema) && isObj(schema.properties) ? schema.properties : undefined;
  const required = new Set(isObj(schema) && Array.isArray(schema.required) ? schema.required : []);
  const table = props
    ? `<table><tr><th>field</th><th>type</th><th>required</th><th>description</th></tr>${Object.entries(props)
        .map(
          ([k, v]) =>
            `<tr><td><code>${escapeHtml(k)}</code></td><td><code>${describeSchema(v, 1)}</code></td><td>${required.has(k) ? 'yes' : 'no'}</td><td>${prose(isObj(v) ? v.description : '')}</td></tr>`,
        )
        .join('')}</table>`
    : `<p><code>${describeSchema(schema)}</code></p>`;
  return `<section id="${escapeHtml(anchor('schema', name))}"><h3>${escapeHtml(name)}</h3>${table}</section>`;
}

/** The API reference page for an OpenAPI document. */
export function renderApiReference(doc: Obj, css = API_REFERENCE_CSS): string {
  const info = isObj(doc.info) ? doc.info : {};
  const paths = isObj(doc.paths) ? doc.paths : {};
  const byTag = new Map<string, { path: string; method: string; op: Obj }[]>();
  for (const [path, item] of Object.entries(paths)) {
    if (!isObj(item)) continue;
    for (const method of METHODS) {
      const op = item[method];
      if (!isObj(op)) continue;
      const tag = Array.isArray(op.tags) && typeof op.tags[0] === 'string' ? op.tags[0] : 'other';
      const list = byTag.get(tag) ?? [];
      list.push({ path, method, op });
      byTag.set(tag, list);
    }
  }
  const schemas = isObj(doc.components) && isObj(doc.components.schemas) ? doc.components.schemas : {};
  const nav = [...byTag.entries()]
    .flatMap(([, ops]) =>
      ops.map(
        ({ path, method }) =>
          `<li><a href="#${escapeHtml(anchor('op', `${method}-${path}`))}"><span class="m ${escapeHtml(method)}">${escapeHtml(method)}</span> ${escapeHtml(path)}</a></li>`,
      ),
    )
    .join('');
  const sections = [...byTag.entries()]
    .map(
      ([tag, ops]) =>
        `<h2 id="${escapeHtml(anchor('tag', tag))}">${escapeHtml(tag)}</h2>${ops.map((o) => operation(o.path, o.method, o.op)).join('\n')}`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(info.title)} — API reference</title><style>${css}</style></head>
<body><header><h1>${escapeHtml(info.title)}</h1><p class="muted">Version ${escapeHtml(info.version)} · OpenAPI ${escapeHtml(doc.openapi)} · machine-readable: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a></p>
<p>${prose(info.description)}</p></header>
<main><nav><h2>Endpoints</h2><ul>${nav}</ul></nav>
${sections}
<h2 id="schemas">Schemas</h2>
${Object.entries(schemas)
  .map(([name, s]) => schemaSection(name, s))
  .join('\n')}
</main></body></html>`;
}
