// crm-router routes list: lists mailbox routes.
import { type Command, print, type Settings, str, table, type Values } from './common.js';

export const routesList: Command = {
  usage: 'crm-router routes list [--region <id>] [--deployment <id>] [--search <text>]',
  about: 'Lists mailbox routes.',
  options: { region: { type: 'string' }, deployment: { type: 'string' }, search: { type: 'string' } },
  run,
};

async function run(cfg: Settings, values: Values) {
  const res = await cfg.api.mailboxes.list({
    region: str(values.region),
    deployment: str(values.deployment),
    q: str(values.search),
    limit: 5000,
  });
  print(
    values,
    res,
    table(
      res.items.map((m) => ({
        address: m.address,
        region: m.region,
        deployment: m.deployment,
        user: m.userId,
        filter: m.filter,
      })),
      ['address', 'region', 'deployment', 'user', 'filter'],
    ),
  );
}
