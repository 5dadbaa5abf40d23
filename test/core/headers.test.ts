import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  decodeEncodedWords,
  parseAddressList,
  parseContentType,
  parseMessageIds,
  readHeaderBlock,
} from '../../src/core/headers.js';
import { normaliseSubject } from '../../src/core/snapshot.js';
import { testMaps } from '../support/maps.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('readHeaderBlock', () => {
  test('reads up to the first empty line and unfolds continuation lines', () => {
    const raw = bytes(
      'Subject: a long\r\n\tsubject line\r\nTo: a@example.com,\r\n b@example.com\r\n\r\nbody\r\n\r\nmore',
    );
    const r = readHeaderBlock(raw);
    if (!r.ok) throw new Error(r.problem);
    expect(r.block.fields).toEqual([
      { name: 'subject', value: 'a long\tsubject line' },
      { name: 'to', value: 'a@example.com, b@example.com' },
    ]);
    expect(r.block.bodyOffset).toBe(raw.length - 'body\r\n\r\nmore'.length);
    expect(r.block.get('SUBJECT')).toBe('a long\tsubject line');
    expect(r.block.unterminated).toBe(false);
  });

  test('bare LF line endings work too', () => {
    const r = readHeaderBlock(bytes('A: 1\nB: 2\n\nbody'));
    expect(r.ok && r.block.fields.map((f) => f.name)).toEqual(['a', 'b']);
    expect(r.ok && r.block.bodyOffset).toBe(11);
  });

  test('getAll keeps every occurrence in order', () => {
    const r = readHeaderBlock(bytes('Received: one\r\nReceived: two\r\n\r\n'));
    expect(r.ok && r.block.getAll('received')).toEqual(['one', 'two']);
  });

  test('8-bit bytes never throw: invalid UTF-8 is read as Latin-1', () => {
    const raw = Uint8Array.from([...bytes('Subject: caf'), 0xe9, ...bytes('\r\n\r\n')]);
    const r = readHeaderBlock(raw);
    expect(r.ok && r.block.get('subject')).toBe('café');
  });

  test('raw UTF-8 headers (RFC 6532) are read as UTF-8', () => {
    const r = readHeaderBlock(bytes('Subject: Grüße 你好\r\n\r\n'));
    expect(r.ok && r.block.get('subject')).toBe('Grüße 你好');
  });

  test('a header block larger than the limit is refused with a reason', () => {
    const raw = bytes(`X-Big: ${'a'.repeat(300 * 1024)}\r\n\r\n`);
    expect(readHeaderBlock(raw)).toEqual({ ok: false, problem: 'header block exceeds 262144 bytes' });
    expect(readHeaderBlock(raw, { maxHeaderBytes: 400 * 1024 }).ok).toBe(true);
  });

  test('reads a MIME part header at an offset', () => {
    const raw = bytes('Preamble\r\nContent-Type: text/plain\r\n\r\npart');
    const r = readHeaderBlock(raw, { offset: 10 });
    expect(r.ok && r.block.get('content-type')).toBe('text/plain');
  });

  test('a line that is not a field before any field is counted and reported, not fatal', () => {
    const r = readHeaderBlock(bytes('From carol@example.org Tue Mar 12\r\n???\r\nSubject: x\r\n\r\n'));
    if (!r.ok) throw new Error(r.problem);
    expect(r.block.fields.map((f) => f.name)).toEqual(['subject']);
    expect(r.block.invalidLines).toBe(1);
    expect(r.block.problems).toEqual([
      'mbox "From " line before the header ignored',
      'header line without a field name ignored',
    ]);
  });

  test('without an empty line, the first line that is not a field starts the body', () => {
    const raw = bytes(
      'Subject: x\r\nTo: a@example.com\r\nHello, this is the body.\r\nSecond: line of body\r\n',
    );
    const r = readHeaderBlock(raw);
    if (!r.ok) throw new Error(r.problem);
    expect(r.block.fields.map((f) => f.name)).toEqual(['subject', 'to']);
    expect(r.block.bodyOffset).toBe('Subject: x\r\nTo: a@example.com\r\n'.length);
    expect(r.block.problems).toEqual(['no empty line between header and body']);
  });
});

describe('decodeEncodedWords', () => {
  testMaps(decodeEncodedWords, '%j decodes to %j', [
    ['=?UTF-8?B?w6lsw6h2ZQ==?=', 'élève'],
    ['=?iso-8859-1?q?caf=E9_cr=E8me?=', 'café crème'],
    ['=?UTF-8?Q?a?= =?UTF-8?Q?b?=', 'ab'],
    ['=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?=', 'ab'],
    ['=?UTF-8?Q?a?= b =?UTF-8?Q?c?=', 'a b c'],
    ['plain text', 'plain text'],
    ['=?x-unknown-charset?Q?caf=E9?=', 'café'],
    ['=?utf-8*en?Q?hello?=', 'hello'],
    ['=?windows-1251?B?z/Do4uXy?=', 'Привет'],
    ['=?gb2312?B?xOO6ww==?=', '你好'],
    ['=?UTF-8?B?broken base64 ***?=', '=?UTF-8?B?broken base64 ***?='],
  ]);
});

