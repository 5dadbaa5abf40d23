// A small PowerShell lexer for the generated Exchange scripts (no PowerShell runs on these
// machines): it checks that quoting and brackets balance, that no double-quoted string expands
// a subexpression or variable, and lists the statements with the values of their string literals.
// It understands what the generator writes — comments, '…' with '' (and the typographic single
// quotes PowerShell treats alike), "…" with "" and backtick escapes, (), {}, [] — and reports
// anything else that could change the meaning (here-strings, multi-line strings) as a problem.

export interface PowershellStatement {
  line: number;
  /** The statement's text with string literals kept as written. */
  text: string;
  /** The same with every string literal replaced by `<s>`: the code alone. */
  code: string;
  /** The values of its string literals, in order. */
  strings: string[];
}

export interface PowershellCheck {
  problems: string[];
  statements: PowershellStatement[];
}

const SINGLE = "'\u2018\u2019\u201a\u201b";
const DOUBLE = '"\u201c\u201d\u201e';
const OPEN: Record<string, string> = { '(': ')', '{': '}', '[': ']' };

export function checkPowershell(script: string): PowershellCheck {
  const problems: string[] = [];
  const statements: PowershellStatement[] = [];
  const stack: Array<{ close: string; line: number }> = [];
  const lines = script.split(/\r?\n/);
  lines.forEach((source, n) => {
    const line = n + 1;
    let text = '';
    let code = '';
    const strings: string[] = [];
    let i = 0;
    while (i < source.length) {
      const c = source[i] as string;
      if (c === '#' && (i === 0 || /[\s;({]/.test(source[i - 1] as string))) break;
      const after = source[i + 1];
      if (c === '@' && after !== undefined && (SINGLE + DOUBLE).includes(after)) {
        problems.push(`line ${line}: here-string`);
        break;
      }
      if (SINGLE.includes(c) || DOUBLE.includes(c)) {
        const quotes = SINGLE.includes(c) ? SINGLE : DOUBLE;
        let value = '';
        let j = i + 1;
        let closed = false;
        while (j < source.length) {
          const d = source[j] as string;
          if (quotes === DOUBLE && d === '`') {
            value += source[j + 1] ?? '';
            j += 2;
            continue;
          }
          if (quotes === DOUBLE && d === '$' && /[({\w]/.test(source[j + 1] ?? '')) {
            problems.push(`line ${line}: double-quoted string expands ${source.slice(j, j + 2)}`);
          }
          if (quotes.includes(d)) {
            const next = source[j + 1];
            if (next !== undefined && quotes.includes(next)) {
              value += d;
              j += 2;
              continue;
            }
            closed = true;
            j++;
            break;
          }
          value += d;
          j++;
        }
        if (!closed) {
          problems.push(
            `line ${line}: unterminated ${quotes === SINGLE ? 'single' : 'double'}-quoted string`,
          );
          return;
        }
        strings.push(value);
        text += source.slice(i, j);
        code += '<s>';
        i = j;
        continue;
      }
      if (c === '`') {
        text += source.slice(i, i + 2);
        code += source.slice(i, i + 2);
        i += 2;
        continue;
      }
      if (OPEN[c]) stack.push({ close: OPEN[c] as string, line });
      else if (c === ')' || c === '}' || c === ']') {
        const top = stack.pop();
        if (!top) problems.push(`line ${line}: unmatched ${c}`);
        else if (top.close !== c)
          problems.push(`line ${line}: ${c} closes the bracket opened on line ${top.line}`);
      }
      text += c;
      code += c;
      i++;
    }
    if (text.trim() !== '') statements.push({ line, text: text.trim(), code: code.trim(), strings });
  });
  for (const open of stack) problems.push(`line ${open.line}: bracket never closed`);
  return { problems, statements };
}
