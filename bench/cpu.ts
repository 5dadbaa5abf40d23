// npm run bench:cpu -- [--label after] [--only name,name] [--out bench/results]
//
// Times the core readers on the adversarial inputs of the CPU budget suite (the same generators:
// test/core/adversarial-mail.ts) and merges the figures under `--label` into <out>/cpu.json, so a
// run on the code before a fix (`--label before`, with BENCH_COMMIT naming the commit whose
// src/core is checked out) and one after sit side by side. Method:
// bench/README.md (`cpu.*`).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../scripts/network.js';
import { CPU_CASES, HEADER_CPU_BUDGET_MS, threadCpuMs } from '../test/core/adversarial-mail.js';
import { gitCommit } from './lib/results.js';
import { median, round } from './lib/stats.js';

// biome-ignore lint/suspicious/noExplicitAny: the results file is a loose JSON document
type Json = any;

/** Repetitions of a call that takes under a second (a slower one is timed once). */
const REPEATS = 7;

function main() {
  const { values } = parseArgs({
    options: {
      label: { type: 'string', default: 'after' },
      only: { type: 'string' },
      out: { type: 'string', default: join(ROOT, 'bench', 'results') },
    },
  });
  const only = values.only?.split(',');
  const file = join(resolve(values.out), 'cpu.json');
  const result: Json = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const commit = process.env.BENCH_COMMIT ?? gitCommit();
  const at = new Date().toISOString();
  const cases: Json = {};
  for (const c of CPU_CASES) {
    if (only && !only.includes(c.name)) continue;
    const call = c.prepare();
    const cpu: number[] = [];
    const wall: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      const t = performance.now();
      const u = threadCpuMs();
      call();
      cpu.push(threadCpuMs() - u);
      wall.push(performance.now() - t);
      if ((wall[0] as number) > 1000) break;
    }
    // The first call also compiles the readers: the median of the rest when there is a rest.
    const mid = (xs: number[]) => round(median(xs.length > 1 ? xs.slice(1) : xs), 2);
    // Each case keeps the commit and time it was measured at: `--only` runs merge into a label.
    cases[c.name] = { ms: mid(cpu), wallMs: mid(wall), runsMs: cpu.map((r) => round(r, 2)), commit, at };
    console.log(
      `${c.name.padEnd(32)} ${String(mid(cpu)).padStart(10)} ms CPU ${String(mid(wall)).padStart(10)} ms wall`,
    );
  }
  const cpu = cpus();
  result[values.label] = {
    at,
    commit,
    machine: {
      cpus: cpu.length,
      model: cpu[0]?.model ?? 'unknown',
      node: process.version,
      loadAverageAtStart: loadavg().map((x) => round(x, 2)),
    },
    cases: { ...(result[values.label]?.cases ?? {}), ...cases },
  };
  // One row per case with every label's time, for the before/after table.
  result.table = CPU_CASES.map((c) => {
    const row: Json = { name: c.name, what: c.what, budgetMs: c.budgetMs ?? HEADER_CPU_BUDGET_MS };
    for (const label of Object.keys(result).filter((k) => k !== 'table')) {
      const ms = result[label]?.cases?.[c.name]?.ms;
      if (ms !== undefined) row[`${label}Ms`] = ms;
    }
    return row;
  });
  mkdirSync(resolve(values.out), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

main();
