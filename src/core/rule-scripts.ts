// Generates the forwarding rules that send each routed mailbox's mail to its region's edge:
// Exchange Online PowerShell, Sieve (RFC 5228 with the :copy extension of RFC 3894) and Gmail
// steps. Pure: addresses are data, quoted for the target language so that no address, however
// odd, can end a string, start a comment or add a command.

export const RULE_FORMATS = ['exchange', 'sieve', 'gmail'] as const;
export type RuleFormat = (typeof RULE_FORMATS)[number];

/** Name of the inbox rule / Sieve script the router installs (and removes). */
export const RULE_NAME = 'CRM edge router';
const SIEVE_SCRIPT_NAME = 'crm-edge-router';

export interface RuleScriptInput {
  format: RuleFormat;
  region: string;
  regionName?: string;
  rulesEnabled: boolean;
  /** Where the region's edge receives mail, e.g. `crm@eu.edge.crm-router.example`. */
  edgeAddress: string;
  /** Routed mailboxes of the region (plain addresses). */
  mailboxes: readonly string[];
}

/** The edge's mail address for a region: `crm@<region>.edge.<domain>`. */
export function edgeMailAddress(region: string, domain: string): string {
  return `crm@${region.toLowerCase()}.edge.${domain.toLowerCase().replace(/^\.+|\.+$/g, '')}`;
}

/** Replaces control characters (line breaks included) so a value cannot start a new line or command. */
function oneLine(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '\uFFFD');
}

/**
 * A PowerShell single-quoted (verbatim) string. Inside one, PowerShell treats the typographic
 * quotes U+2018–U+201B as single quotes too, so each of them is doubled like `'` (about_Quoting_Rules).
 */
export function powershellString(s: string): string {
  return `'${oneLine(s).replace(/['\u2018\u2019\u201a\u201b]/g, (q) => q + q)}'`;
}

/** A Sieve quoted string (RFC 5228 §2.4.2): `\` and `"` are escaped with a backslash. */
export function sieveString(s: string): string {
  return `"${oneLine(s).replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A POSIX shell single-quoted word: `'` becomes `'\''`. */
export function shellWord(s: string): string {
  return `'${oneLine(s).replace(/'/g, `'\\''`)}'`;
}

function header(input: RuleScriptInput, comment: string): string[] {
  const name = input.regionName ? ` (${oneLine(input.regionName)})` : '';
  const count = `${input.mailboxes.length} mailbox${input.mailboxes.length === 1 ? '' : 'es'}`;
  return [
    `${comment} CRM edge router: forwarding rules for region ${oneLine(input.region)}${name}, ${count}.`,
    `${comment} Edge address: ${oneLine(input.edgeAddress)}`,
    input.rulesEnabled
      ? `${comment} Rules are ENABLED for this region: install the rules below.`
      : `${comment} Rules are DISABLED for this region: the edge drops what it receives, so remove the rules below.`,
  ];
}

