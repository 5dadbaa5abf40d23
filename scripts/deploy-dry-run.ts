// Validates deployment offline: `wrangler deploy --dry-run` for central and every region.
import { join } from 'node:path';
import { errorMessage, REGIONS, runWrangler } from './network.js';

const targets = [
  { label: 'central', args: ['-c', 'wrangler.toml'], out: 'dist/central' },
  ...REGIONS.map((r) => ({
    label: `edge ${r}`,
    args: ['-c', 'wrangler.edge.toml', '--env', r],
    out: `dist/edge-${r}`,
  })),
];
for (const t of targets) {
  const lines: string[] = [];
  try {
    await runWrangler(['deploy', '--dry-run', ...t.args, '--outdir', join(t.out)], (l) => lines.push(l));
    console.log(`dry-run ok: ${t.label}`);
  } catch (err) {
    console.error(lines.join('\n'));
    console.error(`dry-run FAILED: ${t.label}: ${errorMessage(err)}`);
    process.exit(1);
  }
}
