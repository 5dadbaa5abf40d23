// crm-router rules: prints the forwarding rules of a region's routed mailboxes.
import { type Command, first, type Settings, str, type Values } from './common.js';

export const rules: Command = {
  usage: 'crm-router rules <region> [--format exchange|sieve|gmail] [--deployment <id>]',
  about: "Prints the forwarding rules (or their removal) for the region's routed mailboxes.",
  options: { format: { type: 'string' }, deployment: { type: 'string' } },
  run,
};

async function run(cfg: Settings, values: Values, positionals: string[]) {
  const region = first(positionals, '<region>');
  const q = { format: str(values.format) ?? 'exchange', deployment: str(values.deployment) };
  if (values.json) console.log(JSON.stringify(await cfg.api.regions.rules(region, q), null, 2));
  else process.stdout.write(await cfg.api.regions.rulesText(region, q));
}
