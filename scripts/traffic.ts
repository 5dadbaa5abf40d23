// Seeded, realistic multi-region mail traffic with ground truth, for `npm run simulate` and the
// benchmarks. The generator decides what each message is (a CRM contact's mail, a reply to a
// registered outbound message, a bounce, a newsletter…) and so knows whether it should be tracked
// under the design's rules (design §2 "Classification"): the ground truth never comes from the
// router under test.
import type { FilterMode } from '../src/core/types.js';
import { DEPLOYMENTS, type DemoRecord, demoRecords, MAILBOXES } from './demo-data.js';
import type { Region } from './regions.js';

/** A routed mailbox the traffic goes to. */
export interface Mailbox {
  address: string;
  region: Region;
  deployment: string;
  userId: string;
  filter: FilterMode;
}

/** A registered outbound CRM message (replies to it are correlated). */
export interface Outbound {
  messageId: string;
  userId: string;
  subject: string;
  to: string[];
  trackingSubject: string;
}

export interface Rng {
  next: () => number;
  int: (min: number, max: number) => number;
  pick: <T>(list: readonly T[]) => T;
  chance: (p: number) => boolean;
  logUniform: (min: number, max: number) => number;
  exponentialMs: (ratePerSecond: number) => number;
  weighted: <T>(entries: readonly (readonly [T, number])[]) => T;
  hex: (n: number) => string;
}

/** One forwarded copy of a message: what a forwarding mailbox's server sends to its region's edge. */
export interface Copy {
  region: Region;
  mailbox: string;
  raw?: string;
  bytes?: number;
  status?: number;
  sentAt?: number;
}

/** A generated message with its ground truth. */
export interface TrafficMessage {
  id: string;
  category: string;
  deployment: string;
  messageId: string;
  from: string;
  tracked: boolean;
  trackedIn: Region[];
  copies: Copy[];
  sizeBytes: number;
}

// ---------------------------------------------------------------------------------------------
// Seeded PRNG (sfc32, seeded through splitmix32 over the seed string): same seed, same traffic.

function hashSeed(seed: string) {
  let h = 1779033703 ^ String(seed).length;
  for (const ch of String(seed)) {
    h = Math.imul(h ^ ch.charCodeAt(0), 3432918353);
    h = (h << 13) | (h >>> 19);
  }
  return () => {
    h = Math.imul(h ^ (h >>> 16), 2246822507);
    h = Math.imul(h ^ (h >>> 13), 3266489909);
    h ^= h >>> 16;
    return h >>> 0;
  };
}

export function createRng(seed: string): Rng {
  const s = hashSeed(seed);
  let a = s();
  let b = s();
  let c = s();
  let d = s();
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  const rng: Rng = {
    next,
    /** Integer in [min, max]. */
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(list: readonly T[]) => list[Math.floor(next() * list.length)] as T,
    chance: (p) => next() < p,
    /** Log-uniform value in [min, max): sizes spread over orders of magnitude. */
    logUniform: (min, max) => Math.round(Math.exp(Math.log(min) + next() * (Math.log(max) - Math.log(min)))),
    /** Exponential inter-arrival time (Poisson process) for a rate per second, in ms. */
    exponentialMs: (ratePerSecond) => (-Math.log(1 - next()) / ratePerSecond) * 1000,
    weighted: <T>(entries: readonly (readonly [T, number])[]) => {
      const total = entries.reduce((acc, [, w]) => acc + w, 0);
      let x = next() * total;
      for (const [value, w] of entries) {
        x -= w;
        if (x < 0) return value;
      }
      return (entries[entries.length - 1] as readonly [T, number])[0];
    },
    hex: (n) => {
      let out = '';
      while (out.length < n)
        out += Math.floor(next() * 4294967296)
          .toString(16)
          .padStart(8, '0');
      return out.slice(0, n);
    },
  };
  return rng;
}

