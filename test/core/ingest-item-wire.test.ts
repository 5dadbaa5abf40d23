// Issue 19, item 5: whatever a sender puts in its headers, `buildItems` only returns items that pass
// the wire schema central validates with (the edge answers 2xx only for those), with a regional
// store (the edge) and without one (a promotion at central).
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Target } from '../../src/core/classify.js';
import { buildItems, type RegionalStore } from '../../src/core/ingest-item.js';
import { readMessageFacts } from '../../src/core/message-facts.js';
import { ingestItem } from '../../src/core/wire.js';

const snapshot = {
  egress: 'full' as const,
  deployments: {} as Record<string, never>,
};

function memoryStore(): RegionalStore & { keys: string[] } {
  const keys: string[] = [];
  return { region: 'us', keys, put: async (key) => void keys.push(key) };
}

const nameArb = fc.string({ minLength: 0, maxLength: 1200 }).map((s) => s.replace(/["\\\r\n<>]/g, 'n'));
const localArb = fc.integer({ min: 1, max: 500 }).map((n) => 'l'.repeat(n));
const addressArb = fc
  .tuple(nameArb, localArb)
  .map(([name, local]) => `"${name}" <${local}@customer.example>`);

describe('buildItems fits every item to the wire schema', () => {
  test('hostile names, addresses, lists, Message-IDs and mailbox counts: every item passes ingestItem', async () => {
    await fc.assert(
      fc.asyncProperty(
        addressArb,
        fc.array(addressArb, { maxLength: 30 }),
        fc.integer({ min: 0, max: 1300 }),
        fc.integer({ min: 1, max: 250 }),
        fc.integer({ min: 1, max: 1100 }),
        fc.boolean(),
        async (from, cc, extraTo, mailboxCount, idLength, withStore) => {
          const to = Array.from({ length: extraTo }, (_, i) => `t${i}@customer.example`);
          const raw = new TextEncoder().encode(
            [
              `From: ${from}`,
              `To: ${['alice@contoso.example', ...to].join(', ')}`,
              ...(cc.length ? [`Cc: ${cc.join(', ')}`] : []),
              `Message-ID: <${'m'.repeat(idLength)}@x>`,
              `References: <${'r'.repeat(idLength)}@x> <short@x>`,
              'Subject: property',
              '',
              'body',
              '',
            ].join('\r\n'),
          );
          const facts = readMessageFacts(raw, {});
          const target: Target = {
            deployment: 'contoso',
            mailboxes: Array.from({ length: mailboxCount }, (_, i) => ({
              address: `m${i}@contoso.example`,
              hash: `h${i}`,
              deployment: 'contoso',
              userId: `u${i}`,
              filter: 'all' as const,
              via: 'to',
            })),
            // Every mailbox forwarded it (more than the wire lists, when there are over 100).
            forwardedBy: Array.from({ length: mailboxCount }, (_, i) => `m${i}@contoso.example`),
            crmBound: true,
            reason: 'tracked:all',
            detail: 'd'.repeat(3000),
          };
          const items = await buildItems({
            region: 'us',
            ...(withStore ? { store: memoryStore() } : {}),
            snapshot,
            raw,
            facts,
            targets: [target],
            now: 1_700_000_000_000,
            copyId: 'copy-0123456789',
          });
          expect(items).toHaveLength(1);
          for (const item of items) {
            const parsed = ingestItem.safeParse(item);
            expect(parsed.success ? [] : parsed.error.issues.map((i) => i.path.join('.'))).toEqual([]);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
