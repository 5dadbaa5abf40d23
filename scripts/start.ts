// npm start | npm run start:central | npm run start:edges
//
// Workers die with this runner whatever ends it (see scripts/process-group.ts); a start first stops
// what an earlier run of the same state folder left behind. "ready" is printed once the demo seed
// has run (or has been reported as not applicable): a network that says it is up is usable.
import { join } from 'node:path';
import { HUBSPOT_FAKE_DEFAULT_PORT, HUBSPOT_FAKE_TOKEN, startHubspotFake } from '../fakes/hubspot.js';
import { DEPLOYMENTS } from './demo-data.js';
import { fetchAllForwardingAddresses } from './forwarding.js';
import {
  errorMessage,
  LOCAL_ADMIN_TOKEN,
  portsFromEnv,
  ROOT,
  type SeedReport,
  seedOrReport,
  smtpPortsFromEnv,
  startCentral,
  startEdges,
  startNetwork,
  startRelays,
} from './network.js';
import { onParentDeath } from './process-group.js';

const mode = process.argv[2] ?? 'all';
const ports = portsFromEnv();
const smtpPorts = smtpPortsFromEnv();
const stateDir = process.env.CRM_STATE_DIR ?? join(ROOT, '.wrangler', 'state', 'local');
const started = Date.now();
let stop = async (): Promise<void> => {};
let stopping = false;

async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping every worker…`);
  await stop();
  console.log('stopped.');
  process.exit(0);
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGHUP', () => shutdown('SIGHUP'));
// npm killed (an IDE's stop button): this runner is re-parented and stops as if interrupted.
onParentDeath(() => shutdown('parent process gone'));

function seedLine(seed: SeedReport): string {
  switch (seed.status) {
    case 'seeded':
      return 'demo data seeded';
    case 'present':
      return 'demo data present';
    case 'skipped':
      return `demo data not seeded: ${seed.reason}`;
    case 'failed':
      return `demo data NOT seeded (${seed.reason})`;
    default:
      return 'no demo data';
  }
}

try {
  if (mode === 'central') {
    const central = await startCentral({ port: ports.central, stateDir });
    stop = central.stop;
    const seed = await seedOrReport(central.url, console.log);
    console.log(
      `central ready at ${central.url} (dashboard ${central.url}/ , admin token: ${LOCAL_ADMIN_TOKEN}); ${seedLine(seed)}`,
    );
  } else if (mode === 'edges') {
    const edges = await startEdges({ ports, centralUrl: `http://127.0.0.1:${ports.central}`, stateDir });
    stop = edges.stop;
    const relays = await startRelays({ edges: edges.edges, smtpPorts });
    stop = async () => {
      await Promise.all(Object.values(relays).map((r) => r.stop()));
      await edges.stop();
    };
    for (const e of edges.edges)
      console.log(`edge ${e.region} ready at ${e.url} (SMTP ingress 127.0.0.1:${relays[e.region]?.port})`);
  } else {
    const net = await startNetwork({ ports, stateDir, smtpPorts });
    stop = net.stop;
    // The HubSpot fake (fakes/hubspot.ts) for the README's connector quick start; a busy port only
    // costs that demo, never the network.
    const hubspotPort = Number(process.env.HUBSPOT_FAKE_PORT ?? HUBSPOT_FAKE_DEFAULT_PORT);
    const hubspot = await startHubspotFake(hubspotPort).catch((err: unknown) => {
      console.log(`HubSpot fake not started on port ${hubspotPort}: ${errorMessage(err)}`);
      return undefined;
    });
    if (hubspot)
      stop = async () => {
        await hubspot.close();
        await net.stop();
      };
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    // Where mail goes: each deployment's forwarding address per region (the edges accept no other).
    const forwarding = await fetchAllForwardingAddresses(
      net.central.url,
      LOCAL_ADMIN_TOKEN,
      DEPLOYMENTS.map((d) => d.id),
    );
    const forwardingLines = Object.entries(forwarding)
      .flatMap(([deployment, byRegion]) =>
        Object.entries(byRegion).map(
          ([region, address]) => `  ${deployment.padEnd(9)} ${region.padEnd(5)} ${address}`,
        ),
      )
      .join('\n');
    console.log(`
crm-edge-router local network is up (${secs} s), ${seedLine(net.seed)}
  dashboard     ${net.central.url}/   (sign in with the admin token)
  admin token   ${LOCAL_ADMIN_TOKEN}
  central API   ${net.central.url}/api/v1   (OpenAPI: ${net.central.url}/api/v1/openapi.json)
${hubspot ? `  HubSpot fake  ${hubspot.url}   (token ${HUBSPOT_FAKE_TOKEN}; state: GET ${hubspot.url}/__fake/state)\n` : ''}${Object.values(
  net.edges,
)
  .map(
    (e) =>
      `  edge ${e.region.padEnd(8)}${e.url}   (mail: POST ${e.url}/cdn-cgi/handler/email?from=…&to=…; SMTP 127.0.0.1:${net.relays[e.region]?.port})`,
  )
  .join('\n')}
forwarding addresses (mail for any other recipient is refused as unknown-recipient):
${forwardingLines}
Press Ctrl-C to stop.`);
  }
} catch (err) {
  console.error(`start failed: ${errorMessage(err)}`);
  await stop();
  process.exit(1);
}
