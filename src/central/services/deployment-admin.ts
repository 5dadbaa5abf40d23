// Creating and updating CRM deployments: the rules shared by PUT /api/v1/deployments/:id and the
// dashboard's deployment forms. Both validate with `deploymentBody` and save through
// `saveDeployment`, so a base-number conflict is a 409 and every save bumps the config version.
import type { Db } from '../../db/client.js';
import { bumpConfigVersion } from '../../db/queries/config-version.js';
import {
  bumpForwardingGeneration,
  bumpWebhookSecretGeneration,
  type DeploymentRow,
  findDeployment,
  findDeploymentByBase,
  nextFreeTokenBase,
  upsertDeployment,
} from '../../db/queries/deployments.js';
import { overlappingDomains, replaceDeploymentDomains } from '../../db/queries/domains.js';
import { markPartChanged } from '../../db/queries/snapshot-parts.js';
import { type DeploymentInput, deploymentBody, idParam, trackingTokenSchema } from '../contract/schemas.js';
import { type WebhookUrlPolicy, webhookUrlProblem } from '../delivery/webhook-url.js';
import { ApiError, conflict, describeIssues, notFound, validationFailed } from '../http/errors.js';
import { type ChangeSite, configChanged } from '../snapshot/config-changed.js';

export {
  activityCounts,
  mailboxCountsByDeployment,
  recordCounts,
  suppressionCounts,
} from '../../db/queries/dashboard.js';

// Reads of deployments, for both front ends.
export { findDeployment, listDeployments } from '../../db/queries/deployments.js';
export { domainsByDeployment, listDeploymentDomains } from '../../db/queries/domains.js';
export { type DeploymentInput, deploymentBody, idParam, trackingTokenSchema };

/**
 * Issues new forwarding addresses for a deployment; the current ones keep working for 7 days
 * (FORWARDING_GRACE_MS in forwarding.ts). Every region's snapshot carries them.
 */
export async function rotateForwardingAddresses(db: Db, site: ChangeSite, id: string, now = Date.now()) {
  const row = await bumpForwardingGeneration(db, id, now);
  if (!row) return row;
  await bumpConfigVersion(db, 'all');
  configChanged(site, 'forwarding');
  return row;
}

/** A new webhook signing secret for deployment `id` (the old one stops verifying), or a 404. */
export async function rotateWebhookSecret(db: Db, id: string, now = Date.now()): Promise<DeploymentRow> {
  const row = await bumpWebhookSecretGeneration(db, id, now);
  if (!row) throw notFound(`deployment ${id} does not exist`);
  return row;
}

/** The deployment `id`, or a 404 naming it. */
export async function requireDeployment(db: Db, id: string): Promise<DeploymentRow> {
  const row = await findDeployment(db, id);
  if (!row) throw notFound(`deployment ${id} does not exist`);
  return row;
}

/**
 * Validates an id and an unparsed body exactly as the API does, throwing a 400 whose message
 * names the offending field (`trackingToken.deploymentBase: …`).
 */
export function parseDeploymentInput(id: unknown, input: unknown): { id: string; body: DeploymentInput } {
  const idResult = idParam.safeParse(id);
  if (!idResult.success)
    throw validationFailed(describeIssues(idResult.error.issues.map((i) => ({ ...i, path: ['id'] }))));
  const bodyResult = deploymentBody.safeParse(input);
  if (!bodyResult.success) throw validationFailed(describeIssues(bodyResult.error.issues));
  return { id: idResult.data, body: bodyResult.data };
}

/**
 * Creates or updates a deployment from a validated body. Fields left out keep their current value
 * (or the default for a new deployment); a missing base number takes the next free one; a base
 * number held by another deployment is a 409 and changes nothing; a webhook URL this central may
 * not deliver to (`policy`: production or local development) is a 400 naming `webhookUrl`.
 */
export async function saveDeployment(
  db: Db,
  site: ChangeSite,
  id: string,
  body: DeploymentInput,
  policy: WebhookUrlPolicy,
): Promise<DeploymentRow> {
  if (body.webhookUrl) {
    const problem = webhookUrlProblem(body.webhookUrl, policy);
    if (problem) throw validationFailed(`webhookUrl: ${problem}`);
  }
  const existing = await findDeployment(db, id);
  const domains = body.domains === undefined ? undefined : [...new Set(body.domains)].sort();
  if (domains) {
    const taken = await overlappingDomains(db, id, domains);
    if (taken.length)
      throw new ApiError(
        'domain_owned_elsewhere',
        `domains: ${taken
          .slice(0, 5)
          .map((t) => `${t.domain} belongs to deployment ${t.deployment}`)
          .join('; ')} (a domain, its subdomains and its parents belong to at most one deployment)`,
      );
  }
  let base = body.trackingToken?.deploymentBase ?? existing?.tokenBase;
  if (base === undefined) base = await nextFreeTokenBase(db);
  const holder = await findDeploymentByBase(db, base);
  if (holder && holder.id !== id)
    throw conflict(`trackingToken.deploymentBase ${base} is already used by deployment ${holder.id}`);
  const row = await upsertDeployment(db, {
    id,
    name: body.name,
    tokenPrefix: body.trackingToken?.prefix ?? existing?.tokenPrefix ?? 'CRM:',
    tokenBase: base,
    tokenUserDigits: body.trackingToken?.userDigits ?? existing?.tokenUserDigits ?? 3,
    tokenCounterDigits: body.trackingToken?.counterDigits ?? existing?.tokenCounterDigits ?? 3,
    webhookUrl: body.webhookUrl === undefined ? (existing?.webhookUrl ?? null) : body.webhookUrl,
    maxMessageBytes: body.maxMessageBytes ?? existing?.maxMessageBytes ?? 25 * 1024 * 1024,
    attachmentPolicy: body.attachmentPolicy ?? existing?.attachmentPolicy ?? 'regional',
    smartMatch: body.smartMatch ?? existing?.smartMatch ?? false,
    retentionDays: body.retentionDays === undefined ? (existing?.retentionDays ?? null) : body.retentionDays,
  });
  if (domains) {
    try {
      await replaceDeploymentDomains(db, id, domains);
    } catch (err) {
      // Two admins claiming one domain at once: the primary key decides, the loser gets the 409.
      if (/UNIQUE|constraint/i.test(String(err)))
        throw new ApiError(
          'domain_owned_elsewhere',
          'domains: a domain was just claimed by another deployment',
        );
      throw err;
    }
  }
  await markPartChanged(db, id);
  await bumpConfigVersion(db, 'all');
  configChanged(site, 'deployment');
  return row;
}
