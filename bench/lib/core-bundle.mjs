// Bundles the TypeScript code under test (core classifier, snapshot codec, the edge's read and
// parse steps, postal-mime) into one ESM file with esbuild, so the benchmarks run exactly the
// source in src/ under plain Node (src imports use `.js` suffixes that Node's type stripping
// cannot resolve).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { ROOT } from '../../scripts/network.mjs';

const ENTRY = `
export { readMessageFacts } from './src/core/message-facts.ts';
export { classify } from './src/core/classify.ts';
export { buildSnapshot, encodeSnapshot, decodeSnapshot } from './src/core/snapshot.ts';
export { buildMembershipFilter, filterHas } from './src/core/membership-filter.ts';
export { keyedHash64, normaliseAddress } from './src/core/keyed-hash.ts';
export { readStreamLimited } from './src/core/stream-limit.ts';
export { buildIngestItems } from './src/edge/ingest-item.ts';
export { default as PostalMime } from 'postal-mime';
`;

let bundled;

/** Path of the bundle (built once per process). */
export async function coreBundlePath() {
  if (bundled) return bundled;
  const outfile = join(mkdtempSync(join(tmpdir(), 'crm-bench-')), 'core.mjs');
  await build({
    stdin: { contents: ENTRY, resolveDir: ROOT, sourcefile: 'bench-entry.ts', loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    outfile,
    logLevel: 'error',
  });
  bundled = outfile;
  return outfile;
}

const EXPECTED = [
  'readMessageFacts',
  'classify',
  'buildSnapshot',
  'encodeSnapshot',
  'decodeSnapshot',
  'buildMembershipFilter',
  'filterHas',
  'keyedHash64',
  'readStreamLimited',
  'buildIngestItems',
];

/** The bundle's exports; fails loudly when src/ no longer exports what a benchmark runs. */
export async function loadCore(path) {
  const core = await import(pathToFileURL(path ?? (await coreBundlePath())).href);
  const missing = EXPECTED.filter((name) => typeof core[name] !== 'function');
  if (missing.length)
    throw new Error(`bench: src/ no longer exports ${missing.join(', ')} (see bench/lib/core-bundle.mjs)`);
  return core;
}
