// The per-region canary (design §6, `canary`): a synthetic message an edge sends through its own
// ingress every few minutes. It carries a marker signed with the region's key, which only that
// edge and central hold, so no sender can forge one: a marker that does not verify is ordinary
// mail. The edge turns a verified canary into a canary report on its outbox queue (never an item);
// central records the round trip and stores nothing else, so a canary never reaches a CRM.
import { hmacHex, timingSafeEqual } from './request-signature.js';

/** The marker's header (an `X-` field: RFC 6648 discourages new ones, but it never leaves us). */
export const CANARY_HEADER = 'x-crm-edge-canary';
/** How often each edge sends one (its own cron trigger, CANARY_CRON in src/edge/canary.ts). */
export const CANARY_INTERVAL_MS = 5 * 60_000;
/** A canary older than three intervals means mail stopped getting through: not healthy. */
export const CANARY_STALE_MS = 3 * CANARY_INTERVAL_MS;
/** A marker older than this is not a canary any more (bounds the replay of a captured one). */
export const CANARY_MAX_AGE_MS = CANARY_STALE_MS;
/** Only the first bytes are searched for the marker: it is the first header the edge writes. */
const MARKER_SCAN_BYTES = 1024;

export interface CanaryMarker {
  region: string;
  id: string;
  sentAt: number;
  signature: string;
}

const signedText = (m: Omit<CanaryMarker, 'signature'>) =>
  `crm-edge-canary.v1.${m.region}.${m.id}.${m.sentAt}`;

export function signCanary(signingKey: string, m: Omit<CanaryMarker, 'signature'>): Promise<string> {
  return hmacHex(signingKey, signedText(m));
}

/** Whether the marker was signed with this region's key, for this region, within the max age. */
export async function verifyCanary(
  signingKey: string,
  region: string,
  m: CanaryMarker,
  now: number,
): Promise<boolean> {
  if (m.region !== region || !(now - m.sentAt <= CANARY_MAX_AGE_MS) || m.sentAt > now + CANARY_MAX_AGE_MS)
    return false;
  return timingSafeEqual(await signCanary(signingKey, m), m.signature);
}

/** A canary message (RFC 5322) of `region`, marked and signed. */
export async function canaryMessage(
  signingKey: string,
  region: string,
  now: number,
): Promise<{ raw: Uint8Array; marker: CanaryMarker }> {
  const id = crypto.randomUUID();
  const marker = {
    region,
    id,
    sentAt: now,
    signature: await signCanary(signingKey, { region, id, sentAt: now }),
  };
  const text = [
    `X-Crm-Edge-Canary: v1 ${region} ${id} ${now} ${marker.signature}`,
    `Message-ID: <canary-${id}@${region}.canary.invalid>`,
    `Date: ${new Date(now).toUTCString()}`,
    `From: canary@${region}.canary.invalid`,
    `To: canary@${region}.canary.invalid`,
    'Subject: canary',
    '',
    'A synthetic message that measures ingress to central; never delivered to a CRM.',
    '',
  ].join('\r\n');
  return { raw: new TextEncoder().encode(text), marker };
}

const MARKER_LINE =
  /^x-crm-edge-canary:[ \t]*v1 (\S{1,32}) ([0-9a-f-]{36}) (\d{1,15}) ([0-9a-f]{64})[ \t]*\r?$/im;

/** The marker of a message's header block, if it has one in its first bytes (not yet verified). */
export function readCanaryMarker(raw: Uint8Array): CanaryMarker | undefined {
  const head = new TextDecoder().decode(raw.subarray(0, MARKER_SCAN_BYTES));
  const end = head.search(/\r?\n\r?\n/);
  const m = MARKER_LINE.exec(end === -1 ? head : head.slice(0, end));
  if (!m) return undefined;
  return { region: m[1]!, id: m[2]!, sentAt: Number(m[3]), signature: m[4]! };
}
