import { describe, expect, test } from 'vitest';
import {
  type ClassifyOptions,
  classify,
  emptySnapshot,
  type LoopHistory,
  loopKey,
} from '../../src/core/classify.js';
import { keyedHash } from '../../src/core/keyed-hash.js';
import { type MessageFacts, readMessageFacts } from '../../src/core/message-facts.js';
import type { RoutingSnapshot, SnapshotInput } from '../../src/core/snapshot.js';
import {
  FILTER_MODES,
  type FilterMode,
  type ReasonCode,
  TOSSED_REASONS,
  TRACKED_REASONS,
} from '../../src/core/types.js';
import { contosoSnapshot, HASH_KEY, OUTBOUND_MESSAGE_ID, REPLY_THREAD_INDEX } from './contoso-snapshot.js';
import { fixture, type MailSpec, mail } from './mail-builder.js';

const NOW = 1_710_300_000_000;
const EDGE = { from: 'carol@example.org', to: 'crm@us.edge.localhost' };

function decide(
  spec: MailSpec,
  filter: FilterMode = 'responses',
  change?: (input: SnapshotInput) => void,
  options: Partial<ClassifyOptions> = {},
) {
  const facts = readMessageFacts(mail(spec), EDGE);
  return classify(facts, contosoSnapshot(filter, change), { now: NOW, ...options });
}

const seenReasons = new Set<ReasonCode>();

interface Case {
  name: string;
  spec: MailSpec;
  filter?: FilterMode;
  change?: (input: SnapshotInput) => void;
  options?: Partial<ClassifyOptions>;
  reason: ReasonCode;
  detail?: RegExp;
}

const history = (entries: Record<string, number[]>): LoopHistory => ({ get: (key) => entries[key] });
const aliceHash = keyedHash(HASH_KEY, 'alice@contoso.example');

