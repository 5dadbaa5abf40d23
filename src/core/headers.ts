// Header-block reading (RFC 5322 §2.2) and the header-value grammars the router needs:
// encoded words (RFC 2047), address lists (RFC 5322 §3.4), message identifiers (§3.6.4) and
// Content-Type (RFC 2045 §5, parameters per RFC 2231). Everything here is total: bad input gives
// a best-effort answer and, where it matters, a problem description — never an exception.
import { decodeBase64 } from './base64.js';
import { decodeBytes, decodeHeaderBytes, decodeLatin1 } from './charset.js';
import { normaliseMessageId } from './keyed-hash.js';
import type { MailAddress } from './types.js';

export interface HeaderField {
  /** Lower-case field name. */
  name: string;
  /** Unfolded raw value (CRLF before continuation whitespace removed, ends trimmed). */
  value: string;
}

export interface HeaderBlock {
  fields: HeaderField[];
  /** Bytes of the header block, from the read offset up to (not including) the empty line. */
  headerBytes: number;
  /** Absolute offset of the first body byte (the end of the input when there is no body). */
  bodyOffset: number;
  /** First value of a field (case-insensitive name). */
  get(name: string): string | undefined;
  /** Every value of a field, in message order. */
  getAll(name: string): string[];
  /** Non-fatal findings (lines that are neither fields nor continuations, an mbox `From ` line...). */
  problems: string[];
  /** Lines that are neither a field nor a continuation line. */
  invalidLines: number;
  /** True when the block ended at the end of input without an empty line. */
  unterminated: boolean;
}

/**
 * Largest header block read (the message's own, or a wrapped message's): Email Routing and the
 * common MTAs refuse far smaller header sections (Postfix: 100 KiB `header_size_limit`), so this
 * only bounds what a hostile sender can make the header-first phase read.
 */
export const DEFAULT_MAX_HEADER_BYTES = 256 * 1024;
/**
 * One header budget for the whole message: its own header block, the MIME part headers met on the
 * way to the wrapped messages of a forward-as-attachment, their header blocks, and the outer From
 * and trace headers once more per wrapped message (each is read with them). The per-block limit
 * alone let one message make the header-first phase read 50 wrapped blocks of 256 KiB; beyond this
 * the message is `malformed`. A forward of 50 Microsoft 365 messages (≈ 15 KiB of headers each,
 * under an outer block of the same size) needs about 0.8 MiB.
 */
export const MAX_MESSAGE_HEADER_BYTES = 1024 * 1024;
/**
 * Most characters of one address list read (To/Cc/trace headers): a 256 KiB header block can hold
 * one; RFC 5321 §4.5.3.1.8 requires only 100 recipients, which fit in a few kilobytes.
 */
const MAX_ADDRESS_LIST_CHARS = 100_000;

/** A field-name byte (RFC 5322 §3.6.8: printable US-ASCII except `:`). */
const isNameByte = (b: number): boolean => b >= 33 && b <= 126 && b !== 58;
const NON_ASCII = /[\u0080-\uffff]/;
const LINE_BREAK = /\r?\n/g;

function createBlock(
  fields: HeaderField[],
  headerBytes: number,
  bodyOffset: number,
  problems: string[],
  invalidLines: number,
  unterminated: boolean,
): HeaderBlock {
  let index: Map<string, string[]> | undefined;
  const lookup = (name: string): string[] | undefined => {
    if (!index) {
      index = new Map();
      for (const f of fields) {
        const list = index.get(f.name);
        if (list) list.push(f.value);
        else index.set(f.name, [f.value]);
      }
    }
    return index.get(name.toLowerCase());
  };
  return {
    fields,
    headerBytes,
    bodyOffset,
    problems,
    invalidLines,
    unterminated,
    get: (name) => lookup(name)?.[0],
    getAll: (name) => [...(lookup(name) ?? [])],
  };
}

/**
 * Reads the header block of a message (or of a MIME part at `offset`): up to the first empty line
 * (CRLF or bare LF endings), unfolding continuation lines. A field's bytes are read as UTF-8 where
 * valid (RFC 6532) and Latin-1 otherwise. Fails only when the block is larger than maxHeaderBytes.
 *
 * Two passes, so that the cost per line is a few byte comparisons whatever the lines' lengths:
 * the first finds the fields' byte ranges, the second decodes the block once and slices it (a
 * decode per line made a block of one-character continuation lines cost microseconds per line).
 */
