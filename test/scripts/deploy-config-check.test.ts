import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { deployConfigProblems, deployTargets } from '../../scripts/deploy-config-check.js';
import { ROOT } from '../../scripts/network.js';

const dir = mkdtempSync(join(tmpdir(), 'deploy-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of a committed config with one edit, beside nothing (wrangler reads it as it would deploy it). */
function editedCopy(name: string, edit: (toml: string) => string): string {
  const toml = readFileSync(join(ROOT, name), 'utf8');
  const edited = edit(toml);
  expect(edited).not.toBe(toml);
  const path = join(dir, `${Math.random().toString(36).slice(2)}-${name}`);
  writeFileSync(path, edited);
  return path;
}

describe('deploy:dry-run configuration check', () => {
  test('the committed configs deploy production workers that require their secrets (central and every region)', () => {
    const targets = deployTargets(join(ROOT, 'wrangler.toml'), join(ROOT, 'wrangler.edge.toml'));
    expect(targets.map((t) => t.label)).toEqual(['central', 'edge us', 'edge eu', 'edge apac']);
    for (const target of targets) expect(deployConfigProblems(target)).toEqual([]);
  });

  test('a central config whose vars say development is refused, naming the var', () => {
    const path = editedCopy('wrangler.toml', (t) =>
      t.replace('ENVIRONMENT = "production"', 'ENVIRONMENT = "development"'),
    );
    const [central] = deployTargets(path);
    expect(deployConfigProblems(central!)).toEqual([
      expect.stringMatching(/^central .*ENVIRONMENT = "development": only "production" may be deployed/),
    ]);
  });

  test('an edge region whose vars say anything but production is refused; the other regions pass', () => {
    const path = editedCopy('wrangler.edge.toml', (t) =>
      t.replace(/(REGION = "eu",[^\n]*)ENVIRONMENT = "production"/, '$1ENVIRONMENT = "staging"'),
    );
    const problems = deployTargets(undefined, path).map(deployConfigProblems);
    expect(problems).toEqual([[], [], [expect.stringMatching(/^edge eu .*ENVIRONMENT = "staging"/)], []]);
  });

  test('a config that does not make wrangler require the secrets is refused', () => {
    const central = editedCopy('wrangler.toml', (t) =>
      t.replace('required = ["ADMIN_TOKEN", "EDGE_KEY_SECRET"]', 'required = ["EDGE_KEY_SECRET"]'),
    );
    expect(deployConfigProblems(deployTargets(central)[0]!)).toEqual([
      expect.stringMatching(/secrets\.required lacks ADMIN_TOKEN/),
    ]);
    const edge = editedCopy('wrangler.edge.toml', (t) =>
      t.replace(/\nsecrets = \{ required = \[[^\]]*\] \}\n\[\[env\.us\./, '\n[[env.us.'),
    );
    expect(deployConfigProblems(deployTargets(undefined, edge)[1]!)).toEqual([
      expect.stringMatching(/^edge us .*secrets\.required lacks EDGE_SIGNING_KEY, EDGE_TOKEN, INBOUND_TOKEN/),
    ]);
  });
});