const cases: Case[] = [
  {
    name: 'a message forwarded while the region has rules disabled is tossed as region-rules-disabled',
    spec: {},
    filter: 'all',
    change: (i) => {
      i.rulesEnabled = false;
    },
    reason: 'region-rules-disabled',
  },
  {
    name: 'a message naming no routed mailbox has no route',
    spec: { to: 'someone@example.net' },
    filter: 'all',
    reason: 'no-route',
  },
  {
    name: 'a message whose only link to a routed mailbox is the envelope recipient has no route',
    spec: { to: 'someone@example.net', headers: [] },
    filter: 'all',
    change: (i) => {
      i.mailboxes.push({
        address: 'crm@us.edge.localhost',
        deployment: 'contoso',
        userId: 'u-crm',
        filter: 'all',
      });
      i.mailboxes.shift();
    },
    reason: 'no-route',
    detail: /envelope/,
  },
  {
    name: 'a mailbox routed to a deployment missing from the snapshot has no route',
    spec: {},
    change: (i) => {
      i.mailboxes[0] = { address: 'alice@contoso.example', deployment: 'gone', userId: 'u', filter: 'all' };
    },
    reason: 'no-route',
    detail: /gone/,
  },
  {
    name: 'a message larger than the deployment limit is oversize',
    spec: { body: 'x'.repeat(5000) },
    filter: 'all',
    change: (i) => {
      (i.deployments[0] as SnapshotInput['deployments'][number]).maxMessageBytes = 1000;
    },
    reason: 'oversize',
  },
  {
    name: 'a message from a suppressed address is suppressed',
    spec: { from: 'Spammy <SPAM@example.com>' },
    filter: 'all',
    reason: 'suppressed',
    detail: /sender address/,
  },
  {
    name: 'a message from a suppressed domain is suppressed',
    spec: { from: 'x@blocked.example.net' },
    filter: 'all',
    reason: 'suppressed',
    detail: /sender domain/,
  },
  {
    name: 'a message from a subdomain of a suppressed domain is suppressed',
    spec: { from: 'x@mail.blocked.example.net' },
    filter: 'all',
    reason: 'suppressed',
  },
  {
    name: 'a correlated reply from a suppressed sender is still suppressed',
    spec: { from: 'spam@example.com', headers: [`In-Reply-To: ${OUTBOUND_MESSAGE_ID}`] },
    reason: 'suppressed',
  },
  {
    name: 'the routed mailbox itself is never suppressed by a domain suppression',
    spec: { from: 'alice@contoso.example', to: 'alice@contoso.example' },
    filter: 'all',
    change: (i) => {
      i.deployments[0]?.suppressions.push('@contoso.example');
    },
    reason: 'tracked:all',
  },
  {
    name: 'a colleague at a suppressed internal domain is suppressed',
    spec: { from: 'bob@contoso.example' },
    filter: 'all',
    change: (i) => {
      i.deployments[0]?.suppressions.push('@contoso.example');
    },
    reason: 'suppressed',
  },
  {
    name: 'a delivery status notification is a bounce',
    spec: {
      from: 'MAILER-DAEMON@mx.contoso.example',
      contentType: 'multipart/report; report-type=delivery-status; boundary="b"',
      body: '--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b--\r\n',
    },
    filter: 'all',
    reason: 'bounce',
    detail: /RFC 3464/,
  },
  {
    name: 'a message from postmaster is a bounce',
    spec: { from: 'postmaster@example.net', subject: 'Returned mail' },
    filter: 'all',
    reason: 'bounce',
  },
  {
    name: 'a message with X-Failed-Recipients is a bounce',
    spec: { from: 'exim@example.net', headers: ['X-Failed-Recipients: nobody@example.net'] },
    filter: 'all',
    reason: 'bounce',
  },
  {
    name: 'a null Return-Path with an undeliverable subject is a bounce',
    spec: { from: 'system@example.net', subject: 'Undeliverable: Quote', headers: ['Return-Path: <>'] },
    filter: 'all',
    reason: 'bounce',
  },
  {
    name: 'a bounce of a registered outbound message is still a bounce',
    spec: {
      from: 'mailer-daemon@example.net',
      headers: [`In-Reply-To: ${OUTBOUND_MESSAGE_ID}`],
    },
    reason: 'bounce',
  },
  {
    name: 'Auto-Submitted: auto-replied marks an auto-reply (RFC 3834)',
    spec: { headers: ['Auto-Submitted: auto-replied'], subject: 'Out of office' },
    filter: 'all',
    reason: 'auto-reply',
    detail: /RFC 3834/,
  },
  {
    name: 'Auto-Submitted: auto-generated marks an auto-reply',
    spec: { headers: ['Auto-Submitted: auto-generated'] },
    filter: 'all',
    reason: 'auto-reply',
  },
  {
    name: 'Auto-Submitted: no is an ordinary message',
    spec: { headers: ['Auto-Submitted: no'] },
    filter: 'all',
    reason: 'tracked:all',
  },
  {
    name: 'Precedence: auto_reply marks an auto-reply',
    spec: { headers: ['Precedence: auto_reply'] },
    filter: 'all',
    reason: 'auto-reply',
  },
  {
    name: 'X-Autoreply marks an auto-reply',
    spec: { headers: ['X-Autoreply: yes'] },
    filter: 'all',
    reason: 'auto-reply',
  },
  {
    name: 'an Exchange automatic reply without Auto-Submitted is recognised by subject and X-Auto-Response-Suppress',
    spec: { headers: ['X-Auto-Response-Suppress: All'], subject: 'Automatic reply: Quote' },
    filter: 'all',
    reason: 'auto-reply',
  },
  {
    name: 'X-Auto-Response-Suppress on an ordinary subject does not make an auto-reply',
    spec: { headers: ['X-Auto-Response-Suppress: All'], subject: 'Quote' },
    filter: 'all',
    reason: 'tracked:all',
  },
  {
    name: 'a read receipt (disposition notification) is an auto-reply',
    spec: {
      contentType: 'multipart/report; report-type=disposition-notification; boundary="m"',
      body: '--m\r\nContent-Type: text/plain\r\n\r\nread\r\n--m--\r\n',
    },
    filter: 'all',
    reason: 'auto-reply',
  },
  {
    name: 'Precedence: bulk is bulk',
    spec: { headers: ['Precedence: bulk'] },
    filter: 'all',
    reason: 'bulk',
  },
  {
    name: 'Precedence: junk is bulk',
    spec: { headers: ['Precedence: junk'] },
    filter: 'all',
    reason: 'bulk',
  },
  {
    name: 'Precedence: list is bulk',
    spec: { headers: ['Precedence: list'] },
    filter: 'all',
    reason: 'bulk',
  },
  {
    name: 'a List-Id marks mailing-list mail as bulk',
    spec: { headers: ['List-Id: <news.lists.example.org>'] },
    filter: 'all',
    reason: 'bulk',
    detail: /RFC 2919/,
  },
  {
    name: 'a List-Unsubscribe marks bulk mail',
    spec: { headers: ['List-Unsubscribe: <https://example.com/u>'] },
    filter: 'all',
    reason: 'bulk',
  },
  {
    name: 'an X-Loop naming the forwarding mailbox is a loop',
    spec: { headers: ['X-Loop: alice@contoso.example'] },
    filter: 'all',
    reason: 'loop',
  },
  {
    name: 'an X-Loop naming something else is not a loop',
    spec: { headers: ['X-Loop: helpdesk@example.net'] },
    filter: 'all',
    reason: 'tracked:all',
  },
  {
    name: 'a message seen three times from the same mailbox within ten minutes is a loop',
    spec: {},
    filter: 'all',
    options: {},
    reason: 'loop',
    detail: /3 identical/,
  },
  {
    name: 'manual promotion tracks mail even when region rules are disabled',
    spec: {},
    filter: 'none',
    change: (i) => {
      i.rulesEnabled = false;
    },
    options: { promoted: true },
    reason: 'tracked:promoted',
  },
  {
    name: 'manual promotion never overrides suppression',
    spec: { from: 'spam@example.com' },
    options: { promoted: true },
    reason: 'suppressed',
  },
  {
    name: 'manual promotion tracks automated mail the user chose to keep',
    spec: { headers: ['Precedence: bulk'] },
    filter: 'responses',
    options: { promoted: true },
    reason: 'tracked:promoted',
  },
  {
    name: 'filter mode none tracks nothing',
    spec: {},
    filter: 'none',
    reason: 'filter:none',
  },
  {
    name: 'filter mode all tracks an unrelated message',
    spec: { from: 'stranger@example.net' },
    filter: 'all',
    reason: 'tracked:all',
  },
  {
    name: 'filter mode responses tosses an unrelated message',
    spec: { from: 'stranger@example.net' },
    filter: 'responses',
    reason: 'filter:no-correlation',
  },
  {
    name: 'filter mode records tracks mail from a contact',
    spec: { from: 'carol@example.org' },
    filter: 'records',
    reason: 'tracked:sender-record',
  },
  {
    name: 'filter mode records tracks mail from an account even when it is not email-enabled',
    spec: { from: 'erin@example.com' },
    filter: 'records',
    reason: 'tracked:sender-record',
  },
  {
    name: 'filter mode records does not count CRM users as records',
    spec: { from: 'bob@contoso.example' },
    filter: 'records',
    reason: 'filter:no-record-match',
  },
  {
    name: 'filter mode records tracks mail to a lead in Cc when the sender is unknown',
    spec: { from: 'stranger@example.net', cc: 'Dave <dave@example.net>' },
    filter: 'records',
    reason: 'tracked:recipient-record',
  },
  {
    name: 'filter mode records tosses mail where nobody is a record',
    spec: { from: 'stranger@example.net', cc: 'other@example.net' },
    filter: 'records',
    reason: 'filter:no-record-match',
  },
  {
    name: 'filter mode email-enabled tracks mail from an email-enabled CRM user',
    spec: { from: 'bob@contoso.example' },
    filter: 'email-enabled',
    reason: 'tracked:sender-record',
    detail: /email-enabled/,
  },
  {
    name: 'filter mode email-enabled ignores a record whose e-mail is disabled',
    spec: { from: 'erin@example.com' },
    filter: 'email-enabled',
    reason: 'filter:no-record-match',
  },
  {
    name: 'filter mode email-enabled does not count the routed mailbox itself as a recipient record',
    spec: { from: 'stranger@example.net', to: 'alice@contoso.example' },
    filter: 'email-enabled',
    reason: 'filter:no-record-match',
  },
  {
    name: "filter mode email-enabled: a colleague (CRM user) in To does not make a stranger's mail trackable",
    spec: { from: 'stranger@example.net', to: 'alice@contoso.example, bob@contoso.example' },
    filter: 'email-enabled',
    reason: 'filter:no-record-match',
  },
  {
    name: 'filter mode email-enabled: a colleague in Cc does not count either, a contact beside them does',
    spec: { from: 'stranger@example.net', cc: 'bob@contoso.example, carol@example.org' },
    filter: 'email-enabled',
    reason: 'tracked:recipient-record',
  },
  {
    name: 'filter mode email-enabled tracks mail with an email-enabled contact in To',
    spec: { from: 'stranger@example.net', to: 'alice@contoso.example, carol@example.org' },
    filter: 'email-enabled',
    reason: 'tracked:recipient-record',
  },
  {
    name: 'smart matching needs two shared participants',
    spec: { from: 'carol@example.org', to: 'alice@contoso.example', subject: 'RE: Quote for 40 licences' },
    reason: 'filter:no-correlation',
  },
  {
    name: 'smart matching is off unless the deployment enables it',
    spec: {
      from: 'carol@example.org',
      cc: 'procurement@example.org',
      subject: 'RE: Quote for 40 licences',
    },
    change: (i) => {
      (i.deployments[0] as SnapshotInput['deployments'][number]).smartMatch = false;
    },
    reason: 'filter:no-correlation',
  },
  {
    name: "another deployment's tracking token does not correlate",
    spec: { subject: 'Re: Quote  CRM:10001001' },
    reason: 'filter:no-correlation',
  },
];