describe('parseAddressList', () => {
  test.each([
    ['alice@example.com', [{ address: 'alice@example.com' }]],
    ['Alice <ALICE@Example.com>', [{ address: 'alice@example.com', name: 'Alice' }]],
    [
      '"Adams, Alice" <alice@example.com>, bob@example.org',
      [{ address: 'alice@example.com', name: 'Adams, Alice' }, { address: 'bob@example.org' }],
    ],
    ['alice@example.com (Alice Adams)', [{ address: 'alice@example.com', name: 'Alice Adams' }]],
    ['=?UTF-8?B?w6lsw6h2ZQ==?= <eleve@example.fr>', [{ address: 'eleve@example.fr', name: 'élève' }]],
    [
      'Team: alice@example.com, Bob <bob@example.com>;, carol@example.com',
      [
        { address: 'alice@example.com' },
        { address: 'bob@example.com', name: 'Bob' },
        { address: 'carol@example.com' },
      ],
    ],
    ['undisclosed-recipients:;', []],
    ['<>', []],
    ['Alice Adams alice@example.com', [{ address: 'alice@example.com', name: 'Alice Adams' }]],
    ['<alice@example.com', [{ address: 'alice@example.com' }]],
    ['"john doe"@example.com', [{ address: '"john doe"@example.com' }]],
    ['<@relay.example.net:alice@example.com>', [{ address: 'alice@example.com' }]],
    ['"Quote \\"the\\" Name" <q@example.com>', [{ address: 'q@example.com', name: 'Quote "the" Name' }]],
    [
      'alice@example.com,,, ,bob@example.com',
      [{ address: 'alice@example.com' }, { address: 'bob@example.com' }],
    ],
    // Quoted local parts keep their escapes (RFC 5322 §3.2.4, §3.4.1), in the canonical form.
    ['"a\\"b"@example.com', [{ address: '"a\\"b"@example.com' }]],
    ['"a\\\\b"@example.com', [{ address: '"a\\\\b"@example.com' }]],
    ['Q <"a\\"b"@example.com>', [{ address: '"a\\"b"@example.com', name: 'Q' }]],
    ['<"a\\\\b"@example.com>', [{ address: '"a\\\\b"@example.com' }]],
    [
      '"a\\b"@example.com, <"a\\b"@example.com>',
      [{ address: '"ab"@example.com' }, { address: '"ab"@example.com' }],
    ],
    [
      '"john doe"@example.com, "x,y"@example.com',
      [{ address: '"john doe"@example.com' }, { address: '"x,y"@example.com' }],
    ],
  ])('%j parses', (input, expected) => {
    expect(parseAddressList(input)).toEqual(expected);
  });
});

describe('parseMessageIds', () => {
  test('bracketed ids, comments and case', () => {
    expect(parseMessageIds("<A@x.com> (Alice's message) <b@Y.com>\r\n <a@x.com>")).toEqual([
      'a@x.com',
      'b@y.com',
    ]);
  });
  test('bare ids without brackets are accepted', () => {
    expect(parseMessageIds('a@x.com b@y.com')).toEqual(['a@x.com', 'b@y.com']);
  });
  test('nothing usable gives an empty list', () => {
    expect(parseMessageIds('')).toEqual([]);
    expect(parseMessageIds('garbage')).toEqual([]);
  });
});

describe('parseContentType', () => {
  test('type, lower-cased parameter names, quoted values', () => {
    expect(parseContentType('Multipart/Mixed; Boundary="a b;c"; charset=UTF-8')).toEqual({
      type: 'multipart/mixed',
      params: { boundary: 'a b;c', charset: 'UTF-8' },
    });
  });
  test('a missing or invalid type defaults to text/plain (RFC 2045 §5.2)', () => {
    expect(parseContentType(undefined).type).toBe('text/plain');
    expect(parseContentType('garbage').type).toBe('text/plain');
  });
  test('RFC 2231 continuations and charsets', () => {
    const ct = parseContentType(
      "application/pdf; name*0*=UTF-8''Rechnung%20f%C3%BCr; name*1=' April.pdf'; title*=iso-8859-1'de'%E4rger",
    );
    expect(ct.params.name).toBe("Rechnung für' April.pdf'");
    expect(ct.params.title).toBe('ärger');
  });
  test('multipart/report keeps its report-type', () => {
    expect(
      parseContentType('multipart/report; report-type=delivery-status; boundary=x').params['report-type'],
    ).toBe('delivery-status');
  });
});

describe('the header parsers on arbitrary text', () => {
  test('header parsers never throw on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        parseAddressList(s);
        decodeEncodedWords(s);
        parseContentType(s);
        parseMessageIds(s);
        normaliseSubject(s);
        const r = readHeaderBlock(bytes(s));
        expect(r.ok).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  test('parsed addresses are lower-case and have a local part and a domain', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (s) => {
        for (const a of parseAddressList(s)) {
          expect(a.address).toBe(a.address.toLowerCase());
          expect(a.address).toMatch(/^.+@[^@]+$/);
        }
      }),
      { numRuns: 500 },
    );
  });
});
