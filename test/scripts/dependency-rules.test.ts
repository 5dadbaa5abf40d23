// The import rules of .dependency-cruiser.cjs (run by `npm run check:deps`, part of `npm test`)
// fire: the repository's own config is run over small throw-away trees, one that breaks every rule
// once and one that follows them, so a rule that silently matches nothing fails here.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';
import { ROOT } from '../../scripts/network.js';

const run = promisify(execFile);
const CLI = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const trees: string[] = [];

/** Writes `files` (path → source) under a fresh directory with the repository's tsconfig base. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'depcruise-'));
  trees.push(dir);
  writeFileSync(
    join(dir, 'tsconfig.base.json'),
    JSON.stringify({ compilerOptions: { module: 'ESNext', moduleResolution: 'Bundler' } }),
  );
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/** Runs the check as `npm run check:deps` does: its exit code and what it prints. */
async function cruise(dir: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout } = await run(
      process.execPath,
      [CLI, 'src', '--config', CONFIG, '--output-type', 'err-long'],
      {
        cwd: dir,
      },
    );
    return { code: 0, output: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** The `rule: from → to` of every reported error (a circle by its first step). */
function errors(output: string): string[] {
  return [...output.matchAll(/^\s*error (\S+): (\S+) → *\n?\s*(\S+)/gm)].map(
    (m) => `${m[1]}: ${m[2]} → ${m[3]}`,
  );
}

afterAll(() => {
  for (const dir of trees) rmSync(dir, { recursive: true, force: true });
});

describe('the dependency rule', () => {
  test('a tree that breaks each rule once fails, naming every broken rule at its import', async () => {
    const dir = tree({
      'src/core/pure.ts': "import { q } from '../db/queries/q.js';\nexport const pure = q;\n",
      'src/core/hashing.ts': "import { createHash } from 'node:crypto';\nexport const h = createHash;\n",
      'src/core/platform.ts':
        "import { env } from 'cloudflare:workers';\nimport { Hono } from 'hono';\nexport const p = [env, Hono];\n",
      'src/db/queries/q.ts': "import { app } from '../../central/app.js';\nexport const q = app;\n",
      'src/central/app.ts': 'export const app = 1;\n',
      'src/central/api/routes/a.ts':
        "import { q } from '../../../db/queries/q.js';\nimport { b } from './b.js';\nexport const a = q + b;\n",
      'src/central/api/routes/b.ts': 'export const b = 1;\n',
      'src/central/dashboard/routes/page.ts':
        "import { b } from '../../api/routes/b.js';\nexport const page = b;\n",
      'src/central/services/s.ts': "import { b } from '../api/routes/b.js';\nexport const s = b;\n",
      'src/central/snapshot/x.ts': "import { y } from './y.js';\nexport const x = 1 + y;\n",
      'src/central/snapshot/y.ts': "import { x } from './x.js';\nexport const y = () => x;\n",
      'src/edge/e.ts': "import { app } from '../central/app.js';\nexport const e = app;\n",
    });
    const { code, output } = await cruise(dir);
    expect(code).not.toBe(0);
    expect(errors(output)).toEqual(
      expect.arrayContaining([
        'core-imports-nothing-above: src/core/pure.ts → src/db/queries/q.ts',
        'core-imports-no-node-builtin: src/core/hashing.ts → crypto',
        'core-is-platform-free: src/core/platform.ts → cloudflare:workers',
        'core-is-platform-free: src/core/platform.ts → hono',
        'db-imports-no-worker: src/db/queries/q.ts → src/central/app.ts',
        'route-imports-no-db: src/central/api/routes/a.ts → src/db/queries/q.ts',
        'route-imports-no-route: src/central/api/routes/a.ts → src/central/api/routes/b.ts',
        'route-imports-no-route: src/central/dashboard/routes/page.ts → src/central/api/routes/b.ts',
        'dashboard-is-not-api: src/central/dashboard/routes/page.ts → src/central/api/routes/b.ts',
        'front-ends-are-on-top: src/central/services/s.ts → src/central/api/routes/b.ts',
        'no-circular: src/central/snapshot/x.ts → src/central/snapshot/y.ts',
        'edge-is-not-central: src/edge/e.ts → src/central/app.ts',
      ]),
    );
    // The message says why, not only which rule.
    expect(output).toContain('An import circle');
  });

  test('a tree that follows the rules passes: routes reach the database through services, types may be imported', async () => {
    const dir = tree({
      'src/core/pure.ts': 'export const pure = 1;\n',
      'src/db/queries/q.ts':
        "import { pure } from '../../core/pure.js';\nexport type Row = { id: string };\nexport const q = pure;\n",
      'src/central/services/s.ts': "import { q } from '../../db/queries/q.js';\nexport const s = q;\n",
      'src/central/api/routes/a.ts':
        "import type { Row } from '../../../db/queries/q.js';\nimport { s } from '../../services/s.js';\nexport const a = (r: Row) => r.id + s;\n",
      'src/central/app.ts': "import { a } from './api/routes/a.js';\nexport const app = a;\n",
      'src/edge/e.ts': "import { pure } from '../core/pure.js';\nexport const e = pure;\n",
    });
    expect(await cruise(dir)).toMatchObject({ code: 0 });
  });

  test('no circle is allowed anywhere, the two the ingest and edge splits removed included', async () => {
    const old = tree({
      'src/central/ingest/ingest.ts':
        "import { d } from './dead-letters.js';\nexport const ingest = () => d;\n",
      'src/central/ingest/dead-letters.ts':
        "import { ingest } from './ingest.js';\nexport const d = () => ingest;\n",
    });
    const other = tree({
      'src/central/ingest/ingest.ts': "import { r } from './raw-links.js';\nexport const ingest = () => r;\n",
      'src/central/ingest/raw-links.ts':
        "import { ingest } from './ingest.js';\nexport const r = () => ingest;\n",
    });
    const first = await cruise(old);
    expect(first.code).not.toBe(0);
    expect(
      errors(first.output).filter((e) => e.startsWith('no-circular:') && e.includes('dead-letters.ts')),
    ).toHaveLength(1);
    const second = await cruise(other);
    expect(second.code).not.toBe(0);
    expect(errors(second.output)).toContain(
      'no-circular: src/central/ingest/ingest.ts → src/central/ingest/raw-links.ts',
    );
  });
});
