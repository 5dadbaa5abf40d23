// The generated forwarding rules, checked by software the project did not write: Pigeonhole's
// `sievec` compiles the Sieve script of every region and `sieve-test` executes it on a sample
// message (the redirect :copy to the region's address, and the implicit keep); xmllint parses the
// Gmail filter XML as Atom with the apps namespace. No PowerShell is available on these machines:
// the Exchange script is lexed for balanced quoting and brackets (test/core/powershell-syntax.ts).
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT } from '../../scripts/network.js';
import { generateRuleScript } from '../../src/core/rule-scripts.js';
import { checkPowershell } from '../core/powershell-syntax.js';
import { central } from '../e2e/helpers.js';
import { assertTools, run, TOOLS } from './helpers.js';

const REGIONS = ['us', 'eu', 'apac'] as const;
const NOBODY = { uid: 65534, gid: 65534 };

interface Rules {
  region: string;
  edgeAddress: string;
  mailboxes: string[];
  script: string;
}

/** One deployment's rules for a region: what its administrator installs (one forwarding address). */
async function rules(region: string, format: string): Promise<Rules> {
  const res = await central('GET', `/api/v1/regions/${region}/rules?format=${format}&deployment=contoso`);
  expect(res.status).toBe(200);
  return res.json as Rules;
}

