// `parseIngestBatch` (src/central/ingest/plan.ts) against `ingestBatch.safeParse`, in workerd, where
// zod runs its interpreted parser: the receipts go through the fast path, and whatever the batch,
// the answer is zod's own — the same data when it is accepted, the same issues when it is not.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseIngestBatch } from '../../src/central/ingest/plan.js';
import { TOSSED_REASONS, TRACKED_REASONS } from '../../src/core/types.js';
import { ingestBatch, MAX_RECEIPTS_PER_BATCH, receipt } from '../../src/core/wire.js';

/** Valid receipts: every field drawn from values zod accepts (optional ones left out at random). */
const goodReceipt = fc.record(
  {
    kind: fc.constant('receipt'),
    id: fc.constantFrom('rcpt-0001', 'r'.repeat(64)),
    region: fc.constantFrom('eu', 'r'.repeat(32)),
    reason: fc.constantFrom(...TOSSED_REASONS, ...TRACKED_REASONS),
    detail: fc.string({ maxLength: 12 }),
    deployment: fc.constantFrom('contoso', 'd'.repeat(64)),
    mailboxHash: fc.constantFrom('a'.repeat(64), ''),
    messageIdHash: fc.constantFrom('b'.repeat(64), 'x'),
    sizeBytes: fc.constantFrom(0, 1234, 2 ** 40),
    at: fc.constantFrom(1, 1_765_000_000_000),
  },
  { requiredKeys: ['kind', 'id', 'region', 'reason', 'sizeBytes', 'at'] },
);

const edgeValue = fc.oneof(
  fc.constantFrom(
    '',
    'short',
    'r'.repeat(65),
    'r'.repeat(33),
    'a'.repeat(2001),
    'item',
    'tracked:bogus',
    0,
    -1,
    0.5,
    2 ** 53,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    null,
    true,
    [],
    {},
  ),
  fc.anything(),
);

/** A valid receipt, or one with a field replaced, deleted, set to undefined or added; or anything. */
const anyReceipt = fc.oneof(
  { weight: 6, arbitrary: goodReceipt },
  {
    weight: 3,
    arbitrary: fc
      .tuple(goodReceipt, fc.constantFrom(...Object.keys(receipt.shape), 'extra'), edgeValue, fc.nat(2))
      .map(([r, key, value, how]) => {
        const out: Record<string, unknown> = { ...r };
        if (how === 0) delete out[key];
        else if (how === 1) out[key] = undefined;
        else out[key] = value;
        return out;
      }),
  },
  { weight: 1, arbitrary: fc.anything() },
);

/** A batch: its envelope valid or broken, with a handful of receipts each valid or broken. */
const batch = fc
  .record({
    batchId: fc.constantFrom('batch-0001', 'b'.repeat(64), 'short'),
    region: fc.constantFrom('eu', ''),
    sentAt: fc.constantFrom(1_765_000_000_000, 0),
    items: fc.constantFrom([], [{ anything: 1 }]),
    receipts: fc.array(anyReceipt, { maxLength: 6 }),
    extra: fc.constantFrom(undefined, 'dropped'),
  })
  .chain((b) =>
    fc.oneof(
      { weight: 8, arbitrary: fc.constant(b) },
      { weight: 1, arbitrary: fc.constant({ ...b, receipts: 'not a list' }) },
      { weight: 1, arbitrary: fc.anything() },
    ),
  );

describe('parseIngestBatch answers as ingestBatch.safeParse does', () => {
  test('random batches: the same data, or the same issues', () => {
    let accepted = 0;
    let refusedForAReceipt = 0;
    fc.assert(
      fc.property(batch, (value) => {
        const mine = parseIngestBatch(value);
        const theirs = ingestBatch.safeParse(value);
        expect(mine.success).toBe(theirs.success);
        if (mine.success && theirs.success) {
          expect(mine.data).toStrictEqual(theirs.data);
          accepted++;
        } else {
          expect(mine.error?.issues).toStrictEqual(theirs.error?.issues);
          if (theirs.error?.issues.some((i) => i.path[0] === 'receipts' && i.path.length > 1))
            refusedForAReceipt++;
        }
      }),
      { numRuns: 3000, seed: 21 },
    );
    // The generator reaches both answers, and refusals for one receipt among good ones.
    expect(accepted).toBeGreaterThan(100);
    expect(refusedForAReceipt).toBeGreaterThan(100);
  });

  test('a full batch of receipts: unknown keys dropped, too many refused as zod refuses them', () => {
    const one = {
      kind: 'receipt',
      id: 'rcpt-0001',
      region: 'eu',
      reason: TOSSED_REASONS[0],
      sizeBytes: 10,
      at: 1_765_000_000_000,
      unknown: 'dropped',
    };
    const full = {
      batchId: 'batch-0001',
      region: 'eu',
      sentAt: 1_765_000_000_000,
      items: [],
      receipts: Array.from({ length: MAX_RECEIPTS_PER_BATCH }, (_, i) => ({ ...one, id: `rcpt-${i}-0001` })),
    };
    const parsed = parseIngestBatch(full);
    expect(parsed.success).toBe(true);
    expect(parsed.data?.receipts).toHaveLength(MAX_RECEIPTS_PER_BATCH);
    const { unknown: _dropped, ...kept } = one;
    expect(parsed.data?.receipts[7]).toStrictEqual({ ...kept, id: 'rcpt-7-0001' });

    const over = { ...full, receipts: [...full.receipts, one] };
    const mine = parseIngestBatch(over);
    expect(mine.success).toBe(false);
    expect(mine.error?.issues).toStrictEqual(ingestBatch.safeParse(over).error?.issues);
    expect(mine.error?.issues[0]?.path).toEqual(['receipts']);
  });
});
