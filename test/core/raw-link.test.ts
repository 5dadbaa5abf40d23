// The one raw-link rule (src/core/raw-link.ts), minted by central and checked by the edge.
import { describe, expect, test } from 'vitest';
import { rawLinkProblem, rawLinkUrl, signRawLink } from '../../src/core/raw-link.js';

const SIGNING_KEY = 'test-signing-key-us';
const KEY = 'us/2026/12/06/m 1/átt#1.pdf';
const EXP = 1765065600000;
/** Computed by the two implementations this module replaced (edge `signRawLink`, central `mintRawLink`). */
const PINNED_SIG = 'ccc9c01449caf56b5a1df5c45709fd198ea18bb100f6330bac2b5f47bae8bc9b';
const PINNED_URL = `https://edge-us.example/raw/us/2026/12/06/m%201/%C3%A1tt%231.pdf?exp=${EXP}&sig=${PINNED_SIG}`;

describe('raw links', () => {
  test('the signature and the URL are the bytes the old signers produced', async () => {
    expect(await signRawLink(SIGNING_KEY, KEY, EXP)).toBe(PINNED_SIG);
    expect(rawLinkUrl('https://edge-us.example//', KEY, EXP, PINNED_SIG)).toBe(PINNED_URL);
  });

  test('a link is good until it expires, and only for its key, expiry and signing key', async () => {
    const ok = { signingKey: SIGNING_KEY, key: KEY, exp: EXP, sig: PINNED_SIG };
    expect(await rawLinkProblem(ok, EXP)).toBeUndefined();
    expect(await rawLinkProblem(ok, EXP + 1)).toBe('expired');
    expect(await rawLinkProblem({ ...ok, key: `${KEY}x` }, EXP)).toBe('bad-signature');
    expect(await rawLinkProblem({ ...ok, exp: EXP + 1 }, EXP)).toBe('bad-signature');
    expect(await rawLinkProblem({ ...ok, signingKey: 'test-signing-key-eu' }, EXP)).toBe('bad-signature');
    expect(await rawLinkProblem({ ...ok, sig: PINNED_SIG.slice(0, -1) }, EXP)).toBe('bad-signature');
    expect(await rawLinkProblem({ ...ok, sig: PINNED_SIG.toUpperCase() }, EXP)).toBe('bad-signature');
    expect(await rawLinkProblem({ ...ok, sig: '' }, EXP)).toBe('unsigned');
    expect(await rawLinkProblem({ ...ok, exp: Number.NaN }, EXP)).toBe('unsigned');
  });
});
