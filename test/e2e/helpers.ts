import { inject } from 'vitest';
import { type CentralClient, createCentralClient } from '../../scripts/central-client.js';

export const centralUrl = () => inject('centralUrl');
export const edgeUrl = (region: 'us' | 'eu' | 'apac') => inject('edgeUrls')[region];

/** Any central API call with the admin token (or `token`); the typed client's untyped escape hatch. */
export async function central(method: string, path: string, body?: unknown, token = inject('adminToken')) {
  const { status, json } = await api(token).request(method, path, { body });
  return { status, json };
}

/** The typed client of the e2e network's central. */
export function api(token = inject('adminToken')): CentralClient {
  return createCentralClient({ baseUrl: centralUrl(), token });
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

/** Polls until `check` returns a value (not undefined) or the timeout passes. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
}
