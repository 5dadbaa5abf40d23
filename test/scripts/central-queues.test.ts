// The queue names central's queue() dispatches on are the consumers wrangler.toml declares, and
// each consumer has a dead-letter queue, so a message central cannot read is kept, not dropped.
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { unstable_readConfig } from 'wrangler';
import { ROOT } from '../../scripts/network.js';
import { CENTRAL_QUEUES } from '../../src/central/queue-names.js';

describe("central's queues", () => {
  test('wrangler.toml consumes exactly the queues central dispatches on, each with a dead-letter queue', () => {
    const config = unstable_readConfig({ config: join(ROOT, 'wrangler.toml') }, { hideWarnings: true });
    const consumers: { queue: string; dead_letter_queue?: string; max_retries?: number }[] =
      config.queues.consumers ?? [];
    expect(consumers.map((c) => c.queue).sort()).toEqual([...CENTRAL_QUEUES].sort());
    for (const c of consumers) {
      expect(c.dead_letter_queue, c.queue).toBe(`${c.queue}-dlq`);
      expect(c.max_retries, c.queue).toBeGreaterThan(0);
    }
    // A dead-letter queue is kept for inspection, never consumed by central itself.
    for (const c of consumers) expect(CENTRAL_QUEUES).not.toContain(c.dead_letter_queue);
  });
});
