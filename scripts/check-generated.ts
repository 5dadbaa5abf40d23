// Fails when generated files drift from their sources: D1 migrations vs src/db/schema.ts (drizzle-kit).
// The binding types (src/central/central-env.d.ts, src/edge/edge-env.d.ts) cannot drift: they are
// not tracked, and `npm run typecheck` generates them from the wrangler configs (`npm run types`,
// offline) before tsc reads them.
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

process.exit(failed ? 1 : 0);
