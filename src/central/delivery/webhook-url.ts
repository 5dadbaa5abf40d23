// Where central may POST a tenant's activities. A webhook URL is the one outbound request a tenant
// steers, so it may name only a public HTTPS endpoint: checked when it is set (PUT, a 400 naming
// `webhookUrl`) and again before each delivery (a URL stored under an older rule fails, unsent).
// Names are not resolved here (Workers have no DNS API); on Cloudflare a Worker's fetch cannot
// reach a private network or an IP address of Cloudflare itself, and the checks below stop the
// literal forms (docs/decisions.md, "Webhook URLs").
import { isLoopbackHost } from '../../core/deploy-mode.js';

/** Longest webhook URL accepted (far above any real endpoint; bounds what is stored and shown). */
export const WEBHOOK_URL_MAX_CHARS = 2000;

/**
 * Name suffixes that never denote a public endpoint: `localhost` (RFC 6761 §6.3), `local` (mDNS,
 * RFC 6762), `internal` (ICANN's private-use TLD, 2024; cloud metadata names), `home.arpa`
 * (RFC 8375) and the rest of `arpa` (reverse DNS), `localdomain` (common resolver default).
 */
const LOCAL_SUFFIXES = ['localhost', 'local', 'internal', 'arpa', 'localdomain'] as const;

export interface WebhookUrlPolicy {
  /** A development central may deliver over http or https to loopback receivers (tests, `npm start`). */
  production: boolean;
}

/** Why central must not POST to `url`, or undefined when it may. */
export function webhookUrlProblem(url: string, { production }: WebhookUrlPolicy): string | undefined {
  if (url.length > WEBHOOK_URL_MAX_CHARS) return `at most ${WEBHOOK_URL_MAX_CHARS} characters`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a URL';
  }
  // WHATWG URL parsing has already turned 0x7f.1, 2130706433 and the like into dotted IPv4.
  const host = parsed.hostname.toLowerCase();
  if (!production && isLoopbackHost(host) && (parsed.protocol === 'http:' || parsed.protocol === 'https:'))
    return undefined;
  if (parsed.protocol !== 'https:')
    return `must be an https URL${production ? '' : ' (http only to a loopback receiver, in local development)'}`;
  if (parsed.username || parsed.password)
    return 'must not carry credentials (sign requests with the webhook secret)';
  if (host.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(host))
    return 'must name the CRM by a public domain name, not an IP address';
  if (host.endsWith('.')) return 'must name the host without a trailing dot';
  const labels = host.split('.');
  const local = LOCAL_SUFFIXES.find((s) => host === s || host.endsWith(`.${s}`));
  if (local) return `must not name a local or internal host (.${local})`;
  if (labels.length < 2) return 'must name the CRM by a public domain name (a single-label name is local)';
  return undefined;
}
