// crm-router routes add: routes a mailbox (PUT /api/v1/mailboxes/:address).
import { FILTER_MODES, type FilterMode } from '../../src/core/types.js';
import { CliError, type Command, first, need, print, type Settings, str, type Values } from './common.js';

export const routesAdd: Command = {
  usage:
    'crm-router routes add <address> --region <id> --deployment <id> --user <userId> [--filter email-enabled]',
  about: `Routes a mailbox to a region's edge for a deployment (or changes its route).
  --filter   ${FILTER_MODES.join(' | ')} (default email-enabled)`,
  options: {
    region: { type: 'string' },
    deployment: { type: 'string' },
    user: { type: 'string' },
    filter: { type: 'string' },
  },
  run,
};

async function run(cfg: Settings, values: Values, positionals: string[]) {
  const address = first(positionals, '<address>');
  const filter = (str(values.filter) ?? 'email-enabled') as FilterMode;
  if (!(FILTER_MODES as readonly string[]).includes(filter))
    throw new CliError(`--filter must be one of ${FILTER_MODES.join(', ')}`);
  const body = {
    region: need(values, 'region'),
    deployment: need(values, 'deployment'),
    userId: need(values, 'user', 'the CRM user id of the mailbox owner'),
    filter,
  };
  const m = await cfg.api.mailboxes.put(address, body);
  print(
    values,
    m,
    `routed ${m.address} → region ${m.region}, deployment ${m.deployment}, user ${m.userId}, filter ${m.filter}`,
  );
}
