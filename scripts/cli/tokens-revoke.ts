// crm-router tokens revoke: revokes a token.
import { type Command, first, print, type Settings, type Values } from './common.js';

export const tokensRevoke: Command = {
  usage: 'crm-router tokens revoke <id>',
  about: 'Revokes a token.',
  options: {},
  run,
};

async function run(cfg: Settings, values: Values, positionals: string[]) {
  const t = await cfg.api.tokens.revoke(first(positionals, '<id>'));
  print(values, t, `revoked ${t.id} (${t.scope})`);
}
