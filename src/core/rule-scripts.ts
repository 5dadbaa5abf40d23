// Generates the forwarding rules that send each routed mailbox's mail to its region's edge:
// Exchange PowerShell (Online and on premises, with the Microsoft 365 forwarding policy and the
// send connector to the SMTP ingress), Sieve (RFC 5228 with the :copy extension of RFC 3894),
// Gmail steps and Gmail's filter import format (Atom with the apps namespace). Pure: addresses
// are data, quoted for the target language so that no address, however odd, can end a string,
// start a comment or add a command.

export const RULE_FORMATS = ['exchange', 'sieve', 'gmail', 'gmail-filters'] as const;
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
  /**
   * Where each mailbox forwards when that differs by mailbox (a region serving several deployments:
   * each forwards to its own deployment's address); a mailbox not listed forwards to `edgeAddress`.
   */
  targets?: Readonly<Record<string, string>>;
  /** ISO time for the Gmail filter feed's `updated` (core has no clock; central passes now). */
  updatedAt?: string;
}

/** The address a mailbox forwards to. */
function targetOf(input: RuleScriptInput, mailbox: string): string {
  return input.targets?.[mailbox] ?? input.edgeAddress;
}

/** Mailboxes grouped by the address they forward to, in first-seen order. */
function byTarget(input: RuleScriptInput): Array<[string, string[]]> {
  const groups = new Map<string, string[]>();
  for (const m of input.mailboxes) {
    const t = targetOf(input, m);
    groups.set(t, [...(groups.get(t) ?? []), m]);
  }
  return [...groups];
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
    byTarget(input).length > 1
      ? `${comment} Edge addresses: ${byTarget(input)
          .map(([t]) => oneLine(t))
          .join(', ')} (one per deployment; each mailbox forwards to its own, as below)`
      : `${comment} Edge address: ${oneLine(byTarget(input)[0]?.[0] ?? input.edgeAddress)}`,
    input.rulesEnabled
      ? `${comment} Rules are ENABLED for this region: install the rules below.`
      : `${comment} Rules are DISABLED for this region: the edge drops what it receives, so remove the rules below.`,
  ];
}

/** The edge address's domain (what a remote domain / send connector is scoped to). */
function domainOfAddress(address: string): string {
  return oneLine(address.slice(address.lastIndexOf('@') + 1));
}

/**
 * What an Exchange administrator also needs so that the inbox rules may forward at all:
 * Microsoft 365 blocks automatic forwarding to external domains (outbound spam policy,
 * `AutoForwardingMode`), and Exchange Server on premises behind a firewall needs a send connector
 * that routes the edge's domain through the SMTP ingress relay (`crm-router smtp`) as a smart host.
 */
