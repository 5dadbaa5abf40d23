// The zod fast path (src/core/schema-fast-path.ts) against zod itself: whatever the fast path
// accepts, zod accepts with the very same output; whatever zod accepts, the fast path accepts too
// (else it would be no faster). Random ingest items, valid and broken in every field, with zod's
// compiled parser (Node) and with zod's interpreted one (`jitless`: what workerd runs).
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { fastParser, NOT_ACCEPTED } from '../../src/core/schema-fast-path.js';
import { ingestItem, MAX_ADDRESS_CHARS, MAX_NAME_CHARS } from '../../src/core/wire.js';

const goodAddress = fc.constantFrom('buyer@customer.example', 'a@b', 'x'.repeat(MAX_ADDRESS_CHARS));
const badAddress = fc.constantFrom('ab', '', 'x'.repeat(MAX_ADDRESS_CHARS + 1), 5, null);
const wireAddress = fc.record(
  { address: goodAddress, name: fc.string({ maxLength: 8 }) },
  { requiredKeys: ['address'] },
);
const blobRef = fc.record({
  region: fc.constantFrom('eu', 'r'.repeat(32)),
  key: fc.string({ minLength: 1, maxLength: 10 }),
  size: fc.constantFrom(0, 1, 2 ** 40),
});
const messageIds = fc.array(fc.constantFrom('<a@b>', ' <B@C> ', 'plain@x', ''), { maxLength: 3 });

/** Valid items: every field drawn from values zod accepts (optional ones left out at random). */
const item = fc.record(
  {
    kind: fc.constant('item'),
    id: fc.constantFrom('item-0001', 'i'.repeat(64)),
    region: fc.constantFrom('eu', 'us'),
    deployment: fc.constantFrom('contoso', 'd'.repeat(64)),
    messageId: fc.constantFrom('m-1@customer.example', 'm'),
    contentHash: fc.constantFrom('a'.repeat(64), '0123456789abcdef'.repeat(4)),
    receivedAt: fc.constantFrom(1_765_000_000_000, 1),
    sizeBytes: fc.constantFrom(0, 1234),
    mailboxes: fc.array(goodAddress, { minLength: 1, maxLength: 3 }),
    forwardedBy: fc.array(goodAddress, { maxLength: 2 }),
    reason: fc.constantFrom('tracked:sender-record', 'tracked:all'),
    correlation: fc.record({
      method: fc.constantFrom('sender-record', 'all'),
      detail: fc.string({ maxLength: 10 }),
    }),
    egress: fc.constantFrom('metadata+subject', 'full'),
    from: wireAddress,
    to: fc.array(wireAddress, { maxLength: 3 }),
    cc: fc.array(wireAddress, { maxLength: 2 }),
    subject: fc.string({ maxLength: 20 }),
    date: fc.constantFrom(1_765_000_000_000, -1),
    inReplyTo: messageIds,
    references: messageIds,
    trackingToken: fc.constantFrom('CRM:0001', ''),
    text: fc.string({ maxLength: 10 }),
    attachments: fc.array(
      fc.record(
        {
          filename: fc.string({ maxLength: 8 }),
          contentType: fc.constantFrom('application/pdf', ''),
          size: fc.constantFrom(10, 0),
          ref: blobRef,
          contentBase64: fc.constant('AAAA'),
        },
        { requiredKeys: ['contentType', 'size'] },
      ),
      { maxLength: 2 },
    ),
    attachmentsLeftOut: fc.constantFrom(1, 500),
    notes: fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
    raw: blobRef,
    textRef: blobRef,
  },
  {
    requiredKeys: [
      'kind',
      'id',
      'region',
      'deployment',
      'contentHash',
      'receivedAt',
      'sizeBytes',
      'mailboxes',
      'reason',
      'correlation',
      'egress',
      'to',
      'cc',
      'attachments',
    ],
  },
);

/** Values that break (or, for some fields, do not break) a field: at and past its bounds, wrong types. */
const edgeValue = fc.oneof(
  fc.constantFrom(
    'receipt',
    '',
    'short',
    'i'.repeat(65),
    'A'.repeat(64),
    'g'.repeat(64),
    'a'.repeat(63),
    'n'.repeat(MAX_NAME_CHARS + 1),
    'filter:none',
    'metadata',
    0,
    -1,
    -5,
    0.5,
    1.5,
    2 ** 53,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    null,
    true,
    [],
    {},
    ['a@b'],
    [{ address: 'a@b' }],
    [{ address: 'ab' }],
    { method: 'bogus', detail: '' },
    { region: '', key: 'k', size: 1 },
    { region: 'eu', key: 'k', size: -1 },
  ),
  badAddress,
  fc.array(badAddress, { maxLength: 2 }),
  fc.anything(),
);

