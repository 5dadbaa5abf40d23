// Property-based fuzzing of every JSON route (issue 11): bodies generated from each operation's
// OpenAPI schema, then mutated (wrong types, missing and extra fields, huge and odd strings), with
// random query strings and path parameters. Whatever comes in, central never answers 5xx and
// every refusal is the one error envelope.
import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import { api, freshBasics } from './helpers.js';

type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  $ref?: string;
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
};

type Doc = {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: { name: string; in: string; schema?: Schema }[];
        requestBody?: { content?: Record<string, { schema?: Schema }> };
      }
    >
  >;
  components?: { schemas?: Record<string, Schema> };
};

const oddStrings = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '__proto__',
    'constructor',
    '../../etc/passwd',
    '%00',
    '\u0000',
    'a@b.c',
    'x'.repeat(5000),
    '<script>alert(1)</script>',
    "'; drop table activities; --",
    '😀'.repeat(50),
    'deployment:contoso',
    'user:contoso/u-1',
  ),
);

const anyJson = fc.jsonValue({ maxDepth: 3 });

function arbitraryFor(schema: Schema | undefined, doc: Doc, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 4) return anyJson;
  if (schema.$ref)
    return arbitraryFor(doc.components?.schemas?.[schema.$ref.split('/').pop() ?? ''], doc, depth + 1);
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants?.length) return fc.oneof(...variants.map((v) => arbitraryFor(v, doc, depth + 1)));
  if (schema.allOf?.length) return arbitraryFor(schema.allOf[0], doc, depth + 1);
  if (schema.enum?.length) return fc.oneof(fc.constantFrom(...schema.enum), oddStrings);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const props = Object.entries(schema.properties ?? {});
      const shaped = fc.record(
        Object.fromEntries(props.map(([k, v]) => [k, arbitraryFor(v, doc, depth + 1)])),
        { requiredKeys: (schema.required ?? []).filter((k) => props.some(([p]) => p === k)) },
      );
      // Mutations: an extra field, a dropped required field, the wrong type altogether.
      return fc.oneof(
        { weight: 5, arbitrary: shaped },
        {
          weight: 1,
          arbitrary: fc.tuple(shaped, oddStrings, anyJson).map(([o, k, v]) => ({ ...(o as object), [k]: v })),
        },
        { weight: 1, arbitrary: anyJson },
      );
    }
    case 'array':
      return fc.oneof(
        { weight: 4, arbitrary: fc.array(arbitraryFor(schema.items, doc, depth + 1), { maxLength: 4 }) },
        { weight: 1, arbitrary: anyJson },
      );
    case 'string':
      return fc.oneof({ weight: 4, arbitrary: oddStrings }, { weight: 1, arbitrary: anyJson });
    case 'integer':
    case 'number':
      return fc.oneof(
        fc.integer({ min: schema.minimum ?? -10, max: Math.min(schema.maximum ?? 1e9, 1e9) }),
        fc.constantFrom(-1, 0, 1, 2 ** 31, 2 ** 53, -0, 1.5, Number.MAX_SAFE_INTEGER),
        anyJson,
      );
    case 'boolean':
      return fc.oneof(fc.boolean(), anyJson);
    default:
      return anyJson;
  }
}

const segment = fc.oneof(
  fc.constantFrom('contoso', 'fabrikam', 'eu', 'us', 'ann@contoso.example', 'nope', '__proto__'),
  oddStrings.filter((s) => s.length > 0),
);

interface Operation {
  method: string;
  path: string;
  params: { name: string; in: string; schema?: Schema }[];
  body?: Schema;
}

let operations: Operation[] = [];
let doc: Doc;

beforeAll(async () => {
  await freshBasics();
  await api('PUT', '/api/v1/mailboxes/ann%40contoso.example', {
    body: { region: 'us', deployment: 'contoso', userId: 'u-ann', filter: 'all' },
  });
  doc = (await api('GET', '/api/v1/openapi.json', { token: null })).json as Doc;
  operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      params: op.parameters ?? [],
      body: op.requestBody?.content?.['application/json']?.schema,
    })),
  );
});

describe('fuzzing every route of the OpenAPI document', () => {
  test('the document lists JSON-body routes to fuzz', () => {
    expect(operations.filter((o) => o.body).length).toBeGreaterThanOrEqual(7);
  });

  test('random and mutated bodies, queries and path parameters never produce a 5xx, always the error envelope', async () => {
    const failures: string[] = [];
    for (const op of operations) {
      // The edge routes need signatures; fuzzing them as admin exercises their refusals.
      const query = op.params.filter((p) => p.in === 'query');
      const pathParams = op.params.filter((p) => p.in === 'path');
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            path: fc.tuple(...(pathParams.length ? pathParams.map(() => segment) : [fc.constant('')])),
            query: fc.array(
              fc.tuple(
                fc.oneof(fc.constantFrom(...(query.length ? query.map((q) => q.name) : ['x'])), oddStrings),
                oddStrings,
              ),
              { maxLength: 4 },
            ),
            body: op.body ? arbitraryFor(op.body, doc) : fc.constant(undefined),
            rawBody: fc.option(
              fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom('{', '[1,', 'null', '"x"')),
              {
                freq: 5,
              },
            ),
          }),
          async ({ path, query: q, body, rawBody }) => {
            let i = 0;
            const url =
              op.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(String(path[i++] ?? ''))) +
              (q.length ? `?${new URLSearchParams(q.map(([k, v]) => [k, v])).toString()}` : '');
            const res = await api(op.method, url, {
              ...(rawBody !== null && op.method !== 'GET'
                ? { raw: rawBody, type: 'application/json' }
                : body !== undefined && op.method !== 'GET'
                  ? { body }
                  : {}),
            });
            if (res.status >= 500)
              failures.push(
                `${op.method} ${url} ${JSON.stringify(rawBody ?? body)?.slice(0, 300)} → ${res.status} ${res.text.slice(0, 200)}`,
              );
            else if (res.status >= 400 && !(res.json?.error?.code && res.json?.error?.requestId))
              failures.push(
                `${op.method} ${url} → ${res.status} without the envelope: ${res.text.slice(0, 200)}`,
              );
            return true;
          },
        ),
        { numRuns: 25, seed: 11 },
      );
    }
    expect(failures.slice(0, 10)).toEqual([]);
  }, 300_000);
});
