// Where a snapshot-relevant change is recorded (docs/decisions.md, "Snapshot push"): every use case
// that writes something a region snapshot carries calls `configChanged` once, after its write, and
// nothing else kicks. Ingest, heartbeats, reads and refused requests never reach it.
import type { CentralBindings } from '../context.js';
import { sendSnapshotKick } from './snapshot-kicks.js';

/** What changed (carried on the kick, for the logs). */
export type ConfigChange =
  | 'routes'
  | 'records'
  | 'suppressions'
  | 'outbound'
  | 'region'
  | 'deployment'
  | 'forwarding'
  | 'relay-tokens';

/** The request a change happened in: its bindings and its execution context (for waitUntil). */
export interface ChangeSite {
  env: CentralBindings;
  ctx: Pick<ExecutionContext, 'waitUntil'>;
}

/** A route's change site (Hono's context has both). */
export function changeSite(c: {
  env: CentralBindings;
  executionCtx: Pick<ExecutionContext, 'waitUntil'>;
}): ChangeSite {
  return { env: c.env, ctx: c.executionCtx };
}

/**
 * Records that `what` changed: queues a snapshot kick after the request (a no-op with the push
 * off; a lost kick only means the edges see the change at their next poll).
 */
export function configChanged(site: ChangeSite, what: ConfigChange): void {
  site.ctx.waitUntil(sendSnapshotKick(site.env, undefined, what));
}
