/**
 * Readable text from the HTML of a message, bounded and silent:
 *
 * - at most MAX_HTML_CHARS are converted (html-to-text's own limit truncates with a notice
 *   on stderr, which a delivery agent such as getmail takes for a failure and retries);
 * - elements nested deeper than MAX_HTML_DEPTH: from there on the HTML is read as plain
 *   text (html-to-text walks the DOM recursively: 100,000 nested <div>s overflowed the stack).
 *
 * The cut is found with htmlparser2's own tokenizer, the one html-to-text builds its DOM
 * with, so the depth counted here is the depth of that DOM (implied end tags included).
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

/** The text of HTML without its structure: tags are word breaks, entities decoded. */
function plainText(html: string): string {
  const pieces: string[] = [];
  const parser = new (Parser())({
    ontext(t) { pieces.push(t); },
    onopentag() { pieces.push(' '); },
    onclosetag() { pieces.push(' '); },
  }, { decodeEntities: true });
  parser.write(html);
  parser.end();
  // `\s+` takes each run once, from its start: linear.
  return pieces.join('').replace(/\s+/g, ' ').trim();
}

/** `[image: name]`, with the display name the note's inline_images entry gets. */
export function imageMarker(part: { filename: string | null; contentType: string }): string {
  return `[image: ${displayName(part.filename, part.contentType).replace(/\]/g, '')}]`;
}

/** Readable text from HTML; `<img src="cid:…">` becomes `[image: name]`, other images nothing. */
export function htmlToText(html: string, parts: AttachmentPart[]): string {
  const { convert } = htmlToTextModule();
  const truncated = html.length > MAX_HTML_CHARS;
  const input = truncated ? html.slice(0, MAX_HTML_CHARS) : html;
  const cut = depthCut(input, MAX_HTML_DEPTH);
  const byCid = new Map(parts.filter((p) => p.contentId).map((p) => [p.contentId!, p]));
  const text = convert(cut < 0 ? input : input.slice(0, cut), {
    wordwrap: false,
    // Past these html-to-text puts the ellipsis and goes on, and says nothing on stderr: the
    // input is never longer than maxInputLength, and the depth cut above comes first.
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
  const rest = cut < 0 ? '' : plainText(input.slice(cut));
  return [text, rest].filter(Boolean).join('\n\n') + (truncated ? ELLIPSIS : '');
}
