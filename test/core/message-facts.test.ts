import { describe, expect, test } from 'vitest';
import { classify, isRoutedMailbox } from '../../src/core/classify.js';
import { MAX_MESSAGE_HEADER_BYTES } from '../../src/core/headers.js';
import { type MessageFacts, readForwardedMessages, readMessageFacts } from '../../src/core/message-facts.js';
import type { FilterMode, ReasonCode } from '../../src/core/types.js';
import { contosoSnapshot } from './contoso-snapshot.js';
import { fixture, mail } from './mail-builder.js';

const EDGE = { from: 'relay@contoso.example', to: 'crm@us.edge.localhost' };
const NOW = 1_710_300_000_000;
/** As the edge reads mail: alice@contoso.example is a routed (forwarding) mailbox. */
const ROUTED = { isForwardingMailbox: (a: string) => a === 'alice@contoso.example' };
/** A forward-as-attachment as it reaches the edge: sent by the forwarder's own server, as her. */
const SENT_BY_ALICE = { from: 'alice@contoso.example', to: 'crm@us.edge.localhost' };

describe('message facts from real-world shapes', () => {
  test('an Outlook reply: addresses, ids, Thread-Index, date', () => {
    const f = readMessageFacts(fixture('outlook-reply.eml'), EDGE);
    expect(f.malformed).toBeUndefined();
    expect(f.problems).toEqual([]);
    expect(f.from).toEqual({ address: 'carol@example.org', name: 'Carol Customer' });
    expect(f.to).toEqual([{ address: 'alice@contoso.example', name: 'Alice Adams' }]);
    expect(f.cc).toEqual([{ address: 'procurement@example.org', name: 'Procurement, Example Org' }]);
    expect(f.subject).toBe('RE: Quote for 40 licences');
    expect(f.messageId).toBe(
      'am0pr07mb4531c0a8e2b1d0f6e4a7b9c2a1234@am0pr07mb4531.eurprd07.prod.outlook.example.org',
    );
    expect(f.inReplyTo).toEqual(['out-1001@crm.contoso.example']);
    expect(f.references).toEqual(['out-1001@crm.contoso.example']);
    expect(f.threadIndex).toBe('Ado/XI4hah8MPpstTI+OGis8TV5vcAAAEjRW');
    expect(f.contentType).toBe('multipart/alternative');
    expect(f.date).toBe(Date.UTC(2024, 2, 12, 9, 14, 58));
    expect(f.forwarding).toEqual([
      { address: 'alice@contoso.example', via: 'delivered-to' },
      { address: 'crm@us.edge.localhost', via: 'envelope' },
    ]);
    expect(f.forwardedAsAttachment).toBe(false);
  });

  test('a Gmail auto-forward names the forwarding account in X-Forwarded-For', () => {
    const f = readMessageFacts(fixture('gmail-auto-forward.eml'), EDGE);
    expect(f.forwarding.slice(0, 2)).toEqual([
      { address: 'crm@us.edge.localhost', via: 'x-forwarded-to' },
      { address: 'alice@contoso.example', via: 'x-forwarded-for' },
    ]);
    expect(f.returnPath).toBe('dave@example.net');
  });

  test('a Thunderbird redirect names the mailbox in Resent-From', () => {
    const f = readMessageFacts(fixture('thunderbird-redirect-token.eml'), EDGE);
    expect(f.forwarding).toEqual([
      { address: 'crm@us.edge.localhost', via: 'resent-to' },
      { address: 'alice@contoso.example', via: 'resent-from' },
    ]);
    expect(f.subject).toBe('Re: Quote  CRM:0001001');
  });

  test('an Exchange forward-as-attachment yields the wrapped message as the original', () => {
    const f = readMessageFacts(fixture('exchange-forward-as-attachment.eml'), SENT_BY_ALICE, ROUTED);
    expect(f.forwardedAsAttachment).toBe(true);
    expect(f.subject).toBe('RE: Contract renewal');
    expect(f.from?.address).toBe('carol@example.org');
    expect(f.to.map((a) => a.address)).toEqual(['alice@contoso.example']);
    expect(f.cc.map((a) => a.address)).toEqual(['dave@example.net']);
    expect(f.messageId).toBe('am0pr07mb4531feedbeef@am0pr07mb4531.eurprd07.prod.outlook.example.org');
    expect(f.inReplyTo).toEqual(['unrelated-thread@example.org']);
    expect(f.threadIndex).toBe('Ado/XI4hah8MPpstTI+OGis8TV5vcAAAEjRW');
    expect(f.contentType).toBe('text/plain');
    expect(f.forwarding[0]).toEqual({ address: 'alice@contoso.example', via: 'forward-as-attachment' });
  });

  test('a message that merely carries somebody else’s .eml keeps its own headers', () => {
    const raw = new TextEncoder().encode(
      [
        'From: Mallory <mallory@example.net>',
        'To: alice@contoso.example',
        'Subject: Look at this old mail',
        'Message-ID: <carrier@example.net>',
        'Content-Type: multipart/mixed; boundary="x"',
        '',
        '--x',
        'Content-Type: text/plain',
        '',
        'see attached',
        '--x',
        'Content-Type: message/rfc822',
        '',
        'From: Somebody <somebody@example.org>',
        'To: someone-else@example.org',
        'Subject: Totally different',
        '',
        'body',
        '--x--',
        '',
      ].join('\r\n'),
    );
    const f = readMessageFacts(raw, EDGE);
    expect(f.forwardedAsAttachment).toBe(false);
    expect(f.subject).toBe('Look at this old mail');
    expect(f.messageId).toBe('carrier@example.net');
  });

  test('a base64-encoded message/rfc822 part is still read (header-sized window only)', () => {
    const inner =
      'From: Carol <carol@example.org>\r\nTo: alice@contoso.example\r\nSubject: Inner\r\nMessage-ID: <inner@example.org>\r\n\r\nbody\r\n';
    const b64 = Buffer.from(inner).toString('base64').replace(/.{76}/g, '$&\r\n');
    const raw = new TextEncoder().encode(
      `From: alice@contoso.example\r\nTo: crm@us.edge.localhost\r\nSubject: Fw: Inner\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n--b--\r\n`,
    );
    const f = readMessageFacts(raw, SENT_BY_ALICE, ROUTED);
    expect(f.forwardedAsAttachment).toBe(true);
    expect(f.messageId).toBe('inner@example.org');
    expect(f.forwarding[0]).toEqual({ address: 'alice@contoso.example', via: 'forward-as-attachment' });
  });

  test('an Exchange redirect rule names the mailbox in X-MS-Exchange-Inbox-Rules-Loop', () => {
    const f = readMessageFacts(fixture('exchange-redirect-rule.eml'), EDGE);
    expect(f.to.map((a) => a.address)).toEqual(['sales@contoso.example']);
    expect(f.forwarding[0]).toEqual({
      address: 'alice@contoso.example',
      via: 'x-ms-exchange-inbox-rules-loop',
    });
  });

  test('Postfix delivery with bare LF line endings: Delivered-To and X-Original-To', () => {
    const f = readMessageFacts(fixture('postfix-delivered-to.eml'), {});
    expect(f.forwarding).toEqual([{ address: 'alice@contoso.example', via: 'delivered-to' }]);
    expect(f.subject).toBe('Lunch next week?');
    expect(f.date).toBe(Date.UTC(2024, 2, 16, 10, 20, 29));
  });

  test.each([
    ['dsn-postfix.eml', 'mailer-daemon@mx.contoso.example', ''],
    ['dsn-exchange.eml', 'microsoftexchange329e71ec88ae4615bbc36ab6ce41109e@contoso.example', undefined],
    ['dsn-gmail.eml', 'mailer-daemon@googlemail.example.com', ''],
  ])('the bounce %s is a delivery-status report', (name, from, returnPath) => {
    const f = readMessageFacts(fixture(name), EDGE);
    expect(f.contentType).toBe('multipart/report');
    expect(f.reportType).toBe('delivery-status');
    expect(f.from?.address).toBe(from);
    expect(f.returnPath).toBe(returnPath);
  });

  test('an ISO-2022-JP subject split over two encoded words decodes, token included', () => {
    const f = readMessageFacts(fixture('japanese-iso-2022-jp.eml'), EDGE);
    expect(f.subject).toBe('Re: 見積もりのご依頼について CRM:0001001');
    expect(f.from).toEqual({ address: 'yamada@example.co.jp', name: '山田太郎' });
  });

  test('a UTF-8 subject split inside a character across encoded words decodes whole', () => {
    const f = readMessageFacts(fixture('japanese-utf8-split.eml'), EDGE);
    expect(f.subject).toBe('Re: お見積もり ありがとうございます');
  });

  test('a KOI8-R subject and display name decode', () => {
    const f = readMessageFacts(fixture('cyrillic-koi8-r.eml'), EDGE);
    expect(f.subject).toBe('Отв: Коммерческое предложение');
    expect(f.from?.name).toBe('Иван Петров');
  });

  test('an ISO-8859-1 Q-encoded subject and a raw 8-bit Latin-1 display name decode', () => {
    const f = readMessageFacts(fixture('latin1-subject.eml'), EDGE);
    expect(f.subject).toBe('Réunion de projet à Zürich');
    expect(f.from).toEqual({ address: 'renee@example.fr', name: 'Renée Dupré' });
  });

  test('a broken MIME boundary is a problem, not a malformed message', () => {
    const f = readMessageFacts(fixture('broken-boundary.eml'), EDGE);
    expect(f.malformed).toBeUndefined();
    expect(f.problems.some((p) => p.startsWith('broken MIME boundary'))).toBe(true);
  });

  test('a missing Message-ID is a problem, not a malformed message', () => {
    const f = readMessageFacts(fixture('missing-message-id.eml'), EDGE);
    expect(f.malformed).toBeUndefined();
    expect(f.messageId).toBeUndefined();
    expect(f.problems).toContain('missing Message-ID');
  });

  test('a 200 KB header block is read; one beyond 256 KiB is malformed', () => {
    const received = (i: number) =>
      `Received: from relay${i}.example.net (relay${i}.example.net [198.51.100.${i % 250}]) by mx.example.com with ESMTPS id ${'x'.repeat(40)}; Tue, 12 Mar 2024 09:15:02 +0000\r\n`;
    const build = (bytes: number) => {
      let h = '';
      for (let i = 0; h.length < bytes; i++) h += received(i);
      return new TextEncoder().encode(
        `${h}From: carol@example.org\r\nTo: alice@contoso.example\r\nSubject: big\r\n\r\nbody\r\n`,
      );
    };
    const ok = readMessageFacts(build(200 * 1024), EDGE);
    expect(ok.malformed).toBeUndefined();
    expect(ok.headerBytes).toBeGreaterThan(200 * 1024);
    expect(ok.subject).toBe('big');
    const big = readMessageFacts(build(300 * 1024), EDGE);
    expect(big.malformed).toBe('header block exceeds 262144 bytes');
    expect(readMessageFacts(build(100 * 1024), EDGE, { maxHeaderBytes: 64 * 1024 }).malformed).toBe(
      'header block exceeds 65536 bytes',
    );
  });

  test('a boundary over 70 characters (RFC 2046 §5.1.1) is malformed; 70 is read', () => {
    const multipart = (boundary: string) =>
      mail({
        contentType: `multipart/mixed; boundary="${boundary}"`,
        body: `--${boundary}\r\nContent-Type: text/plain\r\n\r\nhello\r\n--${boundary}--\r\n`,
      });
    const ok = readMessageFacts(multipart('b'.repeat(70)), EDGE);
    expect(ok.malformed).toBeUndefined();
    expect(ok.problems).toEqual([]);
    const long = readMessageFacts(multipart('b'.repeat(71)), EDGE);
    expect(long.malformed).toBe('MIME boundary of 71 characters (RFC 2046 allows 70)');
    // RFC 2231 continuations build the parameter too.
    const continued = readMessageFacts(
      mail({
        contentType: `multipart/alternative; boundary*0="${'c'.repeat(40)}"; boundary*1="${'c'.repeat(40)}"`,
      }),
      EDGE,
    );
    expect(continued.malformed).toBe('MIME boundary of 80 characters (RFC 2046 allows 70)');
    const decision = classify(long, contosoSnapshot('all'), { now: NOW });
    expect(decision.reason).toBe('malformed');
    expect(decision.crmBound).toBe(false);
  });

  test('a wrapped message whose own boundary is over 70 characters is malformed, its siblings are not', () => {
    const wrapped = (subject: string, contentType: string) =>
      `Content-Type: message/rfc822\r\n\r\nFrom: carol@example.org\r\nTo: alice@contoso.example\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@example.org>\r\nContent-Type: ${contentType}\r\n\r\nbody\r\n`;
    const raw = mail({
      from: 'Alice Adams <alice@contoso.example>',
      to: 'crm@us.edge.localhost',
      contentType: 'multipart/mixed; boundary=fwd',
      body: `--fwd\r\n${wrapped('one', `multipart/mixed; boundary="${'x'.repeat(3000)}"`)}--fwd\r\n${wrapped('two', 'text/plain')}--fwd--\r\n`,
    });
    const [one, two] = readForwardedMessages(raw, SENT_BY_ALICE, ROUTED);
    expect(one?.malformed).toBe('MIME boundary of 3000 characters (RFC 2046 allows 70)');
    expect(two?.malformed).toBeUndefined();
    expect(two?.subject).toBe('two');
  });

  test('one header budget for the whole message: 50 wrapped 60 KiB header blocks are malformed, 50 of 15 KiB are read', () => {
    const header = (i: number, bytes: number) => {
      const lines = [
        `From: carol@example.org`,
        `To: alice@contoso.example`,
        `Subject: wrapped ${i}`,
        `Message-ID: <w${i}@example.org>`,
      ];
      const filler = `X-Filler: ${'f'.repeat(70)}`;
      while (lines.join('\r\n').length < bytes) lines.push(filler);
      return lines.join('\r\n');
    };
    const forward = (headerBytes: number, encoding?: 'base64') =>
      mail({
        from: 'Alice Adams <alice@contoso.example>',
        to: 'crm@us.edge.localhost',
        contentType: 'multipart/mixed; boundary=fwd',
        body: `${Array.from({ length: 50 }, (_, i) => {
          const inner = `${header(i, headerBytes)}\r\n\r\nbody ${i}\r\n`;
          return encoding
            ? `--fwd\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n${Buffer.from(inner).toString('base64').replace(/.{76}/g, '$&\r\n')}\r\n`
            : `--fwd\r\nContent-Type: message/rfc822\r\n\r\n${inner}`;
        }).join('')}--fwd--\r\n`,
      });
    for (const encoding of [undefined, 'base64'] as const) {
      const fits = readForwardedMessages(forward(15 * 1024, encoding), SENT_BY_ALICE, ROUTED);
      expect(fits).toHaveLength(50);
      expect(fits.every((f) => f.malformed === undefined)).toBe(true);
      expect(fits[49]?.subject).toBe('wrapped 49');
      const over = readForwardedMessages(forward(60 * 1024, encoding), SENT_BY_ALICE, ROUTED);
      expect(over).toHaveLength(1);
      expect(over[0]?.malformed).toBe(
        `the header blocks of the message and its wrapped messages exceed ${MAX_MESSAGE_HEADER_BYTES} bytes`,
      );
      expect(classify(over[0] as MessageFacts, contosoSnapshot('all'), { now: NOW }).reason).toBe(
        'malformed',
      );
    }
  });

  test('the outer From and trace headers count once per wrapped message against the header budget', () => {
    const forward = (traceBytes: number, wrappedCount: number) =>
      mail({
        from: 'Alice Adams <alice@contoso.example>',
        to: 'crm@us.edge.localhost',
        headers: [`X-Forwarded-To: ${'<someone@example.net>, '.repeat(Math.ceil(traceBytes / 23))}`],
        contentType: 'multipart/mixed; boundary=fwd',
        body: `${Array.from(
          { length: wrappedCount },
          (_, i) =>
            `--fwd\r\nContent-Type: message/rfc822\r\n\r\nFrom: carol@example.org\r\nSubject: w${i}\r\nMessage-ID: <w${i}@example.org>\r\n\r\nbody\r\n`,
        ).join('')}--fwd--\r\n`,
      });
    // 200 KB of trace headers read 4 times fits in 1 MiB; read 6 times it does not.
    expect(readForwardedMessages(forward(200_000, 4), SENT_BY_ALICE, ROUTED).map((f) => f.malformed)).toEqual(
      [undefined, undefined, undefined, undefined],
    );
    const over = readForwardedMessages(forward(200_000, 6), SENT_BY_ALICE, ROUTED);
    expect(over.map((f) => f.malformed)).toEqual([
      `the header blocks of the message and its wrapped messages exceed ${MAX_MESSAGE_HEADER_BYTES} bytes`,
    ]);
  });

  test('binary garbage and empty input are malformed, never thrown', () => {
    const garbage = new Uint8Array(64 * 1024);
    let s = 7;
    for (let i = 0; i < garbage.length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      garbage[i] = s >>> 24;
    }
    expect(readMessageFacts(garbage, EDGE).malformed).toBeDefined();
    expect(readMessageFacts(new Uint8Array(0), EDGE).malformed).toBe('empty message');
    expect(readMessageFacts(new TextEncoder().encode('\r\n\r\njust a body'), EDGE).malformed).toBe(
      'no header fields',
    );
  });

  test('headers without a body separator are fine', () => {
    const f = readMessageFacts(
      new TextEncoder().encode('From: carol@example.org\r\nSubject: only headers'),
      EDGE,
    );
    expect(f.malformed).toBeUndefined();
    expect(f.subject).toBe('only headers');
    expect(f.bodyBytes).toBe(0);
  });

  test('the fingerprint is shared by identical messages and differs when an attachment differs', () => {
    const a = readMessageFacts(mail({ body: `${'A'.repeat(20_000)}attachment-one` }), EDGE);
    const b = readMessageFacts(mail({ body: `${'A'.repeat(20_000)}attachment-one` }), EDGE);
    const c = readMessageFacts(mail({ body: `${'A'.repeat(20_000)}attachment-two` }), EDGE);
    expect(a.fingerprint).toBe(b.fingerprint);
    expect(a.fingerprint).not.toBe(c.fingerprint);
    // Trace headers added on the way do not change it: a loop keeps its fingerprint.
    const hop = readMessageFacts(
      mail({
        headers: ['Received: from relay.example.net by mx.example.com'],
        body: `${'A'.repeat(20_000)}attachment-one`,
      }),
      EDGE,
    );
    expect(hop.fingerprint).toBe(a.fingerprint);
  });
});

