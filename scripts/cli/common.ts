// What every crm-router command shares: its settings (central, token), option values, output
// helpers and the error the CLI prints as is.
import type { ParseArgsConfig } from 'node:util';
import {
  type CentralClient,
  CentralError,
  CentralUnreachable,
  createCentralClient,
} from '../central-client.js';
import { DEFAULT_PORTS, LOCAL_ADMIN_TOKEN } from '../network.js';

export const DEFAULT_CENTRAL = `http://127.0.0.1:${DEFAULT_PORTS.central}`;
export const DEFAULT_TOKEN = LOCAL_ADMIN_TOKEN;

/** An error whose message is printed as is, then the process exits with `code`. */
export class CliError extends Error {
  readonly code: number;
  constructor(message: string, code = 1) {
    super(message);
    this.code = code;
  }
}

export type Values = Record<string, string | boolean | undefined>;

export interface Settings {
  central: string;
  token: string;
  /** The typed client for `central` with `token`. */
  api: CentralClient;
}

export interface Command {
  usage: string;
  about: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run: (cfg: Settings, values: Values, positionals: string[]) => Promise<void>;
}

export function settings(values: Values): Settings {
  const central = (str(values.central) ?? process.env.CRM_CENTRAL_URL ?? DEFAULT_CENTRAL).replace(/\/+$/, '');
  const token = str(values.token) ?? process.env.CRM_TOKEN ?? DEFAULT_TOKEN;
  return { central, token, api: createCentralClient({ baseUrl: central, token, timeoutMs: 10 * 60_000 }) };
}

/** Central's answer as the CLI's error: the API's own code and message. */
export function asCliError(err: unknown): unknown {
  if (err instanceof CentralError || err instanceof CentralUnreachable) return new CliError(err.message);
  return err;
}

export const str = (v: string | boolean | undefined): string | undefined =>
  typeof v === 'string' ? v : undefined;

export function need(values: Values, name: string, hint = ''): string {
  const v = str(values[name]);
  if (v === undefined || v === '') throw new CliError(`missing --${name}${hint ? ` (${hint})` : ''}`);
  return v;
}

export function first(positionals: string[], what: string): string {
  const v = positionals[0];
  if (!v) throw new CliError(`missing ${what}`);
  return v;
}

export function print(values: Values, json: unknown, summary: string): void {
  console.log(values.json ? JSON.stringify(json, null, 2) : summary);
}

export function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (cells: unknown[]) =>
    cells
      .map((cell, i) => String(cell ?? '').padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [
    line(columns),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(columns.map((c) => r[c]))),
  ].join('\n');
}
