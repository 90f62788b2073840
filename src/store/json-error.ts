/**
 * Where a store file stops being JSON, as a line and column an operator can open an editor at.
 * V8's JSON.parse says what it choked on but not where (Node 20); jsonc-parser (VS Code's JSON
 * parser) gives the offset of the first error. Only run once the store has failed to parse.
 */
import { readFileSync, statSync } from 'node:fs';

/** Line and column (1-based) of UTF-16 offset `at` in `text`. */
function lineColumn(text: string, at: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < at; i = text.indexOf('\n', i + 1)) { line++; start = i + 1; }
  return { line, column: at - start + 1 };
}

/** "at line L, column C (what)", or null when it cannot be told (too large, unreadable, no error found). */
export async function jsonErrorPlace(path: string): Promise<string | null> {
  try {
    // Larger files are read row by row (big-json.ts), whose error already names a byte.
    if (statSync(path).size > 256 << 20) return null;
    const text = readFileSync(path, 'utf8');
    const { parse, printParseErrorCode } = await import('jsonc-parser');
    const errors: import('jsonc-parser').ParseError[] = [];
    parse(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
    const first = errors[0];
    if (!first) return null;
    const { line, column } = lineColumn(text, first.offset);
    return `at line ${line}, column ${column} (${printParseErrorCode(first.error)})`;
  } catch {
    return null;
  }
}