// ---------------------------------------------------------------------------------------------
// Attachment bytes: one seeded pool of random (incompressible, like real PDFs and images) bytes,
// base64-encoded once into 76-character lines (RFC 2045 §6.8); an attachment is a run of lines.

const LINE_BYTES = 57; // 57 bytes → 76 base64 characters
let pool: { seed: string; lines: string[] } | undefined;

function base64Pool(seed: string, bytes = 6 * 1024 * 1024) {
  if (pool && pool.seed === seed && pool.lines.length * LINE_BYTES >= bytes) return pool;
  const rng = createRng(`pool:${seed}`);
  const raw = Buffer.alloc(bytes);
  for (let i = 0; i + 4 <= bytes; i += 4) raw.writeUInt32LE(Math.floor(rng.next() * 4294967296), i);
  const lines: string[] = [];
  for (let i = 0; i + LINE_BYTES <= bytes; i += LINE_BYTES)
    lines.push(raw.subarray(i, i + LINE_BYTES).toString('base64'));
  pool = { seed, lines };
  return pool;
}

/** Base64 body (CRLF line breaks) of an attachment of about `size` bytes. */
function attachmentBase64(rng: Rng, seed: string, size: number): string {
  const { lines } = base64Pool(seed);
  const count = Math.max(1, Math.ceil(size / LINE_BYTES));
  const start = rng.int(0, Math.max(0, lines.length - count));
  return lines.slice(start, start + Math.min(count, lines.length)).join('\r\n');
}

// ---------------------------------------------------------------------------------------------
// People.

const WORDS =
  'the a quote order invoice meeting schedule delivery contract renewal licence support ticket please find attached regards thanks update pricing proposal team project timeline review agreement shipment payment question follow up next week call tomorrow budget approval draft version final signed copy details customer account request information available'.split(
    ' ',
  );
