// A small XML 1.0 well-formedness reader for the generated files the core tests cannot hand to
// xmllint (workerd has no XML parser; test/interop runs xmllint on the same output). It covers the
// productions our generators write: the XML declaration, comments (§2.5), elements with attributes
// (§3.1), character data with the predefined and numeric references (§4.1, §4.6), and the Char
// production (§2.2). Anything else is reported as not well-formed.

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  text: string;
}

export interface XmlDocument {
  comments: string[];
  elements: XmlElement[];
}

// §2.2 Char: no C0 control but tab/LF/CR, no surrogate on its own, no U+FFFE/U+FFFF.
const NOT_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const NAME = /[A-Za-z_:][\w.:-]*/y;
const SPACE = /[ \t\r\n]*/y;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(s: string, at: number): string {
  return s.replace(/&([^;&]*);|&/g, (m, ref: string | undefined) => {
    if (ref === undefined) throw new Error(`bare & at ${at}`);
    if (ref in PREDEFINED) return PREDEFINED[ref] as string;
    const n = /^#x([0-9a-fA-F]+)$/.exec(ref)?.[1] ?? /^#(\d+)$/.exec(ref)?.[1];
    if (n === undefined) throw new Error(`unknown entity ${m} at ${at}`);
    const cp = ref.startsWith('#x') ? Number.parseInt(n, 16) : Number(n);
    const ch = String.fromCodePoint(cp);
    if (NOT_CHAR.test(ch)) throw new Error(`reference to a non-Char ${m} at ${at}`);
    return ch;
  });
}

/** Reads a document; throws with the offset where it is not well-formed. */
export function readXml(xml: string): XmlDocument {
  const bad = NOT_CHAR.exec(xml);
  if (bad) throw new Error(`not an XML Char U+${bad[0].codePointAt(0)?.toString(16)} at ${bad.index}`);
  const doc: XmlDocument = { comments: [], elements: [] };
  const stack: XmlElement[] = [];
  let roots = 0;
  let i = 0;
  const name = () => {
    NAME.lastIndex = i;
    const m = NAME.exec(xml);
    if (!m) throw new Error(`name expected at ${i}`);
    i = NAME.lastIndex;
    return m[0];
  };
  const space = () => {
    SPACE.lastIndex = i;
    SPACE.exec(xml);
    const moved = SPACE.lastIndex > i;
    i = SPACE.lastIndex;
    return moved;
  };
  if (xml.startsWith('<?xml ')) {
    const end = xml.indexOf('?>');
    if (end < 0) throw new Error('unterminated XML declaration');
    i = end + 2;
  }
  while (i < xml.length) {
    if (xml.startsWith('<!--', i)) {
      const end = xml.indexOf('-->', i + 4);
      if (end < 0) throw new Error(`unterminated comment at ${i}`);
      const body = xml.slice(i + 4, end);
      // §2.5: "--" must not occur within a comment, and a comment must not end in "--->".
      if (body.includes('--') || body.endsWith('-')) throw new Error(`"--" inside the comment at ${i}`);
      doc.comments.push(body);
      i = end + 3;
    } else if (xml.startsWith('</', i)) {
      i += 2;
      const n = name();
      space();
      if (xml[i] !== '>') throw new Error(`> expected at ${i}`);
      i++;
      const open = stack.pop();
      if (open?.name !== n) throw new Error(`</${n}> closes <${open?.name}> at ${i}`);
    } else if (xml[i] === '<') {
      i++;
      if (stack.length === 0 && ++roots > 1) throw new Error(`a second root element at ${i}`);
      const el: XmlElement = { name: name(), attrs: {}, text: '' };
      for (;;) {
        const spaced = space();
        if (xml.startsWith('/>', i) || xml[i] === '>') break;
        if (!spaced) throw new Error(`space expected before an attribute at ${i}`);
        const a = name();
        space();
        if (xml[i] !== '=') throw new Error(`= expected at ${i}`);
        i++;
        space();
        const q = xml[i];
        if (q !== '"' && q !== "'") throw new Error(`quote expected at ${i}`);
        const end = xml.indexOf(q, i + 1);
        if (end < 0) throw new Error(`unterminated attribute at ${i}`);
        const raw = xml.slice(i + 1, end);
        if (raw.includes('<')) throw new Error(`< in an attribute value at ${i}`);
        if (a in el.attrs) throw new Error(`attribute ${a} twice at ${i}`);
        el.attrs[a] = decode(raw, i);
        i = end + 1;
      }
      doc.elements.push(el);
      if (xml[i] === '>') stack.push(el);
      i += xml[i] === '>' ? 1 : 2;
    } else {
      const end = xml.indexOf('<', i);
      const raw = xml.slice(i, end < 0 ? xml.length : end);
      if (raw.includes(']]>')) throw new Error(`]]> in character data at ${i}`);
      const text = decode(raw, i);
      const top = stack.at(-1);
      if (top) top.text += text;
      else if (text.trim() !== '') throw new Error(`text outside the root element at ${i}`);
      i += raw.length;
    }
  }
  if (stack.length) throw new Error(`<${stack.at(-1)?.name}> is not closed`);
  if (roots !== 1) throw new Error('no root element');
  return doc;
}
