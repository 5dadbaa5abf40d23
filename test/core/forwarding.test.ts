// Forwarding addresses in the snapshot and the deployment binding of the classifier (issue 11,
// boundaries 1 and 2): mail is accepted only for a forwarding address, and only the routes of
// that address's deployment count.
import { describe, expect, test } from 'vitest';
import { classify } from '../../src/core/classify.js';
import { readMessageFacts } from '../../src/core/message-facts.js';
import {
  buildSnapshot,
  decodeSnapshot,
  encodeSnapshot,
  forwardingDeployment,
} from '../../src/core/snapshot.js';
import { DEFAULT_TOKEN_FORMAT } from '../../src/core/tracking-token.js';
import { contosoInput } from './contoso-snapshot.js';
import { mail } from './mail-builder.js';

const NOW = 1_710_300_000_000;
const CONTOSO_FWD = 'crm-0123456789abcdef01234567@us.edge.crm-router.example';
const FABRIKAM_FWD = 'crm-fedcba9876543210fedcba98@us.edge.crm-router.example';
const OLD_FWD = 'crm-00000000000000000000aaaa@us.edge.crm-router.example';

function twoTenants() {
  const input = contosoInput('all');
  input.mailboxes.push({
    address: 'ceo@fabrikam.example',
    deployment: 'fabrikam',
    userId: 'f-ceo',
    filter: 'all',
  });
  input.deployments.push({
    id: 'fabrikam',
    token: { ...DEFAULT_TOKEN_FORMAT, deploymentBase: 2 },
    maxMessageBytes: 10 * 1024 * 1024,
    attachmentPolicy: 'regional',
    smartMatch: false,
    suppressions: [],
    records: [],
    outbound: [],
  });
  input.forwarding = [
    { address: CONTOSO_FWD, deployment: 'contoso' },
    { address: FABRIKAM_FWD, deployment: 'fabrikam' },
    { address: OLD_FWD, deployment: 'contoso', expiresAt: NOW + 1000 },
  ];
  return buildSnapshot(input);
}

describe('forwarding addresses', () => {
  test('the snapshot holds forwarding addresses only as keyed hashes and survives encoding', () => {
    const snapshot = twoTenants();
    const bytes = encodeSnapshot(snapshot);
    const text = new TextDecoder().decode(bytes);
    expect(text).not.toContain('crm-0123456789abcdef');
    expect(text).not.toContain('crm-router.example');
    const decoded = decodeSnapshot(bytes);
    expect(decoded.forwarding).toEqual(snapshot.forwarding);
    expect(Object.keys(decoded.forwarding)).toHaveLength(3);
  });

  test('an address binds to its deployment, ignoring case and display names; anything else is unknown', () => {
    const s = twoTenants();
    expect(forwardingDeployment(s, CONTOSO_FWD, NOW)).toBe('contoso');
    expect(forwardingDeployment(s, `Router <${FABRIKAM_FWD.toUpperCase()}>`, NOW)).toBe('fabrikam');
    expect(forwardingDeployment(s, 'crm@us.edge.localhost', NOW)).toBeUndefined();
    expect(forwardingDeployment(s, undefined, NOW)).toBeUndefined();
    expect(forwardingDeployment(s, '', NOW)).toBeUndefined();
  });

  test('a rotated-out address works until its expiry, not after', () => {
    const s = twoTenants();
    expect(forwardingDeployment(s, OLD_FWD, NOW + 999)).toBe('contoso');
    expect(forwardingDeployment(s, OLD_FWD, NOW + 1000)).toBeUndefined();
  });

  test('a snapshot without forwarding addresses accepts nothing', () => {
    const s = buildSnapshot(contosoInput('all'));
    expect(s.forwarding).toEqual({});
    expect(forwardingDeployment(s, CONTOSO_FWD, NOW)).toBeUndefined();
  });

  test("another tenant's routed address in the headers is a plain address (boundary 1)", () => {
    const s = twoTenants();
    // fabrikam's user forwards mail that has contoso's alice in Cc: only fabrikam's routes count.
    const raw = mail({
      to: 'ceo@fabrikam.example',
      cc: 'alice@contoso.example',
      headers: ['X-Forwarded-To: ceo@fabrikam.example'],
    });
    const facts = readMessageFacts(raw, { from: 'ceo@fabrikam.example', to: FABRIKAM_FWD });
    const bound = classify(facts, s, { now: NOW, deployment: 'fabrikam' });
    expect(bound.targets.map((t) => t.deployment)).toEqual(['fabrikam']);
    expect(bound.targets[0]?.mailboxes.map((m) => m.address)).toEqual(['ceo@fabrikam.example']);
    // Without the binding both tenants would get the message.
    const unbound = classify(facts, s, { now: NOW });
    expect(unbound.targets.map((t) => t.deployment).sort()).toEqual(['contoso', 'fabrikam']);
  });

  test("a forged forward naming a tenant's mailbox, sent to another tenant's address, routes nowhere (boundary 2)", () => {
    const s = twoTenants();
    const raw = mail({ to: 'alice@contoso.example', headers: ['X-Forwarded-To: alice@contoso.example'] });
    const facts = readMessageFacts(raw, { from: 'attacker@evil.example', to: FABRIKAM_FWD });
    const d = classify(facts, s, { now: NOW, deployment: 'fabrikam' });
    expect(d).toMatchObject({ crmBound: false, reason: 'no-route', targets: [] });
  });
});
