import { beforeEach, describe, expect, test } from 'vitest';
import { api, expectInvalidField, freshRoutes, mintToken } from './helpers.js';

/** A deployment's forwarding address in eu: where its mailboxes' rules forward (design §4). */
async function euAddress(deployment: string): Promise<string> {
  return (await api('GET', `/api/v1/deployments/${deployment}`)).json.forwardingAddresses.eu;
}

describe('GET /api/v1/regions/:id/rules', () => {
  beforeEach(() =>
    freshRoutes(
      ['ann@contoso.example', 'eu', 'contoso', 'u-ann'],
      ['bob@contoso.example', 'eu', 'contoso', 'u-bob'],
      ['fay@fabrikam.example', 'eu', 'fabrikam', 'u-fay'],
      ['us-only@contoso.example', 'us', 'contoso', 'u-us'],
    ),
  );

  test('gives Exchange inbox rules for every mailbox routed to the region', async () => {
    const res = await api('GET', '/api/v1/regions/eu/rules?format=exchange');
    expect(res.status).toBe(200);
    const contoso = await euAddress('contoso');
    const fabrikam = await euAddress('fabrikam');
    expect(contoso).not.toBe(fabrikam);
    expect(res.json).toEqual({
      region: 'eu',
      format: 'exchange',
      rulesEnabled: true,
      // Several deployments: each forwards to its own address, so there is no single one.
      edgeAddress: '',
      forwardingAddresses: { contoso, fabrikam },
      mailboxes: ['ann@contoso.example', 'bob@contoso.example', 'fay@fabrikam.example'],
      script: expect.any(String),
    });
    const commands = res.json.script.split('\r\n').filter((l: string) => l.startsWith('New-InboxRule'));
    expect(commands).toEqual([
      `New-InboxRule -Mailbox 'ann@contoso.example' -Name "CRM edge router" -ForwardAsAttachmentTo '${contoso}'`,
      `New-InboxRule -Mailbox 'bob@contoso.example' -Name "CRM edge router" -ForwardAsAttachmentTo '${contoso}'`,
      `New-InboxRule -Mailbox 'fay@fabrikam.example' -Name "CRM edge router" -ForwardAsAttachmentTo '${fabrikam}'`,
    ]);
    expect(res.json.script).toContain('# New-TransportRule');
  });

  test('exchange is the default format and deployment= narrows the mailboxes', async () => {
    const res = await api('GET', '/api/v1/regions/eu/rules?deployment=fabrikam');
    expect(res.json.format).toBe('exchange');
    expect(res.json.mailboxes).toEqual(['fay@fabrikam.example']);
  });

  test('gives a Sieve redirect :copy script', async () => {
    const res = await api('GET', '/api/v1/regions/eu/rules?format=sieve&deployment=contoso');
    expect(res.json.edgeAddress).toBe(await euAddress('contoso'));
    expect(res.json.script).toContain(`require ["copy"];\r\nredirect :copy "${await euAddress('contoso')}";`);
  });

  test('gives Gmail forwarding steps', async () => {
    const res = await api('GET', '/api/v1/regions/eu/rules?format=gmail');
    expect(res.json.script).toContain('Forwarding and POP/IMAP');
    expect(res.json.script).toContain('  - bob@contoso.example');
  });

  test('Accept: text/plain answers with the script alone', async () => {
    const json = await api('GET', '/api/v1/regions/eu/rules?format=sieve');
    const res = await api('GET', '/api/v1/regions/eu/rules?format=sieve', {
      headers: { accept: 'text/plain' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.text).toBe(json.json.script);
  });

  test('when the region rules are disabled the answer says so and gives the removal commands', async () => {
    await api('PUT', '/api/v1/regions/eu', { body: { name: 'EU', rulesEnabled: false } });
    const res = await api('GET', '/api/v1/regions/eu/rules');
    expect(res.json.rulesEnabled).toBe(false);
    expect(res.json.script).toContain('Rules are DISABLED for this region');
    expect(res.json.script).toContain(
      "Remove-InboxRule -Mailbox 'ann@contoso.example' -Identity 'CRM edge router'",
    );
    expect(res.json.script).not.toContain('New-InboxRule');
  });

  test('an unknown region is a 404 and an unknown format a 400 naming format', async () => {
    expect((await api('GET', '/api/v1/regions/mars/rules')).status).toBe(404);
    const bad = await api('GET', '/api/v1/regions/eu/rules?format=procmail');
    expectInvalidField(bad, 'format');
  });

  test("a deployment token sees only its own mailboxes and may not ask for another deployment's", async () => {
    const token = await mintToken('deployment:fabrikam');
    const own = await api('GET', '/api/v1/regions/eu/rules', { token });
    expect(own.json.mailboxes).toEqual(['fay@fabrikam.example']);
    expect(own.json.script).not.toContain('contoso');
    const other = await api('GET', '/api/v1/regions/eu/rules?deployment=contoso', { token });
    expect(other.status).toBe(403);
  });

  test('a user token sees only its own mailboxes', async () => {
    const token = await mintToken('user:contoso/u-bob');
    const res = await api('GET', '/api/v1/regions/eu/rules', { token });
    expect(res.json.mailboxes).toEqual(['bob@contoso.example']);
  });

  test('an edge token may not read rules', async () => {
    const token = await mintToken('edge:eu');
    expect((await api('GET', '/api/v1/regions/eu/rules', { token })).status).toBe(403);
  });
});
