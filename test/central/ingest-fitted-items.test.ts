// Issue 19, item 5, at central: what the edge cut or held back to fit an item to the wire schema is
// kept with the copy and shown on the activity (nothing cut silently).
import { beforeEach, describe, expect, test } from 'vitest';
import { itemMaker, sendBatch } from './edge-batch.js';
import { api, seedBasics } from './helpers.js';

const item = itemMaker('fitted', () => ({
  contentHash: 'b'.repeat(64),
  receivedAt: Date.now() - 50,
  sizeBytes: 4321,
  correlation: { method: 'all', detail: 'mailbox filter mode is all' },
  from: { address: 'buyer@customer.example', name: `${'F'.repeat(499)}…` },
  to: [{ address: 'alice@contoso.example' }],
  subject: 'Fitted',
  raw: { region: 'us', key: 'raw/contoso/2026-12-06/copy.eml', size: 4321 },
}));

describe('items the edge fitted to the wire schema', () => {
  beforeEach(async () => {
    await seedBasics();
    await api('PUT', '/api/v1/mailboxes/alice@contoso.example', {
      body: { region: 'us', deployment: 'contoso', userId: 'u-alice', filter: 'all' },
    });
  });

  test('an item with notes, attachments left out and an unparsed body is accepted, and its activity says so', async () => {
    const notes = [
      '1 display name cut to 500 characters',
      'the body could not be parsed (Maximum MIME nesting depth of 256 levels exceeded): headers only; the raw copy is in the region',
      '3 attachments beyond 500 only in the raw copy',
    ];
    const it = {
      ...item(),
      notes,
      attachmentsLeftOut: 3,
      bodyUnparsed: 'Maximum MIME nesting depth of 256 levels exceeded',
    };
    const res = await sendBatch({ items: [it] });
    expect(res.json.results).toEqual([{ id: it.id, status: 'accepted', activityId: expect.any(String) }]);
    const activity = await api('GET', `/api/v1/activities/${res.json.results[0].activityId}`);
    expect(activity.json.notes).toEqual(notes);
    expect(activity.json.fromName).toBe(`${'F'.repeat(499)}…`);
    expect(activity.json.content).toEqual([
      expect.objectContaining({
        region: 'us',
        attachmentsLeftOut: 3,
        bodyUnparsed: 'Maximum MIME nesting depth of 256 levels exceeded',
        notes,
      }),
    ]);
  });

  test('an activity nothing was cut from has no notes', async () => {
    const it = item();
    const res = await sendBatch({ items: [it] });
    const activity = await api('GET', `/api/v1/activities/${res.json.results[0].activityId}`);
    expect(activity.json).not.toHaveProperty('notes');
  });
});
