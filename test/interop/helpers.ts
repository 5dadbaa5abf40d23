// Shared by the interop suites: the third-party tools they drive, and the relay they start.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { LOCAL_INBOUND_TOKEN } from '../../scripts/network.js';
import { type Relay, type RelayOptions, startRelay } from '../../src/relay/relay.js';
import { central } from '../e2e/helpers.js';

export const run = promisify(execFile);

/** The Debian packages .ci/run installs; a missing one fails the suite (it is never skipped). */
export const TOOLS = {
  postfix: '/usr/sbin/postfix',
  postqueue: '/usr/sbin/postqueue',
  swaks: '/usr/bin/swaks',
  sievec: '/usr/bin/sievec',
  sieveTest: '/usr/bin/sieve-test',
  xmllint: '/usr/bin/xmllint',
} as const;

export function missingTools(): string[] {
  return Object.values(TOOLS).filter((p) => !existsSync(p));
}

export function assertTools(): void {
  // Postfix's master(8) starts as root and drops to the postfix user itself.
  if (process.getuid?.() !== 0)
    throw new Error('interop suite must run as root (it starts a private Postfix instance); see .ci/run');
  const missing = missingTools();
  if (missing.length)
    throw new Error(
      `interop suite needs ${missing.join(', ')}: apt-get install -y postfix swaks dovecot-sieve libxml2-utils (see .ci/run; swaks needs its recommended libnet-ssleay-perl for --tls)`,
    );
}

export type Region = 'us' | 'eu' | 'apac';

/** The deployment's forwarding address for a region, as central publishes it. */
export async function forwardingAddress(deployment: string, region: Region): Promise<string> {
  const res = await central('GET', `/api/v1/deployments/${deployment}`);
  if (res.status !== 200) throw new Error(`GET deployment ${deployment}: ${res.status}`);
  const published = (res.json as { forwardingAddresses?: Record<string, string> }).forwardingAddresses?.[
    region
  ];
  return published ?? `crm@${region}.edge.localhost`;
}

/** A relay for one region's edge of the test network, on a free port. */
export async function relayFor(region: Region, over: Partial<RelayOptions> = {}): Promise<Relay> {
  return startRelay({
    edgeUrl: inject('edgeUrls')[region],
    token: LOCAL_INBOUND_TOKEN,
    host: '127.0.0.1',
    port: 0,
    log: () => {},
    ...over,
  });
}

/** Runs swaks; resolves with its transcript whatever the outcome (exit code included). */
export async function swaks(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(TOOLS.swaks, args, { timeout: 60_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** The server's replies (`<-` lines) of a swaks transcript. */
export function replies(transcript: string): string[] {
  return transcript
    .split('\n')
    .filter((l) => /^<[-~*]+ /.test(l))
    .map((l) => l.replace(/^<[-~*]+\s+/, '').trim());
}

export interface Activity {
  messageId: string;
  reason: string;
  mailboxes: string[];
  regions: string[];
  correlation: { method: string; detail: string };
}

export async function activitiesFor(messageId: string): Promise<Activity[]> {
  const res = await central('GET', `/api/v1/activities?messageId=${encodeURIComponent(messageId)}`);
  return (res.json as { items: Activity[] }).items;
}

export async function dispositionsFor(
  messageId: string,
): Promise<Array<{ reason: string; region: string; mailbox?: string }>> {
  const res = await central('GET', `/api/v1/dispositions?messageId=${encodeURIComponent(messageId)}`);
  return (res.json as { items: Array<{ reason: string; region: string; mailbox?: string }> }).items;
}
