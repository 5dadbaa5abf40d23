// Routing one mailbox: the rules shared by PUT /api/v1/mailboxes/:address and the dashboard's
// Routes form (who may route what is decided in route-claims.ts).
import { bumpConfigVersion } from '../db/queries/config-version.js';
import { findDeployment } from '../db/queries/deployments.js';
import { findMailbox, upsertMailbox } from '../db/queries/mailboxes.js';
import { findRegion } from '../db/queries/regions.js';
import type { Db } from '../db/client.js';
import type { FilterMode } from '../core/types.js';
import { assertDeploymentAdmin } from './auth.js';
import type { Principal } from './context.js';
import { validationFailed } from './errors.js';
import { assertMayRoute } from './route-claims.js';

export interface MailboxRouteInput {
  region: string;
  deployment: string;
  userId: string;
  filter: FilterMode;
}

/** Creates, moves or edits a route after every check; throws ApiError on refusal. */
export async function saveMailboxRoute(
  db: Db,
  principal: Principal,
  address: string,
  body: MailboxRouteInput,
) {
  assertDeploymentAdmin(principal, body.deployment);
  const existing = await findMailbox(db, address);
  if (existing) assertDeploymentAdmin(principal, existing.deployment);
  if (!(await findRegion(db, body.region))) throw validationFailed(`region: unknown region ${body.region}`);
  if (!(await findDeployment(db, body.deployment)))
    throw validationFailed(`deployment: unknown deployment ${body.deployment}`);
  await assertMayRoute(db, principal, { address, deployment: body.deployment });
  const row = await upsertMailbox(db, { address, ...body });
  await bumpConfigVersion(
    db,
    existing && existing.region !== body.region ? [existing.region, body.region] : [body.region],
  );
  return { row, existing };
}
