// Adversarial inputs for the core readers: what a hostile sender can put in a message to make the
// header-first phase burn CPU (issue 19, items 1–3). One implementation, used by the CPU budget
// suite (test/core/cpu-budget.test.ts) and by the benchmark (bench/cpu.ts, bench/results/cpu.json).
// Sizes sit at the platform's limits: Email Routing accepts messages up to 25 MiB, and the core
// reads a header block up to 256 KiB (DEFAULT_MAX_HEADER_BYTES).
import fc from 'fast-check';
import {
  decodeEncodedWords,
  parseAddressList,
  parseContentType,
  parseMessageIds,
} from '../../src/core/headers.js';
import { parseMailDate } from '../../src/core/mail-date.js';
import { readForwardedMessages } from '../../src/core/message-facts.js';
import { normaliseSubject } from '../../src/core/subject.js';

const MiB = 1024 * 1024;
/** Email Routing's largest message. */
export const PLATFORM_MESSAGE_BYTES = 25 * MiB;
/** Just under the per-block header limit, so that the old code reads the whole value. */
const HEADER_VALUE_CHARS = 250_000;

/**
 * CPU time of the calling thread, in milliseconds: what Workers bill and limit per request, and,
 * unlike the wall clock, what other processes on a busy machine do not add to.
 */
export function threadCpuMs(): number {
  const u = typeof process.threadCpuUsage === 'function' ? process.threadCpuUsage() : process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Budgets of one call, in CPU milliseconds (threadCpuMs), set from bench/results/cpu.json on this
 * 2-core machine at a load average of 10: after the fix, inputs of a header's size (up to the
 * 256 KiB block limit) took at most about 37 ms (median of six calls), whole messages up to Email
 * Routing's 25 MiB (body scans, wrapped messages up to the message's header budget) about 70 ms;
 * the old code took 0.13–20 s on the superlinear cases. The test takes the least of three calls.
 */
export const HEADER_CPU_BUDGET_MS = 100;
export const MESSAGE_CPU_BUDGET_MS = 150;

// Sent by the forwarding mailbox itself, as a real forward-as-attachment is (docs/decisions.md, "Who
// forwarded"): the wrapped messages are read, which is the work an attacker wants to cost.
export const ENVELOPE = { from: 'alice@contoso.example', to: 'crm@us.edge.localhost' };
/** As the edge reads mail: alice@contoso.example is a routed (forwarding) mailbox. */
export const FORWARDING = { isForwardingMailbox: (a: string) => a === 'alice@contoso.example' };

const encoder = new TextEncoder();

/** `unit` repeated up to `chars` characters (cut at a whole unit). */
export function repeatTo(unit: string, chars: number): string {
  return unit.repeat(Math.max(1, Math.floor(chars / unit.length)));
}

/** A CRLF message from its header lines (each `Name: value`) and body. */
export function message(headers: string[], body = 'Hello.\r\n'): Uint8Array {
  return encoder.encode(`${headers.join('\r\n')}\r\n\r\n${body}`);
}

const BASE_HEADERS = [
  'From: Carol Customer <carol@example.org>',
  'Subject: Hello',
  'Date: Tue, 12 Mar 2024 09:14:58 +0000',
  'Message-ID: <msg-1@example.org>',
  'MIME-Version: 1.0',
];

/** A message whose `name` field carries `value` (and a plain From, Subject, Date, Message-ID). */
function withField(name: string, value: string, extra: string[] = []): Uint8Array {
  return message([
    ...BASE_HEADERS.filter((h) => !h.toLowerCase().startsWith(`${name.toLowerCase()}:`)),
    ...extra,
    `${name}: ${value}`,
  ]);
}

/** A forward-as-attachment by alice@contoso.example of `parts` (each a whole MIME part: headers + body). */
function forward(boundary: string, parts: string[], extraHeaders: string[] = []): Uint8Array {
  const head = [
    'From: Alice Adams <alice@contoso.example>',
    'To: crm@us.edge.localhost',
    'Subject: FW: please log this',
    'Date: Tue, 12 Mar 2024 09:14:58 +0000',
    'Message-ID: <fwd-1@contoso.example>',
    'MIME-Version: 1.0',
    ...extraHeaders,
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
  ];
  const body = `${parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('')}--${boundary}--\r\n`;
  return message(head, body);
}