/** A valid item, or one with a field (or a nested field) replaced, deleted or set to undefined, or anything at all. */
const broken = fc.oneof(
  { weight: 4, arbitrary: item },
  {
    weight: 5,
    arbitrary: fc
      .tuple(item, fc.constantFrom(...Object.keys(ingestItem.shape), 'extra'), edgeValue, fc.nat(3))
      .map(([it, key, value, how]) => {
        const out: Record<string, unknown> = { ...it };
        if (how === 0) delete out[key];
        else if (how === 1) out[key] = undefined;
        else if (how === 2 && typeof out[key] === 'object' && out[key] !== null) {
          // One level down: the first element of a list, or a field of an object.
          const inner = out[key] as Record<string, unknown> | unknown[];
          if (Array.isArray(inner)) out[key] = inner.length ? [value, ...inner.slice(1)] : [value];
          else out[key] = { ...inner, [Object.keys(inner)[0] ?? 'x']: value };
        } else out[key] = value;
        return out;
      }),
  },
  { weight: 1, arbitrary: fc.anything() },
);

function agrees(schema: z.ZodType, runs: number) {
  const fast = fastParser(schema);
  let accepted = 0;
  let refused = 0;
  fc.assert(
    fc.property(broken, (value) => {
      const mine = fast(value);
      const theirs = schema.safeParse(value);
      if (mine === NOT_ACCEPTED) {
        // Complete: what zod accepts, the fast path accepts (it would be no faster otherwise).
        expect(theirs.success, 'zod accepted what the fast path refused').toBe(false);
        refused++;
      } else {
        expect(theirs.success, 'the fast path accepted what zod refused').toBe(true);
        // Same output: keys (present, left out), transformed values, unknown keys stripped.
        expect(mine).toStrictEqual(theirs.data);
        accepted++;
      }
    }),
    { numRuns: runs, seed: 21 },
  );
  // The generator reaches both answers, many times each.
  expect(accepted).toBeGreaterThan(runs / 50);
  expect(refused).toBeGreaterThan(runs / 50);
}

describe('fastParser(ingestItem) answers as zod does', () => {
  test("with zod's compiled parser", () => agrees(ingestItem, 4000));

  describe("with zod's interpreted parser (jitless, as in workerd)", () => {
    afterAll(() => {
      z.config({ jitless: false });
    });
    test('every item', () => {
      z.config({ jitless: true });
      agrees(ingestItem, 4000);
    });
  });

  test('a valid item comes out as zod gives it: Message-IDs normalised, unknown keys dropped', () => {
    const fast = fastParser(ingestItem);
    const value = {
      kind: 'item',
      id: 'item-0001',
      region: 'eu',
      deployment: 'contoso',
      contentHash: 'a'.repeat(64),
      receivedAt: 1_765_000_000_000,
      sizeBytes: 10,
      mailboxes: ['alice@contoso.example'],
      reason: 'tracked:sender-record',
      correlation: { method: 'sender-record', detail: 'd', extra: 1 },
      egress: 'metadata+subject',
      to: [],
      cc: [],
      subject: undefined,
      inReplyTo: [' <Parent@Example.COM> '],
      attachments: [],
      unknown: 'dropped',
    };
    const out = fast(value);
    expect(out).toStrictEqual(ingestItem.parse(value));
    expect(out).not.toBe(NOT_ACCEPTED);
    expect(Object.keys(out as object)).toContain('subject');
    expect(Object.keys(out as object)).not.toContain('unknown');
    expect((out as { inReplyTo: string[] }).inReplyTo).toEqual(ingestItem.parse(value).inReplyTo);
  });
});

