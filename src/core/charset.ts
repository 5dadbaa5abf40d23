// Byte → text decoding for header values. Mail arrives in every charset ever registered; an
// unknown or unsupported label must degrade to Latin-1 rather than throw (RFC 2047 §6.3 asks a
// reader to show undecodable words as they are; a readable approximation serves routing better).

// Every label of the WHATWG Encoding Standard (https://encoding.spec.whatwg.org/encodings.json):
// TextDecoder accepts these and nothing else. A label outside the list is Latin-1 at once, without
// a decoder construction that throws: a message chooses how many encoded words name a label of its
// own, and a throwing constructor costs about 15 µs (250 KB of such words: 0.2 s of CPU).
const ENCODING_LABELS = new Set(
  [
    // UTF-8
    'unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8',
    // IBM866
    '866 cp866 csibm866 ibm866',
    // ISO-8859-2
    'csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 iso_8859-2:1987 l2 latin2',
    // ISO-8859-3
    'csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 iso_8859-3 iso_8859-3:1988 l3 latin3',
    // ISO-8859-4
    'csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 iso_8859-4 iso_8859-4:1988 l4 latin4',
    // ISO-8859-5
    'csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 iso8859-5 iso88595 iso_8859-5 iso_8859-5:1988',
    // ISO-8859-6
    'arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 iso-8859-6 iso-8859-6-e',
    'iso-8859-6-i iso-ir-127 iso8859-6 iso88596 iso_8859-6 iso_8859-6:1987',
    // ISO-8859-7
    'csisolatingreek ecma-118 elot_928 greek greek8 iso-8859-7 iso-ir-126 iso8859-7 iso88597 iso_8859-7',
    'iso_8859-7:1987 sun_eu_greek',
    // ISO-8859-8
    'csiso88598e csisolatinhebrew hebrew iso-8859-8 iso-8859-8-e iso-ir-138 iso8859-8 iso88598 iso_8859-8',
    'iso_8859-8:1988 visual',
    // ISO-8859-8-I
    'csiso88598i iso-8859-8-i logical',
    // ISO-8859-10
    'csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 l6 latin6',
    // ISO-8859-13
    'iso-8859-13 iso8859-13 iso885913',
    // ISO-8859-14
    'iso-8859-14 iso8859-14 iso885914',
    // ISO-8859-15
    'csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9',
    // ISO-8859-16
    'iso-8859-16',
    // KOI8-R
    'cskoi8r koi koi8 koi8-r koi8_r',
    // KOI8-U
    'koi8-ru koi8-u',
    // macintosh
    'csmacintosh mac macintosh x-mac-roman',
    // windows-874
    'dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 windows-874',
    // windows-1250
    'cp1250 windows-1250 x-cp1250',
    // windows-1251
    'cp1251 windows-1251 x-cp1251',
    // windows-1252
    'ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100 iso8859-1 iso88591',
    'iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii windows-1252 x-cp1252',
    // windows-1253
    'cp1253 windows-1253 x-cp1253',
    // windows-1254
    'cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599 iso_8859-9 iso_8859-9:1989 l5 latin5',
    'windows-1254 x-cp1254',
    // windows-1255
    'cp1255 windows-1255 x-cp1255',
    // windows-1256
    'cp1256 windows-1256 x-cp1256',
    // windows-1257
    'cp1257 windows-1257 x-cp1257',
    // windows-1258
    'cp1258 windows-1258 x-cp1258',
    // x-mac-cyrillic
    'x-mac-cyrillic x-mac-ukrainian',
    // GBK
    'chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk iso-ir-58 x-gbk',
    // gb18030
    'gb18030',
    // Big5
    'big5 big5-hkscs cn-big5 csbig5 x-x-big5',
    // EUC-JP
    'cseucpkdfmtjapanese euc-jp x-euc-jp',
    // ISO-2022-JP
    'csiso2022jp iso-2022-jp',
    // Shift_JIS
    'csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j x-sjis',
    // EUC-KR
    'cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987 ks_c_5601-1989 ksc5601 ksc_5601',
    'windows-949',
    // replacement
    'csiso2022kr hz-gb-2312 iso-2022-cn iso-2022-cn-ext iso-2022-kr replacement',
    // UTF-16BE
    'unicodefffe utf-16be',
    // UTF-16LE
    'csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16 utf-16le',
    // x-user-defined
    'x-user-defined',
  ]
    .join(' ')
    .split(' '),
);
const decoders = new Map<string, TextDecoder | null>();

function decoderFor(label: string): TextDecoder | null {
  if (!ENCODING_LABELS.has(label)) return null;
  const cached = decoders.get(label);
  if (cached !== undefined) return cached;
  let decoder: TextDecoder | null = null;
  try {
    decoder = new TextDecoder(label);
  } catch {
    decoder = null;
  }
  if (decoders.size < 256) decoders.set(label, decoder);
  return decoder;
}

/** Bytes decoded per step by `decodeLatin1` (bounds its scratch copy). */
const LATIN1_CHUNK = 64 * 1024;
const asciiDecoder = new TextDecoder('utf-8');
// UTF-16 code units 0–255 are the Latin-1 characters: widening the bytes lets the native decoder
// do the work (String.fromCharCode over the bytes costs many times more per byte).
const utf16Decoder = decoderFor('utf-16le');

/** Each byte as the code point of the same value (ISO-8859-1). */
export function decodeLatin1(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let out = '';
  for (let i = start; i < end; i += LATIN1_CHUNK) {
    const chunk = bytes.subarray(i, Math.min(end, i + LATIN1_CHUNK));
    let ascii = true;
    for (let k = 0; k < chunk.length; k++) {
      if ((chunk[k] as number) >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) out += asciiDecoder.decode(chunk);
    else if (utf16Decoder) out += utf16Decoder.decode(Uint16Array.from(chunk));
    else
      for (let k = 0; k < chunk.length; k += 8192)
        out += String.fromCharCode.apply(null, chunk.subarray(k, k + 8192) as unknown as number[]);
  }
  return out;
}

/** Normalises a MIME charset label: RFC 2231 language suffix removed, lower case, common aliases. */
export function charsetLabel(charset: string): string {
  let label = charset.trim().toLowerCase();
  const star = label.indexOf('*');
  if (star >= 0) label = label.slice(0, star);
  label = label.replace(/^["']|["']$/g, '');
  if (label === 'utf8') return 'utf-8';
  if (label === 'ascii' || label === 'us-ascii' || label === 'ansi_x3.4-1968') return 'utf-8';
  return label;
}

/** Decodes `bytes` in `charset` (any WHATWG label); falls back to Latin-1. Never throws. */
export function decodeBytes(bytes: Uint8Array, charset: string): string {
  const label = charsetLabel(charset);
  const decoder = label === '' ? null : decoderFor(label);
  if (!decoder) return decodeLatin1(bytes);
  try {
    return decoder.decode(bytes);
  } catch {
    return decodeLatin1(bytes);
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Decodes raw header bytes: UTF-8 when valid (RFC 6532), otherwise Latin-1. Never throws. */
export function decodeHeaderBytes(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    if ((bytes[i] as number) >= 0x80) {
      ascii = false;
      break;
    }
  }
  // ASCII is valid UTF-8: the native decoder reads it several times faster than character codes.
  if (ascii) return strictUtf8.decode(bytes.subarray(start, end));
  try {
    return strictUtf8.decode(bytes.subarray(start, end));
  } catch {
    return decodeLatin1(bytes, start, end);
  }
}
