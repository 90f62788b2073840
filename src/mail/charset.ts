/**
 * Header bytes as the parser reads them: UTF-8. Raw 8-bit text in a header (a Subject or a
 * display name written by a mailer that declares no charset) is in whatever charset the
 * sender's mailer used: GB2312 from a Chinese mailer, Shift_JIS from a Japanese one, often
 * Latin-1 from a Western one. Such lines are re-encoded here, once, before either parse path
 * (single-part or mailparser) sees the message, so both read the same text.
 *
 * The charset is detected with chardet over the header lines that are not UTF-8, with the
 * body's declared charset as a hint; Latin-1 only when the detection is unsure and the hint
 * does not fit. Decoding is iconv-lite's, the copy mailparser's libmime uses.
 */
import { isAscii, isUtf8 } from 'node:buffer';
import { createRequire } from 'node:module';
import { loadMailparser, requireFromMailparser } from './mailparser.js';

interface Match { name: string; confidence: number }
interface Chardet { analyse(input: Uint8Array): Match[] }
interface Iconv { decode(input: Buffer, charset: string): string; encodingExists(charset: string): boolean }
interface EncodingJapanese { detect(input: Uint8Array): string | false }

let loaded: { chardet: Chardet; iconv: Iconv; japanese: EncodingJapanese } | undefined;

/** Loaded on first use: most mail has ASCII or UTF-8 headers and never needs them. */
function libs(): NonNullable<typeof loaded> {
  if (!loaded) {
    // libmime's iconv-lite and encoding-japanese, loaded as mailparser.ts arranges them.
    const fromLibmime = createRequire(requireFromMailparser(loadMailparser().require).resolve('libmime'));
    loaded = {
      chardet: createRequire(import.meta.url)('chardet') as Chardet,
      iconv: fromLibmime('iconv-lite') as Iconv,
      japanese: fromLibmime('encoding-japanese') as EncodingJapanese,
    };
  }
  return loaded;
}

const JAPANESE = ['Shift_JIS', 'EUC-JP'];

/**
 * Shift_JIS or EUC-JP, as encoding-japanese tells them apart (chardet cannot in a short
 * header: many EUC-JP byte pairs are valid Shift_JIS too), the other one after it.
 */
function japaneseOrder(bytes: Buffer): string[] {
  return libs().japanese.detect(bytes) === 'EUCJP' ? ['EUC-JP', 'Shift_JIS'] : JAPANESE;
}

/** chardet's confidence (0-100) from which its first guess is taken without a hint. */
const SURE = 50;
/**
 * Enough text for the detector: it is read from the first lines that are not UTF-8 only, so
 * a hostile header block of thousands of 8-bit lines costs no more than a short one.
 */
const SAMPLE_BYTES = 16 << 10;
const SAMPLE_LINES = 64;

/**
 * What an 8-bit header written beside a body in `charset` is in, as chardet names it. A
 * 7-bit ISO-2022 body charset stands for its language's 8-bit charsets.
 */
function hintFamily(charset: string | null): string[] {
  const c = (charset ?? '').toLowerCase().replace(/[^a-z0-9]/g, '');
  if (!c || c === 'usascii' || c === 'ascii' || c.startsWith('utf') || c.startsWith('unicode')) return [];
  if (/^(iso2022jp|shiftjis|sjis|xsjis|cp932|windows31j|mskanji|eucjp|xeucjp)/.test(c)) return JAPANESE;
  if (/^(gb2312|gbk|gb18030|cp936|hzgb2312|xgbk|euccn|chinese)/.test(c)) return ['GB18030'];
  if (/^(big5|cp950|big5hkscs|xxbig5)/.test(c)) return ['Big5'];
  if (/^(euckr|ksc56011987|ksc5601|cp949|iso2022kr|korean|windows949)/.test(c)) return ['EUC-KR'];
  return [charset!.trim()];
}

/** The text, or null when the bytes are not valid in that charset (iconv-lite gives U+FFFD). */
function decodeStrict(bytes: Buffer, charset: string): string | null {
  const { iconv } = libs();
  if (!iconv.encodingExists(charset)) return null;
  const text = iconv.decode(bytes, charset);
  return text.includes('\uFFFD') ? null : text;
}

/**
 * The charset of header lines that are not UTF-8; `latin1` when unsure. A charset is taken
 * only if it reads at least one of the lines (a line it cannot read is read as Latin-1).
 */
export function detectHeaderCharset(lines: Buffer[], hint: string | null): string {
  // Not UTF-8 (already ruled out), nor UTF-16/32: a header line is text between line ends.
  const analyse = (b: Buffer) => libs().chardet.analyse(b.subarray(0, SAMPLE_BYTES)).filter((m) => !/^(UTF|ASCII)/i.test(m.name));
  const reads = (charset: string) => lines.some((l) => decodeStrict(l, charset) !== null);
  const isSure = (m: Match | undefined): m is Match => !!m && m.confidence >= SURE && reads(m.name);
  const matches = analyse(Buffer.concat(lines).subarray(0, SAMPLE_BYTES));
  if (isSure(matches[0])) return matches[0].name;
  // One line in another charset (a relay's Latin-1 beside a GB2312 Subject) makes chardet
  // unsure of the whole: then the line it is surest of decides.
  const byLine = lines.length > 1 ? lines.map((l) => analyse(l)[0]).filter(isSure) : [];
  if (byLine.length) return byLine.sort((a, b) => b.confidence - a.confidence)[0]!.name;
  // The hint's charsets, those chardet finds plausible first.
  const rank = (name: string) => {
    const i = matches.findIndex((m) => m.name.toLowerCase() === name.toLowerCase() && m.confidence > 0);
    return i < 0 ? matches.length : i;
  };
  const family = hintFamily(hint);
  const ordered = family === JAPANESE ? japaneseOrder(Buffer.concat(lines)) : family.sort((a, b) => rank(a) - rank(b));
  return ordered.find(reads) ?? 'latin1';
}

