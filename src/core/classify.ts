// The classifier (design §2, "Classification"): a total, deterministic function of the message
// facts, the region's routing snapshot and the caller's options (time, loop history, promotion).
// Every outcome carries a reason code (§5) and a human sentence. Sentences never quote the
// message's addresses or subject: they end up in content-free disposition receipts. They may name
// the routed mailbox, which receipts are allowed to name.
import { keyedHash, keyedHash64, normaliseAddress } from './keyed-hash.js';
import { filterHas, ShardNotLoadedError } from './membership-filter.js';
import type { MessageFacts } from './message-facts.js';
import { type DeploymentSnapshot, type RoutingSnapshot, threadIndexRootHash } from './snapshot.js';
import { smartMatchSubject } from './subject.js';
import { suppressingKey } from './suppression.js';
import { findTrackingToken } from './tracking-token.js';
import type { CorrelationMethod, FilterMode, ReasonCode } from './types.js';

export interface LoopHistory {
  /** Timestamps (epoch ms) of earlier sightings of a loop key. */
  get(key: string): number[] | undefined;
}

export interface ClassifyOptions {
  now: number;
  loopHistory?: LoopHistory;
  /** Earlier identical sightings (same mailbox and fingerprint) within the window that make a loop. Default 3. */
  loopThreshold?: number;
  /** Default 10 minutes. */
  loopWindowMs?: number;
  /** Manual promotion ("Track in CRM"): bypasses region rules, automated-mail signals and the filter mode, never suppression. */
  promoted?: boolean;
  /**
   * The deployment the message is bound to (by its forwarding address, or by the promoting
   * deployment). Only that deployment's routes count: another tenant's routed addresses in the
   * headers are plain addresses. The edge always sets it; absent, every route counts.
   */
  deployment?: string;
}

export interface MailboxMatch {
  /** Plain address, as found in the message. */
  address: string;
  hash: string;
  deployment: string;
  userId: string;
  filter: FilterMode;
  /** Where the mailbox was found: a forwarding `via`, or `to` / `cc` / `bcc`. */
  via: string;
}

export interface Target {
  deployment: string;
  mailboxes: MailboxMatch[];
  crmBound: boolean;
  reason: ReasonCode;
  detail: string;
  correlation?: { method: CorrelationMethod; detail: string };
  /** This deployment's tracking token, when the subject carries one. */
  trackingToken?: string;
  /**
   * The mailboxes (of `mailboxes`) whose filter decided and whose forward this copy is: the
   * forwarder the customer's servers named, else the routed original recipients, else the
   * trace-header matches (see `decidingMailboxes`).
   */
  forwardedBy: string[];
}

export interface Decision {
  crmBound: boolean;
  reason: ReasonCode;
  detail: string;
  /** One per deployment that a matched mailbox routes to. */
  targets: Target[];
  messageIdHash?: string;
  /** Hash of the first mailbox of the reported target. */
  mailboxHash?: string;
  /** Deployment of the reported target (the first CRM-bound one, else the first). */
  deployment?: string;
  /** Keys the caller records in its loop history (one per matched mailbox). */
  loopKeys: string[];
}

export const DEFAULT_LOOP_THRESHOLD = 3;
export const DEFAULT_LOOP_WINDOW_MS = 10 * 60 * 1000;

/** Filter modes from most to least permissive. */
const PERMISSIVENESS: Record<FilterMode, number> = {
  all: 0,
  'email-enabled': 1,
  records: 2,
  responses: 3,
  none: 4,
};

const MAILER_DAEMON = /^(mailer-daemon|mailerdaemon|mail-daemon|postmaster|mail-delivery-subsystem)$/i;
const BOUNCE_SUBJECT =
  /undeliver|undelivered|delivery (status notification|failure|has failed|failed)|returned mail|failure notice|non[- ]?delivery|mail delivery failed|unzustellbar|nicht zustellbar|non remis|no se puede entregar|impossible de remettre|niet bezorgd|olevererbart|не доставлено|配信不能|无法投递/i;
