// crm-router routes move: moves routed mailboxes to another region — one (keeping its deployment,
// user and filter), several, or a department (every route of a deployment matching a search) in
// one all-or-nothing call (POST /api/v1/mailboxes/move).
import { CliError, type Command, need, print, type Settings, str, type Values } from './common.js';

export const routesMove: Command = {
  usage:
    'crm-router routes move <address> [<address>…] --region <id> | --deployment <id> [--search <text>] --region <id>',
  about: `Moves routed mailboxes to another region, keeping their deployment, user and filter. Several
addresses, or --deployment with an optional --search (e.g. @sales.contoso.example), move in one
call: all or nothing.`,
  options: { region: { type: 'string' }, deployment: { type: 'string' }, search: { type: 'string' } },
  run,
};

async function run(cfg: Settings, values: Values, positionals: string[]) {
  const region = need(values, 'region');
  const deployment = str(values.deployment);
  if (!deployment && positionals.length === 0) throw new CliError('give <address>…, or --deployment <id>');
  if (deployment && positionals.length)
    throw new CliError('give either <address>… or --deployment, not both');
  if (positionals.length === 1) {
    const [address] = positionals as [string];
    const current = await cfg.api.mailboxes.get(address);
    const moved = await cfg.api.mailboxes.put(address, {
      region,
      deployment: current.deployment,
      userId: current.userId,
      filter: current.filter,
    });
    print(values, moved, `moved ${moved.address}: region ${current.region} → ${moved.region}`);
    return;
  }
  const result = await cfg.api.mailboxes.move(
    deployment ? { region, deployment, search: str(values.search) } : { region, addresses: positionals },
  );
  print(
    values,
    result,
    `moved ${result.moved} route(s) to region ${region} (${result.updated} already there)`,
  );
}
