// Benchmarks are programs, not timed tests: this runs a tiny version of each one against the e2e
// network and checks only that bench/run.ts writes every key as a finite number.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ROOT } from '../../scripts/network.js';
import { centralUrl, edgeUrl } from './helpers.js';

const REQUIRED = [
  'classify.headerOnlyMsPerMsg',
  'classify.fullParseMsPerMsg',
  'classify.ratio',
  'snapshot.records',
  'snapshot.bytes',
  'snapshot.buildMs',
  'snapshot.falsePositiveRate',
  'ingest.itemsPerSec',
  'ingest.oneByOneItemsPerSec',
  'ingest.speedup',
  'e2e.p50Ms',
  'e2e.p99Ms',
  'geo.crossRegionBytesRatio',
  'geo.crossRegionBytesRatioFullEgress',
  'memory.peakBytes25MiB',
  'memory.ratioToSize',
  'relay.p50AddedMs',
  'relay.msgPerSec',
  'relay.peakBytes25MiB',
  'relay.ratioToSize',
  'machine.cpus',
  'machine.memory',
];

const out = mkdtempSync(join(tmpdir(), 'crm-bench-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: ROOT, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({
        code: err ? Number((err as { code?: number }).code ?? 1) : 0,
        output: `${stdout}\n${stderr}`,
      }),
    );
  });
}

describe('npm run bench', () => {
  test('a smoke run writes every benchmark key as a finite number', async () => {
    const edges = `us=${edgeUrl('us')},eu=${edgeUrl('eu')},apac=${edgeUrl('apac')}`;
    const { code, output } = await run([
      '--import',
      'tsx',
      'bench/run.ts',
      '--smoke',
      '--out',
      out,
      '--central',
      centralUrl(),
      '--edges',
      edges,
    ]);
    expect(code, output).toBe(0);
    const json = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'));
    const get = (path: string) => path.split('.').reduce((o, k) => o?.[k], json);
    for (const key of REQUIRED) {
      expect(Number.isFinite(get(key)), `${key} = ${get(key)}`).toBe(true);
      if (!key.startsWith('machine.')) expect(json[key], `flat copy of ${key}`).toBe(get(key));
    }
    expect(typeof json.machine.model).toBe('string');
    expect(json.machine.node).toMatch(/^v\d+/);
    expect(Date.parse(json.at)).not.toBeNaN();
  }, 180_000);
});
