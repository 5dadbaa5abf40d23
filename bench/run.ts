// npm run bench -- [--quick] [--smoke] [--only classify,snapshot,memory,ingest,e2e,geo,relay]
//   [--snapshot-records N] [--snapshot-isolates N]
//   [--out bench/results] [--central URL --edges us=URL,eu=URL,apac=URL]
//   [--e2e-rate N] [--e2e-seconds S]   (the e2e sender's rate, msg/s, and duration: a short check)
//   [--e2e-ingress inbound|email]      (the edges' ingress the e2e sender uses; bench/network.ts)
//
// Runs every benchmark and writes <out>/latest.json (nested objects: `classify.headerOnlyMsPerMsg`
// is json.classify.headerOnlyMsPerMsg; the headline figures are repeated as flat dotted keys at the
// top level). Method and machine: bench/README.md.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../scripts/network.js';
import type { Region } from '../scripts/regions.js';
import { benchClassify } from './classify.js';
import { benchIngest } from './ingest.js';
import { saveResults } from './lib/readme-table.js';
import {
  carryOverSeparateSections,
  flattenHeadlines,
  gitCommit,
  type HeadlineKey,
  valueAt,
} from './lib/results.js';
import { compareWithBaseline, describeSpeedGuard, readBaseline } from './lib/speed-guard.js';
import { median, round } from './lib/stats.js';
import { benchMemory } from './memory.js';
import { benchE2e, benchGeo, E2E_INGRESS, withNetwork } from './network.js';
import { benchRelay, RELAY_KEYS } from './relay.js';
import { benchSnapshot, benchSnapshotIsolates, DAY_MODEL } from './snapshot.js';

// biome-ignore lint/suspicious/noExplicitAny: the results file is a loose JSON document
type Json = any;

const STAGES = ['classify', 'snapshot', 'memory', 'ingest', 'e2e', 'geo', 'relay'];

/** Headline keys (design §6 and the benchmark issue) and their targets. */
export const KEYS: HeadlineKey[] = [
  ['classify.headerOnlyMsPerMsg'],
  ['classify.fullParseMsPerMsg'],
  ['classify.ratio', '>=', 10],
  ['snapshot.records'],
  ['snapshot.bytes', '<=', 1_550_000],
  ['snapshot.buildMs', '<=', 3000],
  ['snapshot.falsePositiveRate', '<=', 0.005],
  ['snapshot.oneChangeBytesPerRegion', '<=', 65_536],
  ['snapshot.coldClassifyMs', '<=', 100],
  ['ingest.itemsPerSec', '>=', 2000],
  ['ingest.oneByOneItemsPerSec'],
  ['ingest.speedup', '>=', 5],
  ['e2e.senderToQueryableP50Ms'],
  ['e2e.senderToQueryableP99Ms', '<=', 1000],
  ['e2e.p50Ms'],
  ['e2e.p99Ms', '<=', 1000],
  ['e2e.receiptToCommitP50Ms'],
  ['e2e.receiptToCommitP99Ms'],
  ['e2e.achievedRatePerS', '>=', 200],
  ['geo.crossRegionBytesRatio', '<=', 0.02],
  ['geo.allTrafficRatio', '<=', 0.02],
  ['geo.crossRegionBytesRatioFullEgress'],
  ['memory.peakBytes25MiB'],
  ['memory.ratioToSize', '<=', 4],
  ['day.crossRegionRatio', '<=', 0.02],
  ...RELAY_KEYS,
];

/**
 * Issue 21's day of a 10 M-record CRM, from two measurements of this run: the snapshot bytes a
 * region's rebuild costs (the snapshot stage's day model, `snapshot.isolates.day`) and the
 * cross-region bytes per forwarded message, every kind and direction, against forwarding every
 * copy to central (the geo stage, metadata+subject egress). A model, not a day-long run: the
 * rebuild count comes from the publisher's debounce and the issue's volumes (DAY_MODEL).
 */
