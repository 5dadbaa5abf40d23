// snapshot.*: a region snapshot carrying 1,000,000 CRM record addresses — encoded size, build
// time (keyed hashing + filter construction + encoding), false-positive rate over 1,000,000
// addresses that are not records, and a check that every record address is found.
import { keyedHash64 } from '../src/core/keyed-hash.js';
import { filterHas } from '../src/core/membership-filter.js';
import { buildSnapshot, decodeSnapshot, encodeSnapshot, type SnapshotInput } from '../src/core/snapshot.js';
import { MAILBOXES } from '../scripts/demo-data.js';
import { median, round } from './lib/stats.js';

const HASH_KEY = '9c8b7a6f5e4d3c2b1a09f8e7d6c5b4a3';

function recordAddress(i: number): string {
  return `firstname${i}.lastname${(i * 7919) % 100_003}@company${i % 25_000}.example`;
}
function absentAddress(i: number): string {
  return `someone${i}.else${(i * 104_729) % 99_991}@elsewhere${i % 25_000}.example`;
}

export async function benchSnapshot({
  smoke = false,
  log = () => {},
  records = smoke ? 20_000 : 1_000_000,
  runs = smoke ? 1 : 3,
}: {
  smoke?: boolean;
  log?: (line: string) => void;
  records?: number;
  runs?: number;
} = {}) {
  const input: SnapshotInput = {
    region: 'eu',
    version: 1,
    builtAt: 1_790_000_000_000,
    hashKey: HASH_KEY,
    rulesEnabled: true,
    egress: 'metadata+subject',
    mailboxes: MAILBOXES.filter((m) => m.region === 'eu'),
    deployments: [
      {
        id: 'contoso',
        token: { prefix: 'CRM:', deploymentBase: 0, userDigits: 3, counterDigits: 3 },
        maxMessageBytes: 25 * 1024 * 1024,
        attachmentPolicy: 'regional',
        smartMatch: false,
        suppressions: ['@spam.example'],
        records: Array.from({ length: records }, (_, i) => ({
          address: recordAddress(i),
          type: i % 20 === 0 ? 'account' : i % 7 === 0 ? 'lead' : 'contact',
          emailEnabled: i % 10 !== 9,
        })),
        outbound: [],
      },
    ],
  };
  const buildTimes: number[] = [];
  let encoded: Uint8Array = new Uint8Array();
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    encoded = encodeSnapshot(buildSnapshot(input));
    buildTimes.push(performance.now() - t);
  }
  const decoded = decodeSnapshot(encoded);
  const filter = decoded.deployments.contoso?.records;
  if (!filter) throw new Error('snapshot lost deployment contoso');
  let falseNegatives = 0;
  for (let i = 0; i < records; i++)
    if (!filterHas(filter, keyedHash64(HASH_KEY, recordAddress(i)))) falseNegatives++;
  let falsePositives = 0;
  const probes = records;
  for (let i = 0; i < probes; i++)
    if (filterHas(filter, keyedHash64(HASH_KEY, absentAddress(i)))) falsePositives++;
  const result = {
    records,
    bytes: encoded.length,
    bytesPerRecord: round(encoded.length / records, 3),
    buildMs: round(median(buildTimes), 0),
    buildRuns: buildTimes.map((t) => round(t, 0)),
    falsePositiveRate: round(falsePositives / probes, 5),
    falsePositives,
    absentProbes: probes,
    falseNegatives,
  };
  if (falseNegatives !== 0) throw new Error(`snapshot filter has ${falseNegatives} false negatives`);
  log(
    `snapshot: ${records} records → ${result.bytes} bytes in ${result.buildMs} ms, FPR ${(result.falsePositiveRate * 100).toFixed(3)} %, 0 false negatives`,
  );
  return result;
}
