// `crm-router smtp --edge <url> --token <relay token> --listen <host:port> [--tls-cert F --tls-key F]
//  [--allow CIDR…] [--auth user:pass]`: runs the SMTP ingress relay near a mail server.
import { parseArgs } from 'node:util';
import { type Relay, type RelayOptions, startRelay } from './relay.js';

export const SMTP_USAGE = `crm-router smtp --edge <edge URL> --token <relay token> --listen <host:port>
                [--tls-cert FILE --tls-key FILE] [--allow CIDR ...] [--auth user:pass]
                [--connection-timeout SECONDS] [--message-timeout SECONDS]
                [--max-clients N] [--max-per-address N]

Runs an SMTP ingress relay: a mail server uses it as a smart host or forwarding target; each
message is streamed to the edge's POST /api/v1/inbound with its envelope and answered with the
edge's answer (250 only after the edge accepted it; 451 4.3.0 while the edge is unavailable;
552 5.3.4 oversize; 550 5.1.1 for an address that is not a forwarding address).
--token: a relay token (tokens create --scope relay:<deployment>), which the edge accepts for that
deployment's forwarding addresses only, or the region's INBOUND_TOKEN (every address).
--allow defaults to loopback only; --auth without TLS is only allowed on a loopback address.
At most 100 recipients per transaction (452 4.5.3 beyond, RFC 5321), --max-clients connections
at once (default 100; 421 beyond) and --max-per-address from one client address (default 50).`;

/** The `smtp` command's options (parseArgs form). */
export const SMTP_OPTIONS = {
  edge: { type: 'string' },
  token: { type: 'string' },
  listen: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  allow: { type: 'string', multiple: true },
  auth: { type: 'string' },
  'connection-timeout': { type: 'string' },
  'message-timeout': { type: 'string' },
  'max-clients': { type: 'string' },
  'max-per-address': { type: 'string' },
} as const;

export interface SmtpValues {
  edge?: string | undefined;
  token?: string | undefined;
  listen?: string | undefined;
  'tls-cert'?: string | undefined;
  'tls-key'?: string | undefined;
  allow?: string[] | undefined;
  auth?: string | undefined;
  'connection-timeout'?: string | undefined;
  'message-timeout'?: string | undefined;
  'max-clients'?: string | undefined;
  'max-per-address'?: string | undefined;
}

/** Parses the `smtp` command's arguments into relay options (throws with the usage on a mistake). */
export function parseRelayArgs(argv: string[]): RelayOptions & { help?: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: { ...SMTP_OPTIONS, help: { type: 'boolean', short: 'h' } },
    allowPositionals: false,
  });
  if (values.help) return { edgeUrl: '', token: '', host: '', port: 0, help: true };
  return relayOptionsFrom(values);
}

/** Relay options from the parsed `smtp` options. */
export function relayOptionsFrom(values: SmtpValues): RelayOptions {
  if (!values.edge || !values.token || !values.listen) throw new Error(`missing arguments\n\n${SMTP_USAGE}`);
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(values.listen);
  if (!m) throw new Error(`--listen ${values.listen}: expected host:port`);
  const host = (m[1] ?? m[2]) as string;
  const port = Number(m[3]);
  let auth: { user: string; pass: string } | undefined;
  if (values.auth) {
    const i = values.auth.indexOf(':');
    if (i <= 0) throw new Error('--auth: expected user:pass');
    auth = { user: values.auth.slice(0, i), pass: values.auth.slice(i + 1) };
  }
  const seconds = (v: string | undefined, name: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!(n > 0)) throw new Error(`--${name}: expected a positive number of seconds`);
    return n * 1000;
  };
  const count = (v: string | undefined, name: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive whole number`);
    return n;
  };
  const maxClients = count(values['max-clients'], 'max-clients');
  const maxPerAddress = count(values['max-per-address'], 'max-per-address');
  return {
    edgeUrl: values.edge,
    token: values.token,
    host,
    port,
    ...(values['tls-cert'] ? { tlsCert: values['tls-cert'] } : {}),
    ...(values['tls-key'] ? { tlsKey: values['tls-key'] } : {}),
    ...(values.allow ? { allow: values.allow.flatMap((a) => a.split(',')) } : {}),
    ...(auth ? { auth } : {}),
    connectionTimeoutMs: seconds(values['connection-timeout'], 'connection-timeout'),
    messageTimeoutMs: seconds(values['message-timeout'], 'message-timeout'),
    ...(maxClients ? { maxClients } : {}),
    ...(maxPerAddress ? { maxConnectionsPerAddress: maxPerAddress } : {}),
  };
}

/** Parses the `smtp` command's arguments and starts the relay. */
export async function runSmtpCommand(argv: string[], log = console.log): Promise<Relay | undefined> {
  const opts = parseRelayArgs(argv);
  if (opts.help) {
    log(SMTP_USAGE);
    return undefined;
  }
  const relay = await startRelay({ ...opts, log });
  log(`SMTP relay listening on ${opts.host}:${relay.port} → ${opts.edgeUrl}`);
  return relay;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  if (args[0] === 'smtp') args.shift();
  runSmtpCommand(args).then(
    (relay) => {
      if (!relay) return;
      const stop = () => relay.stop().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (err) => {
      console.error(String(err instanceof Error ? err.message : err));
      process.exit(1);
    },
  );
}
