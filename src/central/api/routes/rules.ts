import { z } from '@hono/zod-openapi';
import { RULE_FORMATS } from '../../../core/rule-scripts.js';
import { apiRoute } from '../../contract/openapi-helpers.js';
import { idParam, rulesSchema } from '../../contract/schemas.js';
import { createRouter } from '../../http/app-router.js';
import { deploymentScope } from '../../http/auth.js';
import { forbidden, notFound } from '../../http/errors.js';
import { listDeployments } from '../../services/deployment-admin.js';
import { forwardingKeys, regionRuleScript } from '../../services/forwarding.js';
import { listMailboxes } from '../../services/mailbox-admin.js';
import { findRegion } from '../../services/regions.js';

/** Most mailboxes one script lists. */
const MAX_MAILBOXES = 50_000;

const rulesRoute = apiRoute('get', '/regions/{id}/rules', 'regions', {
  summary:
    "Forwarding rules for the region's routed mailboxes (Exchange PowerShell, Sieve, Gmail steps or Gmail filter XML)",
  description:
    'Each mailbox forwards to the region edge at `crm@<region>.edge.<EDGE_MAIL_DOMAIN>`. When the region’s rules are disabled, the script removes the rules instead. `Accept: text/plain` returns the script alone. Deployment and user tokens see only their own mailboxes.',
  request: {
    params: z.object({ id: idParam }),
    query: z.object({
      format: z.enum(RULE_FORMATS).default('exchange'),
      deployment: z.string().min(1).max(63).optional(),
    }),
  },
  responses: {
    200: {
      description: 'the script',
      content: { 'application/json': { schema: rulesSchema }, 'text/plain': { schema: z.string() } },
    },
  },
});

export const ruleRoutes = createRouter().openapi(rulesRoute, async (c) => {
  const { id } = c.req.valid('param');
  const { format, deployment } = c.req.valid('query');
  const principal = c.get('principal');
  const scope = deploymentScope(principal);
  if (scope && deployment && deployment !== scope)
    throw forbidden(`this token may not read deployment ${deployment}`);
  const db = c.get('db');
  const region = await findRegion(db, id);
  if (!region) throw notFound(`region ${id} does not exist`);
  const rows = await listMailboxes(db, { region: id, deployment: scope ?? deployment, limit: MAX_MAILBOXES });
  const visible = rows.filter((m) => principal.kind !== 'user' || m.userId === principal.userId);
  const mailboxes = visible.map((m) => m.address);
  // Each deployment's mailboxes forward to that deployment's forwarding address in the region.
  const { script, forwardingAddresses } = await regionRuleScript(forwardingKeys(c.env), {
    format,
    region: id,
    regionName: region.name,
    rulesEnabled: region.rulesEnabled,
    mailboxes: visible,
    deployments: await listDeployments(db),
    updatedAt: new Date().toISOString(),
  });
  const edgeAddress =
    Object.values(forwardingAddresses).length === 1 ? Object.values(forwardingAddresses)[0]! : '';
  if (
    /\btext\/plain\b/i.test(c.req.header('accept') ?? '') &&
    !/application\/json/i.test(c.req.header('accept') ?? '')
  )
    return c.text(script, 200, { 'content-type': 'text/plain; charset=utf-8' });
  return c.json(
    {
      region: id,
      format,
      rulesEnabled: region.rulesEnabled,
      edgeAddress,
      forwardingAddresses,
      mailboxes,
      script,
    },
    200,
  );
});
