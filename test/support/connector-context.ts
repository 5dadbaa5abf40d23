// What the connector contract suites share: a `ConnectorContext` with an in-memory cache and a
// clock the test moves, an activity as the outbox hands it to an adapter, and the fakes' control
// endpoints (fakes/fake-http.ts).
import type { ConnectorContext, SerializedActivity } from '../../src/central/connectors/types.js';
import './crm-fake-urls.js';

export interface TestContext extends ConnectorContext {
  clock: { now: number };
}

export function connectorContext(
  settings: Record<string, unknown>,
  secrets: Record<string, string>,
  deployment = 'acme',
): TestContext {
  const entries = new Map<string, { value: string; until: number }>();
  const clock = { now: Date.now() };
  return {
    deployment,
    settings,
    secrets,
    clock,
    now: () => clock.now,
    cache: {
      async get(key) {
        const e = entries.get(key);
        return e && e.until > clock.now ? e.value : undefined;
      },
      async put(key, value, ttlSeconds) {
        entries.set(key, { value, until: clock.now + ttlSeconds * 1000 });
      },
    },
  };
}

export function activity(over: Partial<SerializedActivity> = {}): SerializedActivity {
  return {
    id: crypto.randomUUID(),
    deployment: 'acme',
    messageId: `<${crypto.randomUUID()}@mail.example.test>`,
    subject: 'Quote for 40 units',
    from: 'ann@customer.example',
    fromName: 'Ann Customer',
    parties: [],
    regarding: null,
    correlation: { method: 'party', detail: 'from' },
    reason: 'crm-party',
    mailboxes: ['sales@acme.example'],
    regions: ['us'],
    egress: 'full',
    sizeBytes: 1234,
    content: null,
    bodyHeldRegionally: false,
    partiesHeldRegionally: false,
    receivedAt: Date.UTC(2026, 11, 6, 9, 30),
    ingestedAt: Date.UTC(2026, 11, 6, 9, 30, 2),
    updatedAt: Date.UTC(2026, 11, 6, 9, 30, 2),
    ...over,
  } as SerializedActivity;
}

export { fakeControl } from '../../fakes/control.js';