export function readHeaderBlock(
  raw: Uint8Array,
  opts?: { maxHeaderBytes?: number; offset?: number },
): { ok: true; block: HeaderBlock } | { ok: false; problem: string } {
  const max = opts?.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const start = Math.min(Math.max(0, Math.trunc(opts?.offset ?? 0)), raw.length);
  const n = raw.length;
  // Line breaks are looked for only as far as the limit reaches: a 25 MiB message that is one line
  // costs a search of `max` bytes, not of the message.
  const searchEnd = Math.min(n, start + max + 2);
  let headerEnd = n;
  let bodyOffset = n;
  let unterminated = true;
  const problems: string[] = [];
  let invalidLines = 0;
  const problem = (text: string): void => {
    if (problems.length < 20 && !problems.includes(text)) problems.push(text);
  };
  // Per field: name start, name end, value start, value end, whether it spans several lines.
  const spans: number[] = [];
  let open = -1;
  let pos = start;
  while (pos < n) {
    // The line's end: short lines by a plain loop, the rest of a long one by the native search.
    let nl = pos;
    const near = Math.min(searchEnd, pos + 256);
    while (nl < near && raw[nl] !== 10) nl++;
    if (nl === near) {
      const found = near < searchEnd ? raw.indexOf(10, near) : -1;
      nl = found >= 0 && found < searchEnd ? found : -1;
    }
    if (nl < 0 && searchEnd < n) return { ok: false, problem: `header block exceeds ${max} bytes` };
    const lineEnd = nl < 0 ? n : nl;
    const contentEnd = lineEnd > pos && raw[lineEnd - 1] === 13 ? lineEnd - 1 : lineEnd;
    if (contentEnd === pos && nl >= 0) {
      headerEnd = pos;
      bodyOffset = nl + 1;
      unterminated = false;
      break;
    }
    if (contentEnd - start > max) return { ok: false, problem: `header block exceeds ${max} bytes` };
    const first = raw[pos] as number;
    if (first === 32 || first === 9) {
      // Continuation line (RFC 5322 §2.2.3): unfolding removes only the line break.
      if (open >= 0) {
        spans[open + 3] = contentEnd;
        spans[open + 4] = 1;
      } else {
        invalidLines++;
        problem('continuation line before the first header field');
      }
    } else {
      open = -1;
      let nameEnd = pos;
      while (nameEnd < contentEnd && isNameByte(raw[nameEnd] as number)) nameEnd++;
      let colon = nameEnd;
      while (colon < contentEnd && (raw[colon] === 32 || raw[colon] === 9)) colon++;
      if (nameEnd > pos && colon < contentEnd && raw[colon] === 58) {
        open = spans.length;
        spans.push(pos, nameEnd, colon + 1, contentEnd, 0);
      } else if (pos === start && decodeLatin1(raw, pos, Math.min(contentEnd, pos + 5)) === 'From ') {
        problem('mbox "From " line before the header ignored');
      } else if (spans.length > 0) {
        // No empty line before the body: the first line that is not a field starts the body.
        headerEnd = pos;
        bodyOffset = pos;
        unterminated = false;
        problem('no empty line between header and body');
        break;
      } else {
        invalidLines++;
        problem('header line without a field name ignored');
      }
    }
    if (nl < 0) break;
    pos = nl + 1;
  }
  const fields: HeaderField[] = [];
  if (spans.length > 0) {
    const textStart = spans[0] as number;
    const text = decodeLatin1(raw, textStart, spans[spans.length - 2] as number);
    for (let f = 0; f < spans.length; f += 5) {
      const valueStart = spans[f + 2] as number;
      const valueEnd = spans[f + 3] as number;
      let value = text.slice(valueStart - textStart, valueEnd - textStart);
      if (NON_ASCII.test(value)) value = decodeHeaderBytes(raw, valueStart, valueEnd);
      if (spans[f + 4] === 1) value = value.replace(LINE_BREAK, '');
      fields.push({
        name: text
          .slice((spans[f] as number) - textStart, (spans[f + 1] as number) - textStart)
          .toLowerCase(),
        value: value.trim(),
      });
    }
  }
  return {
    ok: true,
    block: createBlock(fields, headerEnd - start, bodyOffset, problems, invalidLines, unterminated),
  };
}

// RFC 2047 §2: encoded-word = "=?" charset "?" encoding "?" encoded-text "?="
const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=/g;
const utf8 = new TextEncoder();

function decodeQ(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 95) out.push(32);
    else if (c === 61 && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) out.push(c);
    else for (const b of utf8.encode(text[i])) out.push(b);
  }
  return Uint8Array.from(out);
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Decodes RFC 2047 encoded words in any charset. Adjacent encoded words separated only by
 * whitespace are joined (§6.2), and their bytes are concatenated before decoding when they share
 * a charset: encoders split multi-byte characters across words (common with ISO-2022-JP).
 */
