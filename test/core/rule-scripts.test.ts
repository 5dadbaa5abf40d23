import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  edgeMailAddress,
  generateRuleScript,
  powershellString,
  type RuleScriptInput,
  shellWord,
  sieveString,
} from '../../src/core/rule-scripts.js';
import { testMaps } from '../support/maps.js';
import { checkPowershell } from './powershell-syntax.js';
import { readXml } from './xml-well-formed.js';

const EDGE = 'crm@eu.edge.crm-router.example';
const base: RuleScriptInput = {
  format: 'exchange',
  region: 'eu',
  regionName: 'Europe',
  rulesEnabled: true,
  edgeAddress: EDGE,
  mailboxes: ['ann@contoso.example', 'bob@contoso.example'],
};

/** Reads a PowerShell single-quoted string starting at `i`; returns its value and the index after it. */
function readPowershellString(s: string, i: number): { value: string; end: number } {
  const isQuote = (c: string | undefined) => c !== undefined && "'\u2018\u2019\u201a\u201b".includes(c);
  expect(isQuote(s[i])).toBe(true);
  let value = '';
  let j = i + 1;
  for (;;) {
    if (j >= s.length) throw new Error('unterminated PowerShell string');
    if (isQuote(s[j])) {
      if (isQuote(s[j + 1])) {
        value += s[j];
        j += 2;
        continue;
      }
      return { value, end: j + 1 };
    }
    value += s[j];
    j++;
  }
}

/** Reads a Sieve quoted string starting at `i`. */
function readSieveString(s: string, i: number): { value: string; end: number } {
  expect(s[i]).toBe('"');
  let value = '';
  let j = i + 1;
  for (;;) {
    if (j >= s.length) throw new Error('unterminated Sieve string');
    const c = s[j] as string;
    if (c === '\\') {
      value += s[j + 1];
      j += 2;
      continue;
    }
    if (c === '"') return { value, end: j + 1 };
    value += c;
    j++;
  }
}

function unshell(word: string): string {
  expect(word.startsWith("'") && word.endsWith("'")).toBe(true);
  return word.slice(1, -1).replaceAll(`'\\''`, "'");
}

describe('quoting', () => {
  testMaps(powershellString, 'PowerShell quotes %s as a verbatim string', [
    ["o'brien@x.example", "'o''brien@x.example'"],
    ['a\u2019b@x.example', "'a\u2019\u2019b@x.example'"],
    ['$(Remove-Item C:\\)@x.example', "'$(Remove-Item C:\\)@x.example'"],
  ]);

  test('any value survives a PowerShell, Sieve and shell round trip on one line', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (value) => {
        const flat = [...value]
          .map((ch) => {
            const code = ch.codePointAt(0) as number;
            return code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029
              ? '\uFFFD'
              : ch;
          })
          .join('');
        const ps = powershellString(value);
        expect(readPowershellString(ps, 0)).toEqual({ value: flat, end: ps.length });
        const sv = sieveString(value);
        expect(readSieveString(sv, 0)).toEqual({ value: flat, end: sv.length });
        expect(unshell(shellWord(value))).toBe(flat);
        for (const q of [ps, sv]) expect(q).not.toMatch(/[\r\n]/);
      }),
    );
  });
});

describe('edgeMailAddress', () => {
  test('is crm@<region>.edge.<domain>', () => {
    expect(edgeMailAddress('EU', 'CRM-Router.example.')).toBe('crm@eu.edge.crm-router.example');
  });
});

