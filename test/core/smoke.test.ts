import { describe, expect, test } from 'vitest';
import { ingestItem } from '../../src/core/wire.js';

describe('wire schema', () => {
  test('an item without mailboxes is refused', () => {
    expect(ingestItem.safeParse({ kind: 'item' }).success).toBe(false);
  });
});