function dayOfCrm(result: Json): Json | undefined {
  const snapshotDay = result.snapshot?.isolates?.day;
  const geo = result.geo?.metadataSubject;
  const bytes = geo?.allTraffic?.bytes;
  const forwardAll = geo?.allTraffic?.forwardAllBytes;
  const messages = geo?.messages;
  if (!snapshotDay || !(messages > 0) || !(forwardAll > 0) || typeof bytes !== 'number') return undefined;
  const mailBytes = (bytes / messages) * DAY_MODEL.messages;
  const forwardAllBytes = (forwardAll / messages) * DAY_MODEL.messages;
  const snapshotBytes = snapshotDay.snapshotBytesPerDayPerRegion * DAY_MODEL.remoteRegions;
  return {
    records: result.snapshot.isolates.records,
    isolatesPerRegion: result.snapshot.isolates.isolates,
    messages: DAY_MODEL.messages,
    changes: DAY_MODEL.changes,
    remoteRegions: DAY_MODEL.remoteRegions,
    mailCrossRegionBytes: Math.round(mailBytes),
    snapshotCrossRegionBytes: Math.round(snapshotBytes),
    forwardEverythingBytes: Math.round(forwardAllBytes),
    crossRegionRatio: Number(((mailBytes + snapshotBytes) / forwardAllBytes).toFixed(5)),
  };
}

function parseEdges(spec: string | undefined): Record<Region, string> | undefined {
  if (!spec) return undefined;
  return Object.fromEntries(
    spec.split(',').map((part) => {
      const [region, url = ''] = part.split('=');
      return [region, url.replace(/\/$/, '')];
    }),
  ) as Record<Region, string>;
}

/**
 * Records of the isolate model when `--snapshot-records` is not given: the 10 M its targets are set
 * at for a full run (about 2.5 minutes and 4.5 GB of RSS on the bench machine), 1 M for `--quick`.
 */
function defaultIsolateRecords(smoke: boolean, quick: boolean): number {
  return smoke ? 20_000 : quick ? 1_000_000 : 10_000_000;
}

