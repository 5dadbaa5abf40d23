// Fails when generated files drift from their sources: D1 migrations vs src/db/schema.ts (drizzle-kit)
// and the binding types vs the wrangler configs (`wrangler types --check`).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './network.js';

const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);
const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' };
let failed = false;

const tmp = mkdtempSync(join(tmpdir(), 'crm-migrations-'));
try {
  cpSync(join(ROOT, 'migrations'), tmp, { recursive: true });
  const before = readdirSync(tmp).filter((f) => f.endsWith('.sql')).length;
  execFileSync(
    bin('drizzle-kit'),
    ['generate', '--dialect', 'sqlite', '--schema', 'src/db/schema.ts', '--out', tmp],
    {
      cwd: ROOT,
      env,
      stdio: 'pipe',
    },
  );
  const after = readdirSync(tmp).filter((f) => f.endsWith('.sql')).length;
  if (after !== before) {
    console.error(
      'migrations drift: src/db/schema.ts has changes without a migration (run `npm run db:generate`)',
    );
    failed = true;
  } else console.log('migrations match src/db/schema.ts');
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

for (const [config, out, iface] of [
  ['wrangler.toml', 'src/central/central-env.d.ts', 'CentralEnv'],
  ['wrangler.edge.toml', 'src/edge/edge-env.d.ts', 'EdgeEnv'],
] as const) {
  try {
    execFileSync(
      bin('wrangler'),
      [
        'types',
        out,
        '-c',
        config,
        '--env-interface',
        iface,
        '--strict-vars=false',
        '--include-main-module=false',
        '--check',
      ],
      { cwd: ROOT, env, stdio: 'pipe' },
    );
    console.log(`${out} matches ${config}`);
  } catch (caught) {
    const err = caught as { stdout?: Buffer; stderr?: Buffer };
    console.error(
      `${out} is out of date with ${config} (run \`npm run types\`)\n${err.stdout ?? ''}${err.stderr ?? ''}`,
    );
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
