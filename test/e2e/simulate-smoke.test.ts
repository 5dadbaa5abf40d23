// The traffic simulator end to end, tiny: it sends seeded traffic through the e2e network and
// writes a report comparing the three architectures. Checks the report's shape, not speed.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ROOT } from '../../scripts/network.js';
import { centralUrl, edgeUrl } from './helpers.js';

const out = mkdtempSync(join(tmpdir(), 'crm-sim-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('npm run simulate', () => {
  test('a short run writes a JSON and a Markdown report over the three architectures', async () => {
    const edges = `us=${edgeUrl('us')},eu=${edgeUrl('eu')},apac=${edgeUrl('apac')}`;
    const args = [
      '--import',
      'tsx',
      'scripts/simulate.ts',
      '--duration',
      '3',
      '--rate',
      '6',
      '--crm-share',
      '0.5',
      '--seed',
      'smoke',
    ];
    args.push(
      '--rtt-ms',
      'us-eu=80,us-apac=150,eu-apac=200',
      '--central',
      centralUrl(),
      '--edges',
      edges,
      '--out',
      out,
    );
    const output = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, args, { cwd: ROOT, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
      ),
    );
    expect(output).toContain('simulate-latest.json');
    const report = JSON.parse(readFileSync(join(out, 'simulate-latest.json'), 'utf8'));
    expect(report.traffic.messages).toBeGreaterThan(0);
    expect(report.traffic.copiesRefused).toBe(0);
    expect(report.options.rttMode).toBe('modelled');
    for (const name of ['network', 'forwardEverything', 'homeRegionOnly']) {
      const a = report.architectures[name];
      for (const key of [
        'crossRegionBytes',
        'crossRegionMessages',
        'crossRegionHopsPerCrmItem',
        'captureRate',
        'falseCaptures',
      ])
        expect(Number.isFinite(a[key]), `${name}.${key} = ${a[key]}`).toBe(true);
    }
    expect(Number.isFinite(report.architectures.network.latencyMs.p99)).toBe(true);
    // What the report is for, on this run's own traffic: central held everything the edges
    // accepted, every CRM-bound message was captured, and only CRM-bound items crossed regions
    // (fewer bytes than forwarding every copy to the home region).
    const { network, forwardEverything, homeRegionOnly } = report.architectures;
    expect(report.traffic.drained).toBe(true);
    expect(report.traffic.groundTruthCrm).toBeGreaterThan(0);
    // The category and Message-ID of each missed message name the rule that missed it.
    expect(network.captured, JSON.stringify(report.missedSamples)).toBe(report.traffic.groundTruthCrm);
    expect(network.captureRate).toBe(1);
    expect(homeRegionOnly.captured).toBeLessThanOrEqual(network.captured);
    expect(homeRegionOnly.crossRegionBytes).toBe(0);
    expect(forwardEverything.crossRegionMessages).toBeGreaterThan(0);
    expect(network.crossRegionBytes).toBeLessThan(forwardEverything.crossRegionBytes);
    // Every forwarded copy is counted in exactly one region, and every message has at least one.
    const perRegion = ['us', 'eu', 'apac'].map((region) => report.regions[region].copies as number);
    expect(perRegion.reduce((acc, n) => acc + n, 0)).toBe(report.traffic.copies);
    expect(report.traffic.copies).toBeGreaterThanOrEqual(report.traffic.messages);
    const md = readFileSync(join(out, 'simulate-latest.md'), 'utf8');
    expect(md).toContain('| architecture |');
  }, 120_000);
});
