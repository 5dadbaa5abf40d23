// crm-router send: sends a raw message to a local edge as Email Routing would.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { errorCode } from '../errors.js';
import { DEFAULT_PORTS, isRegion } from '../network.js';
import { CliError, type Command, first, type Settings, str, type Values } from './common.js';

const EDGE_PORTS = { us: DEFAULT_PORTS.us, eu: DEFAULT_PORTS.eu, apac: DEFAULT_PORTS.apac };
const networkReason = errorCode;

export const send: Command = {
  usage: 'crm-router send <file.eml> --region <us|eu|apac> [--from <addr>] [--to <addr>] [--edge <url>]',
  about: `Sends a raw message to a local edge as Email Routing would (POST /cdn-cgi/handler/email).
  --region   the edge to send to; ports ${Object.entries(EDGE_PORTS)
    .map(([r, p]) => `${r} ${p}`)
    .join(', ')} (or $EDGE_<REGION>_PORT)
  --from     envelope sender (default: the message's From address)
  --to       envelope recipient (default crm@<region>.edge.localhost)
  --edge     the edge's base URL, overriding --region's port`,
  options: {
    region: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    edge: { type: 'string' },
  },
  run,
};

export function readMessage(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${errorCode(err)}`);
  }
}

/** The From address of a raw message's header block, for a default envelope sender. */
function headerFrom(raw: Buffer): string | undefined {
  const end = raw.indexOf('\r\n\r\n') >= 0 ? raw.indexOf('\r\n\r\n') : raw.indexOf('\n\n');
  const head = raw
    .subarray(0, end >= 0 ? end : Math.min(raw.length, 65536))
    .toString('latin1')
    .replace(/\r?\n[ \t]+/g, ' ');
  const from = /^from:(.*)$/im.exec(head)?.[1] ?? '';
  return /<([^<>\s]+@[^<>\s]+)>/.exec(from)?.[1] ?? /([^\s<>",;:]+@[^\s<>",;:]+)/.exec(from)?.[1];
}

async function run(_cfg: Settings, values: Values, positionals: string[]) {
  const file = first(positionals, '<file.eml>');
  const raw = readMessage(file);
  let edge = str(values.edge);
  const region = str(values.region);
  if (!edge) {
    if (!region) throw new CliError('missing --region (us, eu, apac) or --edge <url>');
    const envPort = process.env[`EDGE_${region.toUpperCase()}_PORT`];
    const port = envPort ? Number(envPort) : isRegion(region) ? EDGE_PORTS[region] : undefined;
    if (!port)
      throw new CliError(
        `no local edge port known for region ${region}: pass --edge <url> or set EDGE_${region.toUpperCase()}_PORT`,
      );
    edge = `http://127.0.0.1:${port}`;
  }
  edge = edge.replace(/\/+$/, '');
  const from = str(values.from) ?? headerFrom(raw) ?? 'sender@example.com';
  const to = str(values.to) ?? `crm@${region ?? 'us'}.edge.localhost`;
  const url = `${edge}/cdn-cgi/handler/email?${new URLSearchParams({ from, to })}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'message/rfc822' },
      body: new Uint8Array(raw),
    });
  } catch (err) {
    throw new CliError(`cannot reach the edge at ${edge}: ${networkReason(err)}`);
  }
  const text = await res.text();
  if (!res.ok) throw new CliError(`edge answered ${res.status}: ${text.slice(0, 500) || res.statusText}`);
  console.log(
    values.json
      ? text
      : `sent ${basename(file)} (${raw.length} bytes) to ${edge} as ${from} → ${to}: ${res.status}`,
  );
}
