// crm-router smtp: the SMTP ingress relay (src/relay) for mail servers that cannot use Email
// Routing; runs until SIGINT/SIGTERM. Its --token is the edge's inbound token, not an API token.
import { relayOptionsFrom, SMTP_OPTIONS, SMTP_USAGE, type SmtpValues } from '../../src/relay/cli.js';
import { startRelay } from '../../src/relay/relay.js';
import type { Command, Settings, Values } from './common.js';

export const smtp: Command = {
  usage: SMTP_USAGE.split('\n\n')[0] as string,
  about: `SMTP ingress relay for a mail server that cannot use Email Routing (smart host / forwarding target).
${SMTP_USAGE.split('\n\n').slice(1).join('\n\n')}`,
  options: { ...SMTP_OPTIONS },
  run,
};

async function run(_cfg: Settings, values: Values) {
  const opts = relayOptionsFrom(values as unknown as SmtpValues);
  const relay = await startRelay({ ...opts, log: (line) => console.log(line) });
  console.log(`SMTP relay listening on ${opts.host}:${relay.port} → ${opts.edgeUrl}`);
  await new Promise<void>((res) => {
    const stop = () => relay.stop().then(res);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
