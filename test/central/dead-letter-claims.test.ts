// Dead-letter replay runs the region claims of live ingest (ingest-claims.ts): an edge speaks for
// its own region, and for deployments with a mailbox routed there, however late the replay comes.
import { beforeEach, describe, expect, test } from 'vitest';
import { itemMaker, sendBatch } from './edge-batch.js';
import { api, freshBasics } from './helpers.js';

const item = itemMaker('dlclaim', () => ({
  contentHash: 'c'.repeat(64),
  correlation: { method: 'all', detail: 'mailbox filter mode is all' },
  from: { address: 'buyer@customer.example' },
  to: [{ address: 'ann@late.example' }],
  mailboxes: ['ann@late.example'],
  subject: 'Late',
}));

/** An eu edge's item for a deployment that does not exist yet: dead-lettered, replayable later. */
async function deadLetterFromEu() {
  const poison = item({ region: 'eu', deployment: 'late' });
  const res = await sendBatch({ region: 'eu', items: [poison] });
  expect(res.json.results[0]).toMatchObject({
    status: 'rejected',
    reason: expect.stringContaining('unknown deployment'),
  });
  const letters = (await api('GET', '/api/v1/dead-letters?limit=1000')).json.items as Array<{
    id: string;
    messageId: string | null;
    region: string;
  }>;
  const letter = letters.find((d) => d.messageId === poison.messageId);
  expect(letter?.region).toBe('eu');
  return { poison, id: letter!.id };
}

async function activities(messageId: string) {
  return (await api('GET', `/api/v1/activities?messageId=${encodeURIComponent(messageId)}`)).json.items;
}

describe('dead-letter replay and the region claims', () => {
  beforeEach(freshBasics);

  test('a dead letter for a deployment with no mailbox routed in its region is refused on replay', async () => {
    const { poison, id } = await deadLetterFromEu();
    // The deployment now exists, but routes mail in us only: the eu edge could never have had its mail.
    await api('PUT', '/api/v1/deployments/late', { body: { name: 'Late' } });
    await api('PUT', '/api/v1/mailboxes/ann@late.example', {
      body: { region: 'us', deployment: 'late', userId: 'u-ann', filter: 'all' },
    });
    const replay = await api('POST', `/api/v1/dead-letters/${id}/replay`);
    expect(replay.status).toBe(200);
    expect(replay.json).toMatchObject({
      status: 'rejected',
      reason: 'claim: deployment late has no mailbox routed in region eu',
    });
    expect(await activities(poison.messageId!)).toEqual([]);
    const after = (await api('GET', '/api/v1/dead-letters?pending=true&limit=1000')).json.items;
    expect(after.find((d: { id: string }) => d.id === id)).toMatchObject({
      replayResult: 'rejected: claim: deployment late has no mailbox routed in region eu',
    });
    // Replay-all and the dashboard go through the same replay.
    const all = await api('POST', '/api/v1/dead-letters/replay');
    expect(all.json.results.find((r: { deadLetter: string }) => r.deadLetter === id)).toMatchObject({
      status: 'rejected',
    });
    expect(await activities(poison.messageId!)).toEqual([]);
  });

  test('once the deployment routes a mailbox in the region, the same replay is accepted', async () => {
    const { poison, id } = await deadLetterFromEu();
    await api('PUT', '/api/v1/deployments/late', { body: { name: 'Late' } });
    await api('PUT', '/api/v1/mailboxes/ann@late.example', {
      body: { region: 'eu', deployment: 'late', userId: 'u-ann', filter: 'all' },
    });
    const replay = await api('POST', `/api/v1/dead-letters/${id}/replay`);
    expect(replay.json).toMatchObject({ status: 'accepted', activityId: expect.any(String) });
    expect(await activities(poison.messageId!)).toHaveLength(1);
  });
});