const AUTO_REPLY_SUBJECT =
  /^(automatic reply|auto(matic)?[- ]?(reply|response)|autoreply|out of (the )?office|abwesenheitsnotiz|automatische antwort|réponse automatique|r[ée]ponse en absence|absence|respuesta autom[áa]tica|risposta automatica|automatisch antwoord|afwezig|autosvar|automaattinen vastaus|resposta autom[áa]tica|odpowied[źz] automatyczna|автоответ|自動応答|自动回复|自動回覆|不在)/i;

/** The snapshot every test can start from: rules enabled, no mailboxes, no deployments. */
export function emptySnapshot(region: string): RoutingSnapshot {
  return {
    version: 0,
    etag: '',
    region,
    builtAt: 0,
    hashKey: '00000000000000000000000000000000',
    rulesEnabled: true,
    egress: 'full',
    mailboxes: {},
    forwarding: {},
    deployments: {},
  };
}

interface DeploymentIndex {
  suppressedAddresses: Set<string>;
  suppressedDomains: Set<string>;
  threadIndexes: Set<string>;
  smartBySubject: Map<string, string[][]>;
}

const indexes = new WeakMap<DeploymentSnapshot, DeploymentIndex>();

function indexOf(d: DeploymentSnapshot): DeploymentIndex {
  let index = indexes.get(d);
  if (!index) {
    const smartBySubject = new Map<string, string[][]>();
    for (const s of d.smart ?? []) {
      const list = smartBySubject.get(s.subject);
      if (list) list.push(s.recipients);
      else smartBySubject.set(s.subject, [s.recipients]);
    }
    index = {
      suppressedAddresses: new Set(d.suppressedAddresses ?? []),
      suppressedDomains: new Set(d.suppressedDomains ?? []),
      threadIndexes: new Set(d.threadIndexes ?? []),
      smartBySubject,
    };
    indexes.set(d, index);
  }
  return index;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Classifies a message for a region. Total: never throws; an unexpected failure becomes
 * `malformed` with the error text.
 */
export function classify(facts: MessageFacts, snapshot: RoutingSnapshot, options: ClassifyOptions): Decision {
  try {
    return decide(facts, snapshot, options ?? { now: 0 });
  } catch (e) {
    // A record filter shard the edge has not loaded yet: it loads it and classifies again.
    if (e instanceof ShardNotLoadedError) throw e;
    return {
      crmBound: false,
      reason: 'malformed',
      detail: `the message could not be classified (${errorText(e)})`,
      targets: [],
      loopKeys: [],
    };
  }
}

function outcome(reason: ReasonCode, detail: string, messageIdHash: string | undefined): Decision {
  const d: Decision = { crmBound: false, reason, detail, targets: [], loopKeys: [] };
  if (messageIdHash) d.messageIdHash = messageIdHash;
  return d;
}

function decide(facts: MessageFacts, snapshot: RoutingSnapshot, options: ClassifyOptions): Decision {
  const key = snapshot.hashKey;
  const messageIdHash = facts.messageId ? keyedHash(key, facts.messageId) : undefined;
  if (facts.malformed) {
    return outcome('malformed', `the message headers cannot be used: ${facts.malformed}`, messageIdHash);
  }
  const matches = identifyMailboxes(facts, snapshot, options.deployment);
  if (!snapshot.rulesEnabled && !options.promoted) {
    const d = outcome(
      'region-rules-disabled',
      `routing rules are not enabled for region ${snapshot.region}`,
      messageIdHash,
    );
    // The receipt may still name the mailbox whose rule forwarded the message.
    const first = matches.find((m) => m.via !== 'envelope');
    if (first) {
      d.mailboxHash = first.hash;
      d.deployment = first.deployment;
    }
    return d;
  }

  if (matches.length === 0) {
    return outcome(
      'no-route',
      'no forwarding mailbox or original recipient of the message is routed in this region',
      messageIdHash,
    );
  }
  if (!options.promoted && matches.every((m) => m.via === 'envelope')) {
    // Design §4: the forwarding mailbox is found from the message, never from the envelope alone
    // (a manual promotion names its mailbox explicitly, so there the envelope is enough).
    return outcome(
      'no-route',
      'only the envelope recipient is a routed mailbox; the forwarding mailbox must appear in the message headers',
      messageIdHash,
    );
  }
  const byDeployment = new Map<string, MailboxMatch[]>();
  for (const m of matches) {
    const list = byDeployment.get(m.deployment);
    if (list) list.push(m);
    else byDeployment.set(m.deployment, [m]);
  }
  const routed = (address: string): boolean => {
    const hash = keyedHash(key, address);
    if (!Object.hasOwn(snapshot.mailboxes, hash)) return false;
    return options.deployment === undefined || snapshot.mailboxes[hash]?.deployment === options.deployment;
  };
  const targets = [...byDeployment].map(([deployment, mailboxes]) =>
    decideTarget(deployment, mailboxes, facts, snapshot, options, routed),
  );
  const primary = targets.find((t) => t.crmBound) ?? (targets[0] as Target);
  const decision: Decision = {
    crmBound: targets.some((t) => t.crmBound),
    reason: primary.reason,
    detail: primary.detail,
    targets,
    deployment: primary.deployment,
    loopKeys: [...new Set(matches.map((m) => loopKey(m.hash, facts.fingerprint)))],
  };
  if (messageIdHash) decision.messageIdHash = messageIdHash;
  const first = primary.mailboxes[0];
  if (first) decision.mailboxHash = first.hash;
  return decision;
}

/** Whether an address is a mailbox routed in this region's snapshot. */
export function isRoutedMailbox(snapshot: RoutingSnapshot, address: string, deployment?: string): boolean {
  const a = normaliseAddress(address);
  if (a === '') return false;
  const hash = keyedHash(snapshot.hashKey, a);
  if (!Object.hasOwn(snapshot.mailboxes, hash)) return false;
  // Bound to a deployment (by its forwarding address), only that deployment's routes count.
  return deployment === undefined || snapshot.mailboxes[hash]?.deployment === deployment;
}

/** The loop-history key of a mailbox hash and a message fingerprint. */
export function loopKey(mailboxHash: string, fingerprint: string): string {
  return `${mailboxHash}:${fingerprint}`;
}

/**
 * Routed mailboxes named by the message: forwarding candidates in facts order, then original
 * To/Cc/Bcc, then the envelope recipient (which alone never routes).
 */
function identifyMailboxes(
  facts: MessageFacts,
  snapshot: RoutingSnapshot,
  deployment: string | undefined,
): MailboxMatch[] {
  const candidates: Array<{ address: string; via: string }> = [];
  for (const f of facts.forwarding) if (f.via !== 'envelope') candidates.push(f);
  for (const a of facts.to) candidates.push({ address: a.address, via: 'to' });
  for (const a of facts.cc) candidates.push({ address: a.address, via: 'cc' });
  for (const a of facts.bcc) candidates.push({ address: a.address, via: 'bcc' });
  for (const f of facts.forwarding) if (f.via === 'envelope') candidates.push(f);
  const matches: MailboxMatch[] = [];
  const seen = new Set<string>();
  for (const c of candidates) {
    const address = normaliseAddress(c.address);
    if (address === '') continue;
    const hash = keyedHash(snapshot.hashKey, address);
    if (seen.has(hash)) continue;
    seen.add(hash);
    const route = Object.hasOwn(snapshot.mailboxes, hash) ? snapshot.mailboxes[hash] : undefined;
    if (!route) continue;
    if (deployment !== undefined && route.deployment !== deployment) continue;
    matches.push({
      address,
      hash,
      deployment: route.deployment,
      userId: route.userId,
      filter: route.filter,
      via: c.via,
    });
  }
  return matches;
}

function suppression(
  facts: MessageFacts,
  index: DeploymentIndex,
  key: string,
  mailboxes: MailboxMatch[],
): string | undefined {
  const sender = facts.from?.address;
  if (!sender) return undefined;
  // A routed mailbox is never suppressed (e.g. '@contoso.example' must not silence the mailbox's own mail).
  if (mailboxes.some((m) => m.address === sender)) return undefined;
  const k = suppressingKey(sender, (x) => {
    const set = x.kind === 'address' ? index.suppressedAddresses : index.suppressedDomains;
    return set.size > 0 && set.has(keyedHash(key, x.value));
  });
  if (!k) return undefined;
  return k.kind === 'address'
    ? 'the sender address is on the deployment suppression list'
    : 'the sender domain is on the deployment suppression list';
}

/** A header keyword as it may appear in a receipt: a short token, never free text from the message. */
function keywordForDetail(value: string): string {
  return value.replace(/[^\w.-]/g, '').slice(0, 32);
}

function bounceSignal(facts: MessageFacts): string | undefined {
  if (facts.contentType === 'multipart/report' && facts.reportType !== 'disposition-notification') {
    return facts.reportType === 'delivery-status' || facts.reportType === undefined
      ? 'delivery status notification (multipart/report, RFC 3464)'
      : `automated report (multipart/report; report-type=${keywordForDetail(facts.reportType)})`;
  }
  const local = facts.from?.address.split('@')[0] ?? '';
  if (MAILER_DAEMON.test(local)) return 'the sender is a mailer daemon';
  if (facts.xFailedRecipients !== undefined) return 'delivery failure report (X-Failed-Recipients)';
  if (facts.returnPath === '' && BOUNCE_SUBJECT.test(facts.subject)) {
    return 'null Return-Path with a delivery failure subject';
  }
  return undefined;
}

function autoReplySignal(facts: MessageFacts): string | undefined {
  if (facts.autoSubmitted !== undefined && facts.autoSubmitted !== 'no') {
    return `Auto-Submitted: ${keywordForDetail(facts.autoSubmitted)} (RFC 3834)`;
  }
  if (facts.contentType === 'multipart/report' && facts.reportType === 'disposition-notification') {
    return 'read receipt (message disposition notification, RFC 8098)';
  }
  if (facts.precedence === 'auto_reply') return 'Precedence: auto_reply';
  if (facts.xAutoreply !== undefined) return 'X-Autoreply / X-Autorespond header';
  if (facts.autoResponseSuppress !== undefined && AUTO_REPLY_SUBJECT.test(facts.subject.trim())) {
    return 'automatic-reply subject with X-Auto-Response-Suppress (Exchange)';
  }
  return undefined;
}

function bulkSignal(facts: MessageFacts): string | undefined {
  if (facts.precedence === 'bulk' || facts.precedence === 'list' || facts.precedence === 'junk') {
    return `Precedence: ${facts.precedence}`;
  }
  if (facts.listId !== undefined) return 'mailing-list message (List-Id, RFC 2919)';
  if (facts.listUnsubscribe !== undefined) return 'bulk message (List-Unsubscribe, RFC 2369)';
  return undefined;
}

function loopSignal(
  facts: MessageFacts,
  mailboxes: MailboxMatch[],
  options: ClassifyOptions,
): string | undefined {
  for (const m of mailboxes) {
    if (facts.xLoop.some((v) => v === m.address || v.includes(m.address))) {
      return `X-Loop names the forwarding mailbox ${m.address}`;
    }
  }
  const history = options.loopHistory;
  if (!history) return undefined;
  const threshold = options.loopThreshold ?? DEFAULT_LOOP_THRESHOLD;
  const window = options.loopWindowMs ?? DEFAULT_LOOP_WINDOW_MS;
  for (const m of mailboxes) {
    const seen = history.get(loopKey(m.hash, facts.fingerprint)) ?? [];
    let recent = 0;
    for (const t of seen) if (t > options.now - window && t <= options.now) recent++;
    if (recent >= threshold) {
      return `${recent} identical messages from mailbox ${m.address} in the last ${Math.round(window / 60000)} minutes (threshold ${threshold})`;
    }
  }
  return undefined;
}

interface Correlation {
  method: CorrelationMethod;
  detail: string;
}

function correlate(
  facts: MessageFacts,
  d: DeploymentSnapshot,
  index: DeploymentIndex,
  key: string,
  token: string | undefined,
): Correlation | undefined {
  for (const id of facts.inReplyTo) {
    if (filterHas(d.outbound, keyedHash64(key, id))) {
      return { method: 'in-reply-to', detail: 'In-Reply-To matches a registered outbound message' };
    }
  }
  for (const id of facts.references) {
    if (filterHas(d.outbound, keyedHash64(key, id))) {
      return { method: 'in-reply-to', detail: 'References matches a registered outbound message' };
    }
  }
  if (token) return { method: 'token', detail: `tracking token ${token} in subject` };
  if (facts.threadIndex && index.threadIndexes.size > 0) {
    const root = threadIndexRootHash(key, facts.threadIndex);
    if (root && index.threadIndexes.has(root)) {
      return {
        method: 'thread-index',
        detail: 'Thread-Index conversation matches a registered outbound message',
      };
    }
  }
  if (d.smartMatch && index.smartBySubject.size > 0) {
    const subject = smartMatchSubject(d.token, facts.subject);
    const candidates = subject === '' ? undefined : index.smartBySubject.get(keyedHash(key, subject));
    if (candidates) {
      const participants = new Set<string>();
      for (const a of [...(facts.from ? [facts.from] : []), ...facts.to, ...facts.cc]) {
        participants.add(keyedHash(key, a.address));
      }
      for (const recipients of candidates) {
        let shared = 0;
        for (const r of recipients) if (participants.has(r)) shared++;
        if (shared >= 2) {
          return {
            method: 'smart-match',
            detail: `smart match: the subject and ${shared} participants match a registered outbound message`,
          };
        }
      }
    }
  }
  return undefined;
}

const RECIPIENT_VIAS: ReadonlySet<string> = new Set(['to', 'cc', 'bcc']);

/**
 * The mailboxes whose filter modes decide (docs/decisions.md, "Who forwarded"). Any sender can
 * write trace headers and recipients, so a header-only match never raises the filter of the
 * mailbox that actually forwarded: (1) the first of `facts.deliveredBy` (what the customer's own
 * servers wrote: topmost Delivered-To, topmost X-Original-To, envelope sender) that is one of the
 * matched mailboxes decides alone; (2) else the routed original recipients (To/Cc/Bcc), a trace
 * header naming someone else cannot outrank the mailbox the message was sent to; (3) else the
 * trace-header matches (Bcc'd or list mail). Among several, the most permissive mode wins.
 */
function decidingMailboxes(facts: MessageFacts, mailboxes: MailboxMatch[]): MailboxMatch[] {
  for (const e of facts.deliveredBy ?? []) {
    const address = normaliseAddress(e.address);
    const forwarder = mailboxes.find((m) => m.address === address);
    if (forwarder) return [forwarder];
  }
  const recipients = mailboxes.filter((m) => RECIPIENT_VIAS.has(m.via));
  return recipients.length > 0 ? recipients : mailboxes;
}

function decideTarget(
  deployment: string,
  mailboxes: MailboxMatch[],
  facts: MessageFacts,
  snapshot: RoutingSnapshot,
  options: ClassifyOptions,
  routed: (address: string) => boolean,
): Target {
  const deciding = decidingMailboxes(facts, mailboxes);
  const forwardedBy = deciding.map((m) => m.address);
  const toss = (reason: ReasonCode, detail: string, extra?: Partial<Target>): Target => ({
    deployment,
    mailboxes,
    forwardedBy,
    crmBound: false,
    reason,
    detail,
    ...extra,
  });
  const d = Object.hasOwn(snapshot.deployments, deployment) ? snapshot.deployments[deployment] : undefined;
  if (!d)
    return toss(
      'no-route',
      `the mailbox routes to deployment ${deployment}, which is missing from the snapshot`,
    );
  const key = snapshot.hashKey;
  if (facts.sizeBytes > d.maxMessageBytes) {
    return toss(
      'oversize',
      `the message is ${facts.sizeBytes} bytes; deployment ${deployment} accepts at most ${d.maxMessageBytes}`,
    );
  }
  const index = indexOf(d);
  const suppressed = suppression(facts, index, key, mailboxes);
  if (suppressed) return toss('suppressed', suppressed);

  const token = findTrackingToken(d.token, facts.subject)?.token;
  const extra: Partial<Target> = token ? { trackingToken: token } : {};
  if (options.promoted) {
    const c = correlate(facts, d, index, key, token);
    return {
      deployment,
      mailboxes,
      forwardedBy,
      crmBound: true,
      reason: 'tracked:promoted',
      detail: c ? `promoted manually; ${c.detail}` : 'promoted manually (Track in CRM)',
      correlation: c ?? { method: 'promoted', detail: 'promoted manually (Track in CRM)' },
      ...extra,
    };
  }

  const bounce = bounceSignal(facts);
  if (bounce) return toss('bounce', bounce, extra);
  const autoReply = autoReplySignal(facts);
  if (autoReply) return toss('auto-reply', autoReply, extra);
  const bulk = bulkSignal(facts);
  if (bulk) return toss('bulk', bulk, extra);
  const loop = loopSignal(facts, mailboxes, options);
  if (loop) return toss('loop', loop, extra);

  const ranked = [...deciding].sort((a, b) => PERMISSIVENESS[a.filter] - PERMISSIVENESS[b.filter]);
  const modes = new Set(deciding.map((m) => m.filter));
  const note = (m: MailboxMatch): string =>
    modes.size > 1
      ? ` (mailboxes disagree: the most permissive mode, ${m.filter} of ${m.address}, applies)`
      : '';

  const correlation = correlate(facts, d, index, key, token);
  if (correlation) {
    const active = ranked.find((m) => m.filter !== 'none');
    if (!active) {
      return toss(
        'filter:none',
        // The method only: a correlation's detail may quote the subject's tracking token, and
        // receipts carry nothing derived from the message.
        `filter mode none: nothing is tracked, even mail that correlates (by ${correlation.method})`,
        extra,
      );
    }
    return {
      deployment,
      mailboxes,
      forwardedBy,
      crmBound: true,
      reason: `tracked:${correlation.method}` as ReasonCode,
      detail: correlation.detail + note(active),
      correlation,
      ...extra,
    };
  }

  let fallback: Target | undefined;
  for (const m of ranked) {
    const t = byFilterMode(m.filter, d, facts, key, routed, mailboxes);
    const target: Target = { deployment, mailboxes, forwardedBy, ...t, detail: t.detail + note(m), ...extra };
    if (target.crmBound) return target;
    fallback ??= target;
  }
  return fallback as Target;
}

function byFilterMode(
  mode: FilterMode,
  d: DeploymentSnapshot,
  facts: MessageFacts,
  key: string,
  routed: (address: string) => boolean,
  mailboxes: MailboxMatch[],
): Pick<Target, 'crmBound' | 'reason' | 'detail' | 'correlation'> {
  switch (mode) {
    case 'none':
      return {
        crmBound: false,
        reason: 'filter:none',
        detail: 'filter mode none: the mailbox tracks nothing',
      };
    case 'all': {
      const detail = 'filter mode all: every message is tracked';
      return { crmBound: true, reason: 'tracked:all', detail, correlation: { method: 'all', detail } };
    }
    case 'responses':
      return {
        crmBound: false,
        reason: 'filter:no-correlation',
        detail:
          'filter mode responses: no In-Reply-To/References match, tracking token, Thread-Index or smart match with CRM mail',
      };
    case 'records':
    case 'email-enabled': {
      const filter = mode === 'records' ? d.records : d.emailEnabled;
      const label =
        mode === 'records'
          ? 'a CRM contact, account or lead (records filter)'
          : 'an email-enabled CRM record (email-enabled filter)';
      const sender = facts.from?.address;
      if (sender && filterHas(filter, keyedHash64(key, sender))) {
        const detail = `the sender matches ${label}`;
        return {
          crmBound: true,
          reason: 'tracked:sender-record',
          detail,
          correlation: { method: 'sender-record', detail },
        };
      }
      // Users count as senders only (design §2): a colleague in To/Cc never makes a stranger's
      // mail trackable, so recipients are checked against email-enabled non-user records.
      const recipientFilter = mode === 'records' ? d.records : d.emailEnabledRecipients;
      const own = new Set(mailboxes.map((m) => m.address));
      for (const r of [...facts.to, ...facts.cc]) {
        if (own.has(r.address) || routed(r.address)) continue;
        if (filterHas(recipientFilter, keyedHash64(key, r.address))) {
          const detail = `a To/Cc recipient matches ${label}`;
          return {
            crmBound: true,
            reason: 'tracked:recipient-record',
            detail,
            correlation: { method: 'recipient-record', detail },
          };
        }
      }
      return {
        crmBound: false,
        reason: 'filter:no-record-match',
        detail: `neither the sender nor a To/Cc recipient matches ${label}`,
      };
    }
  }
}
