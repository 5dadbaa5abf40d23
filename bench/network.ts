// e2e.* and geo.*: traffic through a whole local network (central + three edges, `wrangler dev`),
// sent by the traffic simulator (scripts/simulate.ts) — receipt → commit latency at a sustained
// rate, and cross-region bytes vs. forwarding everything under two egress policies.
import type { Region } from '../scripts/regions.js';
import type { CentralClient } from '../scripts/central-client.js';
import { adminClient, startSimNetwork, syncSnapshots } from '../scripts/sim-network.js';
import { runSimulation } from '../scripts/simulate.js';
import { round } from './lib/stats.js';

type Log = (line: string) => void;
// biome-ignore lint/suspicious/noExplicitAny: per-run figures, a loose JSON document
type Json = any;
export interface Net {
  central: string;
  edges: Record<Region, string>;
}

const REMOTE: Region[] = ['eu', 'apac'];

/** Starts a private network unless `central` and `edges` name a running one. */
export async function withNetwork<T>(
  {
    central,
    edges,
    log,
  }: { central?: string | undefined; edges?: Record<Region, string> | undefined; log: Log },
  fn: (net: Net) => Promise<T>,
): Promise<T> {
  if (central && edges) return fn({ central, edges });
  log('network: starting central + 3 edges on free ports with fresh state…');
  const t = Date.now();
  const net = await startSimNetwork({ log: () => {} });
  log(`network: up in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  try {
    return await fn(net);
  } finally {
    await net.stop();
  }
}

export async function benchE2e({
  central,
  edges,
  smoke = false,
  quick = false,
  ingress = 'email',
  log = () => {},
}: Net & { smoke?: boolean; quick?: boolean; ingress?: string; log?: Log }) {
  const rate = smoke ? 5 : 200;
  const durationS = smoke ? 3 : quick ? 15 : 60;
  const r = await runSimulation({
    central,
    edges,
    rate,
    durationS,
    crmShare: 0.1,
    seed: 'bench-e2e',
    sizeProfile: 'light',
    concurrency: 64,
    ingress,
    pregenerate: true,
    log: (line) => log(`e2e: ${line.trim()}`),
  });
  const n = r.architectures.network;
  const result = {
    p50Ms: n.latencyMs.p50,
    p95Ms: n.latencyMs.p95,
    p99Ms: n.latencyMs.p99,
    samples: n.latencyMs.samples,
    targetRatePerS: rate,
    achievedRatePerS: r.traffic.achievedRatePerS,
    durationS,
    messages: r.traffic.messages,
    copies: r.traffic.copies,
    copiesRefused: r.traffic.copiesRefused,
    sendMsP50: r.traffic.sendMs.p50,
    sendMsP99: r.traffic.sendMs.p99,
    captureRate: n.captureRate,
    falseCaptures: n.falseCaptures,
    drained: r.traffic.drained,
  };
  log(
    `e2e: p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms over ${result.samples} items at ${result.achievedRatePerS}/s (target ${rate}/s)`,
  );
  return result;
}

async function setEgress(api: CentralClient, egress: 'full' | 'metadata+subject' | 'metadata') {
  for (const id of REMOTE) {
    const region = await api.regions.get(id);
    await api.regions.put(id, { name: region.name, rulesEnabled: region.rulesEnabled, egress });
  }
}

/**
 * Cross-region bytes of this network ÷ those of forwarding everything, on the same seeded traffic
 * (10 % CRM-bound, realistic sizes with attachments), once with eu/apac egress `metadata+subject`
 * (attachments and raw message stay in the region) and once with `full`. The regions' settings
 * are restored afterwards.
 */
export async function benchGeo({
  central,
  edges,
  smoke = false,
  quick = false,
  log = () => {},
}: Net & { smoke?: boolean; quick?: boolean; log?: Log }) {
  const api = adminClient(central);
  const saved = await Promise.all(REMOTE.map((id) => api.regions.get(id)));
  const runs: Record<string, Json> = {};
  try {
    for (const egress of ['metadata+subject', 'full'] as const) {
      await setEgress(api, egress);
      await syncSnapshots(api, edges);
      const r = await runSimulation({
        central,
        edges,
        rate: smoke ? 5 : 10,
        durationS: smoke ? 3 : quick ? 15 : 30,
        crmShare: 0.1,
        seed: 'bench-geo',
        sizeProfile: 'realistic',
        log: (line) => log(`geo ${egress}: ${line.trim()}`),
      });
      const a = r.architectures.network;
      const b = r.architectures.forwardEverything;
      runs[egress] = {
        crossRegionBytes: a.crossRegionBytes,
        forwardAllCrossRegionBytes: b.crossRegionBytes,
        ratio: b.crossRegionBytes > 0 ? a.crossRegionBytes / b.crossRegionBytes : Number.NaN,
        crmShareOfMessages: round(r.traffic.groundTruthCrm / r.traffic.messages, 3),
        messages: r.traffic.messages,
        remoteCopies: b.crossRegionMessages,
        captureRate: a.captureRate,
      };
      log(
        `geo ${egress}: ratio ${runs[egress].ratio.toFixed(5)} (${a.crossRegionBytes} / ${b.crossRegionBytes} bytes)`,
      );
    }
  } finally {
    for (const r of saved)
      await api.regions.put(r.id, {
        name: r.name,
        rulesEnabled: r.rulesEnabled,
        egress: r.egress as 'full' | 'metadata+subject' | 'metadata',
      });
    await syncSnapshots(api, edges).catch(() => {});
  }
  const m = runs['metadata+subject'];
  const f = runs.full;
  return {
    crossRegionBytesRatio: round(m.ratio, 5),
    crossRegionBytesRatioFullEgress: round(f.ratio, 5),
    crmShare: 0.1,
    metadataSubject: m,
    full: f,
  };
}