export function decodeEncodedWords(s: string): string {
  if (typeof s !== 'string' || !s.includes('=?')) return typeof s === 'string' ? s : '';
  let out = '';
  let last = 0;
  let pendingCharset: string | undefined;
  let pending: Uint8Array[] = [];
  const flush = (): void => {
    if (pendingCharset !== undefined) {
      // Stateful ISO-2022 encodings return to ASCII at the end of every word (RFC 1468): each
      // word decodes on its own; the WHATWG decoder flags the escape pairs a concatenation creates.
      out += pendingCharset.startsWith('iso-2022')
        ? pending.map((bytes) => decodeBytes(bytes, pendingCharset as string)).join('')
        : decodeBytes(concatBytes(pending), pendingCharset);
    }
    pendingCharset = undefined;
    pending = [];
  };
  for (const m of s.matchAll(ENCODED_WORD)) {
    const at = m.index ?? 0;
    const gap = s.slice(last, at);
    const charset = (m[1] as string).toLowerCase();
    const isBase64 = (m[2] as string).toLowerCase() === 'b';
    if (isBase64 && !/^[A-Za-z0-9+/=_-]*$/.test(m[3] as string)) continue; // not an encoded word: keep as text
    const bytes = isBase64 ? decodeBase64(m[3] as string) : decodeQ(m[3] as string);
    const joinsPrevious = pendingCharset !== undefined && /^[ \t\r\n]*$/.test(gap);
    if (joinsPrevious && pendingCharset === charset) {
      pending.push(bytes);
    } else {
      flush();
      if (!joinsPrevious) out += gap;
      pendingCharset = charset;
      pending = [bytes];
    }
    last = at + m[0].length;
  }
  flush();
  return out + s.slice(last);
}

const ADDRESS_SHAPE = /^[^@\s<>(),;]+@[^@\s<>(),;]+$/;
const QUOTED_LOCAL_PART = /^"((?:[^"\\]|\\.)*)"@([^@\s<>(),;"\\]+)$/s;

/**
 * A quoted string's content in its canonical quoted form (RFC 5322 §3.2.4): `\` and `"` are the
 * characters that need a quoted-pair; any other quoted-pair stands for its character alone.
 */
function quoteContent(text: string): string {
  return text.includes('"') || text.includes('\\') ? `"${text.replace(/[\\"]/g, '\\$&')}"` : `"${text}"`;
}

function cleanAddress(candidate: string): string | undefined {
  let a = candidate.trim();
  if (!a.startsWith('"')) a = a.replace(/\s+/g, '');
  if (a.slice(0, 7).toLowerCase() === 'mailto:') a = a.slice(7);
  // Obsolete source route (RFC 5322 §4.4).
  if (a.startsWith('@') && a.includes(':')) a = a.slice(a.lastIndexOf(':') + 1);
  let end = a.length;
  while (end > 0 && a.charCodeAt(end - 1) === 46) end--;
  a = a.slice(0, end).toLowerCase();
  // A quoted local part (`"john doe"@example.com`, `"a\"b"@example.com`) keeps its spaces and its
  // escapes (RFC 5322 §3.4.1), written in the canonical form so that spellings compare equal.
  const q = a.startsWith('"') ? QUOTED_LOCAL_PART.exec(a) : null;
  if (q) {
    const content = q[1] as string;
    return `${quoteContent(content.includes('\\') ? content.replace(/\\(.)/gs, '$1') : content)}@${q[2] as string}`;
  }
  return ADDRESS_SHAPE.test(a) ? a : undefined;
}

/**
 * Parses an RFC 5322 address list: display names (quoted or encoded words), comments, groups,
 * angle addresses and bare addresses, with the usual real-world breakage tolerated. Entries
 * without a usable `local@domain` are skipped. Addresses are lower-cased. Never throws.
 */
