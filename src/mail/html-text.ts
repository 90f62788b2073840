/**
 * Readable text from the HTML of a message, bounded and silent:
 *
 * - at most MAX_HTML_CHARS are converted (html-to-text's own limit truncates with a notice
 *   on stderr, which a delivery agent such as getmail takes for a failure and retries);
 * - elements nested deeper than MAX_HTML_DEPTH: from there on the HTML is read as plain
 *   text (html-to-text walks the DOM recursively: 100,000 nested <div>s overflowed the stack).
 *
 * The cut is found with htmlparser2's own parser, the one html-to-text builds its DOM with,
 * so the depth counted here is the depth of that DOM (implied end tags included).
 */
import { createRequire } from 'node:module';
import type { Parser as ParserType } from 'htmlparser2';
import { displayName } from './filename.js';
import { htmlToTextModule, loadMailparser } from './mailparser.js';
import type { AttachmentPart } from './types.js';

/** As mailparser's maxHtmlLengthToParse (parse.ts): HTML past it is not converted. */
export const MAX_HTML_CHARS = 5 * 1024 * 1024;
/** Mail from real programs nests a few dozen levels; this leaves the stack room to spare. */
export const MAX_HTML_DEPTH = 500;
const ELLIPSIS = ' …';

type ParserClass = typeof ParserType;
let parserClass: ParserClass | undefined;

/** htmlparser2 as html-to-text resolves it (the same copy). */
function Parser(): ParserClass {
  if (!parserClass) {
    const fromHtmlToText = createRequire(loadMailparser().require.resolve('html-to-text'));
    parserClass = (fromHtmlToText('htmlparser2') as { Parser: ParserClass }).Parser;
  }
  return parserClass;
}

/** Where the first element deeper than `max` starts, or -1. */
function depthCut(html: string, max: number): number {
  let depth = 0;
  let cut = -1;
  const parser: InstanceType<ParserClass> = new (Parser())({
    onopentag() {
      if (++depth > max && cut < 0) { cut = parser.startIndex; parser.pause(); }
    },
    onclosetag() { depth--; },
  }, { decodeEntities: true });
  parser.write(html);
  if (cut < 0) parser.end();
  return cut;
}

/**
 * HTML without its structure, for html-to-text to decode (entities, whitespace): every tag
 * becomes a space. Scanned by hand: htmlparser2 keeps open elements in an array it shifts and
 * unshifts, quadratic in the nesting depth this text is cut off for.
 */
function flattened(html: string): string {
  const out: string[] = [];
  let from = 0;
  for (let lt = html.indexOf('<'); lt >= 0; lt = html.indexOf('<', lt + 1)) {
    const c = html.charCodeAt(lt + 1) | 0x20;
    if (!((c >= 0x61 && c <= 0x7a) || c === 0x2f || c === 0x21 || c === 0x3f)) continue; // not a tag: text
    const gt = html.indexOf('>', lt + 1);
    out.push(html.slice(from, lt).replace(/</g, '&lt;'), ' ');
    if (gt < 0) return out.join(''); // an unterminated tag ends the text
    from = gt + 1;
    lt = gt;
  }
  out.push(html.slice(from).replace(/</g, '&lt;'));
  return out.join('');
}

/** `[image: name]`, with the display name the note's inline_images entry gets. */
export function imageMarker(part: { filename: string | null; contentType: string }): string {
  return `[image: ${displayName(part.filename, part.contentType).replace(/\]/g, '')}]`;
}

type Convert = typeof import('html-to-text').convert;

/**
 * `convert` of the elements up to `max` deep; past them the rest of the HTML as plain text.
 * html-to-text never sees a DOM deeper than `max`, nor input longer than it is given.
 */
function convertCut(convert: Convert, html: string, max: number, options: NonNullable<Parameters<Convert>[1]>): string {
  const cut = depthCut(html, max);
  if (cut < 0) return convert(html, options);
  const flat = flattened(html.slice(cut));
  const rest = flat && convert(flat, { wordwrap: options.wordwrap, limits: { maxInputLength: flat.length } });
  return [convert(html.slice(0, cut), options), rest].filter(Boolean).join('\n\n');
}

/** Readable text from HTML; `<img src="cid:…">` becomes `[image: name]`, other images nothing. */
export function htmlToText(html: string, parts: AttachmentPart[]): string {
  const { convert } = htmlToTextModule();
  const truncated = html.length > MAX_HTML_CHARS;
  const input = truncated ? html.slice(0, MAX_HTML_CHARS) : html;
  const byCid = new Map(parts.filter((p) => p.contentId).map((p) => [p.contentId!, p]));
  const text = convertCut(convert, input, MAX_HTML_DEPTH, {
    wordwrap: false,
    // Past these html-to-text puts the ellipsis and goes on, and says nothing on stderr: the
    // input is never longer than maxInputLength, and the depth cut comes first.
    limits: { maxInputLength: MAX_HTML_CHARS, maxDepth: 2 * MAX_HTML_DEPTH, ellipsis: ELLIPSIS },
    selectors: [
      { selector: 'img', format: 'inlineImage' },
    ],
    formatters: {
      inlineImage: (elem, _walk, builder) => {
        const src = String(elem.attribs?.src ?? '');
        if (!src.toLowerCase().startsWith('cid:')) return;
        const part = byCid.get(src.slice(4));
        builder.addInline(imageMarker(part ?? { filename: src.slice(4), contentType: 'image/unknown' }));
      },
    },
  });
  return text + (truncated ? ELLIPSIS : '');
}

/** mailparser's own depth limit for the HTML it converts (MAX_HTML_NESTING_DEPTH). */
const MAILPARSER_DEPTH = 1000;
const BOUNDED = Symbol('m4me.bounded');

/**
 * html-to-text's `htmlToText`, the name mailparser calls it by (an HTML part next to a text
 * part, at most maxHtmlLengthToParse long), replaced on the module by the same conversion
 * with the depth cut at mailparser's own limit: the result is the same for every HTML it
 * converted within that limit. mailparser checks the depth first, but its check does not
 * count elements that end implicitly (`<li><td><li><td>…`), and htmlparser2 takes time
 * quadratic in that depth (1 MB of them: minutes). Our own conversion uses `convert`.
 */
export function boundHtmlToText(module: { htmlToText: Convert; [BOUNDED]?: true }): void {
  if (module[BOUNDED]) return;
  const real = module.htmlToText;
  module.htmlToText = (html, options = {}) =>
    typeof html === 'string' ? convertCut(real, html, options.limits?.maxDepth ?? MAILPARSER_DEPTH, options) : real(html, options);
  module[BOUNDED] = true;
}