function exchangeAdminSection(input: RuleScriptInput): string[] {
  const name = powershellString(`${RULE_NAME} (${input.region})`);
  const domain = powershellString(domainOfAddress(input.edgeAddress));
  const space = powershellString(`SMTP:${domainOfAddress(input.edgeAddress)};1`);
  const senders = input.mailboxes.map(powershellString).join(',');
  const lines = [
    '',
    '# ---- What the administrator also needs (once per region) ----',
    "$CrmTarget = 'ExchangeOnline'   # 'ExchangeOnline' (Microsoft 365) or 'OnPremises' (Exchange Server)",
    "$CrmRelay = 'crm-relay.corp.example'   # OnPremises: the host running crm-router smtp (README)",
    '$CrmRelayPort = 2525',
  ];
  if (input.rulesEnabled) {
    lines.push(
      "if ($CrmTarget -eq 'ExchangeOnline') {",
      '  # Microsoft 365 blocks automatic forwarding to external domains by default (outbound spam policy,',
      '  # AutoForwardingMode Automatic = Off): a policy that allows it for these mailboxes only, and a remote',
      "  # domain for the edge's domain that allows automatic forwards.",
      `  New-HostedOutboundSpamFilterPolicy -Name ${name} -AutoForwardingMode On -ErrorAction SilentlyContinue`,
      `  Set-HostedOutboundSpamFilterPolicy -Identity ${name} -AutoForwardingMode On`,
      ...(senders
        ? [
            `  New-HostedOutboundSpamFilterRule -Name ${name} -HostedOutboundSpamFilterPolicy ${name} -From ${senders} -ErrorAction SilentlyContinue`,
            `  Set-HostedOutboundSpamFilterRule -Identity ${name} -From ${senders}`,
          ]
        : ['  # (no mailboxes: no outbound spam filter rule)']),
      `  New-RemoteDomain -Name ${name} -DomainName ${domain} -ErrorAction SilentlyContinue`,
      `  Set-RemoteDomain -Identity ${name} -AutoForwardEnabled $true`,
      '} else {',
      "  # Exchange Server on premises that cannot reach the internet: route the edge's domain through the",
      '  # SMTP ingress relay as a smart host (crm-router smtp --tls-cert … --auth user:pass near the servers).',
      `  New-SendConnector -Name ${name} -Usage Custom -AddressSpaces ${space} -DNSRoutingEnabled $false -SmartHosts $CrmRelay -Port $CrmRelayPort -SmartHostAuthMechanism BasicAuthRequireTLS -AuthenticationCredential (Get-Credential -Message 'crm-router smtp --auth user and password') -RequireTLS $true`,
      `  New-RemoteDomain -Name ${name} -DomainName ${domain} -ErrorAction SilentlyContinue`,
      `  Set-RemoteDomain -Identity ${name} -AutoForwardEnabled $true`,
      '}',
    );
  } else {
    lines.push(
      "if ($CrmTarget -eq 'ExchangeOnline') {",
      `  Remove-HostedOutboundSpamFilterRule -Identity ${name} -Confirm:$false -ErrorAction SilentlyContinue`,
      `  Remove-HostedOutboundSpamFilterPolicy -Identity ${name} -Confirm:$false -ErrorAction SilentlyContinue`,
      '} else {',
      `  Remove-SendConnector -Identity ${name} -Confirm:$false -ErrorAction SilentlyContinue`,
      '}',
      `Remove-RemoteDomain -Identity ${name} -Confirm:$false -ErrorAction SilentlyContinue`,
    );
  }
  return lines;
}