describe('fixtures classified against the contoso snapshot', () => {
  const table: Array<[string, FilterMode, ReasonCode]> = [
    ['outlook-reply.eml', 'responses', 'tracked:in-reply-to'],
    ['gmail-auto-forward.eml', 'responses', 'filter:no-correlation'],
    ['gmail-auto-forward.eml', 'records', 'tracked:sender-record'],
    ['thunderbird-redirect-token.eml', 'responses', 'tracked:token'],
    ['exchange-forward-as-attachment.eml', 'responses', 'tracked:thread-index'],
    ['postfix-delivered-to.eml', 'responses', 'filter:no-correlation'],
    ['postfix-delivered-to.eml', 'all', 'tracked:all'],
    ['postfix-delivered-to.eml', 'none', 'filter:none'],
    ['dsn-postfix.eml', 'all', 'bounce'],
    ['dsn-exchange.eml', 'all', 'bounce'],
    ['dsn-gmail.eml', 'all', 'bounce'],
    ['auto-reply-rfc3834.eml', 'all', 'auto-reply'],
    ['auto-reply-outlook-oof.eml', 'all', 'auto-reply'],
    ['read-receipt.eml', 'all', 'auto-reply'],
    ['list-mail.eml', 'all', 'bulk'],
    ['newsletter-bulk.eml', 'all', 'bulk'],
    ['japanese-iso-2022-jp.eml', 'responses', 'tracked:token'],
    ['japanese-utf8-split.eml', 'responses', 'filter:no-correlation'],
    ['cyrillic-koi8-r.eml', 'email-enabled', 'filter:no-record-match'],
    ['latin1-subject.eml', 'all', 'tracked:all'],
    ['broken-boundary.eml', 'all', 'tracked:all'],
    ['missing-message-id.eml', 'all', 'tracked:all'],
    ['x-loop.eml', 'responses', 'loop'],
    ['exchange-redirect-rule.eml', 'responses', 'tracked:thread-index'],
    ['outlook-two-forwarded-as-attachments.eml', 'records', 'tracked:sender-record'],
    ['gmail-two-forwarded-as-attachments.eml', 'records', 'tracked:sender-record'],
    ['thunderbird-forward-as-attachment-typed-subject.eml', 'records', 'tracked:sender-record'],
    ['apple-mail-forward-as-attachment.eml', 'records', 'tracked:sender-record'],
  ];
  test.each(table)('%s under filter mode %s is %s (every message it carries)', (name, mode, reason) => {
    const snapshot = contosoSnapshot(mode);
    // As the edge reads it: a forward-as-attachment is recognised by its routed sender.
    const messages = readForwardedMessages(
      fixture(name),
      name.includes('-as-attachment') ? SENT_BY_ALICE : EDGE,
      {
        isForwardingMailbox: (a) => isRoutedMailbox(snapshot, a),
      },
    );
    expect(messages.map((facts) => classify(facts, snapshot, { now: NOW }).reason)).toEqual(
      messages.map(() => reason),
    );
  });

  test('a message without Message-ID has no Message-ID hash', () => {
    const d = classify(readMessageFacts(fixture('missing-message-id.eml'), EDGE), contosoSnapshot('all'), {
      now: NOW,
    });
    expect(d.messageIdHash).toBeUndefined();
  });
});

