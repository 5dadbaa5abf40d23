/** @jsxImportSource hono/jsx */
// The OpenAPI document as one readable HTML page, server-side: no script, no CDN; JSX escapes every
// value taken from the document.
import type { Child } from 'hono/jsx';

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

const isObj = (v: Json | undefined): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A table's first row: one header cell a name. */
function HeaderRow({ names }: { names: readonly string[] }) {
  return (
    <tr>
      {names.map((n) => (
        <th>{n}</th>
      ))}
    </tr>
  );
}

function anchor(kind: string, name: string): string {
  return `${kind}-${name.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

/** Text with `code spans` (the only markdown the descriptions use). */
function Prose({ text }: { text: Json | undefined }) {
  const parts = String(text ?? '').split(/`([^`]+)`/);
  return <>{parts.map((part, i) => (i % 2 === 1 ? <code>{part}</code> : part))}</>;
}

/** Joins nodes with a separator. */
function joined(nodes: Child[], separator: string): Child[] {
  return nodes.flatMap((n, i) => (i === 0 ? [n] : [separator, n]));
}

/** A compact, readable type for a JSON schema: `Deployment`, `string[]`, `"a" | "b"`, `{ a, b? }`. */
function SchemaType({ schema, depth = 0 }: { schema: Json | undefined; depth?: number }): Child {
  if (!isObj(schema)) return 'any';
  const ref = schema.$ref;
  if (typeof ref === 'string') {
    const name = ref.split('/').pop() ?? ref;
    return <a href={`#${anchor('schema', name)}`}>{name}</a>;
  }
  const each = (list: Json[], sep: string) =>
    joined(
      list.map((s) => <SchemaType schema={s} depth={depth} />),
      sep,
    );
  for (const key of ['anyOf', 'oneOf'] as const) {
    const list = schema[key];
    if (Array.isArray(list)) return <>{each(list, ' | ')}</>;
  }
  if (Array.isArray(schema.allOf)) return <>{each(schema.allOf, ' & ')}</>;
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  const types = Array.isArray(schema.type)
    ? schema.type
    : [schema.type ?? (isObj(schema.properties) ? 'object' : 'any')];
  const parts: Child[] = types.map((t) => {
    if (t === 'array')
      return (
        <>
          <SchemaType schema={schema.items} depth={depth} />
          []
        </>
      );
    if (t === 'object' && isObj(schema.properties)) {
      if (depth > 1) return 'object';
      const required = new Set(Array.isArray(schema.required) ? schema.required : []);
      const fields = Object.entries(schema.properties).map(([k, v]) => (
        <>
          {k}
          {required.has(k) ? '' : '?'}: <SchemaType schema={v} depth={depth + 1} />
        </>
      ));
      return <>{['{ ', ...joined(fields, ', '), ' }']}</>;
    }
    const format = typeof schema.format === 'string' ? ` (${schema.format})` : '';
    return `${String(t)}${format}`;
  });
  if (schema.nullable === true) parts.push('null');
  return <>{joined(parts, ' | ')}</>;
}

function ParametersTable({ params }: { params: Json[] }) {
  const rows = params.filter(isObj);
  if (!rows.length) return null;
  return (
    <table>
      <HeaderRow names={['parameter', 'in', 'required', 'type', 'description']} />
      {rows.map((p) => (
        <tr>
          <td>
            <code>{String(p.name)}</code>
          </td>
          <td>{String(p.in)}</td>
          <td>{p.required ? 'yes' : 'no'}</td>
          <td>
            <code>
              <SchemaType schema={p.schema} />
            </code>
          </td>
          <td>
            <Prose text={p.description ?? (isObj(p.schema) ? p.schema.description : '')} />
          </td>
        </tr>
      ))}
    </table>
  );
}

function ContentList({ content }: { content: Json | undefined }) {
  if (!isObj(content)) return null;
  const items = Object.entries(content).map(([type, media]) => (
    <>
      <code>{type}</code>:{' '}
      <code>
        <SchemaType schema={isObj(media) ? media.schema : undefined} />
      </code>
    </>
  ));
  return <>{items.flatMap((item, i) => (i === 0 ? [item] : [<br />, item]))}</>;
}

function Operation({ path, method, op }: { path: string; method: string; op: Obj }) {
  const isPublic = Array.isArray(op.security) && op.security.length === 0;
  const body = op.requestBody;
  return (
    <section class="op" id={anchor('op', `${method}-${path}`)}>
      <h3>
        <span class={`m ${method}`}>{method}</span> <code>{path}</code>
        {isPublic ? (
          <>
            {' '}
            <span class="muted">(public)</span>
          </>
        ) : null}
      </h3>
      <p>
        <Prose text={op.summary} />
      </p>
      {op.description ? (
        <p class="muted">
          <Prose text={op.description} />
        </p>
      ) : null}
      <ParametersTable params={Array.isArray(op.parameters) ? op.parameters : []} />
      {isObj(body) ? (
        <p>
          <strong>Body</strong>
          {body.required ? '' : ' (optional)'}: <ContentList content={body.content} />
        </p>
      ) : null}
      {isObj(op.responses) ? (
        <table>
          <HeaderRow names={['status', 'description', 'content']} />
          {Object.entries(op.responses).map(([status, r]) =>
            isObj(r) ? (
              <tr>
                <td>{status}</td>
                <td>
                  <Prose text={r.description} />
                </td>
                <td>
                  <ContentList content={r.content} />
                </td>
              </tr>
            ) : null,
          )}
        </table>
      ) : null}
    </section>
  );
}

function SchemaSection({ name, schema }: { name: string; schema: Json }) {
  const props = isObj(schema) && isObj(schema.properties) ? schema.properties : undefined;
  const required = new Set(isObj(schema) && Array.isArray(schema.required) ? schema.required : []);
  return (
    <section id={anchor('schema', name)}>
      <h3>{name}</h3>
      {props ? (
        <table>
          <HeaderRow names={['field', 'type', 'required', 'description']} />
          {Object.entries(props).map(([k, v]) => (
            <tr>
              <td>
                <code>{k}</code>
              </td>
              <td>
                <code>
                  <SchemaType schema={v} depth={1} />
                </code>
              </td>
              <td>{required.has(k) ? 'yes' : 'no'}</td>
              <td>
                <Prose text={isObj(v) ? v.description : ''} />
              </td>
            </tr>
          ))}
        </table>
      ) : (
        <p>
          <code>
            <SchemaType schema={schema} />
          </code>
        </p>
      )}
    </section>
  );
}

/** The API reference page for an OpenAPI document. */
export function ApiReferencePage({ doc, css = API_REFERENCE_CSS }: { doc: Obj; css?: string }) {
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
  const title = String(info.title ?? '');
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{title} — API reference</title>
        {/* The one stylesheet, allowed by its hash in the Content-Security-Policy. */}
        <style dangerouslySetInnerHTML={{ __html: css }} />
      </head>
      <body>
        <header>
          <h1>{title}</h1>
          <p class="muted">
            Version {String(info.version ?? '')} · OpenAPI {String(doc.openapi ?? '')} · machine-readable:{' '}
            <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>
          </p>
          <p>
            <Prose text={info.description} />
          </p>
        </header>
        <main>
          <nav>
            <h2>Endpoints</h2>
            <ul>
              {[...byTag.values()].flatMap((ops) =>
                ops.map(({ path, method }) => (
                  <li>
                    <a href={`#${anchor('op', `${method}-${path}`)}`}>
                      <span class={`m ${method}`}>{method}</span> {path}
                    </a>
                  </li>
                )),
              )}
            </ul>
          </nav>
          {[...byTag.entries()].map(([tag, ops]) => (
            <>
              <h2 id={anchor('tag', tag)}>{tag}</h2>
              {ops.map((o) => (
                <Operation path={o.path} method={o.method} op={o.op} />
              ))}
            </>
          ))}
          <h2 id="schemas">Schemas</h2>
          {Object.entries(schemas).map(([name, s]) => (
            <SchemaSection name={name} schema={s} />
          ))}
        </main>
      </body>
    </html>
  );
}

/** The page as an HTML string. */
export function renderApiReference(doc: Obj, css = API_REFERENCE_CSS): string {
  return `<!doctype html>\n${(<ApiReferencePage doc={doc} css={css} />).toString()}`;
}
