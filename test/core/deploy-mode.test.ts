import { describe, expect, test } from 'vitest';
import {
  developmentVarsProblem,
  isLocalDevelopment,
  isLoopbackHost,
  isLoopbackUrl,
  isPublicLocalValue,
} from '../../src/core/deploy-mode.js';
import { timingSafeEqual } from '../../src/core/request-signature.js';

describe('deploy mode', () => {
  test('only ENVIRONMENT = "development" is local development; anything else, or nothing, is production', () => {
    expect(isLocalDevelopment({ ENVIRONMENT: 'development' })).toBe(true);
    for (const ENVIRONMENT of [undefined, 'production', 'staging', 'Development', 'dev', ''])
      expect(isLocalDevelopment({ ENVIRONMENT })).toBe(false);
  });

  test.each([
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['::1', true],
    ['[::1]', true],
    ['localhost', true],
    ['LOCALHOST.', true],
    ['central.localhost', true],
    ['127.0.0.1.nip.io', false],
    ['localhost.example.com', false],
    ['128.0.0.1', false],
    ['10.0.0.1', false],
    ['127.0.0.256', false],
    ['central.test', false],
    ['crm-central.example.com', false],
  ])('isLoopbackHost(%s) is %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });

  test('a URL is loopback by its host, whatever its port or scheme; an unparsable one is not', () => {
    expect(isLoopbackUrl('http://127.0.0.1:8787/health')).toBe(true);
    expect(isLoopbackUrl('https://[::1]:8443/')).toBe(true);
    expect(isLoopbackUrl('http://user@evil.example/?h=127.0.0.1')).toBe(false);
    expect(isLoopbackUrl('not a url')).toBe(false);
  });

  test('the deploy check takes production or no ENVIRONMENT and refuses anything else', () => {
    expect(developmentVarsProblem(undefined)).toBeUndefined();
    expect(developmentVarsProblem({ REGION: 'us' })).toBeUndefined();
    expect(developmentVarsProblem({ ENVIRONMENT: 'production' })).toBeUndefined();
    for (const ENVIRONMENT of ['development', 'staging', ''])
      expect(developmentVarsProblem({ ENVIRONMENT })).toMatch(/only "production" may be deployed/);
  });

  test('the published local values are recognised as no secret at all', () => {
    for (const v of ['local-admin-token', 'local-edge-key-secret', 'local-inbound-token'])
      expect(isPublicLocalValue(v)).toBe(true);
    expect(isPublicLocalValue(undefined)).toBe(false);
    expect(isPublicLocalValue('a-real-secret')).toBe(false);
  });
});

describe('timingSafeEqual', () => {
  test('equal strings only: a prefix, a longer string or one changed character is unequal', () => {
    expect(timingSafeEqual('s3cret-token', 's3cret-token')).toBe(true);
    expect(timingSafeEqual('', '')).toBe(true);
    expect(timingSafeEqual('s3cret', 's3cret-token')).toBe(false);
    expect(timingSafeEqual('s3cret-token', 's3cret')).toBe(false);
    expect(timingSafeEqual('s3cret-token', 's3cret-tokeN')).toBe(false);
    expect(timingSafeEqual('a', '')).toBe(false);
    // A character past the shorter string that happens to be NUL still differs by length.
    expect(timingSafeEqual('ab\0', 'ab')).toBe(false);
  });
});