const PRIVATE_DOMAINS = [
  'friends.example',
  'family-mail.example',
  'club.example',
  'school.example',
  'neighbours.example',
];
const VENDOR_DOMAINS = [
  'office-supplies.example',
  'travel-agency.example',
  'it-services.example',
  'catering.example',
];
const GIVEN = ['sam', 'alex', 'kim', 'noor', 'lee', 'ana', 'jo', 'max', 'ravi', 'eva', 'tom', 'mia'];
const ATTACHMENT_TYPES: [string, string, number][] = [
  ['pdf', 'application/pdf', 5],
  ['docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 2],
  ['xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 2],
  ['png', 'image/png', 2],
  ['jpg', 'image/jpeg', 3],
  ['zip', 'application/zip', 1],
];

/** Record addresses per deployment, by kind (the same data the seed registers). */
export interface RecordBook {
  external: { address: string; type: DemoRecord['type']; emailEnabled: boolean }[];
  emailEnabledExternal: string[];
  disabledContacts: string[];
  all: Map<string, DemoRecord>;
}

function recordBook(deployment: string): RecordBook {
  const records = demoRecords(deployment);
  const external = records.filter((r) => r.type !== 'user');
  return {
    /** Contacts, accounts and leads: the `records` filter matches all of them. */
    external: external.map((r) => ({ address: first(r.emails), type: r.type, emailEnabled: r.emailEnabled })),
    emailEnabledExternal: external.filter((r) => r.emailEnabled).map((r) => first(r.emails)),
    disabledContacts: external.filter((r) => !r.emailEnabled).map((r) => first(r.emails)),
    all: new Map(records.flatMap((r) => r.emails.map((e) => [e.toLowerCase(), r] as const))),
  };
}

// ---------------------------------------------------------------------------------------------
const first = (list: string[]): string => list[0] as string;

// Ground truth, from the design's rules over what the generator put in the message.

/**
 * Whether one forwarding mailbox should track a message (design §2 "Classification"): bounces,
 * auto-replies, bulk mail and suppressed senders never; then correlated mail in every mode but
 * `none`; then the mailbox's filter mode over the sender and the To/Cc recipients.
 */
/** What the generator decided a message is, before rendering. */
interface Draft {
  id?: string;
  category: string;
  mailboxes: Mailbox[];
  from: string;
  subject: string;
  recipients: string[];
  signal: string | undefined;
  correlated: boolean;
  bounce?: boolean;
  extra: [string, string][];
}

export function mailboxTracks(
  msg: Pick<Draft, 'signal' | 'correlated' | 'from' | 'recipients'>,
  mailbox: Pick<Mailbox, 'filter'>,
  book: RecordBook,
): boolean {
  if (msg.signal) return false;
  if (mailbox.filter === 'none') return false;
  if (msg.correlated) return true;
  if (mailbox.filter === 'all') return true;
  if (mailbox.filter === 'responses') return false;
  const matches = (address: string) => {
    const r = book.all.get(address.toLowerCase());
    if (!r) return false;
    return mailbox.filter === 'records' ? r.type !== 'user' : r.emailEnabled === true;
  };
  if (matches(msg.from)) return true;
  return msg.recipients.some((a) => matches(a));
}

// ---------------------------------------------------------------------------------------------
// MIME.

function words(rng: Rng, count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(rng.pick(WORDS));
  return out.join(' ');
}

function textBody(rng: Rng, bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  while (size < bytes) {
    const line = words(rng, rng.int(6, 14));
    lines.push(line);
    size += line.length + 2;
  }
  return lines.join('\r\n');
}

function htmlOf(text: string): string {
  return `<html><body>${text
    .split('\r\n')
    .map((l) => `<p>${l}</p>`)
    .join('\r\n')}</body></html>`;
}

/**
 * A raw RFC 5322 message (ASCII, CRLF). `headers` come first in order; then the body: plain text,
 * multipart/alternative with HTML, or multipart/mixed with base64 attachments.
 */
export interface AttachmentSpec {
  filename: string;
  contentType: string;
  size: number;
}

export function buildRaw({
  headers,
  text,
  html,
  attachments = [],
  rng,
  seed,
  boundaryTag,
}: {
  headers: [string, string][];
  text: string;
  html?: string | undefined;
  attachments?: AttachmentSpec[];
  rng: Rng;
  seed: string;
  boundaryTag: string;
}): string {
  const head = headers.map(([k, v]) => `${k}: ${v}`);
  head.push('MIME-Version: 1.0');
  const alt = `alt-${boundaryTag}`;
  const mixed = `mixed-${boundaryTag}`;
  const textPart = [
    'Content-Type: text/plain; charset=us-ascii',
    'Content-Transfer-Encoding: 7bit',
    '',
    text,
  ];
  const bodyParts = html
    ? [
        `Content-Type: multipart/alternative; boundary="${alt}"`,
        '',
        `--${alt}`,
        ...textPart,
        `--${alt}`,
        'Content-Type: text/html; charset=us-ascii',
        'Content-Transfer-Encoding: 7bit',
        '',
        html,
        `--${alt}--`,
      ]
    : textPart;
  if (attachments.length === 0) return `${[...head, ...bodyParts].join('\r\n')}\r\n`;
  const lines = [
    ...head,
    `Content-Type: multipart/mixed; boundary="${mixed}"`,
    '',
    'This is a multi-part message in MIME format.',
    `--${mixed}`,
    ...bodyParts,
  ];
  for (const a of attachments) {
    lines.push(
      `--${mixed}`,
      `Content-Type: ${a.contentType}; name="${a.filename}"`,
      `Content-Disposition: attachment; filename="${a.filename}"`,
      'Content-Transfer-Encoding: base64',
      '',
      attachmentBase64(rng, seed, a.size),
    );
  }
  lines.push(`--${mixed}--`, '');
  return lines.join('\r\n');
}

/**
 * Attachment sizes (decoded bytes). `realistic`: 30 % of messages carry 1–3 attachments, mostly
 * 10–200 KB, some up to 1 MB and 8 % of attachments 1–5 MB. `light`: 10 % carry one of 5–100 KB
 * (for the sustained-rate latency benchmark on a 2-core machine). `none`: no attachments.
 */
export const SIZE_PROFILES = ['realistic', 'light', 'none'];

function attachmentsFor(rng: Rng, profile: string, maxBytes: number): AttachmentSpec[] {
  if (profile === 'none') return [];
  const out: number[] = [];
  if (profile === 'light') {
    if (rng.chance(0.1)) out.push(rng.logUniform(5_000, 100_000));
  } else if (rng.chance(0.3)) {
    const count = rng.weighted<number>([
      [1, 70],
      [2, 20],
      [3, 10],
    ]);
    for (let i = 0; i < count; i++) {
      const band = rng.weighted<string>([
        ['small', 70],
        ['medium', 22],
        ['large', 8],
      ]);
      out.push(
        band === 'small'
          ? rng.logUniform(10_000, 200_000)
          : band === 'medium'
            ? rng.logUniform(200_000, 1_000_000)
            : rng.logUniform(1_000_000, 5_000_000),
      );
    }
  }
  // Base64 grows content by 4/3 (plus line breaks): keep the raw message under the cap.
  let budget = Math.floor((maxBytes - 64 * 1024) * 0.73);
  const kept: number[] = [];
  for (const size of out) {
    if (size > budget) continue;
    kept.push(size);
    budget -= size;
  }
  return kept.map((size, i) => {
    const [ext, contentType] = rng.weighted(ATTACHMENT_TYPES.map((t) => [t, t[2]] as const));
    return { filename: `${words(rng, 1)}-${i + 1}.${ext}`, contentType, size };
  });
}

// ---------------------------------------------------------------------------------------------
// Categories.

/** Categories whose messages are CRM-bound by construction, and those that are not. */
export const CRM_CATEGORIES = [
  'record-sender',
  'recipient-record',
  'reply',
  'token-reply',
  'all-mailbox',
  'multi-forward',
];
export const OTHER_CATEGORIES = [
  'private',
  'record-to-responses',
  'record-to-none',
  'disabled-record',
  'auto-reply',
  'bounce',
  'list',
  'suppressed',
  'multi-forward-private',
];
/** Categories that need registered outbound messages (`POST /deployments/:id/outbound`). */
export const OUTBOUND_CATEGORIES = ['reply', 'token-reply'];

const CRM_WEIGHTS: Record<string, number> = {
  'record-sender': 40,
  'recipient-record': 8,
  reply: 20,
  'token-reply': 8,
  'all-mailbox': 12,
  'multi-forward': 12,
};
const OTHER_WEIGHTS: Record<string, number> = {
  private: 40,
  'record-to-responses': 6,
  'record-to-none': 5,
  'disabled-record': 3,
  'auto-reply': 8,
  bounce: 5,
  list: 20,
  suppressed: 4,
  'multi-forward-private': 9,
};

const TRACKING = new Set<string>(['all', 'records', 'email-enabled']);

/**
 * Creates a traffic generator. `mailboxes`: routed mailboxes ({ address, region, deployment,
 * userId, filter }); `outbound`: registered outbound messages per deployment ({ messageId, userId,
 * subject, to, trackingSubject }) — empty disables the reply categories.
 */
export function createTraffic({
  seed = 'crm-sim',
  runId = 'run',
  mailboxes = MAILBOXES,
  outbound = {},
  crmShare = 0.1,
  sizeProfile = 'realistic',
  maxMessageBytes = 6 * 1024 * 1024,
  now = () => Date.now(),
}: {
  seed?: string;
  runId?: string;
  mailboxes?: Mailbox[];
  outbound?: Record<string, Outbound[]>;
  crmShare?: number;
  sizeProfile?: string;
  maxMessageBytes?: number;
  now?: () => number;
} = {}) {
  if (!SIZE_PROFILES.includes(sizeProfile)) throw new Error(`unknown size profile ${sizeProfile}`);
  const rng = createRng(seed);
  const books: Record<string, RecordBook> = Object.fromEntries(
    DEPLOYMENTS.map((d) => [d.id, recordBook(d.id)]),
  );
  const bookOf = (deployment: string): RecordBook => {
    const book = books[deployment];
    if (!book) throw new Error(`unknown deployment ${deployment}`);
    return book;
  };
  const hasOutbound = (d: string) => (outbound[d] ?? []).length > 0;
  const disabled = new Set<string>();
  if (!DEPLOYMENTS.some((d) => hasOutbound(d.id))) for (const c of OUTBOUND_CATEGORIES) disabled.add(c);
  const byDeployment = (d: string) => mailboxes.filter((m) => m.deployment === d);
  let n = 0;

  const unknownSender = () => `${rng.pick(GIVEN)}.${rng.hex(4)}@${rng.pick(PRIVATE_DOMAINS)}`;
  const mailboxWith = (filters: string[], deployment?: string) => {
    const pool = mailboxes.filter(
      (m) => filters.includes(m.filter) && (!deployment || m.deployment === deployment),
    );
    return pool.length ? rng.pick(pool) : undefined;
  };

  /** Builds the message of a category; undefined when the mailboxes cannot support it. */
  function compose(category: string): Draft | undefined {
    const id = `${runId}-${++n}`;
    /** The category's message to `mailboxes` from `from`; `more` sets what differs from a plain one. */
    const draft = (
      mailboxes: Mailbox[],
      from: string,
      subject: string,
      more: Partial<Draft> = {},
    ): Draft => ({
      category,
      mailboxes,
      from,
      subject,
      recipients: [],
      signal: undefined,
      correlated: false,
      extra: [],
      ...more,
    });
    let m: Draft;
    switch (category) {
      case 'record-sender': {
        const mb = mailboxWith(['records', 'email-enabled', 'all']);
        if (!mb) return undefined;
        const book = bookOf(mb.deployment);
        const from =
          mb.filter === 'records' ? rng.pick(book.external).address : rng.pick(book.emailEnabledExternal);
        m = draft(
          [mb],
          from,
          `${rng.pick(['Re: order', 'Question about', 'Invoice', 'Meeting'])} ${words(rng, 3)}`,
        );
        break;
      }
      case 'recipient-record': {
        const mb = mailboxWith(['records', 'email-enabled']);
        if (!mb) return undefined;
        const contact = rng.pick(bookOf(mb.deployment).emailEnabledExternal);
        m = draft([mb], `${rng.pick(GIVEN)}@${rng.pick(VENDOR_DOMAINS)}`, `Introduction: ${words(rng, 3)}`, {
          recipients: [contact],
        });
        break;
      }
      case 'reply':
      case 'token-reply': {
        const deployments = DEPLOYMENTS.map((d) => d.id).filter(hasOutbound);
        const deployment = rng.pick(deployments);
        const candidates = (outbound[deployment] ?? []).filter((o) =>
          mailboxes.some(
            (mb) => mb.userId === o.userId && mb.deployment === deployment && mb.filter !== 'none',
          ),
        );
        if (!candidates.length) return undefined;
        const o = rng.pick(candidates);
        const mb = mailboxes.find((x) => x.userId === o.userId && x.deployment === deployment) as Mailbox;
        const from = o.to?.[0] ?? unknownSender();
        m = draft([mb], from, '', { correlated: true });
        if (category === 'reply') {
          m.subject = `RE: ${o.subject}`;
          m.extra.push(['In-Reply-To', `<${o.messageId}>`], ['References', `<${o.messageId}>`]);
        } else {
          // A reply from another client (no In-Reply-To), kept in the CRM by the subject's token.
          m.subject = `RE: ${o.trackingSubject}`;
        }
        break;
      }
      case 'all-mailbox': {
        const mb = mailboxWith(['all']);
        if (!mb) return undefined;
        m = draft([mb], unknownSender(), `Lunch ${words(rng, 2)}`);
        break;
      }
      case 'multi-forward':
      case 'multi-forward-private': {
        const deployment = rng.pick(DEPLOYMENTS).id;
        const pool = byDeployment(deployment);
        const count = Math.min(pool.length, rng.int(2, 3));
        const chosen: Mailbox[] = [];
        while (chosen.length < count) {
          const mb = rng.pick(pool);
          if (!chosen.includes(mb)) chosen.push(mb);
        }
        if (category === 'multi-forward') {
          if (!chosen.some((mb) => TRACKING.has(mb.filter))) {
            const mb = mailboxWith(['records', 'email-enabled', 'all'], deployment);
            if (!mb) return undefined;
            if (!chosen.includes(mb)) chosen[0] = mb;
          }
          m = draft(
            chosen,
            rng.pick(bookOf(deployment).emailEnabledExternal),
            `Project kickoff ${words(rng, 2)}`,
          );
        } else {
          const kept = chosen.filter((mb) => mb.filter !== 'all');
          if (kept.length < 2) return undefined;
          m = draft(kept, unknownSender(), `Party on ${words(rng, 1)}`);
        }
        break;
      }
      case 'private': {
        const mb = mailboxWith(['responses', 'records', 'email-enabled', 'none']);
        if (!mb) return undefined;
        m = draft([mb], unknownSender(), `Weekend ${words(rng, 2)}`);
        break;
      }
      case 'record-to-responses':
      case 'record-to-none': {
        const mb = mailboxWith([category === 'record-to-none' ? 'none' : 'responses']);
        if (!mb) return undefined;
        m = draft([mb], rng.pick(bookOf(mb.deployment).emailEnabledExternal), `New request ${words(rng, 2)}`);
        break;
      }
      case 'disabled-record': {
        const mb = mailboxWith(['email-enabled']);
        if (!mb || !bookOf(mb.deployment).disabledContacts.length) return undefined;
        m = draft([mb], rng.pick(bookOf(mb.deployment).disabledContacts), `Hello ${words(rng, 2)}`);
        break;
      }
      case 'auto-reply': {
        const mb = rng.pick(mailboxes);
        m = draft(
          [mb],
          rng.pick(bookOf(mb.deployment).emailEnabledExternal),
          `Automatic reply: ${words(rng, 3)}`,
          { signal: 'auto-reply' },
        );
        m.extra.push(['Auto-Submitted', 'auto-replied'], ['X-Auto-Response-Suppress', 'All']);
        break;
      }
      case 'bounce': {
        const mb = rng.pick(mailboxes);
        m = draft(
          [mb],
          `MAILER-DAEMON@mx${rng.int(1, 9)}.${rng.pick(VENDOR_DOMAINS)}`,
          'Undelivered Mail Returned to Sender',
          { signal: 'bounce', bounce: true },
        );
        m.extra.push(['Return-Path', '<>'], ['Auto-Submitted', 'auto-replied']);
        break;
      }
      case 'list': {
        const mb = rng.pick(mailboxes);
        const list = rng.pick(['news', 'offers', 'community', 'release-notes']);
        const domain = rng.pick(VENDOR_DOMAINS);
        m = draft([mb], `${list}@${domain}`, `${list}: ${words(rng, 4)}`, { signal: 'bulk' });
        m.extra.push(
          ['List-Id', `${list} <${list}.${domain}>`],
          ['List-Unsubscribe', `<mailto:unsubscribe@${domain}>`],
          ['Precedence', 'list'],
        );
        break;
      }
      case 'suppressed': {
        const mb = rng.pick(mailboxes);
        m = draft([mb], `deals${rng.int(1, 99)}@spam.example`, `You won ${words(rng, 2)}`, {
          signal: 'suppressed',
        });
        break;
      }
      default:
        throw new Error(`unknown category ${category}`);
    }
    m.id = id;
    return m;
  }

  function render(m: Draft): TrafficMessage {
    const domain = m.from.split('@')[1] ?? 'example.org';
    const messageId = `sim-${m.id}-${rng.hex(6)}@${domain}`;
    const date = new Date(now()).toUTCString().replace('GMT', '+0000');
    const to = m.mailboxes.map((mb) => mb.address);
    const headers: [string, string][] = [
      ['From', m.from],
      ['To', to.join(', ')],
      ...(m.recipients.length ? [['Cc', m.recipients.join(', ')] as [string, string]] : []),
      ['Subject', m.subject],
      ['Date', date],
      ['Message-ID', `<${messageId}>`],
      ...m.extra,
    ];
    // The run's reference keeps a rerun with the same seed from resending byte-identical mail,
    // which the edge's loop check (identical messages per mailbox) would rightly toss.
    const text = `${textBody(rng, rng.logUniform(300, 12_000))}\r\n\r\nRef: ${m.id}`;
    let raw: string;
    if (m.bounce) {
      const b = `dsn-${m.id}`;
      raw = [
        ...headers.map(([k, v]) => `${k}: ${v}`),
        'MIME-Version: 1.0',
        `Content-Type: multipart/report; report-type=delivery-status; boundary="${b}"`,
        '',
        `--${b}`,
        'Content-Type: text/plain; charset=us-ascii',
        '',
        'This is the mail system. Your message could not be delivered to one or more recipients.',
        `--${b}`,
        'Content-Type: message/delivery-status',
        '',
        `Reporting-MTA: dns; ${domain}`,
        '',
        `Final-Recipient: rfc822; nobody@${domain}`,
        'Action: failed',
        'Status: 5.1.1',
        `--${b}`,
        'Content-Type: text/rfc822-headers',
        '',
        `From: ${to[0]}`,
        `To: nobody@${domain}`,
        `Subject: ${words(rng, 3)}`,
        `--${b}--`,
        '',
      ].join('\r\n');
    } else {
      const attachments = m.signal ? [] : attachmentsFor(rng, sizeProfile, maxMessageBytes);
      raw = buildRaw({
        headers,
        text,
        html: rng.chance(0.4) ? htmlOf(text) : undefined,
        attachments,
        rng,
        seed,
        boundaryTag: rng.hex(12),
      });
    }
    // Each forwarding mailbox's server adds its own trace header and sends its copy to the edge of
    // the mailbox's region (design §2, step 2: the forwarding mailbox is read from the message).
    const copies = m.mailboxes.map(
      (mb): Copy => ({
        region: mb.region,
        mailbox: mb.address,
        raw: `X-Forwarded-To: ${mb.address}\r\n${raw}`,
      }),
    );
    const lead = m.mailboxes[0] as Mailbox;
    const book = bookOf(lead.deployment);
    const tracked = m.mailboxes.some((mb) => mailboxTracks(m, mb, book));
    return {
      category: m.category,
      deployment: lead.deployment,
      id: m.id as string,
      messageId,
      from: m.from,
      tracked,
      /** Tracked through a mailbox of the given region: what the copy from that region should give. */
      trackedIn: [...new Set(m.mailboxes.filter((mb) => mailboxTracks(m, mb, book)).map((mb) => mb.region))],
      copies,
      sizeBytes: copies.reduce((acc, c) => acc + (c.raw?.length ?? 0), 0),
    };
  }

  const crmEntries = Object.entries(CRM_WEIGHTS).filter(([c]) => !disabled.has(c));
  const otherEntries = Object.entries(OTHER_WEIGHTS).filter(([c]) => !disabled.has(c));

  return {
    disabledCategories: [...disabled],
    rng,
    /** The next message: its ground truth and one raw copy per forwarding mailbox. */
    next(): TrafficMessage {
      for (let attempt = 0; attempt < 50; attempt++) {
        const wantCrm = rng.chance(crmShare);
        const category = rng.weighted(wantCrm ? crmEntries : otherEntries);
        const m = compose(category);
        if (!m) continue;
        const message = render(m);
        if (message.tracked !== wantCrm)
          throw new Error(`generator bug: ${category} should be ${wantCrm ? 'tracked' : 'tossed'}`);
        return message;
      }
      throw new Error('the routed mailboxes cannot support the requested traffic mix');
    },
  };
}