const correlated: Array<{ method: string; spec: MailSpec; reason: ReasonCode }> = [
  {
    method: 'In-Reply-To',
    spec: { headers: [`In-Reply-To: ${OUTBOUND_MESSAGE_ID}`] },
    reason: 'tracked:in-reply-to',
  },
  {
    method: 'References',
    spec: { headers: [`References: <other@example.org> ${OUTBOUND_MESSAGE_ID.toUpperCase()}`] },
    reason: 'tracked:in-reply-to',
  },
  { method: 'tracking token', spec: { subject: 'AW: Quote  CRM:0001001' }, reason: 'tracked:token' },
  {
    method: 'Thread-Index',
    spec: { headers: [`Thread-Index: ${REPLY_THREAD_INDEX}`] },
    reason: 'tracked:thread-index',
  },
  {
    method: 'smart match',
    spec: { from: 'carol@example.org', cc: 'procurement@example.org', subject: 'RE: Quote for 40 licences' },
    reason: 'tracked:smart-match',
  },
];

describe('classify: each outcome', () => {
  test.each(cases)('$name', ({ spec, filter, change, options, reason, detail, name }) => {
    let opts = options ?? {};
    if (name.includes('seen three times')) {
      const facts = readMessageFacts(mail(spec), EDGE);
      opts = {
        loopHistory: history({
          [loopKey(aliceHash, facts.fingerprint)]: [NOW - 60_000, NOW - 30_000, NOW - 1000],
        }),
      };
    }
    const d = decide(spec, filter, change, opts);
    seenReasons.add(d.reason);
    expect(d.reason).toBe(reason);
    expect(d.crmBound).toBe(reason.startsWith('tracked:'));
    if (detail) expect(d.detail).toMatch(detail);
  });
});

