// The region canary and the cross-region counters over the real local network (design §6): the
// eu edge's canary cron sends a signed synthetic message through its ingress, queue and batch to
// central, which records the round trip; the edge's next heartbeat reports the bytes it moved.
import { describe, expect, test } from 'vitest';
import { api, edgeUrl, eventually } from './helpers.js';

const fire = async (cron: string) =>
  (await fetch(`${edgeUrl('eu')}/__scheduled?cron=${encodeURIComponent(cron)}`)).text();

type Eu = {
  canary: { lastRoundTripMs: number | null; at: number | null };
  crossRegion: { bytesToCentral: number; byKind: Record<string, { toCentral: number; fromCentral: number }> };
};
const eu = async () => (await api().stats(0)).regions.find((r) => r.region === 'eu') as unknown as Eu;

describe('the eu canary through the network', () => {
  test('goes through ingress, edge and central and is recorded with its round trip', async () => {
    const before = Date.now();
    await fire('*/5 * * * *');
    const canary = await eventually(async () => {
      const c = (await eu()).canary;
      return c.at !== null && c.at >= before ? c : undefined;
    }, 30_000);
    expect(canary.lastRoundTripMs).toBeGreaterThanOrEqual(0);
    expect(canary.lastRoundTripMs).toBeLessThan(30_000);
  });

  test("the edge's heartbeat reports what crossed to central, by kind", async () => {
    const before = (await eu()).crossRegion;
    await fire('* * * * *');
    const after = await eventually(async () => {
      const c = (await eu()).crossRegion;
      return c.byKind.heartbeat!.toCentral > before.byKind.heartbeat!.toCentral ? c : undefined;
    }, 30_000);
    expect(after.bytesToCentral).toBeGreaterThan(before.bytesToCentral);
    // The canary's batch, and the snapshot polls, went before this heartbeat.
    expect(after.byKind.canary!.toCentral).toBeGreaterThan(0);
    expect(after.byKind.snapshot!.fromCentral).toBeGreaterThan(0);
  });
});