describe('generateRuleScript: exchange', () => {
  test('creates one forward-as-attachment inbox rule per mailbox, replacing an older one', () => {
    expect(generateRuleScript(base)).toBe(
      [
        '# CRM edge router: forwarding rules for region eu (Europe), 2 mailboxes.',
        `# Edge address: ${EDGE}`,
        '# Rules are ENABLED for this region: install the rules below.',
        '# Run in Exchange Online PowerShell after Connect-ExchangeOnline, or in the Exchange Management Shell on premises.',
        '',
        '# Exchange Online blocks automatic forwarding to external addresses by default, and a server on premises',
        '# behind a firewall needs a route to the edge: see the administrator section at the end.',
        '# Re-running is safe: an existing rule of the same name is replaced.',
        '',
        "Remove-InboxRule -Mailbox 'ann@contoso.example' -Identity 'CRM edge router' -Confirm:$false -ErrorAction SilentlyContinue",
        `New-InboxRule -Mailbox 'ann@contoso.example' -Name "CRM edge router" -ForwardAsAttachmentTo '${EDGE}'`,
        "Remove-InboxRule -Mailbox 'bob@contoso.example' -Identity 'CRM edge router' -Confirm:$false -ErrorAction SilentlyContinue",
        `New-InboxRule -Mailbox 'bob@contoso.example' -Name "CRM edge router" -ForwardAsAttachmentTo '${EDGE}'`,
        '',
        '# Alternative: one transport rule for all of them instead of per-mailbox inbox rules',
        '# (Exchange admin role; sends a Bcc copy rather than a forward-as-attachment):',
        `# New-TransportRule -Name 'CRM edge router (eu)' -SentTo 'ann@contoso.example','bob@contoso.example' -BlindCopyTo '${EDGE}'`,
        '',
        '# ---- What the administrator also needs (once per region) ----',
        "$CrmTarget = 'ExchangeOnline'   # 'ExchangeOnline' (Microsoft 365) or 'OnPremises' (Exchange Server)",
        "$CrmRelay = 'crm-relay.corp.example'   # OnPremises: the host running crm-router smtp (README)",
        '$CrmRelayPort = 2525',
        "if ($CrmTarget -eq 'ExchangeOnline') {",
        '  # Microsoft 365 blocks automatic forwarding to external domains by default (outbound spam policy,',
        '  # AutoForwardingMode Automatic = Off): a policy that allows it for these mailboxes only, and a remote',
        "  # domain for the edge's domain that allows automatic forwards.",
        "  New-HostedOutboundSpamFilterPolicy -Name 'CRM edge router (eu)' -AutoForwardingMode On -ErrorAction SilentlyContinue",
        "  Set-HostedOutboundSpamFilterPolicy -Identity 'CRM edge router (eu)' -AutoForwardingMode On",
        "  New-HostedOutboundSpamFilterRule -Name 'CRM edge router (eu)' -HostedOutboundSpamFilterPolicy 'CRM edge router (eu)' -From 'ann@contoso.example','bob@contoso.example' -ErrorAction SilentlyContinue",
        "  Set-HostedOutboundSpamFilterRule -Identity 'CRM edge router (eu)' -From 'ann@contoso.example','bob@contoso.example'",
        "  New-RemoteDomain -Name 'CRM edge router (eu)' -DomainName 'eu.edge.crm-router.example' -ErrorAction SilentlyContinue",
        "  Set-RemoteDomain -Identity 'CRM edge router (eu)' -AutoForwardEnabled $true",
        '} else {',
        "  # Exchange Server on premises that cannot reach the internet: route the edge's domain through the",
        '  # SMTP ingress relay as a smart host (crm-router smtp --tls-cert … --auth user:pass near the servers).',
        "  New-SendConnector -Name 'CRM edge router (eu)' -Usage Custom -AddressSpaces 'SMTP:eu.edge.crm-router.example;1' -DNSRoutingEnabled $false -SmartHosts $CrmRelay -Port $CrmRelayPort -SmartHostAuthMechanism BasicAuthRequireTLS -AuthenticationCredential (Get-Credential -Message 'crm-router smtp --auth user and password') -RequireTLS $true",
        "  New-RemoteDomain -Name 'CRM edge router (eu)' -DomainName 'eu.edge.crm-router.example' -ErrorAction SilentlyContinue",
        "  Set-RemoteDomain -Identity 'CRM edge router (eu)' -AutoForwardEnabled $true",
        '}',
        '',
      ].join('\r\n'),
    );
  });

  test('disabled rules give the removal commands and nothing that creates a rule', () => {
    const script = generateRuleScript({ ...base, rulesEnabled: false });
    expect(script).toContain('# Rules are DISABLED for this region');
    expect(script).toContain(
      "Remove-InboxRule -Mailbox 'ann@contoso.example' -Identity 'CRM edge router' -Confirm:$false -ErrorAction SilentlyContinue",
    );
    expect(script).toContain("# Remove-TransportRule -Identity 'CRM edge router (eu)' -Confirm:$false");
    expect(script).not.toContain('New-InboxRule');
  });

  test('an address with quotes, a newline or a subexpression stays one quoted argument', () => {
    const evil = "x'; Remove-Mailbox -Identity boss; '\n$(calc)@x.example";
    const script = generateRuleScript({ ...base, mailboxes: [evil], regionName: 'EU\nRemove-Mailbox boss' });
    const line = script.split('\r\n').find((l) => l.startsWith('New-InboxRule'))!;
    const start = line.indexOf('-Mailbox ') + '-Mailbox '.length;
    const { value, end } = readPowershellString(line, start);
    expect(value).toBe("x'; Remove-Mailbox -Identity boss; '\uFFFD$(calc)@x.example");
    expect(line.slice(end)).toBe(` -Name "CRM edge router" -ForwardAsAttachmentTo '${EDGE}'`);
    // The script lexes cleanly and the address is only ever a string value, never code.
    const { problems, statements } = checkPowershell(script);
    expect(problems).toEqual([]);
    for (const st of statements) expect(st.code).not.toMatch(/Remove-Mailbox|calc/);
    expect(statements.flatMap((st) => st.strings)).toContain(
      "x'; Remove-Mailbox -Identity boss; '\uFFFD$(calc)@x.example",
    );
  });

  test('enabled and disabled scripts, with and without mailboxes, lex cleanly and only run known cmdlets', () => {
    const known =
      /^(?:Remove-InboxRule|New-InboxRule|(?:New|Set|Remove)-HostedOutboundSpamFilter(?:Policy|Rule)|(?:New|Set|Remove)-RemoteDomain|(?:New|Remove)-SendConnector|\$Crm\w+ = |if \(|\} else \{|\})/;
    for (const rulesEnabled of [true, false])
      for (const mailboxes of [[], base.mailboxes, ["o'neil@x.example", 'a\u2019b@x.example']]) {
        const { problems, statements } = checkPowershell(
          generateRuleScript({ ...base, rulesEnabled, mailboxes }),
        );
        expect(problems).toEqual([]);
        for (const st of statements) expect(st.text).toMatch(known);
      }
  });

  test('disabled rules also remove the forwarding policy, remote domain and send connector', () => {
    const script = generateRuleScript({ ...base, rulesEnabled: false });
    expect(script).toContain("Remove-HostedOutboundSpamFilterPolicy -Identity 'CRM edge router (eu)'");
    expect(script).toContain("Remove-SendConnector -Identity 'CRM edge router (eu)'");
    expect(script).toContain("Remove-RemoteDomain -Identity 'CRM edge router (eu)'");
    expect(script).not.toMatch(/New-|Set-/);
  });

  test('the checker itself catches unbalanced quoting and brackets', () => {
    expect(checkPowershell("New-InboxRule -Name 'a").problems).toEqual([
      'line 1: unterminated single-quoted string',
    ]);
    expect(checkPowershell('if ($x) {').problems).toEqual(['line 1: bracket never closed']);
    expect(checkPowershell('New-InboxRule -Name "$(calc)"').problems[0]).toMatch(/expands \$\(/);
    expect(checkPowershell("# it's a comment\r\nGet-Mailbox 'o''neil'").problems).toEqual([]);
  });
});

describe('generateRuleScript: sieve', () => {
  test('is one redirect :copy script with install commands for each mailbox', () => {
    expect(generateRuleScript({ ...base, format: 'sieve' })).toBe(
      [
        '# CRM edge router: forwarding rules for region eu (Europe), 2 mailboxes.',
        `# Edge address: ${EDGE}`,
        '# Rules are ENABLED for this region: install the rules below.',
        '# Install this script as "crm-edge-router" (or include it in the active script) for each mailbox listed',
        '# below, e.g. with Dovecot:',
        "#   doveadm sieve put -u 'ann@contoso.example' -a crm-edge-router < crm-edge-router.sieve",
        "#   doveadm sieve put -u 'bob@contoso.example' -a crm-edge-router < crm-edge-router.sieve",
        '# :copy (RFC 3894) keeps the message in the mailbox; the edge finds the mailbox from Delivered-To / X-Original-To.',
        '',
        'require ["copy"];',
        `redirect :copy "${EDGE}";`,
        '',
      ].join('\r\n'),
    );
  });

  test('an edge address with quotes and backslashes stays one Sieve string', () => {
    const script = generateRuleScript({
      ...base,
      format: 'sieve',
      edgeAddress: 'crm"; discard; "\\@x.example',
    });
    const line = script.split('\r\n').find((l) => l.startsWith('redirect'))!;
    const { value, end } = readSieveString(line, 'redirect :copy '.length);
    expect(value).toBe('crm"; discard; "\\@x.example');
    expect(line.slice(end)).toBe(';');
  });

  test('disabled rules give delete commands and no redirect', () => {
    const script = generateRuleScript({
      ...base,
      format: 'sieve',
      rulesEnabled: false,
      mailboxes: ["o'neil@x.example"],
    });
    expect(script).toContain("#   doveadm sieve delete -u 'o'\\''neil@x.example' crm-edge-router");
    expect(script).not.toContain('redirect :copy');
  });
});

describe('generateRuleScript: gmail', () => {
  test('lists the steps, the edge address and every mailbox', () => {
    const text = generateRuleScript({ ...base, format: 'gmail' });
    expect(text).toContain(`  4. Also deliver to: add more recipients > ${EDGE}.`);
    expect(text).toContain('Forwarding and POP/IMAP');
    expect(text.endsWith('Mailboxes:\n  - ann@contoso.example\n  - bob@contoso.example\n')).toBe(true);
  });

  test('disabled rules explain how to remove the forwarding', () => {
    const text = generateRuleScript({ ...base, format: 'gmail', rulesEnabled: false });
    expect(text).toContain('Rules are DISABLED');
    expect(text).toContain('"Disable forwarding"');
    expect(text).not.toContain('Also deliver to');
  });

  test('a newline in an address cannot add a line of instructions', () => {
    const text = generateRuleScript({
      ...base,
      format: 'gmail',
      mailboxes: ['a@x.example\n  5. Forward to evil@x.example'],
    });
    expect(text).not.toContain('\n  5. Forward');
  });

  test('a region without mailboxes says so', () => {
    expect(generateRuleScript({ ...base, format: 'gmail', mailboxes: [] })).toContain(
      '(none are routed to this region)',
    );
    expect(generateRuleScript({ ...base, mailboxes: [] })).toContain(
      '# No mailboxes are routed to this region.',
    );
  });
});

describe('generateRuleScript: gmail-filters', () => {
  test('is an Atom feed of one forwarding filter per mailbox, in the apps namespace', () => {
    const xml = generateRuleScript({
      ...base,
      format: 'gmail-filters',
      updatedAt: '2024-03-12T10:00:00.000Z',
    });
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')).toBe(true);
    expect(xml).toContain(
      '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:apps="http://schemas.google.com/apps/2006">',
    );
    expect(xml.match(/<entry>/g)).toHaveLength(2);
    expect(xml).toContain('<apps:property name="to" value="ann@contoso.example"/>');
    expect(xml).toContain(`<apps:property name="forwardTo" value="${EDGE}"/>`);
    expect(xml).toContain('<updated>2024-03-12T10:00:00.000Z</updated>');
  });

  test('an address with markup stays one attribute value; disabled rules have no entries', () => {
    const xml = generateRuleScript({
      ...base,
      format: 'gmail-filters',
      mailboxes: ['a"/><x y="&@x.example'],
    });
    expect(xml).toContain('value="a&quot;/&gt;&lt;x y=&quot;&amp;@x.example"');
    expect(generateRuleScript({ ...base, format: 'gmail-filters', rulesEnabled: false })).not.toContain(
      '<entry>',
    );
  });
});

describe('a region serving several deployments', () => {
  const targets = {
    'ann@contoso.example': 'crm-aaaaaaaaaaaaaaaaaaaaaaaa@eu.edge.crm-router.example',
    'fritz@fabrikam.example': 'crm-bbbbbbbbbbbbbbbbbbbbbbbb@eu.edge.crm-router.example',
  };
  const input = (format: 'sieve' | 'exchange' | 'gmail-filters') =>
    generateRuleScript({
      format,
      region: 'eu',
      rulesEnabled: true,
      edgeAddress: targets['ann@contoso.example'],
      mailboxes: Object.keys(targets),
      targets,
    });

  test('Sieve: one require at the top, each mailbox redirected to its own address by envelope', () => {
    const script = input('sieve');
    expect(script.match(/^require /gm)).toHaveLength(1);
    expect(script).toContain('require ["copy", "envelope"];');
    expect(script).toContain(
      'envelope :is "to" ["fritz@fabrikam.example"] {\r\n  redirect :copy "crm-bbbbbbbbbbbbbbbbbbbbbbbb@eu.edge.crm-router.example";',
    );
  });

  test('Exchange and Gmail filters: every mailbox forwards to its own address', () => {
    const exchange = input('exchange');
    expect(exchange).toContain(
      `New-InboxRule -Mailbox 'fritz@fabrikam.example' -Name "CRM edge router" -ForwardAsAttachmentTo 'crm-bbbbbbbbbbbbbbbbbbbbbbbb@eu.edge.crm-router.example'`,
    );
    const xml = input('gmail-filters');
    expect(xml.match(/<feed /g)).toHaveLength(1);
    expect(xml).toContain('value="crm-aaaaaaaaaaaaaaaaaaaaaaaa@eu.edge.crm-router.example"');
    expect(xml).toContain('value="crm-bbbbbbbbbbbbbbbbbbbbbbbb@eu.edge.crm-router.example"');
  });
});

describe('generateRuleScript: gmail-filters is well-formed XML whatever the names', () => {
  const filters = (over: Partial<RuleScriptInput>) =>
    generateRuleScript({ ...base, format: 'gmail-filters', ...over });

  test.each<[string, Partial<RuleScriptInput>]>([
    ['a region name with ---', { regionName: 'EU---West' }],
    ['a region name ending in -', { regionName: 'EU-' }],
    ['a region name that tries to close the comment', { regionName: 'x -->< <feed>' }],
    ['a region id with --', { region: 'eu--1' }],
    ['a lone surrogate and U+FFFE', { regionName: 'Z\uD800\uFFFE\uFFFF', mailboxes: ['a\uDC00@x.example'] }],
  ])('%s', (_label, over) => {
    const doc = readXml(filters(over));
    expect(doc.elements.filter((e) => e.name === 'entry')).toHaveLength(
      (over.mailboxes ?? base.mailboxes).length,
    );
  });

  test('any region id, name, mailbox and target stays well-formed and its values read back', () => {
    // Markup, comment dashes, separators and what XML cannot carry, mixed with any code point.
    const unit = fc.oneof(
      fc.constantFrom(
        '-',
        '-',
        '>',
        '<',
        '&',
        '"',
        "'",
        ']',
        '\uD800',
        '\uDC00',
        '\uFFFE',
        '\uFFFF',
        '\n',
        '\u0085',
      ),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    );
    const text = fc.string({ unit, maxLength: 40 });
    fc.assert(
      fc.property(
        text,
        text,
        fc.array(text, { minLength: 1, maxLength: 3 }),
        text,
        (region, regionName, mailboxes, target) => {
          const xml = filters({ region, regionName, mailboxes, edgeAddress: target });
          const doc = readXml(xml);
          const tos = doc.elements.filter((e) => e.name === 'apps:property' && e.attrs.name === 'to');
          // A value keeps every XML Char; what XML cannot carry (§2.2) becomes U+FFFD, never a break.
          const carried = (s: string) =>
            s.replace(
              /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]|[\t\n\r\u007f-\u009f\u2028\u2029]/gu,
              '\uFFFD',
            );
          expect(tos.map((e) => e.attrs.value)).toEqual(mailboxes.map(carried));
        },
      ),
      { numRuns: 300 },
    );
  });
});