describe('forward-as-attachment: what Outlook, Gmail, Thunderbird and Apple Mail send', () => {
  test('Outlook: two selected messages forwarded as attachments are two messages, in order', () => {
    const m = readForwardedMessages(
      fixture('outlook-two-forwarded-as-attachments.eml'),
      SENT_BY_ALICE,
      ROUTED,
    );
    expect(m.map((f) => f.messageId)).toEqual(['po-4711@mail.example.org', 'delivery-q@mta.example.net']);
    expect(m.map((f) => f.subject)).toEqual(['Purchase order 4711', 'Question about delivery dates']);
    expect(m.map((f) => f.wrappedIndex)).toEqual([0, 1]);
    expect(m.every((f) => f.forwarding[0]?.via === 'forward-as-attachment')).toBe(true);
    expect(m[0]!.fingerprint).not.toBe(m[1]!.fingerprint);
    // Each range covers its own wrapped message.
    const text = new TextDecoder().decode(fixture('outlook-two-forwarded-as-attachments.eml'));
    const [a, b] = m.map((f) => text.slice(f.wrappedRange![0], f.wrappedRange![1]));
    expect(a).toMatch(/^Received: from mail\.example\.org[\s\S]*Carol\s*$/);
    expect(b).toMatch(/^Received: from mta\.example\.net[\s\S]*Dave\s*$/);
  });

  test('Gmail: the wrapped messages follow a multipart/alternative part', () => {
    const m = readForwardedMessages(fixture('gmail-two-forwarded-as-attachments.eml'), SENT_BY_ALICE, ROUTED);
    expect(m.map((f) => f.messageId)).toEqual([
      'invoice-2024-031@billing.example.org',
      're-site-visit@mta.example.net',
    ]);
  });

  test('Thunderbird: a typed subject ("please log this") does not hide the forward', () => {
    const [f, ...rest] = readForwardedMessages(
      fixture('thunderbird-forward-as-attachment-typed-subject.eml'),
      SENT_BY_ALICE,
      ROUTED,
    );
    expect(rest).toEqual([]);
    expect(f).toMatchObject({
      forwardedAsAttachment: true,
      subject: 'Renewal terms',
      messageId: 'renewal-terms-2024@mail.example.org',
    });
    expect(f!.forwarding[0]).toEqual({ address: 'alice@contoso.example', via: 'forward-as-attachment' });
  });

  test('Apple Mail: Forward as Attachment with a typed subject', () => {
    const f = readMessageFacts(fixture('apple-mail-forward-as-attachment.eml'), SENT_BY_ALICE, ROUTED);
    expect(f).toMatchObject({ forwardedAsAttachment: true, subject: 'Re: Delivery schedule' });
    expect(f.inReplyTo).toEqual(['delivery-schedule@contoso.example']);
  });

  test('the same messages from a sender that is not a forwarding mailbox keep their own headers', () => {
    const f = readForwardedMessages(fixture('outlook-two-forwarded-as-attachments.eml'), SENT_BY_ALICE, {
      isForwardingMailbox: () => false,
    });
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ forwardedAsAttachment: false, subject: '' });
  });
});
