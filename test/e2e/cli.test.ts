// Every crm-router command against the real local network, run as an operator runs it: through the
// package's `crm-router` launcher, in a child process, reading its output and exit status.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { demoMailbox } from '../../scripts/demo-data.js';
import { freePort, ROOT } from '../../scripts/network.js';
import { api, centralUrl, edgeUrl, eventually, rawMessage, uniqueMessageId } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'crm-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DEPLOYMENT = 'cli-test';
const MAILBOX = 'casey@cli-test.example';

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      join(ROOT, 'scripts', 'crm-router'),
      [...args, '--central', centralUrl()],
      { cwd: dir, maxBuffer: 16 << 20, env: { ...process.env, CRM_TOKEN: 'local-admin-token' } },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

beforeAll(async () => {
  await api().deployments.put(DEPLOYMENT, { name: 'CLI test' });
});

describe('crm-router', () => {
  test('records import streams a CSV in chunks with progress, lists rejected rows by file line, exits 2', async () => {
    const rows = ['type,id,name,emails,emailEnabled'];
    for (let i = 0; i < 1200; i++)
      rows.push(`contact,c${i},"Contact, number ${i}",c${i}@customer.example,true`);
    rows.push('contact,multi,"two\nlines",multi@customer.example;other@customer.example,true'); // lines 1202-1203
    rows.push('contact,c7,duplicate,dup@customer.example,true'); // line 1204
    rows.push('bogus,b1,,b1@customer.example,true'); // line 1205
    const csv = file('records.csv', `${rows.join('\r\n')}\r\n`);

    const run = await cli(['records', 'import', csv, '--deployment', DEPLOYMENT, '--chunk', '500']);
    expect(run.code, run.stderr).toBe(2);
    // Without a terminal, one progress line per request, the last at 100 %.
    const progress = run.stderr.split('\n').filter((l) => l.startsWith('importing ['));
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress.at(-1)).toContain('100%');
    expect(progress.at(-1)).toContain('1,203 rows');
    expect(run.stdout).toContain('records.csv: 1,203 rows imported');
    expect(run.stdout).toContain('created 1201, updated 0, rejected 2');
    expect(run.stdout).toContain('line 1204: id: duplicate of line 9 (contact c7)');
    expect(run.stdout).toMatch(/line 1205: type: .*bogus/);

    const { counts } = await api().records.list(DEPLOYMENT, { limit: 1 });
    expect(counts.contact).toBe(1201);
    const [record] = (await api().records.list(DEPLOYMENT, { q: 'multi' })).items;
    expect(record).toMatchObject({
      name: 'two\nlines',
      emails: ['multi@customer.example', 'other@customer.example'],
    });
  });

  test('routes add routes a mailbox to a region', async () => {
    const run = await cli([
      'routes',
      'add',
      MAILBOX,
      '--region',
      'us',
      '--deployment',
      DEPLOYMENT,
      '--user',
      'u-casey',
      '--filter',
      'all',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(
      `routed ${MAILBOX} → region us, deployment ${DEPLOYMENT}, user u-casey, filter all`,
    );
    expect(await api().mailboxes.get(MAILBOX)).toMatchObject({ region: 'us', filter: 'all' });
  });

  test('routes move keeps deployment, user and filter', async () => {
    const run = await cli(['routes', 'move', MAILBOX, '--region', 'eu']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`moved ${MAILBOX}: region us → eu`);
    expect(await api().mailboxes.get(MAILBOX)).toMatchObject({
      region: 'eu',
      deployment: DEPLOYMENT,
      userId: 'u-casey',
      filter: 'all',
    });
  });

  test('routes list shows the routes of a deployment as a table', async () => {
    const run = await cli(['routes', 'list', '--deployment', DEPLOYMENT]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^address\s+region\s+deployment\s+user\s+filter$/);
    expect(lines.slice(2)).toEqual([
      expect.stringMatching(new RegExp(`^${MAILBOX}\\s+eu\\s+${DEPLOYMENT}\\s+u-casey\\s+all$`)),
    ]);
    const json = JSON.parse((await cli(['routes', 'list', '--deployment', DEPLOYMENT, '--json'])).stdout);
    expect(json.items.map((m: { address: string }) => m.address)).toEqual([MAILBOX]);
  });

  test('send delivers a raw message through an edge; it becomes an activity', async () => {
    const mailbox = demoMailbox({ region: 'us', filter: 'all' });
    const messageId = uniqueMessageId('cli-send');
    const eml = file(
      'send.eml',
      rawMessage({
        from: 'Someone <someone@elsewhere.example>',
        to: mailbox.address,
        subject: 'sent by the CLI',
        messageId,
        extra: { 'X-Forwarded-To': mailbox.address },
      }),
    );
    const run = await cli(['send', eml, '--region', 'us', '--edge', edgeUrl('us')]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /^sent send\.eml \(\d+ bytes\) to http:\/\/127\.0\.0\.1:\d+ as someone@elsewhere\.example → crm@us\.edge\.localhost: 2\d\d/,
    );
    const activity = await eventually(async () => {
      const found = await api().activities.list({ messageId });
      return found.items[0];
    });
    expect(activity.mailboxes).toContain(mailbox.address);
  });

  test('promote tracks a message by hand, and merges a second promotion of it', async () => {
    const messageId = uniqueMessageId('cli-promote');
    const eml = file(
      'promote.eml',
      rawMessage({
        from: 'Pat <pat@elsewhere.example>',
        to: MAILBOX,
        subject: 'promoted by the CLI',
        messageId,
      }),
    );
    const args = ['promote', eml, '--deployment', DEPLOYMENT, '--mailbox', MAILBOX];
    const first = await cli(args);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(
      /^tracked as new activity \S+: "promoted by the CLI" from pat@elsewhere\.example/,
    );
    const again = await cli(args);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^merged into activity \S+/);
    expect(again.stdout.split(' ')[3]).toBe(first.stdout.split(' ')[4]);
  });

  test('stats prints a row per region and a total', async () => {
    const run = await cli(['stats']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^region\s+received\s+crm-bound/);
    const names = lines.slice(2).map((l) => l.split(/\s+/)[0]);
    expect(names.at(-1)).toBe('total');
    expect(names.slice(0, -1).sort()).toEqual(['apac', 'eu', 'us']);
    const json = JSON.parse((await cli(['stats', '--json', '--since', '0'])).stdout);
    expect(json.since).toBe(0);
    expect(json.total.received).toBeGreaterThan(0);
  });

  test('tokens create prints the token once; list shows it; revoke revokes it', async () => {
    const created = await cli([
      'tokens',
      'create',
      '--scope',
      `deployment:${DEPLOYMENT}`,
      '--label',
      'cli test',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const [token, note] = created.stdout.trim().split('\n');
    const id = /\(id (\S+), scope deployment:cli-test; shown once/.exec(note ?? '')?.[1];
    expect(id).toBeDefined();
    const scoped = await api(token).request('GET', `/api/v1/deployments/${DEPLOYMENT}`);
    expect(scoped.status).toBe(200);

    const list = await cli(['tokens', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${id}\\s+deployment:cli-test\\s+cli test`));
    expect(list.stdout).not.toContain(token);

    const revoked = await cli(['tokens', 'revoke', id as string]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`revoked ${id} (deployment:cli-test)`);
    expect((await api(token).request('GET', `/api/v1/deployments/${DEPLOYMENT}`)).status).toBe(401);
  });

  test('rules prints the region script; --json the whole answer', async () => {
    const us = demoMailbox({ region: 'us' });
    const run = await cli(['rules', 'us', '--format', 'sieve']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(us.address);
    const json = JSON.parse((await cli(['rules', 'us', '--format', 'sieve', '--json'])).stdout);
    expect(json).toMatchObject({ region: 'us', format: 'sieve' });
    expect(json.script).toBe(run.stdout);
  });

  test('errors: the API error is printed with its code; an unreachable central is named', async () => {
    const missing = await cli(['routes', 'move', 'nobody@nowhere.example', '--region', 'eu']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^crm-router: GET \/api\/v1\/mailboxes\/nobody%40nowhere\.example: 404 not_found: /m,
    );
    const closed = await freePort();
    const down = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(
        join(ROOT, 'scripts', 'crm-router'),
        ['stats', '--central', `http://127.0.0.1:${closed}`],
        { cwd: dir },
        (err, _out, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stderr }),
      ),
    );
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(
      `crm-router: cannot reach central at http://127.0.0.1:${closed}: ECONNREFUSED`,
    );
  });
});