function wrappedPart(headers: string, encoding?: 'base64'): string {
  const inner = `${headers}\r\n\r\nThe wrapped body.\r\n`;
  if (encoding !== 'base64') return `Content-Type: message/rfc822\r\n\r\n${inner}`;
  const b64 = btoa(inner).replace(/.{76}/g, '$&\r\n');
  return `Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}`;
}

/** A header block of about `chars` characters: many ordinary Received-like fields. */
function bigHeaderBlock(chars: number, n: number): string {
  const fields = [
    'From: Dave Example <dave@example.net>',
    'To: Alice Adams <alice@contoso.example>',
    `Subject: wrapped ${n}`,
    `Message-ID: <wrapped-${n}@example.net>`,
  ];
  const line = 'X-Filler: by mx.example.net with ESMTPS id 4f2a; Tue, 12 Mar 2024 09:14:58 +0000';
  let size = fields.join('\r\n').length;
  while (size + line.length + 2 < chars) {
    fields.push(line);
    size += line.length + 2;
  }
  return fields.join('\r\n');
}

export interface CpuCase {
  /** Stable key (bench/results/cpu.json). */
  name: string;
  /** What the input is, for the report. */
  what: string;
  /** Builds the input (outside the timed call) and returns the call to time. */
  prepare: () => () => unknown;
  /** CPU budget of the call: HEADER_CPU_BUDGET_MS unless the input is a whole large message. */
  budgetMs?: number;
}

const read = (raw: Uint8Array) => () => readForwardedMessages(raw, ENVELOPE, FORWARDING);