async function main() {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      out: { type: 'string', default: join(ROOT, 'bench', 'results') },
      central: { type: 'string' },
      edges: { type: 'string' },
      // Records of the isolate model's region (snapshot.oneChangeBytesPerRegion, coldClassifyMs):
      // the targets are set at 10 M, the default of a full run (defaultIsolateRecords).
      'snapshot-records': { type: 'string' },
      'snapshot-isolates': { type: 'string' },

      'e2e-rate': { type: 'string' },
      'e2e-seconds': { type: 'string' },
      'e2e-ingress': { type: 'string' },
    },
  });
  const positive = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!(n > 0)) throw new Error(`--${name}: a positive number, not ${v}`);
    return n;
  };
  const e2eRate = positive('e2e-rate', values['e2e-rate']);
  const e2eSeconds = positive('e2e-seconds', values['e2e-seconds']);
  const smoke = values.smoke;
  const quick = values.quick;
  const only = values.only ? values.only.split(',') : STAGES;
  for (const s of only)
    if (!STAGES.includes(s)) throw new Error(`--only: unknown benchmark ${s} (${STAGES.join(', ')})`);
  const log = (line: string) => console.log(line);
  const cpu = cpus();
  const result: Json = {
    at: new Date().toISOString(),
    mode: smoke ? 'smoke' : quick ? 'quick' : e2eRate || e2eSeconds ? 'custom' : 'full',
    commit: process.env.BENCH_COMMIT ?? gitCommit(),
    machine: {
      cpus: cpu.length,
      model: cpu[0]?.model ?? 'unknown',
      memory: totalmem(),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      loadAverageAtStart: loadavg().map((x) => round(x, 2)),
    },
  };
  const errors: Record<string, string> = {};
  const stage = async (name: string, fn: () => Promise<unknown>) => {
    if (!only.includes(name)) return;
    const t = Date.now();
    try {
      result[name] = await fn();
    } catch (err) {
      const stack = err instanceof Error ? (err.stack ?? err.message) : String(err);
      errors[name] = stack;
      console.error(`${name} failed: ${stack}`);
    }
    log(`  (${name}: ${((Date.now() - t) / 1000).toFixed(1)} s)`);
  };

  await stage('classify', () => benchClassify({ smoke, log }));
  await stage('snapshot', async () => {
    const whole = await benchSnapshot({ smoke, log });
    const isolates = await benchSnapshotIsolates({
      smoke,
      log,
      records:
        positive('snapshot-records', values['snapshot-records']) ?? defaultIsolateRecords(smoke, quick),
      ...(values['snapshot-isolates'] ? { isolates: Number(values['snapshot-isolates']) } : {}),
    });
    return {
      ...whole,
      oneChangeBytesPerRegion: isolates.oneChangeBytesPerRegion,
      coldClassifyMs: isolates.coldClassifyMs,
      isolates,
    };
  });
  await stage('memory', async () => {
    const runs: Json[] = [];
    // When V8 collects the parse's garbage (decoded chunks, Blobs) moves the peak a little
    // between runs: five children, the median reported, every run listed.
    for (let i = 0; i < (smoke ? 1 : 5); i++) runs.push(await benchMemory({ smoke, log }));
    const pick = runs.sort((a, b) => a.peakRssBytes - b.peakRssBytes)[Math.floor(runs.length / 2)];
    return {
      peakBytes25MiB: pick.peakRssBytes,
      ratioToSize: pick.ratioToSize,
      ...pick,
      runsRatioToSize: runs.map((r) => r.ratioToSize),
      cappedNurseryRatioToSizeMedian: median(runs.map((r) => r.cappedNurseryRatioToSize)),
    };
  });
  const central = values.central?.replace(/\/$/, '');
  const edges = parseEdges(values.edges);
  await stage('ingest', () => benchIngest({ central, smoke, log }));
  if (only.includes('e2e') || only.includes('geo') || only.includes('relay')) {
    await withNetwork({ central, edges, log }, async (net) => {
      await stage('e2e', async () => {
        // The noisiest figure (a shared 2-core machine): three runs, medians of each percentile.
        const runs: Json[] = [];
        const short = smoke || quick || e2eRate !== undefined || e2eSeconds !== undefined;
        for (let i = 0; i < (short ? 1 : 3); i++)
          runs.push(
            await benchE2e({
              ...net,
              smoke,
              quick,
              rate: e2eRate,
              durationS: e2eSeconds,
              ingress: values['e2e-ingress'] ?? E2E_INGRESS,
              log,
            }),
          );
        const mid = (k: string) => median(runs.map((r) => r[k]));
        const figures = [
          'p50Ms',
          'p99Ms',
          'senderToQueryableP50Ms',
          'senderToQueryableP95Ms',
          'senderToQueryableP99Ms',
          'receiptToCommitP50Ms',
          'receiptToCommitP95Ms',
          'receiptToCommitP99Ms',
          'achievedRatePerS',
        ];
        return {
          ...runs[0],
          ...Object.fromEntries(figures.map((k) => [k, mid(k)])),
          runs: runs.map((r) => ({
            ...Object.fromEntries(figures.map((k) => [k, r[k]])),
            senderToQueryableSamples: r.senderToQueryableSamples,
            receiptToCommitSamples: r.receiptToCommitSamples,
          })),
        };
      });
      await stage('geo', () => benchGeo({ ...net, smoke, quick, log }));
      await stage('relay', () => benchRelay({ net, smoke, log }));
    });
  }

  const day = dayOfCrm(result);
  if (day) result.day = day;
  const targets = flattenHeadlines(result, KEYS);
  result.targets = targets;
  if (Object.keys(errors).length) result.errors = errors;
  const out = resolve(values.out);
  const file = join(out, 'latest.json');
  // A smoke run's figures are too small to mean anything: it is not compared.
  const guard = smoke ? undefined : compareWithBaseline(result, readBaseline(file));
  // What other commands merged into the file they replace is kept (bench:reliability's hour-long run).
  if (!smoke && existsSync(file)) carryOverSeparateSections(result, JSON.parse(readFileSync(file, 'utf8')));
  if (guard) result.speedGuard = guard;
  mkdirSync(out, { recursive: true });
  saveResults(file, result);
  log('\nkey                                   value          target');
  for (const [key, op, bound] of KEYS) {
    const v = valueAt(result, key);
    const t = targets[key];
    log(
      `${key.padEnd(38)}${String(v ?? '–').padEnd(15)}${op ? `${op} ${bound} ${t?.met ? 'met' : 'MISSED'}` : ''}`,
    );
  }
  if (guard) log(`\n${describeSpeedGuard(guard).join('\n')}`);
  log(`\nwrote ${file}`);
  if (Object.keys(errors).length) process.exit(1);
}

main().catch((err) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