export function parseAddressList(value: string): MailAddress[] {
  const result: MailAddress[] = [];
  if (typeof value !== 'string' || value.length === 0) return result;
  const s = value.length > MAX_ADDRESS_LIST_CHARS ? value.slice(0, MAX_ADDRESS_LIST_CHARS) : value;
  let phrase: string[] = [];
  let chunks: string[] = [];
  let chunk = '';
  // Whether the entry read so far holds an `@` (kept as a flag: searching the chunks at every `:`
  // made a long list quadratic).
  let entryHasAt = false;
  let angle: string | undefined;
  let comment = '';
  // Offset of the next `>` at or after the last search (-1: none left), so that a run of unclosed
  // `<` does not search the rest of the value once per `<`.
  let nextClose = -2;

  const endChunk = (): void => {
    if (chunk !== '') chunks.push(chunk);
    chunk = '';
  };
  const finish = (): void => {
    endChunk();
    if (angle === undefined && !entryHasAt) {
      // No `@` anywhere in the entry: nothing to clean (keeps a list of junk entries cheap).
      phrase = [];
      chunks = [];
      comment = '';
      return;
    }
    let address: string | undefined;
    let name = '';
    if (angle !== undefined) {
      address = cleanAddress(angle);
      name = phrase.join(' ');
    } else {
      name = comment;
      // `Alice Example alice@example.com` (no angle brackets): the one chunk that is an address.
      const withAt = chunks.filter((c) => c.includes('@'));
      const single = chunks.length > 1 && withAt.length === 1 ? cleanAddress(withAt[0] as string) : undefined;
      if (single) {
        address = single;
        name = chunks.filter((c) => c !== withAt[0]).join(' ') || comment;
      } else {
        // Obsolete spacing around the dots and the @ (RFC 5322 §4.4) is removed by joining.
        address = cleanAddress(chunks.join(''));
      }
    }
    if (address) {
      const decoded = decodeEncodedWords(name).replace(/\s+/g, ' ').trim();
      result.push(decoded ? { address, name: decoded } : { address });
    }
    phrase = [];
    chunks = [];
    chunk = '';
    entryHasAt = false;
    angle = undefined;
    comment = '';
  };

  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s[i] as string;
    if (c === '"') {
      let j = i + 1;
      let text = '';
      while (j < n && s[j] !== '"') {
        if (s[j] === '\\' && j + 1 < n) j++;
        text += s[j];
        j++;
      }
      phrase.push(text);
      chunk += quoteContent(text);
      if (text.includes('@')) entryHasAt = true;
      i = j + 1;
    } else if (c === '(') {
      let depth = 1;
      let j = i + 1;
      let text = '';
      while (j < n && depth > 0) {
        const d = s[j] as string;
        if (d === '\\' && j + 1 < n) {
          text += s[j + 1];
          j += 2;
          continue;
        }
        if (d === '(') depth++;
        else if (d === ')') {
          depth--;
          if (depth === 0) break;
        }
        text += d;
        j++;
      }
      comment = text.trim();
      endChunk();
      i = j + 1;
    } else if (c === '<') {
      if (nextClose !== -1 && nextClose <= i) nextClose = s.indexOf('>', i + 1);
      const close = nextClose;
      if (close >= 0) {
        angle = s.slice(i + 1, close);
        i = close + 1;
      } else {
        // Unclosed angle address: it ends at the next comma (or the end of the value).
        const comma = s.indexOf(',', i + 1);
        angle = s.slice(i + 1, comma < 0 ? n : comma);
        i = comma < 0 ? n : comma;
      }
      endChunk();
    } else if (c === ',') {
      finish();
      i++;
    } else if (c === ';') {
      finish();
      i++;
    } else if (c === ':' && angle === undefined && !entryHasAt) {
      // Group: `display-name: mailbox-list;` — the group name is not an address.
      phrase = [];
      chunks = [];
      chunk = '';
      comment = '';
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      endChunk();
      i++;
    } else {
      // A word ends at a special; a `:` ends it only before its `@` (`a@b:c` is one word: the
      // source route and odd local parts are the address cleaner's to judge).
      let j = i;
      let wordHasAt = false;
      while (j < n) {
        const d = s.charCodeAt(j);
        if (
          d === 32 ||
          d === 9 ||
          d === 13 ||
          d === 10 ||
          d === 34 ||
          d === 40 ||
          d === 60 ||
          d === 44 ||
          d === 59
        )
          break;
        if (d === 64) wordHasAt = true;
        else if (d === 58 && !wordHasAt) break;
        j++;
      }
      if (j === i) j = i + 1;
      const word = s.slice(i, j);
      if (wordHasAt || word === '@') entryHasAt = true;
      phrase.push(word);
      chunk += word;
      i = j;
    }
  }
  finish();
  return result;
}