function exchangeScript(input: RuleScriptInput): string {
  const edge = powershellString(input.edgeAddress);
  const rule = powershellString(RULE_NAME);
  const transportRule = powershellString(`${RULE_NAME} (${input.region})`);
  const lines = [
    ...header(input, '#'),
    '# Run in Exchange Online PowerShell after Connect-ExchangeOnline.',
    '',
  ];
  if (input.mailboxes.length === 0) lines.push('# No mailboxes are routed to this region.', '');
  if (input.rulesEnabled) {
    lines.push(
      '# Exchange Online blocks automatic forwarding to external addresses by default: allow it for these',
      '# mailboxes in the outbound anti-spam policy (Set-HostedOutboundSpamFilterPolicy -AutoForwardingMode On).',
      '# Re-running is safe: an existing rule of the same name is replaced.',
      '',
    );
    for (const address of input.mailboxes) {
      const mailbox = powershellString(address);
      lines.push(
        `Remove-InboxRule -Mailbox ${mailbox} -Identity ${rule} -Confirm:$false -ErrorAction SilentlyContinue`,
        `New-InboxRule -Mailbox ${mailbox} -Name "${RULE_NAME}" -ForwardAsAttachmentTo ${edge}`,
      );
    }
    lines.push(
      '',
      '# Alternative: one transport rule for all of them instead of per-mailbox inbox rules',
      '# (Exchange admin role; sends a Bcc copy rather than a forward-as-attachment):',
      `# New-TransportRule -Name ${transportRule} -SentTo ${input.mailboxes.map(powershellString).join(',') || "''"} -BlindCopyTo ${edge}`,
    );
  } else {
    for (const address of input.mailboxes)
      lines.push(
        `Remove-InboxRule -Mailbox ${powershellString(address)} -Identity ${rule} -Confirm:$false -ErrorAction SilentlyContinue`,
      );
    lines.push(
      '',
      '# If you used the transport rule instead:',
      `# Remove-TransportRule -Identity ${transportRule} -Confirm:$false`,
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

function sieveScript(input: RuleScriptInput): string {
  const lines = [...header(input, '#')];
  if (input.rulesEnabled) {
    lines.push(
      `# Install this script as "${SIEVE_SCRIPT_NAME}" (or include it in the active script) for each mailbox listed`,
      '# below, e.g. with Dovecot:',
      ...input.mailboxes.map(
        (a) =>
          `#   doveadm sieve put -u ${shellWord(a)} -a ${SIEVE_SCRIPT_NAME} < ${SIEVE_SCRIPT_NAME}.sieve`,
      ),
      ...(input.mailboxes.length === 0 ? ['#   (no mailboxes are routed to this region)'] : []),
      '# :copy (RFC 3894) keeps the message in the mailbox; the edge finds the mailbox from Delivered-To / X-Original-To.',
      '',
      'require ["copy"];',
      `redirect :copy ${sieveString(input.edgeAddress)};`,
    );
  } else {
    lines.push(
      `# Remove the "${SIEVE_SCRIPT_NAME}" script (or its redirect) for each mailbox, e.g. with Dovecot:`,
      ...input.mailboxes.map((a) => `#   doveadm sieve delete -u ${shellWord(a)} ${SIEVE_SCRIPT_NAME}`),
      ...(input.mailboxes.length === 0 ? ['#   (no mailboxes are routed to this region)'] : []),
      '',
      '# Nothing to install while the region is disabled: this script is intentionally empty.',
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

function gmailSteps(input: RuleScriptInput): string {
  const edge = oneLine(input.edgeAddress);
  const lines = header(input, '').map((l) => l.trimStart());
  lines.push('');
  if (input.rulesEnabled) {
    lines.push(
      'Google Workspace (recommended; no per-user confirmation):',
      '  1. Admin console > Apps > Google Workspace > Gmail > Routing > Configure.',
      `  2. Name it "${RULE_NAME} (${oneLine(input.region)})"; messages to affect: Inbound.`,
      '  3. Envelope filter: only affect specific envelope recipients — the mailboxes listed below.',
      `  4. Also deliver to: add more recipients > ${edge}.`,
      '  5. Save.',
      '',
      'Per user (Gmail settings of each mailbox listed below):',
      '  1. Settings > See all settings > Forwarding and POP/IMAP > Add a forwarding address:',
      `     ${edge}`,
      '     Gmail mails a confirmation code to that address; the edge keeps no message content, so ask',
      '     your router administrator for the code, or use the Workspace route above.',
      '  2. Choose "Forward a copy of incoming mail to" the edge address and "keep Gmail\'s copy in the Inbox".',
      '  3. Save Changes.',
    );
  } else {
    lines.push(
      'Remove the forwarding:',
      `  Workspace: Admin console > Apps > Google Workspace > Gmail > Routing: delete "${RULE_NAME} (${oneLine(input.region)})".`,
      '  Per user: Settings > See all settings > Forwarding and POP/IMAP > "Disable forwarding",',
      `  then remove ${edge} from the forwarding addresses. Save Changes.`,
    );
  }
  lines.push('', 'Mailboxes:');
  if (input.mailboxes.length === 0) lines.push('  (none are routed to this region)');
  for (const a of input.mailboxes) lines.push(`  - ${oneLine(a)}`);
  return `${lines.join('\n')}\n`;
}

/** The rules (or their removal, when the region's rules are disabled) in the chosen format. */
export function generateRuleScript(input: RuleScriptInput): string {
  switch (input.format) {
    case 'exchange':
      return exchangeScript(input);
    case 'sieve':
      return sieveScript(input);
    case 'gmail':
      return gmailSteps(input);
  }
}
