// Validates deployment offline: the configs must deploy production workers that wrangler refuses
// to deploy without their secrets (scripts/deploy-config-check.ts), then `wrangler deploy
// --dry-run` for central and every region.
import { join } from 'node:path';
import { deployConfigProblems, deployTargets } from './deploy-config-check.js';
import { errorMessage, runWrangler } from './network.js';

const targets = deployTargets();
const problems = targets.flatMap(deployConfigProblems);
if (problems.length) {
  for (const p of problems) console.error(`config REFUSED: ${p}`);
  process.exit(1);
}
for (const t of targets) {
  const lines: string[] = [];
  const out = t.env ? `dist/edge-${t.env}` : 'dist/central';
  try {
    await runWrangler(
      ['deploy', '--dry-run', '-c', t.configPath, ...(t.env ? ['--env', t.env] : []), '--outdir', join(out)],
      (l) => lines.push(l),
    );
    console.log(`dry-run ok: ${t.label}`);
  } catch (err) {
    console.error(lines.join('\n'));
    console.error(`dry-run FAILED: ${t.label}: ${errorMessage(err)}`);
    process.exit(1);
  }
}
