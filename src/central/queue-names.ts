// The queues central consumes (wrangler.toml's [[queues.consumers]]; test/scripts/central-queues.test.ts
// holds the two together). queue() dispatches on these names, never on the shape of a body.

/** Onward delivery: each message names a webhook outbox row to attempt (src/central/delivery/webhooks.ts). */
export const WEBHOOK_QUEUE = 'crm-webhooks';
/** Snapshot kicks: each batch is one publish run (src/central/snapshot/snapshot-kicks.ts). */
export const SNAPSHOT_KICK_QUEUE = 'crm-snapshot-kicks';
/** Connector sync continuations: each message runs the next pass of a sync under way (src/central/connectors/sync.ts). */
export const CONNECTOR_SYNC_QUEUE = 'crm-connector-syncs';

export const CENTRAL_QUEUES = [WEBHOOK_QUEUE, SNAPSHOT_KICK_QUEUE, CONNECTOR_SYNC_QUEUE] as const;
