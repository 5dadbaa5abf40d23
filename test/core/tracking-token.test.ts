import { describe, expect, test } from 'vitest';
import { smartMatchSubject } from '../../src/core/subject.js';
import {
  addTokenToSubject,
  DEFAULT_TOKEN_FORMAT,
  findTrackingToken,
  formatTrackingToken,
  nextCounter,
  removeTrackingTokens,
  validateTokenFormat,
} from '../../src/core/tracking-token.js';
import type { TokenFormat } from '../../src/core/types.js';

const fmt = (f: Partial<TokenFormat>): TokenFormat => ({ ...DEFAULT_TOKEN_FORMAT, ...f });

describe('tracking tokens', () => {
  test('the Dynamics default is CRM:0001001 for user 1, counter 1', () => {
    expect(formatTrackingToken(DEFAULT_TOKEN_FORMAT, 1, 1)).toBe('CRM:0001001');
  });

  test('the deployment base is unpadded and the numbers are zero-padded', () => {
    expect(
      formatTrackingToken(
        fmt({ prefix: 'TKT#', deploymentBase: 42, userDigits: 2, counterDigits: 5 }),
        7,
        123,
      ),
    ).toBe('TKT#420700123');
  });

  test('numbers that do not fit their digits are refused', () => {
    expect(() => formatTrackingToken(DEFAULT_TOKEN_FORMAT, 1000, 1)).toThrow(RangeError);
    expect(() => formatTrackingToken(DEFAULT_TOKEN_FORMAT, 1, -1)).toThrow(RangeError);
  });

  test.each([
    [{ prefix: '' }, /1 to 20/],
    [{ prefix: 'x'.repeat(21) }, /1 to 20/],
    [{ prefix: 'CR M' }, /whitespace/],
    [{ deploymentBase: -1 }, /deployment base/],
    [{ deploymentBase: 1.5 }, /deployment base/],
    [{ userDigits: 0 }, /user digits/],
    [{ userDigits: 10 }, /user digits/],
    [{ counterDigits: 0 }, /counter digits/],
  ])('the format %j is invalid', (change, message) => {
    expect(validateTokenFormat(fmt(change as Partial<TokenFormat>))).toMatch(message);
  });

  test('the default format is valid', () => {
    expect(validateTokenFormat(DEFAULT_TOKEN_FORMAT)).toBeUndefined();
  });

  test.each([
    'Quote  CRM:0001001',
    'RE: Quote  CRM:0001001',
    'AW: WG: Angebot  CRM:0001001',
    'TR: Devis CRM:0001001',
    '回复: 报价 CRM:0001001',
    'Отв: Предложение  CRM:0001001',
    'CRM:0001001',
    '[EXT] Re: quote (crm:0001001)',
  ])('the token is found in %j', (subject) => {
    expect(findTrackingToken(DEFAULT_TOKEN_FORMAT, subject)).toEqual({
      token: 'CRM:0001001',
      userNumber: 1,
      counter: 1,
    });
  });

  test.each([
    ['another deployment base', 'RE: Quote  CRM:10001001'],
    ['too few digits', 'RE: Quote  CRM:000100'],
    ['a digit right after the token', 'RE: Quote  CRM:00010012'],
    ['a different prefix', 'RE: Quote  TKT:0001001'],
    ['a prefix glued to a word', 'RE: Quote  XCRM:0001001'],
    ['no token at all', 'RE: Quote'],
  ])('no token is found with %s', (_, subject) => {
    expect(findTrackingToken(DEFAULT_TOKEN_FORMAT, subject)).toBeUndefined();
  });

  test('a later valid token is found after an invalid one', () => {
    expect(findTrackingToken(DEFAULT_TOKEN_FORMAT, 'CRM:00010012 and CRM:0002003')?.token).toBe(
      'CRM:0002003',
    );
  });

  test('a deployment base of 12 needs exactly that base', () => {
    const f = fmt({ deploymentBase: 12 });
    expect(findTrackingToken(f, 'Re: x CRM:12042017')).toEqual({
      token: 'CRM:12042017',
      userNumber: 42,
      counter: 17,
    });
    expect(findTrackingToken(f, 'Re: x CRM:0042017')).toBeUndefined();
  });

  test('the counter wraps to 1 after its maximum', () => {
    expect(nextCounter(DEFAULT_TOKEN_FORMAT, 1)).toBe(2);
    expect(nextCounter(DEFAULT_TOKEN_FORMAT, 998)).toBe(999);
    expect(nextCounter(DEFAULT_TOKEN_FORMAT, 999)).toBe(1);
    expect(nextCounter(fmt({ counterDigits: 1 }), 9)).toBe(1);
    expect(nextCounter(DEFAULT_TOKEN_FORMAT, 0)).toBe(1);
  });

  test('the token goes at the end of the subject after two spaces, once', () => {
    expect(addTokenToSubject('Quote', 'CRM:0001001')).toBe('Quote  CRM:0001001');
    expect(addTokenToSubject('Quote  ', 'CRM:0001001')).toBe('Quote  CRM:0001001');
    expect(addTokenToSubject('', 'CRM:0001001')).toBe('CRM:0001001');
    expect(addTokenToSubject('Quote  CRM:0001001', 'CRM:0001001')).toBe('Quote  CRM:0001001');
  });
});

describe('removeTrackingTokens / smartMatchSubject', () => {
  const fab = { prefix: 'FAB:', deploymentBase: 1, userDigits: 3, counterDigits: 4 };

  test('removes every token of the format, wherever it is, and keeps the rest', () => {
    expect(removeTrackingTokens(DEFAULT_TOKEN_FORMAT, 'RE: Quote  CRM:0001001').trim()).toBe('RE: Quote');
    expect(removeTrackingTokens(DEFAULT_TOKEN_FORMAT, 'crm:0001001 Quote CRM:0002002').trim()).toBe('Quote');
    // Another deployment's token, or a longer number, is not this format's token.
    expect(removeTrackingTokens(DEFAULT_TOKEN_FORMAT, 'Quote CRM:00010011')).toBe('Quote CRM:00010011');
    expect(removeTrackingTokens(fab, 'Quote CRM:0001001')).toBe('Quote CRM:0001001');
  });

  test('the registered outbound subject and replies without the token hash the same', () => {
    const sent = smartMatchSubject(DEFAULT_TOKEN_FORMAT, 'Quote for 40 licences  CRM:0001001');
    expect(sent).toBe('quote for 40 licences');
    for (const reply of [
      'RE: Quote for 40 licences',
      'AW: WG: Quote for 40 licences',
      'Re: Quote for 40 licences  CRM:0001001',
      'Fwd: quote for 40 licences (fwd)',
    ])
      expect(smartMatchSubject(DEFAULT_TOKEN_FORMAT, reply)).toBe(sent);
    expect(smartMatchSubject(fab, 'RE: Order  FAB:10010042')).toBe('order');
  });
});