/**
 * The charset the body declares: the top-level Content-Type's, else the first one in the
 * first part headers (multipart mail). Only a hint for the header's charset.
 */
export function declaredCharset(raw: Buffer, head: Buffer): string | null {
  const pattern = /^content-type:[^\n]*(?:\n[ \t][^\n]*)*?[;\s]charset\s*=\s*"?([A-Za-z0-9_.:+-]+)/im;
  const top = pattern.exec(head.toString('latin1').replace(/\r\n/g, '\n'));
  if (top) return top[1]!;
  const body = raw.subarray(head.length, head.length + (64 << 10)).toString('latin1').replace(/\r\n/g, '\n');
  return pattern.exec(body)?.[1] ?? null;
}

/**
 * `raw` with every header line that is not UTF-8 re-encoded as UTF-8 from the detected
 * charset (a line that charset cannot read: from Latin-1). Lines already UTF-8 stay, but
 * for the encoded words repairWords mends.
 */
export function utf8Headers(raw: Buffer, head: Buffer): Buffer {
  // '-2022-': an ISO-2022-JP word, which may hold Shift_JIS (repairWords).
  if ((isAscii(head) || isUtf8(head)) && !head.includes('-2022-')) return raw;
  const lines: Buffer[] = [];
  for (let i = 0; i < head.length;) {
    const nl = head.indexOf(0x0a, i);
    const end = nl < 0 ? head.length : nl + 1;
    const line = head.subarray(i, end);
    lines.push(line.includes('=?') ? Buffer.from(repairWords(line.toString('latin1'), !isUtf8(line)), 'latin1') : line);
    i = end;
  }
  const legacy = lines.filter((l) => !isUtf8(l));
  if (!legacy.length) return Buffer.concat([...lines, raw.subarray(head.length)]);
  const charset = detectHeaderCharset(legacy.slice(0, SAMPLE_LINES), declaredCharset(raw, head));
  const out = lines.map((l) => {
    if (isUtf8(l)) return l;
    return Buffer.from((charset === 'latin1' ? null : decodeStrict(l, charset)) ?? l.toString('latin1'), 'utf8');
  });
  return Buffer.concat([...out, raw.subarray(head.length)]);
}

/** RFC 2047 encoded word: charset, RFC 2231 language, encoding, text (a line read as Latin-1). */
const ENCODED_WORD = /=\?([^?*\x00-\x20]+)(\*[^?\x00-\x20]*)?\?([bBqQ])\?([^?\x00-\x20]*)\?=/g;

/**
 * Two mailer habits in encoded words, mended before the parser decodes them:
 * - raw 8-bit bytes inside a Q word (`=?iso-8859-1?Q?Fr\xf6sche?=`) are in the word's own
 *   charset: escaped as `=F6`, so they are not taken for header text in another charset;
 * - a word labelled ISO-2022-JP (7-bit) whose bytes are 8-bit is Shift_JIS (or EUC-JP), as
 *   Japanese mailers write it: labelled with the charset that reads it.
 */
function repairWords(line: string, escapeRaw: boolean): string {
  return line.replace(ENCODED_WORD, (word, charset: string, lang: string | undefined, enc: string, text: string) => {
    const out = escapeRaw && /[Qq]/.test(enc) ? text.replace(/[\x80-\xff]/g, (c) => `=${c.charCodeAt(0).toString(16).toUpperCase()}`) : text;
    let label = charset;
    if (/^iso-2022-jp/i.test(charset)) {
      const bytes = /[Bb]/.test(enc) ? Buffer.from(out, 'base64')
        : Buffer.from(out.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
      if (!isAscii(bytes) && !bytes.includes(0x1b)) label = japaneseOrder(bytes).find((c) => decodeStrict(bytes, c) !== null) ?? charset;
    }
    return out === text && label === charset ? word : `=?${label}${lang ?? ''}?${enc}?${out}?=`;
  });
}

/**
 * Where the message starts: after a UTF-8 byte order mark (some Windows tools write one
 * before the first header) and after whitespace before the first header field (a first
 * line indented, or lines of spaces before it), which no field can begin with. Anything
 * else is left as it is, for the header check to judge.
 */
export function messageStart(raw: Buffer): Buffer {
  let start = raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? 3 : 0;
  let i = start;
  // Spaces and tabs, and whole lines of them (never an empty line: that ends the header).
  for (;;) {
    let j = i;
    while (raw[j] === 0x20 || raw[j] === 0x09) j++;
    const lineEnd = raw[j] === 0x0d && raw[j + 1] === 0x0a ? j + 2 : raw[j] === 0x0a ? j + 1 : -1;
    if (lineEnd > 0 && j > i) { i = lineEnd; continue; }
    i = j;
    break;
  }
  if (i > start && HEADER_FIELD.test(raw.subarray(i, i + 1000).toString('latin1'))) start = i;
  return start ? raw.subarray(start) : raw;
}

/** A header field's name and colon, as the first line of a message must begin. */
export const HEADER_FIELD = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/;