function exchangeScript(input: RuleScriptInput): string {
  const edge = powershellString(input.edgeAddress);
  const rule = powershellString(RULE_NAME);
  const transportRule = powershellString(`${RULE_NAME} (${input.region})`);
  const lines = [
    ...header(input, '#'),
    '# Run in Exchange Online PowerShell after Connect-ExchangeOnline, or in the Exchange Management Shell on premises.',
    '',
  ];
  if (input.mailboxes.length === 0) lines.push('# No mailboxes are routed to this region.', '');
  if (input.rulesEnabled) {
    lines.push(
      '# Exchange Online blocks automatic forwarding to external addresses by default, and a server on premises',
      '# behind a firewall needs a route to the edge: see the administrator section at the end.',
      '# Re-running is safe: an existing rule of the same name is replaced.',
      '',
    );
    for (const address of input.mailboxes) {
      const mailbox = powershellString(address);
      lines.push(
        `Remove-InboxRule -Mailbox ${mailbox} -Identity ${rule} -Confirm:$false -ErrorAction SilentlyContinue`,
        `New-InboxRule -Mailbox ${mailbox} -Name "${RULE_NAME}" -ForwardAsAttachmentTo ${powershellString(targetOf(input, address))}`,
      );
    }
    const groups = byTarget(input);
    lines.push(
      '',
      groups.length > 1
        ? '# Alternative: one transport rule per forwarding address instead of per-mailbox inbox rules'
        : '# Alternative: one transport rule for all of them instead of per-mailbox inbox rules',
      '# (Exchange admin role; sends a Bcc copy rather than a forward-as-attachment):',
      ...(groups.length
        ? groups.map(
            ([target, boxes], n) =>
              `# New-TransportRule -Name ${groups.length > 1 ? powershellString(`${RULE_NAME} (${input.region}) ${n + 1}`) : transportRule} -SentTo ${boxes.map(powershellString).join(',')} -BlindCopyTo ${powershellString(target)}`,
          )
        : [`# New-TransportRule -Name ${transportRule} -SentTo '' -BlindCopyTo ${edge}`]),
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
  lines.push(...exchangeAdminSection(input));
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * One redirect when every mailbox forwards to the same address; otherwise (a region serving several
 * deployments) one script for all of them that picks the address by the envelope recipient (RFC 5228
 * `envelope`, the mailbox the message is delivered to), so `require` stays at the top, once.
 */
function sieveRedirects(input: RuleScriptInput): string[] {
  const groups = byTarget(input);
  if (groups.length <= 1)
    return ['require ["copy"];', `redirect :copy ${sieveString(groups[0]?.[0] ?? input.edgeAddress)};`];
  return [
    'require ["copy", "envelope"];',
    ...groups.flatMap(([target, boxes], n) => [
      `${n === 0 ? 'if' : 'elsif'} envelope :is "to" [${boxes.map(sieveString).join(', ')}] {`,
      `  redirect :copy ${sieveString(target)};`,
      '}',
    ]),
  ];
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
      ...sieveRedirects(input),
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
  const several = byTarget(input).length > 1;
  for (const a of input.mailboxes)
    lines.push(several ? `  - ${oneLine(a)} → ${oneLine(targetOf(input, a))}` : `  - ${oneLine(a)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * What XML 1.0 cannot carry at all (§2.2 Char): a surrogate on its own, U+FFFE and U+FFFF. Control
 * characters are already replaced by {@link oneLine}.
 */
function xmlChars(s: string): string {
  return oneLine(s).replace(
    /[\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    '\uFFFD',
  );
}

/** XML character data / attribute value: `&`, `<`, `>`, `"` and `'` escaped; what XML cannot carry replaced. */
export function xmlText(s: string): string {
  return xmlChars(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string,
  );
}

/**
 * An XML comment. References are not read inside one, so the text goes in as it is, but `--` may
 * not occur in it (XML 1.0 §2.5): every run of dashes is spaced out; the space before `-->` keeps
 * a final `-` from touching it.
 */
export function xmlComment(s: string): string {
  const text = xmlChars(s).replace(/-{2,}/g, (run) => run.split('').join(' '));
  return `<!-- ${text} -->`;
}

/**
 * Gmail's filter export format (Settings > Filters and Blocked Addresses > Import filters): an Atom
 * feed whose entries carry `apps:property` criteria and actions. One filter per mailbox: mail to
 * it is forwarded to the edge (Gmail asks the user to verify the forwarding address first).
 */
function gmailFilters(input: RuleScriptInput): string {
  const region = xmlText(input.region);
  const updated = xmlText(input.updatedAt ?? '1970-01-01T00:00:00Z');
  const header = `CRM edge router: forwarding filters for region ${input.region}${input.regionName ? ` (${input.regionName})` : ''}`;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    xmlComment(header),
    input.rulesEnabled
      ? '<!-- Rules are ENABLED for this region: import this file in each mailbox listed below. -->'
      : '<!-- Rules are DISABLED for this region: delete the "CRM edge router" filters; nothing to import. -->',
    '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:apps="http://schemas.google.com/apps/2006">',
    `  <title>${xmlText(RULE_NAME)} (${region})</title>`,
    `  <id>tag:crm-edge-router,2024:filters:${region}</id>`,
    `  <updated>${updated}</updated>`,
    `  <author><name>${xmlText(RULE_NAME)}</name></author>`,
  ];
  if (input.rulesEnabled)
    input.mailboxes.forEach((address, n) => {
      lines.push(
        '  <entry>',
        '    <category term="filter"></category>',
        `    <title>${xmlText(RULE_NAME)}</title>`,
        `    <id>tag:crm-edge-router,2024:filter:${region}:${n + 1}</id>`,
        `    <updated>${updated}</updated>`,
        '    <content></content>',
        `    <apps:property name="to" value="${xmlText(address)}"/>`,
        `    <apps:property name="forwardTo" value="${xmlText(targetOf(input, address))}"/>`,
        '    <apps:property name="sizeOperator" value="s_sl"/>',
        '    <apps:property name="sizeUnit" value="s_smb"/>',
        '  </entry>',
      );
    });
  lines.push('</feed>');
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
    case 'gmail-filters':
      return gmailFilters(input);
  }
}