/** The hand-written cases: each names the reader and the shape that used to be superlinear. */
export const CPU_CASES: CpuCase[] = [
  {
    name: 'to-colons-after-address',
    what: 'To: of 250 KB: one address, then `a: ` repeated (the group check re-joined every chunk at each colon)',
    prepare: () => read(withField('To', `x@y.example ${repeatTo('a: ', HEADER_VALUE_CHARS)}`)),
  },
  {
    name: 'to-colons-in-one-word',
    what: 'To: of 250 KB: `a@b` followed by `:c` repeated with no space (the word scan re-sliced at each colon)',
    prepare: () => read(withField('To', `a@b${repeatTo(':c', HEADER_VALUE_CHARS)}`)),
  },
  {
    name: 'to-unclosed-angles',
    what: 'To: of 250 KB of `<,` (each `<` searched the rest of the value for `>`)',
    prepare: () => read(withField('To', repeatTo('<,', HEADER_VALUE_CHARS))),
  },
  {
    name: 'to-groups',
    what: 'To: of 250 KB of group openers and members without a terminator (`g: a@x.example, g:`)',
    prepare: () => read(withField('To', repeatTo('team: a@x.example b, list:', HEADER_VALUE_CHARS))),
  },
  {
    name: 'to-quoted-strings',
    what: 'To: of 250 KB of quoted local parts and names with escapes (`"a\\"b" "c\\\\d"@x.example,`)',
    prepare: () => read(withField('To', repeatTo('"a\\"b" "c\\\\d"@x.example:, ', HEADER_VALUE_CHARS))),
  },
  {
    name: 'to-comments',
    what: 'To: of 250 KB: 10,000 unclosed `(`, then `(c) a@x (d):` repeated',
    prepare: () =>
      read(withField('To', `${'('.repeat(10_000)}${repeatTo('(c) a@x (d):', HEADER_VALUE_CHARS)}`)),
  },
  {
    name: 'encoded-words',
    what: 'Subject and To display names of 250 KB in total: adjacent Q/B encoded words, non-ASCII text, an unterminated word',
    prepare: () =>
      read(
        withField(
          'Subject',
          `${repeatTo('=?utf-8?q?=C3=A9t=C3=A9_?= ', 120_000)}=?utf-8?b?${'A'.repeat(5000)}`,
          [`To: ${repeatTo('=?iso-8859-1?q?caf=E9?= =?iso-8859-1?b?Y2Fm6Q==?= <a@x.example>, ', 120_000)}`],
        ),
      ),
  },
  {
    name: 'encoded-word-charsets',
    what: 'Subject of 250 KB of encoded words, each naming a charset of its own (`=?x-1?q?a?= =?x-2?q?a?=`)',
    prepare: () => {
      const words: string[] = [];
      for (let i = 0, n = 0; n < HEADER_VALUE_CHARS; i++) {
        const w = `=?x-${i}?q?a?=`;
        words.push(w);
        n += w.length + 1;
      }
      return read(withField('Subject', words.join(' ')));
    },
  },
  {
    name: 'trace-headers',
    what: 'X-Forwarded-To of 250 KB (angle form, colons after the address) and Delivered-To of 250 KB of comments',
    prepare: () =>
      read(
        message([
          ...BASE_HEADERS,
          'To: alice@contoso.example',
          `X-Forwarded-To: <x@y.example> ${repeatTo('a: ', 120_000)}`,
          `Delivered-To: ${repeatTo('(a@x (b) a@x ', 120_000)}`,
        ]),
      ),
  },
  {
    name: 'message-ids',
    what: 'References of 250 KB: open brackets, comments and bare ids mixed',
    prepare: () => read(withField('References', repeatTo('<<(<a@b> (c a@b ', HEADER_VALUE_CHARS))),
  },
  {
    name: 'content-type-rfc2231',
    what: 'Content-Type of 250 KB: 10,000 RFC 2231 continuations of one parameter and `*`-laden names',
    prepare: () => {
      const params = Array.from({ length: 10_000 }, (_, i) => `name*${i}*=utf-8''%41%42caf%C3%A9`).join('; ');
      const value = `multipart/mixed; boundary=b; ${params}; ${repeatTo('a*1*1*1*1*', 50_000)}=x`;
      return read(withField('Content-Type', value));
    },
  },
  {
    name: 'boundary-3000-over-400KB',
    what: 'boundary of 3,000 `-`, 400 KB body of `-` (every offset matched the whole delimiter, the measured edge case)',
    prepare: () => {
      const b = '-'.repeat(3000);
      return read(forward(b, [`Content-Type: text/plain\r\n\r\n${'-'.repeat(400_000)}`]));
    },
  },
  {
    name: 'boundary-4000-over-1MiB',
    what: 'boundary of 4,000 `-`, 1 MiB body of `-`',
    prepare: () => {
      const b = '-'.repeat(4000);
      return read(forward(b, [`Content-Type: text/plain\r\n\r\n${'-'.repeat(MiB)}`]));
    },
  },
  {
    name: 'boundary-70-over-25MiB',
    budgetMs: MESSAGE_CPU_BUDGET_MS,
    what: 'boundary of 70 `-` (the RFC 2046 maximum), 25 MiB body of 200-dash lines (near-miss delimiters at every line start)',
    prepare: () => {
      const b = '-'.repeat(70);
      const lines = repeatTo(`${'-'.repeat(200)}\r\n`, PLATFORM_MESSAGE_BYTES - 4096);
      return read(forward(b, [`Content-Type: text/plain\r\n\r\n${lines}`]));
    },
  },
  {
    name: 'nested-multiparts',
    budgetMs: MESSAGE_CPU_BUDGET_MS,
    what: '64 parts, each a multipart declaring a boundary that extends the outer one, 24 MiB of bodies',
    prepare: () => {
      const b = 'outer-boundary';
      const inner = (i: number) => `${b}-${i}`;
      const filler = repeatTo(`--${b}x\r\n`, (24 * MiB) / 64);
      const parts = Array.from(
        { length: 64 },
        (_, i) =>
          `Content-Type: multipart/alternative; boundary="${inner(i)}"\r\n\r\n--${inner(i)}\r\nContent-Type: text/plain\r\n\r\n${filler}\r\n--${inner(i)}--`,
      );
      return read(forward(b, parts));
    },
  },
  {
    name: 'wrapped-50-big-headers',
    budgetMs: MESSAGE_CPU_BUDGET_MS,
    what: '50 wrapped messages, each a 256 KiB header block (12.5 MiB of headers in one message)',
    prepare: () => {
      const parts = Array.from({ length: 50 }, (_, i) => wrappedPart(bigHeaderBlock(255 * 1024, i)));
      return read(forward('fwd-boundary', parts));
    },
  },
  {
    name: 'wrapped-50-base64-big-headers',
    budgetMs: MESSAGE_CPU_BUDGET_MS,
    what: '50 base64-encoded wrapped messages, each a 256 KiB header block (17 MiB)',
    prepare: () => {
      const parts = Array.from({ length: 50 }, (_, i) =>
        wrappedPart(bigHeaderBlock(255 * 1024, i), 'base64'),
      );
      return read(forward('fwd-boundary', parts));
    },
  },
  {
    name: 'wrapped-50-outer-trace',
    budgetMs: MESSAGE_CPU_BUDGET_MS,
    what: '50 small wrapped messages under an outer block with 250 KB of X-Forwarded-To addresses',
    prepare: () => {
      const parts = Array.from({ length: 50 }, (_, i) => wrappedPart(bigHeaderBlock(300, i)));
      return read(
        forward('fwd-boundary', parts, [`X-Forwarded-To: ${repeatTo('<someone@example.net>, ', 240_000)}`]),
      );
    },
  },
  {
    name: 'short-header-lines',
    what: 'a 250 KB To: folded into 60,000 continuation lines of one character',
    prepare: () => read(withField('To', `a@x.example${repeatTo('\r\n ,', HEADER_VALUE_CHARS)}`)),
  },
  {
    name: 'wrapped-short-header-lines',
    budgetMs: MESSAGE_CPU_BUDGET_MS,
    what: 'forward of 50 wrapped messages whose header blocks are 40 KiB of 4-byte lines (2 MiB of lines in all)',
    prepare: () => {
      const block = `From: dave@example.net\r\nSubject: s${repeatTo('\r\n x', 40 * 1024)}`;
      return read(
        forward(
          'fwd-boundary',
          Array.from({ length: 50 }, () => wrappedPart(block)),
        ),
      );
    },
  },
  {
    name: 'long-lines',
    budgetMs: MESSAGE_CPU_BUDGET_MS,
    what: 'a 25 MiB message that is one line: a header field without a line break',
    prepare: () => read(encoder.encode(`Subject: ${'x'.repeat(PLATFORM_MESSAGE_BYTES - 16)}`)),
  },
  {
    name: 'long-body-line',
    budgetMs: MESSAGE_CPU_BUDGET_MS,
    what: 'multipart/mixed whose 25 MiB body is one line of `-` (no delimiter ever starts a line)',
    prepare: () =>
      read(forward('b', [`Content-Type: text/plain\r\n\r\n${'-'.repeat(PLATFORM_MESSAGE_BYTES - 4096)}`])),
  },
  {
    name: 'date',
    what: 'Date of 250 KB of near-miss date-times (`1 jan 1 jan ...`)',
    prepare: () => read(withField('Date', repeatTo('1 jan 99 1', HEADER_VALUE_CHARS))),
  },
  {
    name: 'subject-prefixes',
    what: 'normaliseSubject of 250 KB: `re: ` prefixes, spaces, an unclosed `[`',
    prepare: () => {
      const s = `${repeatTo('re : [x] ', 120_000)}[${repeatTo('re re ', 120_000)}`;
      return () => normaliseSubject(s);
    },
  },
];

