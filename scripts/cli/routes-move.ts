// crm-router routes move: moves a routed mailbox to another region.
import { type Command, first, need, print, type Settings, type Values } from './common.js';

export const routesMove: Command = {
  usage: 'crm-router routes move <address> --region <id>',
  about: 'Moves a routed mailbox to another region, keeping its deployment, user and filter.',
  options: { region: { type: 'string' } },
  run,
};

async function run(cfg: Settings, values: Values, positionals: string[]) {
  const address = first(positionals, '<address>');
  const region = need(values, 'region');
  const current = await cfg.api.mailboxes.get(address);
  const moved = await cfg.api.mailboxes.put(address, {
    region,
    deployment: current.deployment,
    userId: current.userId,
    filter: current.filter,
  });
  print(values, moved, `moved ${moved.address}: region ${current.region} → ${moved.region}`);
}
