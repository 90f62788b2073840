/**
 * Loads mailparser (its CommonJS build: one copy of libmime instead of the ESM and CJS copies
 * an `import` brings in) without the parts a message rarely needs, so a single delivery does
 * not pay for them at start-up:
 *
 * - html-to-text, linkify-it and encoding-japanese are loaded when first used (HTML-only
 *   mail, links for textToHtml, a JIS charset), not when mailparser is;
 * - libmime builds iconv-lite's GBK tables at load only to learn which class decodes every
 *   double-byte charset: it is given that class, and the tables are built when a GBK, Big5,
 *   Shift_JIS, … part is actually decoded.
 *
 * Every stand-in forwards to the real module, so parsing is exactly mailparser's. If the
 * installed versions do not look as expected, mailparser is simply required as it is.
 */
import { createRequire } from 'node:module';
import type * as Mailparser from 'mailparser';
import { boundHtmlToText } from './html-text.js';

type MailparserModule = typeof Mailparser;
type Loaded = { simpleParser: MailparserModule['simpleParser']; require: NodeJS.Require };

let loaded: Loaded | undefined;
/** The exports of the stand-ins put in the module cache. */
const standIns = new WeakSet<object>();

export function loadMailparser(): Loaded {
  if (loaded) return loaded;
  const base = createRequire(import.meta.url);
  const mpPath = base.resolve('mailparser');
  const mpRequire = createRequire(mpPath);
  if (!process.env.M4ME_NO_LAZY_DEPS) {
    try { prepare(mpRequire); } catch { /* unexpected layout: load everything as it is */ }
  }
  const mp = mpRequire(mpPath) as MailparserModule;
  // html-to-text as mailparser has it: its stand-in bounds the real module when it loads it;
  // anything else (no stand-in, or a require that ignores the module cache) is bounded now.
  const htmlToText = requireFromMailparser(mpRequire)('html-to-text') as Parameters<typeof boundHtmlToText>[0];
  if (!standIns.has(htmlToText)) boundHtmlToText(htmlToText);
  loaded = { simpleParser: mp.simpleParser, require: mpRequire };
  return loaded;
}

/** html-to-text as mailparser sees it (the real module, or its stand-in that loads it on use). */
export function htmlToTextModule(): typeof import('html-to-text') {
  return loadMailparser().require('html-to-text') as typeof import('html-to-text');
}

/** A require that resolves modules as mailparser's own code (dist/cjs/mail-parser.js) does. */
export function requireFromMailparser(mpRequire: NodeJS.Require): NodeJS.Require {
  const mpDir = mpRequire.resolve('mailparser/package.json').replace(/package\.json$/, '');
  return createRequire(`${mpDir}dist/cjs/mail-parser.js`);
}

interface CachedModule { id: string; filename: string; loaded: boolean; exports: unknown; children: unknown[]; paths: string[] }

function prepare(mpRequire: NodeJS.Require): void {
  const cache = mpRequire.cache as Record<string, CachedModule | undefined>;
  const fromMp = requireFromMailparser(mpRequire);
  const libmimePath = fromMp.resolve('libmime');
  const fromLibmime = createRequire(libmimePath);

  /** Puts a stand-in for `id` (as `req` resolves it) in the module cache, unless it is loaded. */
  const lazy = (req: NodeJS.Require, id: string, make: (real: () => unknown) => unknown, onLoad?: (real: unknown) => void) => {
    const path = req.resolve(id);
    if (cache[path]) return;
    let real: unknown;
    const load = () => {
      if (real === undefined) {
        delete cache[path];
        real = req(path);
        onLoad?.(real);
      }
      return real;
    };
    const exports = make(load);
    if (typeof exports === 'object' && exports) standIns.add(exports);
    cache[path] = { id: path, filename: path, loaded: true, exports, children: [], paths: [] };
  };
  /** A module object whose properties are read from the real module, which is loaded on the first read. */
  const forwarding = (esModule: boolean) => (load: () => unknown) => new Proxy({}, {
    get: (_t, prop) => (prop === '__esModule' ? (esModule || undefined) : (load() as Record<string | symbol, unknown>)[prop]),
    has: (_t, prop) => prop in (load() as object),
    ownKeys: () => Reflect.ownKeys(load() as object),
    getOwnPropertyDescriptor: (_t, prop) => {
      const d = Reflect.getOwnPropertyDescriptor(load() as object, prop);
      return d ? { ...d, configurable: true } : undefined;
    },
  });

  // html-to-text: read as `html_to_text_1.htmlToText` when an HTML part is converted.
  lazy(fromMp, 'html-to-text', forwarding(true), (real) => boundHtmlToText(real as Parameters<typeof boundHtmlToText>[0]));
  // encoding-japanese: `encoding_japanese_1.default.convert` for JIS charsets only.
  lazy(fromLibmime, 'encoding-japanese', forwarding(false));
  // linkify-it: mailparser creates and configures one instance at load (tlds, add, set) and
  // uses it only to find links for textToHtml. The calls are recorded and replayed on a real
  // instance when it is first asked to find something.
  lazy(fromMp, 'linkify-it', (load) => {
    const factory = () => {
      const calls: [string | symbol, unknown[]][] = [];
      let instance: Record<string | symbol, unknown> | null = null;
      const real = () => {
        if (!instance) {
          instance = (load() as () => Record<string | symbol, unknown>)();
          for (const [name, args] of calls) (instance[name] as (...a: unknown[]) => unknown).apply(instance, args);
        }
        return instance;
      };
      const proxy: object = new Proxy({}, {
        get: (_t, prop) => {
          if (!instance && (prop === 'tlds' || prop === 'add' || prop === 'set')) {
            return (...args: unknown[]) => { calls.push([prop, args]); return proxy; };
          }
          const inst = real();
          const v = inst[prop];
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(inst) : v;
        },
      });
      return proxy;
    };
    return factory;
  });

  // iconv-lite: libmime runs `iconv.getCodec('gbk').decoder` at load. Every double-byte codec
  // shares that decoder class, so it is handed over without building the GBK tables; the
  // entry is removed once libmime is loaded, and GBK gets its real codec when it is used.
  if (cache[libmimePath]) return;
  const iconvPath = fromLibmime.resolve('iconv-lite');
  const iconv = fromLibmime(iconvPath) as { getCodec(n: string): unknown; _codecDataCache: Record<string, unknown> };
  const dbcs = createRequire(iconvPath)('../encodings/dbcs-codec.js') as { _dbcs?: { prototype: { decoder: unknown; encoder: unknown } } };
  const proto = dbcs._dbcs?.prototype;
  if (!proto?.decoder || !iconv._codecDataCache || 'gbk' in iconv._codecDataCache) return;
  iconv.getCodec('utf8'); // loads iconv-lite's encoding table, as libmime would
  const stand = { decoder: proto.decoder, encoder: proto.encoder };
  iconv._codecDataCache.gbk = stand;
  try {
    fromMp(libmimePath);
  } finally {
    if (iconv._codecDataCache.gbk === stand) delete iconv._codecDataCache.gbk;
  }
}