describe('generated rules under real mail software', () => {
  const dir = mkdtempSync(join(tmpdir(), 'crm-interop-rules-'));
  const transcript: string[] = [];

  /** Pigeonhole's sieve-test as the unprivileged mail user; stdout and stderr together. */
  async function sieveTest(file: string, message: string, mailbox?: string): Promise<string> {
    const executed = await run(TOOLS.sieveTest, [
      ...['-o', 'mail_uid=nobody', '-o', 'mail_gid=nogroup', '-o', `mail_home=${dir}`],
      ...(mailbox ? ['-a', mailbox] : []),
      file,
      message,
    ]);
    return `${executed.stdout}${executed.stderr}`;
  }

  beforeAll(() => {
    assertTools();
    // sieve-test drops privileges to mail_uid; the files must be readable (and the binary
    // writable) by that user.
    chownSync(dir, NOBODY.uid, NOBODY.gid);
    chmodSync(dir, 0o755);
  });

  afterAll(() => {
    const out = join(ROOT, 'test-output');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'interop-rules.log'), `${transcript.join('\n')}\n`);
    rmSync(dir, { recursive: true, force: true });
  });

  test.each(REGIONS)(
    'Sieve of region %s: sievec compiles it, sieve-test redirects a copy to the region',
    async (region) => {
      const { script, edgeAddress, mailboxes } = await rules(region, 'sieve');
      expect(mailboxes.length).toBeGreaterThan(0);
      const file = join(dir, `${region}.sieve`);
      writeFileSync(file, script);
      const compiled = await run(TOOLS.sievec, [file, join(dir, `${region}.svbin`)]);
      transcript.push(
        `$ sievec ${region}.sieve ${region}.svbin  → exit 0 ${compiled.stdout}${compiled.stderr}`.trim(),
      );
      chownSync(join(dir, `${region}.svbin`), NOBODY.uid, NOBODY.gid);

      const mailbox = mailboxes[0]!;
      const message = join(dir, `${region}.eml`);
      writeFileSync(
        message,
        `From: Carol Customer <carol@example.org>\r\nTo: ${mailbox}\r\nSubject: Quote\r\nMessage-ID: <sieve-${region}@example.org>\r\nDate: Tue, 12 Mar 2024 09:00:00 +0000\r\n\r\nHello.\r\n`,
      );
      chownSync(message, NOBODY.uid, NOBODY.gid);
      const output = await sieveTest(file, message, mailbox);
      transcript.push(`$ sieve-test -a ${mailbox} ${region}.sieve ${region}.eml\n${output.trim()}\n`);
      expect(output).toContain(`redirect message to: <${edgeAddress}>`);
      expect(output).toMatch(/preserve implicit keep/);
      expect(output).toMatch(/store message in folder: INBOX/);
      expect(output).toMatch(/final result: success/);
    },
  );

  test('a region with rules disabled yields a script that compiles and redirects nothing', async () => {
    // Generated directly (pure core): toggling a region of the shared network would disturb the
    // other suites while its edges hold the changed snapshot.
    const script = generateRuleScript({
      format: 'sieve',
      region: 'apac',
      regionName: 'Asia-Pacific',
      rulesEnabled: false,
      edgeAddress: 'crm@apac.edge.crm-router.example',
      mailboxes: ['arjun@contoso.example'],
    });
    const file = join(dir, 'apac-disabled.sieve');
    writeFileSync(file, script);
    await run(TOOLS.sievec, [file, join(dir, 'apac-disabled.svbin')]);
    const message = join(dir, 'apac-disabled.eml');
    writeFileSync(
      message,
      'From: carol@example.org\r\nTo: arjun@contoso.example\r\nSubject: x\r\n\r\nHi\r\n',
    );
    const output = await sieveTest(file, message);
    transcript.push(`$ sieve-test apac-disabled.sieve (rules disabled)\n${output.trim()}\n`);
    expect(output).not.toMatch(/redirect message to/);
    expect(output).toMatch(/store message in folder: INBOX/);
  });

  test('a region serving two deployments: one Sieve script, each mailbox redirected to its own deployment', async () => {
    // What an admin's view of a shared region generates (the Regions page, GET …/rules without
    // ?deployment=): concatenating two scripts put a second `require` mid-file, which sievec refuses.
    const targets = {
      'ann@contoso.example': 'crm-aaaaaaaaaaaaaaaaaaaaaaaa@eu.edge.crm-router.example',
      'fritz@fabrikam.example': 'crm-bbbbbbbbbbbbbbbbbbbbbbbb@eu.edge.crm-router.example',
    };
    const script = generateRuleScript({
      format: 'sieve',
      region: 'eu',
      rulesEnabled: true,
      edgeAddress: targets['ann@contoso.example'],
      mailboxes: Object.keys(targets),
      targets,
    });
    const file = join(dir, 'eu-shared.sieve');
    writeFileSync(file, script);
    await run(TOOLS.sievec, [file, join(dir, 'eu-shared.svbin')]);
    chownSync(join(dir, 'eu-shared.svbin'), NOBODY.uid, NOBODY.gid);
    for (const [mailbox, target] of Object.entries(targets)) {
      const message = join(dir, `eu-shared-${mailbox}.eml`);
      writeFileSync(message, `From: carol@example.org\r\nTo: ${mailbox}\r\nSubject: x\r\n\r\nHi\r\n`);
      chownSync(message, NOBODY.uid, NOBODY.gid);
      const output = await sieveTest(file, message, mailbox);
      transcript.push(`$ sieve-test -a ${mailbox} eu-shared.sieve\n${output.trim()}\n`);
      expect(output).toContain(`redirect message to: <${target}>`);
      expect(output.match(/redirect message to/g)).toHaveLength(1);
    }
  });

  test.each(REGIONS)(
    'Gmail filters of region %s parse as Atom with the apps namespace (xmllint)',
    async (region) => {
      const { script, edgeAddress, mailboxes } = await rules(region, 'gmail-filters');
      const file = join(dir, `${region}-mailFilters.xml`);
      writeFileSync(file, script);
      await run(TOOLS.xmllint, ['--noout', file]);
      const xpath = async (expr: string) => (await run(TOOLS.xmllint, ['--xpath', expr, file])).stdout.trim();
      const atom = "namespace-uri()='http://www.w3.org/2005/Atom'";
      const apps = "namespace-uri()='http://schemas.google.com/apps/2006'";
      expect(await xpath(`count(/*[local-name()='feed' and ${atom}])`)).toBe('1');
      expect(await xpath(`count(/*/*[local-name()='entry' and ${atom}])`)).toBe(String(mailboxes.length));
      const forwardTo = await xpath(
        `string(/*/*[local-name()='entry'][1]/*[local-name()='property' and ${apps} and @name='forwardTo']/@value)`,
      );
      expect(forwardTo).toBe(edgeAddress);
      const to = await xpath(
        `string(/*/*[local-name()='entry'][1]/*[local-name()='property' and ${apps} and @name='to']/@value)`,
      );
      expect(to).toBe(mailboxes[0]);
      transcript.push(
        `$ xmllint --noout ${region}-mailFilters.xml → ok; ${mailboxes.length} entries, forwardTo ${forwardTo}`,
      );
    },
  );

  test.each(REGIONS)(
    'Exchange PowerShell of region %s: quoting and brackets balance (no PowerShell here)',
    async (region) => {
      const { script, mailboxes } = await rules(region, 'exchange');
      const { problems, statements } = checkPowershell(script);
      expect(problems).toEqual([]);
      expect(statements.filter((s) => s.code.startsWith('New-InboxRule'))).toHaveLength(mailboxes.length);
      expect(statements.some((s) => s.code.startsWith('New-SendConnector'))).toBe(true);
      expect(statements.some((s) => s.code.startsWith('Set-HostedOutboundSpamFilterPolicy'))).toBe(true);
      transcript.push(
        `exchange ${region}: ${statements.length} statements lexed, quoting balanced (PowerShell itself is not available here)`,
      );
    },
  );
});
