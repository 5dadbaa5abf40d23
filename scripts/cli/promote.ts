// crm-router promote: "Track in CRM" by hand for a routed mailbox.
import { type Command, first, need, print, type Settings, type Values } from './common.js';
import { readMessage } from './send.js';

export const promote: Command = {
  usage: 'crm-router promote <file.eml> --deployment <id> --mailbox <address>',
  about: 'Tracks a message by hand ("Track in CRM") for a routed mailbox of the deployment.',
  options: { deployment: { type: 'string' }, mailbox: { type: 'string' } },
  run,
};

async function run(cfg: Settings, values: Values, positionals: string[]) {
  const file = first(positionals, '<file.eml>');
  const deployment = need(values, 'deployment');
  const mailbox = need(values, 'mailbox');
  const raw = readMessage(file);
  const { created, activity: a } = await cfg.api.promote(deployment, mailbox, raw);
  print(
    values,
    a,
    `${created ? 'tracked as new activity' : 'merged into activity'} ${a.id}: "${a.subject ?? '(subject withheld by egress policy)'}" from ${a.from ?? '?'}, mailboxes ${a.mailboxes.join(', ')}`,
  );
}
