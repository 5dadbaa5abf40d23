// crm-router tokens create: mints an API token (shown once).
import { type Command, need, print, type Settings, str, type Values } from './common.js';

export const tokensCreate: Command = {
  usage: 'crm-router tokens create --scope <scope> [--label <text>]',
  about:
    "Mints an API token; scope: admin | deployment:<id> | edge:<region> | user:<deployment>/<userId>\n| relay:<deployment> (an SMTP relay's --token). The token is printed once.",
  options: { scope: { type: 'string' }, label: { type: 'string' } },
  run,
};

async function run(cfg: Settings, values: Values) {
  const label = str(values.label);
  const body = { scope: need(values, 'scope'), ...(label ? { label } : {}) };
  const t = await cfg.api.tokens.create(body);
  print(values, t, `${t.token}\n(id ${t.id}, scope ${t.scope}; shown once: store it now)`);
}
