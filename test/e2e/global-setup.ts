// Starts the real local network once for the e2e and browser suites, through the same code as
// `npm start`, on free ports and a fresh state folder so it never collides with a running network.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { directUrl, freePort, LOCAL_ADMIN_TOKEN, ROOT, startNetwork } from '../../scripts/network.js';

declare module 'vitest' {
  export interface ProvidedContext {
    centralUrl: string;
    edgeUrls: { us: string; eu: string; apac: string };
    adminToken: string;
    stateDir: string;
    /** The network's SMTP ingress relay ports (as `npm start` runs them, on free ports). */
    smtpPorts: { us: number; eu: number; apac: number };
    /** Each edge's own workerd socket behind wrangler dev's proxy (scripts/network.ts `directUrl`), or null. */
    edgeDirectUrls: { us: string | null; eu: string | null; apac: string | null };
  }
}

export default async function setup(project: TestProject) {
  const stateDir = mkdtempSync(join(tmpdir(), 'crm-e2e-'));
  const outDir = join(ROOT, 'test-output');
  mkdirSync(outDir, { recursive: true });
  const logLines: string[] = [];
  const ports = {
    central: await freePort(),
    us: await freePort(),
    eu: await freePort(),
    apac: await freePort(),
  };
  const started = Date.now();
  const net = await startNetwork({
    ports,
    stateDir,
    log: (line: string) => logLines.push(line),
    smtpPorts: { us: 0, eu: 0, apac: 0 },
  });
  console.log(
    `e2e network up in ${((Date.now() - started) / 1000).toFixed(1)} s on ports ${JSON.stringify(ports)}`,
  );
  project.provide('centralUrl', net.central.url);
  project.provide('edgeUrls', { us: net.edges.us.url, eu: net.edges.eu.url, apac: net.edges.apac.url });
  project.provide('edgeDirectUrls', {
    us: (await directUrl(net.edges.us)) ?? null,
    eu: (await directUrl(net.edges.eu)) ?? null,
    apac: (await directUrl(net.edges.apac)) ?? null,
  });
  project.provide('adminToken', LOCAL_ADMIN_TOKEN);
  project.provide('stateDir', stateDir);
  project.provide('smtpPorts', {
    us: net.relays.us!.port,
    eu: net.relays.eu!.port,
    apac: net.relays.apac!.port,
  });
  return async () => {
    await net.stop();
    writeFileSync(join(outDir, 'e2e-network.log'), logLines.join('\n'));
    rmSync(stateDir, { recursive: true, force: true });
  };
}