/** Message identifiers of In-Reply-To / References (RFC 5322 §3.6.4), normalised, in order, unique. */
export function parseMessageIds(value: string): string[] {
  if (typeof value !== 'string' || value === '') return [];
  const ids: string[] = [];
  const seen = new Set<string>();
  const add = (raw: string): void => {
    const id = normaliseMessageId(raw);
    if (id !== '' && id.length <= 998 && !seen.has(id)) {
      seen.add(id);
      ids.push(id);
    }
  };
  const withoutComments = value.replace(/\([^()]*\)/g, ' ');
  let bracketed = false;
  for (const m of withoutComments.matchAll(/<([^<>]*)>/g)) {
    bracketed = true;
    add(m[1] as string);
  }
  // Some clients omit the angle brackets; accept bare `left@right` tokens then.
  if (!bracketed) {
    for (const token of withoutComments.split(/[\s,]+/)) if (token.includes('@')) add(token);
  }
  return ids;
}

/** The value of a hexadecimal digit's character code, or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * Parses a Content-Type value: lower-case `type/subtype` (default `text/plain`, RFC 2045 §5.2)
 * and parameters with lower-case names, unquoted values, and RFC 2231 continuations and charsets
 * decoded.
 */
export function parseContentType(value: string | undefined): {
  type: string;
  params: Record<string, string>;
} {
  const params: Record<string, string> = {};
  if (typeof value !== 'string' || value.trim() === '') return { type: 'text/plain', params };
  const s = value.replace(/\([^()"]*\)/g, '');
  const semi = s.indexOf(';');
  const rawType = (semi < 0 ? s : s.slice(0, semi)).trim().toLowerCase();
  const type = /^[!#$%&'*+.^`|~\w-]+\/[!#$%&'*+.^`|~\w-]+$/.test(rawType) ? rawType : 'text/plain';
  if (semi < 0) return { type, params };

  const plain = new Map<string, string>();
  const extended = new Map<string, Array<{ index: number; value: string; encoded: boolean }>>();
  let i = semi + 1;
  const n = s.length;
  while (i < n) {
    while (i < n && (s[i] === ';' || s[i] === ' ' || s[i] === '\t' || s[i] === '\r' || s[i] === '\n')) i++;
    let j = i;
    while (j < n && s[j] !== '=' && s[j] !== ';') j++;
    const name = s.slice(i, j).trim().toLowerCase();
    if (j >= n || s[j] === ';') {
      i = j;
      continue;
    }
    j++;
    while (j < n && (s[j] === ' ' || s[j] === '\t')) j++;
    let v = '';
    if (s[j] === '"') {
      j++;
      while (j < n && s[j] !== '"') {
        if (s[j] === '\\' && j + 1 < n) j++;
        v += s[j];
        j++;
      }
      j++;
      while (j < n && s[j] !== ';') j++;
    } else {
      const end = s.indexOf(';', j);
      v = s.slice(j, end < 0 ? n : end).trim();
      j = end < 0 ? n : end;
    }
    i = j;
    if (name === '') continue;
    const m = /^(.+?)\*(\d+)?(\*)?$/.exec(name);
    if (m) {
      const base = m[1] as string;
      const list = extended.get(base) ?? [];
      list.push({
        index: m[2] === undefined ? 0 : Number(m[2]),
        value: v,
        encoded: m[3] === '*' || m[2] === undefined,
      });
      extended.set(base, list);
    } else if (!plain.has(name)) {
      plain.set(name, v);
    }
  }
  for (const [name, v] of plain) params[name] = v;
  for (const [name, parts] of extended) {
    parts.sort((a, b) => a.index - b.index);
    let charset = 'utf-8';
    const bytes: number[] = [];
    parts.forEach((part, k) => {
      let text = part.value;
      if (part.encoded && k === 0) {
        const q = /^([^']*)'[^']*'(.*)$/s.exec(text);
        if (q) {
          charset = (q[1] as string) || 'utf-8';
          text = q[2] as string;
        }
      }
      if (part.encoded) {
        for (let x = 0; x < text.length; x++) {
          const c = text.charCodeAt(x);
          const hi = c === 37 ? hexDigit(text.charCodeAt(x + 1)) : -1;
          const lo = hi >= 0 ? hexDigit(text.charCodeAt(x + 2)) : -1;
          if (lo >= 0) {
            bytes.push(hi * 16 + lo);
            x += 2;
          } else if (c < 0x80) {
            bytes.push(c);
          } else {
            for (const b of utf8.encode(text[x])) bytes.push(b);
          }
        }
      } else {
        for (const b of utf8.encode(text)) bytes.push(b);
      }
    });
    params[name] = decodeBytes(Uint8Array.from(bytes), charset);
  }
  return { type, params };
}

/** Every address of the `name` fields of a header block (all occurrences, in order). */
export function addressList(block: HeaderBlock, name: string): MailAddress[] {
  const values = block.getAll(name);
  if (values.length === 0) return [];
  return parseAddressList(values.join(', '));
}
