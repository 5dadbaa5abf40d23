import { describe, expect, test } from 'vitest';
import { classify } from '../../src/core/classify.js';
import { readMessageFacts } from '../../src/core/message-facts.js';
import {
  entrySpellings,
  parseSuppressionEntry,
  suppressingEntry,
  suppressionKeysFor,
} from '../../src/core/suppression.js';
import { contosoSnapshot } from './contoso-snapshot.js';
import { mail } from './mail-builder.js';

const NOW = 1_710_300_000_000;
const EDGE = { from: 'x@example.org', to: 'crm@us.edge.localhost' };

describe('the one suppression rule', () => {
  test('entries: an address, @domain or a bare domain', () => {
    expect(parseSuppressionEntry('Spam@Example.com')).toEqual({ kind: 'address', value: 'spam@example.com' });
    expect(parseSuppressionEntry('@x.com')).toEqual({ kind: 'domain', value: 'x.com' });
    expect(parseSuppressionEntry('x.com')).toEqual({ kind: 'domain', value: 'x.com' });
    expect(parseSuppressionEntry('  ')).toBeUndefined();
  });

  test('a sender is covered by its address, its domain and every parent domain, in both spellings', () => {
    const spellings = suppressionKeysFor('a@mail.x.com').flatMap(entrySpellings);
    expect(spellings).toEqual(['a@mail.x.com', '@mail.x.com', 'mail.x.com', '@x.com', 'x.com']);
  });

  test('the entry that suppresses a sender is named as stored, the address before its domains', () => {
    const entries = ['@x.com', 'A@Mail.X.com.', 'mail.x.com'];
    expect(suppressingEntry(entries, 'a@mail.x.com')).toBe('A@Mail.X.com.');
    expect(suppressingEntry(entries, 'b@mail.x.com')).toBe('mail.x.com');
    expect(suppressingEntry(entries, 'b@deep.mail.x.com')).toBe('mail.x.com');
    expect(suppressingEntry(entries, 'b@y.com')).toBeUndefined();
    expect(suppressingEntry([], 'a@x.com')).toBeUndefined();
  });

  test('a bare-domain entry suppresses at the edge exactly as promotion checks it', () => {
    const snapshot = contosoSnapshot('all', (i) => {
      i.deployments[0]!.suppressions = ['x.com'];
    });
    const d = classify(readMessageFacts(mail({ from: 'a@mail.x.com' }), EDGE), snapshot, { now: NOW });
    expect(d.reason).toBe('suppressed');
  });
});

describe('receipts carry nothing derived from the subject', () => {
  test('filter:none names the correlation method, not the tracking token', () => {
    const d = classify(
      readMessageFacts(mail({ subject: 'Re: offer CRM:0001001' }), EDGE),
      contosoSnapshot('none'),
      { now: NOW },
    );
    expect(d.reason).toBe('filter:none');
    expect(d.detail).not.toContain('0001001');
    expect(d.detail).toMatch(/by token/);
  });
});