// Property-based inputs: values assembled from the tokens the readers branch on, repeated up to a
// header-sized string so that any superlinear path shows as time.
const TOKENS = [
  '@',
  ':',
  ';',
  ',',
  '<',
  '>',
  '"',
  '\\',
  '(',
  ')',
  ' ',
  '\t',
  '.',
  'a',
  'b@c',
  '=?',
  '?=',
  '?q?',
  '?b?',
  '=C3',
  'é',
  'mailto:',
  '*',
  '*0*',
  "''",
  '%41',
  '=',
  '[',
  ']',
  're:',
  '1 jan ',
];

/** Arbitrary header values of about `chars` characters built from the readers' special tokens. */
export function adversarialValue(chars: number): fc.Arbitrary<string> {
  return fc
    .array(fc.constantFrom(...TOKENS), { minLength: 1, maxLength: 40 })
    .map((units) => repeatTo(units.join(''), chars));
}

/** Each header-value reader, as the property cases call them. */
export const VALUE_READERS: Array<[string, (value: string) => unknown]> = [
  ['parseAddressList', parseAddressList],
  ['decodeEncodedWords', decodeEncodedWords],
  ['parseMessageIds', parseMessageIds],
  ['parseContentType', parseContentType],
  ['parseMailDate', parseMailDate],
  ['normaliseSubject', normaliseSubject],
  ['readForwardedMessages (To)', (v) => readForwardedMessages(withField('To', v), ENVELOPE, FORWARDING)],
];
