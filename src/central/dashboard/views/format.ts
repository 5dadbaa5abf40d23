// Plain-text formatting for the dashboard. Everything returned here is rendered as text by
// hono/jsx (escaped), never as markup.

const numberFormat = new Intl.NumberFormat('en-US');

export function formatCount(n: number | null | undefined): string {
  return n == null ? '—' : numberFormat.format(n);
}

export function formatBytes(n: number | null | undefined): string {
  if (n == null) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

export function formatPercent(ratio: number | null | undefined): string {
  if (ratio == null) return '—';
  const pct = ratio * 100;
  return `${pct > 0 && pct < 0.1 ? '<0.1' : pct.toFixed(pct < 10 ? 1 : 0)} %`;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms == null) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** `2026-11-20 14:03:12 UTC` — the script on the page rewrites it to local time. */
export function formatTime(ms: number | null | undefined): string {
  if (ms == null) return '—';
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** `45 s`, `12 min`, `3 h`, `2 d`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 90) return `${min} min`;
  const h = Math.round(min / 60);
  if (h < 48) return `${h} h`;
  return `${Math.round(h / 24)} d`;
}

/** What each reason code means, in the words an administrator would use. */
export const REASON_TEXT: Record<string, string> = {
  'tracked:in-reply-to': 'It replies to (In-Reply-To / References) an outbound CRM message.',
  'tracked:token': "Its subject carries the deployment's tracking token.",
  'tracked:thread-index': 'Its Thread-Index continues a conversation a CRM message started.',
  'tracked:smart-match':
    'Smart match: same normalised subject and at least two shared recipients as a CRM message.',
  'tracked:sender-record': 'The sender is a CRM record.',
  'tracked:recipient-record': 'A To/Cc recipient is a CRM record.',
  'tracked:all': "The forwarding mailbox's filter mode is “all”: every message is tracked.",
  'tracked:promoted': 'A user promoted it by hand (Track in CRM).',
  'no-route': 'No mailbox routed to this region forwarded it.',
  'region-rules-disabled': 'Rules are disabled for this region, so nothing it receives is tracked.',
  'filter:none': "The mailbox's filter mode is “none”.",
  'filter:no-correlation':
    'The mailbox tracks responses only, and this message does not correlate with CRM mail.',
  'filter:no-record-match': 'Neither the sender nor a recipient is a (mail-enabled) CRM record.',
  suppressed: "The sender's address or domain is on the deployment's suppression list.",
  'auto-reply': 'An automatic reply (RFC 3834 Auto-Submitted, out-of-office).',
  bulk: 'Bulk or list mail (Precedence: bulk/list, List-Id).',
  bounce: 'A bounce or delivery status notification.',
  loop: 'A mail loop (X-Loop, or the same message over and over).',
  oversize: "Larger than the deployment's size limit.",
  malformed: 'The message could not be read.',
  duplicate: 'A copy of a message already handled.',
  'record-false-positive':
    "The edge's approximate record filter matched, but central's exact check found no such record.",
};

export const METHOD_TEXT: Record<string, string> = {
  'in-reply-to': 'Reply to a registered outbound CRM message (In-Reply-To / References)',
  token: 'Tracking token in the subject',
  'thread-index': 'Thread-Index of a CRM conversation',
  'smart-match': 'Smart match (subject and recipients)',
  'sender-record': 'Sender is a CRM record',
  'recipient-record': 'Recipient is a CRM record',
  all: 'Mailbox filter mode “all”',
  promoted: 'Promoted by a user',
};