describe('fastParser on other schemas', () => {
  test('a string format is its own check (z.url(), z.email()), and checks of every kind are zod’s', () => {
    const schema = z.object({
      url: z.url().optional(),
      email: z.string().email().optional(),
      n: z.number().int().min(-3).max(9).multipleOf(3).optional(),
      tags: z.array(z.string().startsWith('t').trim()).min(1).max(3).optional(),
      flag: z.boolean().optional(),
    });
    const fast = fastParser(schema);
    for (const value of [
      { url: 'https://example.com/a' },
      { url: 'not a url' },
      { email: 'a@b.example' },
      { email: 'nope' },
      { n: 9 },
      { n: 4 },
      { n: -6 },
      { tags: ['ta', ' tb '] },
      { tags: ['x'] },
      { tags: [] },
      { flag: 'yes' },
      {},
    ]) {
      const theirs = schema.safeParse(value);
      const mine = fast(value);
      if (theirs.success) expect(mine, JSON.stringify(value)).toStrictEqual(theirs.data);
      else expect(mine, JSON.stringify(value)).toBe(NOT_ACCEPTED);
    }
  });

  test('absent, present-but-undefined and required keys are told apart as zod tells them', () => {
    const schema = z.object({
      n: z.number().optional(),
      // Optional in, not out: an absent key still runs the transform, which may give a value.
      t: z
        .string()
        .optional()
        .transform((s) => s),
      u: z
        .string()
        .optional()
        .transform((s) => s ?? 'filled'),
      // Accepts undefined yet is not optional: the key must be there.
      l: z.literal(undefined),
    });
    const fast = fastParser(schema);
    for (const value of [
      {},
      { l: undefined },
      { l: undefined, n: undefined, t: undefined },
      { l: undefined, n: Number.NaN },
      { l: undefined, n: Number.POSITIVE_INFINITY },
      { l: undefined, n: -0.5, t: 'x', u: 'y' },
    ]) {
      const theirs = schema.safeParse(value);
      const mine = fast(value);
      if (theirs.success) expect(mine, String(Object.keys(value))).toStrictEqual(theirs.data);
      else expect(mine, String(Object.keys(value))).toBe(NOT_ACCEPTED);
    }
    expect(schema.safeParse({}).success).toBe(false);
    expect(Object.keys(fast({ l: undefined }) as object).sort()).toEqual(['l', 'u']);
  });

  test('a kind of schema it does not know is refused when built, not misparsed later', () => {
    expect(() => fastParser(z.object({ a: z.string().default('x') }))).toThrow(/default/);
    expect(() => fastParser(z.union([z.string(), z.number()]))).toThrow(/union/);
    expect(() => fastParser(z.object({ a: z.string() }).strict())).toThrow(/catchall/);
    expect(() => fastParser(z.object({ a: z.record(z.string(), z.number()) }))).toThrow(/record at \.a/);
    expect(() => fastParser(z.coerce.number())).toThrow(/coercing/);
  });

  test('an array of a subclass comes out a plain array, as zod gives it', () => {
    class Tagged<T> extends Array<T> {}
    const schema = z.object({ list: z.array(z.string()), nested: z.array(z.array(z.number())) });
    const value = { list: Tagged.from(['a', 'b']), nested: [Tagged.from([1, 2])] };
    const theirs = schema.parse(value);
    const mine = fastParser(schema)(value);
    expect(Object.getPrototypeOf(theirs.list)).toBe(Array.prototype);
    expect(mine).toStrictEqual(theirs);
    expect(Object.getPrototypeOf((mine as typeof theirs).list)).toBe(Array.prototype);
    expect(Object.getPrototypeOf((mine as typeof theirs).nested[0])).toBe(Array.prototype);
    // A plain array whose elements come out as they went in is still the input array itself.
    const plain = { list: ['a'], nested: [[1]] };
    expect((fastParser(schema)(plain) as typeof theirs).list).toBe(plain.list);
  });

  test('a transform that throws or reports an issue leaves the answer to zod', () => {
    const throwing = z.string().transform((s) => {
      if (s === 'boom') throw new Error('boom');
      return s.length;
    });
    expect(fastParser(throwing)('boom')).toBe(NOT_ACCEPTED);
    expect(fastParser(throwing)('abc')).toBe(3);
    const reporting = z.string().transform((s, ctx) => {
      if (s === 'bad') ctx.addIssue({ code: 'custom', message: 'bad' });
      return s;
    });
    expect(fastParser(reporting)('bad')).toBe(NOT_ACCEPTED);
    expect(reporting.safeParse('bad').success).toBe(false);
  });
});
