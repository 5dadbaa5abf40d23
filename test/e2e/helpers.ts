import { inject } from 'vitest';
import { type CentralClient, createCentralClient } from '../../scripts/central-client.js';
import { eventually } from '../support/eventually.js';

export const centralUrl = () => inject('centralUrl');
export const edgeUrl = (region: 'us' | 'eu' | 'apac') => inject('edgeUrls')[region];

/** An edge's /health answer (role, region, the version of the snapshot it holds). */
export async function edgeHealth(region: 'us' | 'eu' | 'apac'): Promise<{ snapshotVersion?: number }> {
  return (await fetch(`${edgeUrl(region)}/health`)).json();
}

/** Waits until the region's edge holds snapshot `version` or a later one; returns the one it holds. */
export function edgeHolds(region: 'us' | 'eu' | 'apac', version: number, timeoutMs = 60_000) {
  return eventually(
    async () => {
      const held = (await edgeHealth(region)).snapshotVersion ?? 0;
      return held >= version ? held : undefined;
    },
    timeoutMs,
    1000,
  );
}

/** Any central API call with the admin token (or `token`); the typed client's untyped escape hatch. */
export async function central(method: string, path: string, body?: unknown, token = inject('adminToken')) {
  const { status, json } = await api(token).request(method, path, { body });
  return { status, json };
}

/** What central lists for a Message-ID (angle brackets and all): its activities or its dispositions. */
export async function listedFor(kind: 'activities' | 'dispositions', messageId: string) {
  return (await central('GET', `/api/v1/${kind}?messageId=${encodeURIComponent(messageId)}`)).json.items;
}

/** Waits until central lists an activity (or disposition) for the Message-ID; returns the first. */
export function firstListed(kind: 'activities' | 'dispositions', messageId: string, timeoutMs = 10_000) {
  return eventually(async () => (await listedFor(kind, messageId))[0], timeoutMs);
}

/** The typed client of the e2e network's central. */
export function api(token = inject('adminToken')): CentralClient {
  return createCentralClient({ baseUrl: centralUrl(), token });
}

const forwardingCache = new Map<string, Record<string, string>>();

/**
 * A deployment's forwarding address in a region (design §4): the only envelope recipient an edge
 * accepts mail for. Read once per deployment from central, as a rule script would be.
 */
export async function forwardingAddress(
  region: 'us' | 'eu' | 'apac',
  deployment = 'contoso',
): Promise<string> {
  let addresses = forwardingCache.get(deployment);
  if (!addresses) {
    const res = await central('GET', `/api/v1/deployments/${deployment}`);
    addresses = (res.json as { forwardingAddresses?: Record<string, string> } | undefined)
      ?.forwardingAddresses;
    if (!addresses) throw new Error(`deployment ${deployment}: no forwardingAddresses (${res.status})`);
    forwardingCache.set(deployment, addresses);
  }
  const address = addresses[region];
  if (!address) throw new Error(`deployment ${deployment} has no forwarding address in ${region}`);
  return address;
}

/** Sends a raw message through an edge's local Email Routing trigger. */
export async function sendMail(
  region: 'us' | 'eu' | 'apac',
  raw: string,
  envelope: { from: string; to: string },
) {
  const url = `${edgeUrl(region)}/cdn-cgi/handler/email?from=${encodeURIComponent(envelope.from)}&to=${encodeURIComponent(envelope.to)}`;
  const res = await fetch(url, { method: 'POST', body: raw });
  return { status: res.status, text: await res.text() };
}

/**
 * Sends a message as `mailbox`'s forwarding rule would: to the mailbox, marked X-Forwarded-To it,
 * through the deployment's forwarding address in `region`, from the address in its From header.
 */
export async function forwardMail(
  region: 'us' | 'eu' | 'apac',
  mailbox: { address: string; deployment: string },
  h: { from: string; subject: string; messageId: string; extra?: Record<string, string>; body?: string },
) {
  const raw = rawMessage({
    ...h,
    to: mailbox.address,
    extra: { 'X-Forwarded-To': mailbox.address, ...h.extra },
  });
  const from = /<([^<>]+)>\s*$/.exec(h.from)?.[1] ?? h.from;
  return sendMail(region, raw, { from, to: await forwardingAddress(region, mailbox.deployment) });
}

let counter = 0;
export function uniqueMessageId(tag = 'e2e') {
  counter++;
  return `<${tag}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}@test.example>`;
}

export function rawMessage(h: {
  from: string;
  to: string;
  subject: string;
  messageId?: string;
  extra?: Record<string, string>;
  body?: string;
}) {
  const lines = [
    `From: ${h.from}`,
    `To: ${h.to}`,
    `Subject: ${h.subject}`,
    `Date: ${new Date().toUTCString()}`,
    ...(h.messageId ? [`Message-ID: ${h.messageId}`] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    ...Object.entries(h.extra ?? {}).map(([k, v]) => `${k}: ${v}`),
    '',
    h.body ?? 'Hello from the e2e suite.',
    '',
  ];
  return lines.join('\r\n');
}

export { eventually };
