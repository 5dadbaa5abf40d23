// Dynamics-compatible tracking tokens: prefix + deployment base number + zero-padded user
// number + zero-padded counter, e.g. `CRM:0001001` (prefix `CRM:`, base 0, user 001, counter 001).
import type { TokenFormat } from './types.js';

export const DEFAULT_TOKEN_FORMAT: TokenFormat = {
  prefix: 'CRM:',
  deploymentBase: 0,
  userDigits: 3,
  counterDigits: 3,
};

/** Largest deployment base number (as in Dynamics: a signed 32-bit integer). */
export const MAX_DEPLOYMENT_BASE = 2147483647;

/** Returns an error message when `f` is not a usable token format, otherwise undefined. */
export function validateTokenFormat(f: TokenFormat): string | undefined {
  if (f === null || typeof f !== 'object') return 'token format must be an object';
  if (typeof f.prefix !== 'string' || f.prefix.length < 1 || f.prefix.length > 20) {
    return 'token prefix must be 1 to 20 characters';
  }
  // Whitespace would let subject folding or client trimming split a token in two.
  if (/[\s\p{Cc}]/u.test(f.prefix)) return 'token prefix must not contain whitespace or control characters';
  if (!Number.isInteger(f.deploymentBase) || f.deploymentBase < 0 || f.deploymentBase > MAX_DEPLOYMENT_BASE) {
    return `deployment base must be an integer from 0 to ${MAX_DEPLOYMENT_BASE}`;
  }
  if (!Number.isInteger(f.userDigits) || f.userDigits < 1 || f.userDigits > 9) {
    return 'user digits must be an integer from 1 to 9';
  }
  if (!Number.isInteger(f.counterDigits) || f.counterDigits < 1 || f.counterDigits > 9) {
    return 'counter digits must be an integer from 1 to 9';
  }
  return undefined;
}

function assertFormat(f: TokenFormat): void {
  const problem = validateTokenFormat(f);
  if (problem) throw new RangeError(problem);
}

/** Formats a token. Throws RangeError if the numbers do not fit the format's digits. */
export function formatTrackingToken(f: TokenFormat, userNumber: number, counter: number): string {
  assertFormat(f);
  if (!Number.isInteger(userNumber) || userNumber < 0 || userNumber >= 10 ** f.userDigits) {
    throw new RangeError(`user number ${userNumber} does not fit in ${f.userDigits} digits`);
  }
  if (!Number.isInteger(counter) || counter < 0 || counter >= 10 ** f.counterDigits) {
    throw new RangeError(`counter ${counter} does not fit in ${f.counterDigits} digits`);
  }
  return (
    f.prefix +
    String(f.deploymentBase) +
    String(userNumber).padStart(f.userDigits, '0') +
    String(counter).padStart(f.counterDigits, '0')
  );
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isWordChar(ch: string): boolean {
  return /[\p{L}\p{N}_]/u.test(ch);
}

/**
 * Finds this deployment's token anywhere in a subject. The prefix matches without regard to case;
 * the base number must match exactly and be followed by exactly userDigits + counterDigits digits
 * and then a non-digit (so `CRM:10001001` is not base 1's token). A prefix that begins with a
 * letter or digit must not be glued to a preceding letter or digit.
 */
export function findTrackingToken(
  f: TokenFormat,
  subject: string,
): { token: string; userNumber: number; counter: number } | undefined {
  const found = locateTrackingToken(f, subject, 0);
  if (!found) return undefined;
  return { token: found.token, userNumber: found.userNumber, counter: found.counter };
}

/** Where the first token at or after `fromIndex` is (offsets into `subject`), as findTrackingToken. */
function locateTrackingToken(
  f: TokenFormat,
  subject: string,
  fromIndex: number,
): { token: string; userNumber: number; counter: number; index: number; length: number } | undefined {
  if (validateTokenFormat(f) || typeof subject !== 'string') return undefined;
  const head = f.prefix + String(f.deploymentBase);
  const digits = f.userDigits + f.counterDigits;
  const haystack = subject.toLowerCase();
  const needle = head.toLowerCase();
  // Case folding can change lengths for a few scripts; fall back to an exact search then.
  const folded = haystack.length === subject.length && needle.length === head.length;
  const text = folded ? haystack : subject;
  const pattern = folded ? needle : head;
  const prefixIsWord = isWordChar(f.prefix[0] as string);
  let from = fromIndex;
  while (from <= text.length) {
    const at = text.indexOf(pattern, from);
    if (at < 0) return undefined;
    from = at + 1;
    if (prefixIsWord && at > 0 && isWordChar(text[at - 1] as string)) continue;
    const start = at + pattern.length;
    let ok = start + digits <= text.length;
    for (let i = start; ok && i < start + digits; i++) ok = isDigit(text.charCodeAt(i));
    if (!ok) continue;
    if (start + digits < text.length && isDigit(text.charCodeAt(start + digits))) continue;
    const userNumber = Number(text.slice(start, start + f.userDigits));
    const counter = Number(text.slice(start + f.userDigits, start + digits));
    return {
      token: head + text.slice(start, start + digits),
      userNumber,
      counter,
      index: at,
      length: start + digits - at,
    };
  }
  return undefined;
}

/**
 * The subject with every token of this format removed (as Dynamics does before it hashes a subject
 * for smart matching): `RE: Quote  CRM:0001001` → `RE: Quote  `.
 */
export function removeTrackingTokens(f: TokenFormat, subject: string): string {
  if (typeof subject !== 'string') return '';
  let out = subject;
  for (let guard = 0; guard < 100; guard++) {
    const found = locateTrackingToken(f, out, 0);
    if (!found) break;
    out = `${out.slice(0, found.index)} ${out.slice(found.index + found.length)}`;
  }
  return out;
}

/** The counter after `counter`: wraps to 1 after the largest value counterDigits can hold. */
export function nextCounter(f: TokenFormat, counter: number): number {
  const max = 10 ** Math.min(Math.max(Math.trunc(f.counterDigits) || 1, 1), 9) - 1;
  if (!Number.isInteger(counter) || counter < 1 || counter >= max) return 1;
  return counter + 1;
}

/** Appends the token as Dynamics does: `"Quote  CRM:0001001"` (two spaces); no-op if already present. */
export function addTokenToSubject(subject: string, token: string): string {
  const base = (subject ?? '').replace(/\s+$/, '');
  if (token === '') return base;
  if (base.includes(token)) return base;
  return base === '' ? token : `${base}  ${token}`;
}
