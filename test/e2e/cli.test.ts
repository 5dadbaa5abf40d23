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
const ROUTES_HEADER = 'address,region,deployment,userId,filter';

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
      /^sent send\.eml \(\d+ bytes\) to http:\/\/127\.0\.0\.1:\d+ as someone@elsewhere\.example → crm-[0-9a-f]{24}@us\.edge\.crm-router\.example: 2\d\d/,
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
    // Stats never reach further back than 31 days (issue 11): since=0 is raised to that bound.
    expect(json.since).toBeGreaterThan(Date.now() - 32 * 24 * 3600 * 1000);
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

  describe('full sync, deletes and bulk routes', () => {
    const SYNC = 'cli-sync';
    const OTHER = 'cli-other';
    const ids = async (deployment: string) =>
      (await api().records.list(deployment, { limit: 500 })).items
        .map((r) => `${r.type}:${r.id}:${r.active}`)
        .sort();
    /** A token that manages only `deployment`, as a CRM's own credentials would. */
    const scopedToken = async (deployment: string) =>
      (await api().tokens.create({ scope: `deployment:${deployment}`, label: 'cli scoping' })).token;

    beforeAll(async () => {
      await api().deployments.put(SYNC, { name: 'CLI sync test' });
      await api().deployments.put(OTHER, { name: 'CLI other deployment' });
    });

    test('records sync imports the export with progress, then removes what it did not carry', async () => {
      await api().records.import(SYNC, [
        { type: 'contact', id: 'keep', emails: ['keep@sync.example'] },
        { type: 'contact', id: 'gone1', emails: ['gone1@sync.example'] },
        { type: 'lead', id: 'gone2', emails: ['gone2@sync.example'] },
      ]);
      await api().records.import(OTHER, [{ type: 'contact', id: 'untouched', emails: ['u@other.example'] }]);
      const rows = ['type,id,name,emails,emailEnabled', 'contact,keep,Keep,keep@sync.example,true'];
      for (let i = 0; i < 30; i++) rows.push(`account,a${i},Account ${i},a${i}@sync.example,false`);
      const csv = file('sync.csv', `${rows.join('\n')}\n`);

      const run = await cli(['records', 'sync', csv, '--deployment', SYNC, '--chunk', '10']);
      expect(run.code, run.stderr).toBe(0);
      const id = /^sync (sync_[0-9a-f]{24}) started$/m.exec(run.stderr)?.[1];
      expect(id).toBeDefined();
      const importing = run.stderr.split('\n').filter((l) => l.startsWith('importing ['));
      expect(importing.length).toBeGreaterThanOrEqual(4); // 31 rows in chunks of 10
      expect(importing.at(-1)).toContain('100%');
      expect(importing.at(-1)).toContain('31 rows');
      expect(run.stderr).toMatch(/^removing records not in the export: 2$/m);
      expect(run.stdout).toContain(`sync ${id} completed: 31 records carried, 2 removed`);

      const left = await ids(SYNC);
      expect(left).toHaveLength(31);
      expect(left).toContain('contact:keep:true');
      expect(left.some((k) => k.includes('gone'))).toBe(false);
      expect(await ids(OTHER)).toEqual(['contact:untouched:true']);
      expect(await api().recordSyncs.get(SYNC, id as string)).toMatchObject({
        status: 'completed',
        received: 31,
        removed: 2,
      });
    });

    test('records sync with a rejected row leaves the sync open and removes nothing (exit 2)', async () => {
      const before = await ids(SYNC);
      const csv = file(
        'sync-bad.csv',
        'type,id,name,emails,emailEnabled\ncontact,keep,Keep,keep@sync.example,true\nbogus,x,,x@sync.example,true\n',
      );
      const run = await cli(['records', 'sync', csv, '--deployment', SYNC]);
      expect(run.code).toBe(2);
      expect(run.stdout).toMatch(/line 3: type: .*bogus/);
      const id = /^sync (sync_[0-9a-f]{24}) started$/m.exec(run.stderr)?.[1];
      expect(run.stderr).toContain(`1 row(s) rejected: sync ${id} left open, nothing removed`);
      expect(await ids(SYNC)).toEqual(before);
      expect((await api().recordSyncs.get(SYNC, id as string)).status).toBe('open');
    });

    test('records sync with a token of another deployment is refused before anything is written', async () => {
      const before = await ids(SYNC);
      const token = await scopedToken(OTHER);
      const csv = file('sync-scoped.csv', 'type,id,emails\ncontact,intruder,i@sync.example\n');
      const run = await cli(['records', 'sync', csv, '--deployment', SYNC, '--token', token]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(
        /^crm-router: POST \/api\/v1\/deployments\/cli-sync\/record-syncs: 403 forbidden: /m,
      );
      expect(await ids(SYNC)).toEqual(before);
    });

    test('records delete removes one record, deactivates one, and removes a CSV of keys with progress', async () => {
      const one = await cli(['records', 'delete', 'account', 'a0', '--deployment', SYNC]);
      expect(one.code, one.stderr).toBe(0);
      expect(one.stdout).toContain('deleted account a0');
      const off = await cli(['records', 'delete', 'account', 'a1', '--deployment', SYNC, '--deactivate']);
      expect(off.code, off.stderr).toBe(0);
      expect(off.stdout).toContain('deactivated account a1');

      const keys = ['type,id', 'account,a2', 'account,a3', 'ACCOUNT, a4 ', 'account,never-existed'];
      const run = await cli([
        'records',
        'delete',
        '--file',
        file('keys.csv', `${keys.join('\n')}\n`),
        '--deployment',
        SYNC,
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr.split('\n')).toContain('delete: 3 of 4');
      expect(run.stdout).toContain('deleted 3 record(s); 1 not found');

      const left = await ids(SYNC);
      expect(left).toContain('account:a1:false');
      for (const gone of ['a0', 'a2', 'a3', 'a4'])
        expect(left.some((k) => k.startsWith(`account:${gone}:`))).toBe(false);
      expect(left).toHaveLength(27);
    });

    test('records delete: a missing record is a 404; a token of another deployment a 403, nothing removed', async () => {
      const missing = await cli(['records', 'delete', 'contact', 'nobody', '--deployment', SYNC]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(
        /^crm-router: DELETE \/api\/v1\/deployments\/cli-sync\/records\/contact\/nobody: 404 not_found: /m,
      );
      const noKeys = await cli([
        'records',
        'delete',
        '--file',
        file('nokeys.csv', 'kind,key\nx,y\n'),
        '--deployment',
        SYNC,
      ]);
      expect(noKeys.code).toBe(1);
      expect(noKeys.stderr).toContain('the header must name the columns type and id');

      const before = await ids(SYNC);
      const token = await scopedToken(OTHER);
      const denied = await cli([
        'records',
        'delete',
        'contact',
        'keep',
        '--deployment',
        SYNC,
        '--token',
        token,
      ]);
      expect(denied.code).toBe(1);
      expect(denied.stderr).toMatch(/403 forbidden: /);
      const bulk = await cli([
        'records',
        'delete',
        '--file',
        file('keys2.csv', 'type,id\ncontact,keep\n'),
        '--deployment',
        SYNC,
        '--token',
        token,
      ]);
      expect(bulk.code).toBe(1);
      expect(bulk.stderr).toMatch(
        /^crm-router: POST \/api\/v1\/deployments\/cli-sync\/records\/delete: 403 forbidden: /m,
      );
      expect(await ids(SYNC)).toEqual(before);
    });

    const route = (n: number, region: string, deployment = SYNC) =>
      `r${n}@cli-sync.example,${region},${deployment},u${n},all`;

    test('routes import validates every chunk, then routes them, with progress', async () => {
      const rows = [ROUTES_HEADER];
      for (let i = 0; i < 5; i++) rows.push(route(i, i % 2 ? 'eu' : 'us'));
      const run = await cli([
        'routes',
        'import',
        file('routes.csv', `${rows.join('\r\n')}\r\n`),
        '--chunk',
        '2',
      ]);
      expect(run.code, run.stderr).toBe(0);
      const lines = run.stderr.split('\n');
      const validating = lines.filter((l) => l.startsWith('validating ['));
      const routing = lines.filter((l) => l.startsWith('routing ['));
      expect(validating).toHaveLength(3);
      expect(routing).toHaveLength(3);
      expect(routing.at(-1)).toContain('100%');
      expect(routing.at(-1)).toContain('5 routes');
      expect(run.stdout).toContain('5 routes: created 5, moved 0, updated 0');
      expect(await api().mailboxes.get('r1@cli-sync.example')).toMatchObject({
        region: 'eu',
        deployment: SYNC,
        userId: 'u1',
        filter: 'all',
      });
    });

    test('routes export writes the routes as CSV; re-importing it with another region moves them', async () => {
      const run = await cli(['routes', 'export', '--deployment', SYNC]);
      expect(run.code, run.stderr).toBe(0);
      const lines = run.stdout.trim().split('\r\n');
      expect(lines[0]).toBe(ROUTES_HEADER);
      expect(lines.slice(1).sort()).toEqual([0, 1, 2, 3, 4].map((i) => route(i, i % 2 ? 'eu' : 'us')));

      const moved = lines.map((l, i) => (i === 0 ? l : l.replace(/,(us|eu),/, ',apac,')));
      const again = await cli(['routes', 'import', file('moved.csv', `${moved.join('\r\n')}\r\n`)]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain('5 routes: created 0, moved 5, updated 0');
      const regions = (await api().mailboxes.list({ deployment: SYNC })).items.map((m) => m.region);
      expect(regions).toEqual(['apac', 'apac', 'apac', 'apac', 'apac']);
    });

    test('routes import: one bad row writes nothing (exit 2, line-numbered); another deployment is 403', async () => {
      const bad = [ROUTES_HEADER, route(10, 'us'), route(11, 'mars'), route(12, 'eu', 'no-such-deployment')];
      const run = await cli([
        'routes',
        'import',
        file('bad-routes.csv', `${bad.join('\n')}\n`),
        '--chunk',
        '2',
      ]);
      expect(run.code).toBe(2);
      expect(run.stdout).toMatch(/line 3: region: .*mars/);
      expect(run.stdout).toMatch(/line 4: deployment: unknown deployment no-such-deployment/);
      expect(run.stderr).toContain('2 invalid row(s) in bad-routes.csv; nothing was written');
      expect(run.stderr.split('\n').some((l) => l.startsWith('routing ['))).toBe(false);
      const missing = await cli(['routes', 'move', 'r10@cli-sync.example', '--region', 'eu']);
      expect(missing.stderr).toMatch(/404 not_found/);

      const token = await scopedToken(OTHER);
      const mine = [ROUTES_HEADER, route(20, 'us', OTHER), route(1, 'us', OTHER)];
      const denied = await cli([
        'routes',
        'import',
        file('steal.csv', `${mine.join('\n')}\n`),
        '--token',
        token,
      ]);
      expect(denied.code).toBe(2);
      // The one route-claim rule (route-claims.ts): a deployment token routes only its domains, and
      // never an address routed to another deployment.
      expect(denied.stdout).toMatch(
        /line 2: address: a deployment token may route only addresses in its deployment's domains/,
      );
      expect(denied.stdout).toMatch(
        /line 3: address: r1@cli-sync\.example is routed to another deployment: this token may not manage deployment cli-sync/,
      );
      expect(await api().mailboxes.get('r1@cli-sync.example')).toMatchObject({
        deployment: SYNC,
        region: 'apac',
      });
      expect((await cli(['routes', 'move', 'r20@cli-sync.example', '--region', 'eu'])).code).toBe(1);
      const exported = await cli(['routes', 'export', '--deployment', SYNC, '--token', token]);
      expect(exported.code).toBe(0);
      expect(exported.stdout.trim()).toBe(ROUTES_HEADER);
    });

    test('routes move moves a department in one call, or several addresses; all or nothing; scoped', async () => {
      const regions = async () =>
        (await api().mailboxes.list({ deployment: SYNC })).items.map((m) => m.region);
      const dept = await cli([
        'routes',
        'move',
        '--deployment',
        SYNC,
        '--search',
        '@cli-sync.example',
        '--region',
        'eu',
      ]);
      expect(dept.code, dept.stderr).toBe(0);
      expect(dept.stdout).toContain('moved 5 route(s) to region eu (0 already there)');
      expect(await regions()).toEqual(['eu', 'eu', 'eu', 'eu', 'eu']);

      const two = await cli([
        'routes',
        'move',
        'r0@cli-sync.example',
        'r1@cli-sync.example',
        '--region',
        'us',
      ]);
      expect(two.code, two.stderr).toBe(0);
      expect(two.stdout).toContain('moved 2 route(s) to region us (0 already there)');
      expect((await api().mailboxes.get('r1@cli-sync.example')).region).toBe('us');

      const missing = await cli([
        'routes',
        'move',
        'r2@cli-sync.example',
        'nobody@cli-sync.example',
        '--region',
        'apac',
      ]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(
        /^crm-router: POST \/api\/v1\/mailboxes\/move: 404 not_found: not routed: nobody@cli-sync\.example; nothing was moved/m,
      );
      expect((await api().mailboxes.get('r2@cli-sync.example')).region).toBe('eu');

      const token = await scopedToken(OTHER);
      const denied = await cli([
        'routes',
        'move',
        '--deployment',
        SYNC,
        '--region',
        'apac',
        '--token',
        token,
      ]);
      expect(denied.code).toBe(1);
      expect(denied.stderr).toMatch(/POST \/api\/v1\/mailboxes\/move: 403 forbidden: /);
      const hidden = await cli([
        'routes',
        'move',
        'r3@cli-sync.example',
        'r4@cli-sync.example',
        '--region',
        'apac',
        '--token',
        token,
      ]);
      expect(hidden.code).toBe(1);
      expect(hidden.stderr).toMatch(
        /404 not_found: not routed: r3@cli-sync\.example, r4@cli-sync\.example; nothing was moved/,
      );
      expect(await regions()).toEqual(['us', 'us', 'eu', 'eu', 'eu']);
    });
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

describe('crm-router routes export (CSV injection)', () => {
  const CSV_DEPLOYMENT = 'cli-csv';

  test('a formula-like cell is exported behind an apostrophe and imported back as it was', async () => {
    await api().deployments.put(CSV_DEPLOYMENT, { name: 'CLI CSV export' });
    const address = '-sales@cli-csv.example';
    const userId = '=HYPERLINK("http://evil.example","x")';
    const plain = [
      ROUTES_HEADER,
      `${address},us,${CSV_DEPLOYMENT},"=HYPERLINK(""http://evil.example"",""x"")",all`,
      `plain@cli-csv.example,us,${CSV_DEPLOYMENT},+u2,all`,
    ];
    const first = await cli(['routes', 'import', file('formula.csv', `${plain.join('\r\n')}\r\n`)]);
    expect(first.code, first.stderr).toBe(0);
    expect(await api().mailboxes.get(address)).toMatchObject({ userId, region: 'us' });

    const run = await cli(['routes', 'export', '--deployment', CSV_DEPLOYMENT]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\r\n');
    expect(lines.slice(1).sort()).toEqual([
      `'${address},us,${CSV_DEPLOYMENT},"'=HYPERLINK(""http://evil.example"",""x"")",all`,
      `plain@cli-csv.example,us,${CSV_DEPLOYMENT},'+u2,all`,
    ]);

    const moved = lines.map((l, i) => (i === 0 ? l : l.replace(',us,', ',eu,')));
    const again = await cli(['routes', 'import', file('formula-moved.csv', `${moved.join('\r\n')}\r\n`)]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('2 routes: created 0, moved 2, updated 0');
    expect(await api().mailboxes.get(address)).toMatchObject({ userId, region: 'eu' });
    expect(await api().mailboxes.get('plain@cli-csv.example')).toMatchObject({ userId: '+u2', region: 'eu' });
  });
});
