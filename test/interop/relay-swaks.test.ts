// swaks (a third-party SMTP client) against the relay: STARTTLS with AUTH as an Exchange send
// connector would use it, refusals without AUTH, and the relay's Received trace.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT } from '../../scripts/network.js';
import type { Relay } from '../../src/relay/relay.js';
import { eventually, uniqueMessageId } from '../e2e/helpers.js';
import { activitiesFor, assertTools, forwardingAddress, relayFor, replies, swaks } from './helpers.js';

const MAILBOX = 'alice@contoso.example';

describe('swaks → relay with STARTTLS and AUTH', () => {
  let relay: Relay;
  let to: string;

  beforeAll(async () => {
    assertTools();
    to = await forwardingAddress('contoso', 'us');
    relay = await relayFor('us', {
      tlsCert: join(ROOT, 'test/fixtures/tls/relay-test.crt'),
      tlsKey: join(ROOT, 'test/fixtures/tls/relay-test.key'),
      auth: { user: 'exchange', pass: 'connector-secret' },
    });
  });
  afterAll(() => relay?.stop());

  const base = () => ['--server', `127.0.0.1:${relay.port}`, '--from', 'carol@example.org', '--to', to];

  test('STARTTLS then AUTH PLAIN: 250 once the edge accepted, and the activity appears', async () => {
    const messageId = uniqueMessageId('swaks-tls');
    const res = await swaks([
      ...base(),
      '--tls',
      '--auth',
      'PLAIN',
      '--auth-user',
      'exchange',
      '--auth-password',
      'connector-secret',
      '--header',
      `Message-Id: ${messageId}`,
      '--header',
      `X-Forwarded-To: ${MAILBOX}`,
      '--header',
      'Subject: Over TLS',
    ]);
    expect(res.code, res.out).toBe(0);
    expect(res.out).toMatch(/<-\s+220 .*TLS/i);
    expect(replies(res.out)).toContain('235 Authentication successful');
    expect(res.out).toMatch(/<~\s+250 2\.0\.0 Accepted by edge us/);
    const activity = await eventually(async () => (await activitiesFor(messageId.slice(1, -1)))[0], 30_000);
    expect(activity.mailboxes).toEqual([MAILBOX]);
  });

  test('without AUTH the relay refuses the mail (530), and nothing reaches the edge', async () => {
    const before = relay.stats.accepted;
    const res = await swaks([
      ...base(),
      '--tls',
      '--header',
      `Message-Id: ${uniqueMessageId('swaks-noauth')}`,
    ]);
    expect(res.code).not.toBe(0);
    expect(res.out).toMatch(/<~\*\s+530 /);
    expect(relay.stats.accepted).toBe(before);
  });

  test('wrong credentials are refused with 535', async () => {
    const res = await swaks([
      ...base(),
      '--tls',
      '--auth',
      'LOGIN',
      '--auth-user',
      'exchange',
      '--auth-password',
      'nope',
    ]);
    expect(res.out).toMatch(/535 5\.7\.8/);
  });
});
