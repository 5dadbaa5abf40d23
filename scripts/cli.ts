// crm-router: the admin CLI for the central API (records import, routes, sending and promoting
// mail, stats, tokens, rule scripts, the SMTP ingress relay), one file per command under scripts/cli/. Run by the
// `crm-router` launcher (scripts/crm-router) with tsx.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import {
  asCliError,
  CliError,
  type Command,
  DEFAULT_CENTRAL,
  DEFAULT_TOKEN,
  settings,
  type Values,
} from './cli/common.js';
import { promote } from './cli/promote.js';
import { recordsDelete } from './cli/records-delete.js';
import { recordsImport } from './cli/records-import.js';
import { recordsSync } from './cli/records-sync.js';
import { routesAdd } from './cli/routes-add.js';
import { routesExport, routesImport } from './cli/routes-import.js';
import { routesList } from './cli/routes-list.js';
import { routesMove } from './cli/routes-move.js';
import { rules } from './cli/rules.js';
import { send } from './cli/send.js';
import { smtp } from './cli/smtp.js';
import { stats } from './cli/stats.js';
import { tokensCreate } from './cli/tokens-create.js';
import { tokensList } from './cli/tokens-list.js';
import { tokensRevoke } from './cli/tokens-revoke.js';
import { errorMessage } from './errors.js';

export { CliError };

const GLOBAL_OPTIONS: NonNullable<ParseArgsConfig['options']> = {
  central: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const GLOBAL_HELP = `Global options:
  --central <url>   central API (default $CRM_CENTRAL_URL or ${DEFAULT_CENTRAL})
  --token <token>   API token (default $CRM_TOKEN or ${DEFAULT_TOKEN})
  --json            print the API's JSON answer instead of a summary
  -h, --help        help for a command`;

const COMMANDS: Record<string, Command> = {
  'records import': recordsImport,
  'records sync': recordsSync,
  'records delete': recordsDelete,
  'routes import': routesImport,
  'routes export': routesExport,
  'routes add': routesAdd,
  'routes move': routesMove,
  'routes list': routesList,
  send,
  promote,
  stats,
  'tokens create': tokensCreate,
  'tokens list': tokensList,
  'tokens revoke': tokensRevoke,
  rules,
  smtp,
};

function mainHelp() {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return `crm-router: admin CLI of the CRM edge router

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(width)}  ${c.about.split('\n')[0]}`)
  .join('\n')}

${GLOBAL_HELP}

Run "crm-router <command> --help" for a command's options.`;
}

export async function main(argv: string[]): Promise<void> {
  const [first, second, ...rest] = argv;
  if (!first || first === '--help' || first === '-h' || first === 'help') {
    console.log(mainHelp());
    return;
  }
  let name = first;
  let args = [second, ...rest].filter((a) => a !== undefined);
  if (!COMMANDS[name] && second && COMMANDS[`${first} ${second}`]) {
    name = `${first} ${second}`;
    args = rest;
  }
  const command = COMMANDS[name];
  if (!command) {
    const group = Object.keys(COMMANDS).filter((k) => k.startsWith(`${first} `));
    throw new CliError(
      group.length
        ? `"${first}" needs a subcommand: ${group.map((g) => g.split(' ')[1]).join(', ')}`
        : `unknown command "${first}" (crm-router --help lists the commands)`,
    );
  }
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = <{ values: Values; positionals: string[] }>parseArgs({
      args,
      options: { ...GLOBAL_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new CliError(`${errorMessage(err)}\nusage: ${command.usage}`);
  }
  if (parsed.values.help) {
    console.log(`usage: ${command.usage}\n\n${command.about}\n\n${GLOBAL_HELP}`);
    return;
  }
  try {
    await command.run(settings(parsed.values), parsed.values, parsed.positionals);
  } catch (err) {
    throw asCliError(err);
  }
}

function invokedDirectly() {
  try {
    const script = process.argv[1];
    return Boolean(script) && realpathSync(script as string) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main(process.argv.slice(2)).catch((err) => {
    if (process.stderr.isTTY) process.stderr.write('\n');
    if (err instanceof CliError) {
      console.error(`crm-router: ${err.message}`);
      process.exit(err.code);
    }
    console.error(err);
    process.exit(1);
  });
}