describe('classify: every filter mode × correlation method', () => {
  const table = FILTER_MODES.flatMap((mode) => correlated.map((c) => ({ mode, ...c })));
  test.each(table)('a reply correlating by $method under filter mode $mode', ({ mode, spec, reason }) => {
    const d = decide({ from: 'stranger@example.net', ...spec }, mode);
    const expected = mode === 'none' ? 'filter:none' : reason;
    seenReasons.add(d.reason);
    expect(d.reason).toBe(expected);
    expect(d.crmBound).toBe(mode !== 'none');
    if (mode !== 'none') expect(d.targets[0]?.correlation?.method).toBe(reason.slice('tracked:'.length));
  });
});

describe('classify: loops, details, targets', () => {
  test('two earlier sightings are below the default threshold of three', () => {
    const facts = readMessageFacts(mail(), EDGE);
    const loopHistory = history({ [loopKey(aliceHash, facts.fingerprint)]: [NOW - 2000, NOW - 1000] });
    expect(classify(facts, contosoSnapshot('all'), { now: NOW, loopHistory }).reason).toBe('tracked:all');
  });

  test('sightings older than the window do not count', () => {
    const facts = readMessageFacts(mail(), EDGE);
    const old = NOW - 11 * 60_000;
    const loopHistory = history({
      [loopKey(aliceHash, facts.fingerprint)]: [old, old + 1, old + 2, old + 3],
    });
    expect(classify(facts, contosoSnapshot('all'), { now: NOW, loopHistory }).reason).toBe('tracked:all');
  });

  test('the loop threshold and window are options', () => {
    const facts = readMessageFacts(mail(), EDGE);
    const loopHistory = history({ [loopKey(aliceHash, facts.fingerprint)]: [NOW - 5000] });
    const d = classify(facts, contosoSnapshot('all'), {
      now: NOW,
      loopHistory,
      loopThreshold: 1,
      loopWindowMs: 10_000,
    });
    expect(d.reason).toBe('loop');
  });

  test('the decision lists one loop key per matched mailbox, to be recorded by the caller', () => {
    const facts = readMessageFacts(mail(), EDGE);
    const d = classify(facts, contosoSnapshot('all'), { now: NOW });
    expect(d.loopKeys).toEqual([loopKey(aliceHash, facts.fingerprint)]);
  });

  test('the decision carries the keyed hashes of the Message-ID and the mailbox, never plain values', () => {
    const d = decide({ messageId: 'Msg-1@Example.org', headers: [`In-Reply-To: ${OUTBOUND_MESSAGE_ID}`] });
    expect(d.messageIdHash).toBe(keyedHash(HASH_KEY, 'msg-1@example.org'));
    expect(d.mailboxHash).toBe(aliceHash);
    expect(d.deployment).toBe('contoso');
  });

  test('a tracking token is reported on the target even when In-Reply-To decided', () => {
    const d = decide({ subject: 'RE: Quote  CRM:0001001', headers: [`In-Reply-To: ${OUTBOUND_MESSAGE_ID}`] });
    expect(d.reason).toBe('tracked:in-reply-to');
    expect(d.targets[0]?.trackingToken).toBe('CRM:0001001');
    expect(d.detail).toBe('In-Reply-To matches a registered outbound message');
  });

  test('details name the method, never the addresses or the subject of the message', () => {
    const secretSubject = 'Merger with Fabrikam';
    for (const mode of FILTER_MODES) {
      for (const spec of [
        { from: 'carol@example.org', subject: secretSubject },
        { from: 'stranger@example.net', cc: 'dave@example.net', subject: secretSubject },
        { from: 'spam@example.com', subject: secretSubject },
        { headers: ['Precedence: bulk'], subject: secretSubject },
      ]) {
        const d = decide(spec, mode);
        for (const text of [d.detail, ...d.targets.map((t) => t.detail)]) {
          expect(text).not.toMatch(/carol|stranger|dave|spam@|Fabrikam/i);
        }
      }
    }
  });

  test('mailboxes of one deployment that disagree: the most permissive mode wins and the detail says whose', () => {
    const facts = readMessageFacts(
      mail({ from: 'stranger@example.net', to: 'alice@contoso.example, bob@contoso.example' }),
      EDGE,
    );
    const snapshot = contosoSnapshot('responses', (i) => {
      i.mailboxes.push({
        address: 'bob@contoso.example',
        deployment: 'contoso',
        userId: 'u-bob',
        filter: 'all',
      });
    });
    const d = classify(facts, snapshot, { now: NOW });
    expect(d.reason).toBe('tracked:all');
    expect(d.targets).toHaveLength(1);
    expect(d.targets[0]?.mailboxes.map((m) => m.address)).toEqual([
      'alice@contoso.example',
      'bob@contoso.example',
    ]);
    expect(d.detail).toMatch(/most permissive mode, all of bob@contoso\.example/);
  });

  test('mailboxes of two deployments give one target each; the CRM-bound one is reported', () => {
    const facts = readMessageFacts(
      mail({ from: 'stranger@example.net', to: 'alice@contoso.example', cc: 'zoe@fabrikam.example' }),
      EDGE,
    );
    const snapshot = contosoSnapshot('responses', (i) => {
      const base = i.deployments[0] as SnapshotInput['deployments'][number];
      i.deployments.push({ ...base, id: 'fabrikam', records: [], outbound: [], suppressions: [] });
      i.mailboxes.push({
        address: 'zoe@fabrikam.example',
        deployment: 'fabrikam',
        userId: 'u-zoe',
        filter: 'all',
      });
    });
    const d = classify(facts, snapshot, { now: NOW });
    expect(d.targets.map((t) => [t.deployment, t.reason])).toEqual([
      ['contoso', 'filter:no-correlation'],
      ['fabrikam', 'tracked:all'],
    ]);
    expect(d.crmBound).toBe(true);
    expect(d.reason).toBe('tracked:all');
    expect(d.deployment).toBe('fabrikam');
    expect(d.mailboxHash).toBe(keyedHash(HASH_KEY, 'zoe@fabrikam.example'));
  });

  test('a toss for disabled region rules still names the forwarding mailbox for the receipt', () => {
    const d = decide({}, 'all', (i) => {
      i.rulesEnabled = false;
    });
    expect(d).toMatchObject({
      reason: 'region-rules-disabled',
      mailboxHash: aliceHash,
      deployment: 'contoso',
      targets: [],
    });
  });

  test('a promotion may name its mailbox through the envelope alone', () => {
    const facts = readMessageFacts(mail({ to: 'someone@example.net' }), { to: 'alice@contoso.example' });
    const d = classify(facts, contosoSnapshot('none'), { now: NOW, promoted: true });
    expect(d).toMatchObject({ reason: 'tracked:promoted', mailboxHash: aliceHash });
    expect(classify(facts, contosoSnapshot('all'), { now: NOW }).reason).toBe('no-route');
  });

  test('promotion reports the correlation it found for the regarding link', () => {
    const d = decide({ headers: [`In-Reply-To: ${OUTBOUND_MESSAGE_ID}`] }, 'none', undefined, {
      promoted: true,
    });
    expect(d.reason).toBe('tracked:promoted');
    expect(d.targets[0]?.correlation?.method).toBe('in-reply-to');
  });

  test('malformed facts are tossed as malformed before anything else', () => {
    const raw = new Uint8Array(300 * 1024).fill(0x41);
    const facts = readMessageFacts(raw, EDGE);
    const d = classify(facts, contosoSnapshot('all'), { now: NOW });
    seenReasons.add(d.reason);
    expect(d.reason).toBe('malformed');
    expect(d.detail).toMatch(/header block exceeds 262144 bytes/);
  });

  test('an exception inside the classifier becomes malformed with its text', () => {
    const facts = readMessageFacts(mail(), EDGE);
    const broken = { ...contosoSnapshot('all'), hashKey: 'not-a-key' } as RoutingSnapshot;
    const d = classify(facts, broken, { now: NOW });
    expect(d.reason).toBe('malformed');
    expect(d.detail).toMatch(/hash key/);
    expect(() => classify(null as unknown as MessageFacts, broken, { now: NOW })).not.toThrow();
  });

  test('the empty snapshot routes nothing', () => {
    const d = classify(readMessageFacts(mail(), EDGE), emptySnapshot('eu'), { now: NOW });
    expect(d).toMatchObject({ crmBound: false, reason: 'no-route', targets: [] });
  });

  test('every reason code the edge can produce is covered by these tables', () => {
    const edgeReasons = [...TRACKED_REASONS, ...TOSSED_REASONS].filter(
      (r) => r !== 'duplicate' && r !== 'record-false-positive',
    );
    expect(edgeReasons.filter((r) => !seenReasons.has(r))).toEqual([]);
  });
});

describe('smart match with tracking tokens on', () => {
  const withTokenedOutbound = (input: SnapshotInput) => {
    // Central registers the outbound subject as it is sent: with the token appended.
    (input.deployments[0] as SnapshotInput['deployments'][number]).outbound[0]!.subject =
      'Quote for 40 licences  CRM:0001001';
  };

  test('an Outlook reply that dropped the token matches the outbound subject registered with it', () => {
    const facts = readMessageFacts(fixture('outlook-reply-token-dropped.eml'), EDGE);
    const d = classify(facts, contosoSnapshot('responses', withTokenedOutbound), { now: NOW });
    expect(d.reason).toBe('tracked:smart-match');
    expect(d.targets[0]?.correlation?.method).toBe('smart-match');
  });

  test('the same reply to an outbound mail with another subject is not smart-matched', () => {
    const facts = readMessageFacts(fixture('outlook-reply-token-dropped.eml'), EDGE);
    const d = classify(
      facts,
      contosoSnapshot('responses', (i) => {
        (i.deployments[0] as SnapshotInput['deployments'][number]).outbound[0]!.subject =
          'Quote for 50 licences  CRM:0001001';
      }),
      { now: NOW },
    );
    expect(d.reason).toBe('filter:no-correlation');
  });
});
