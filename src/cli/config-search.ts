/**
 * Whether cosmiconfig's search for the `m4me` configuration (searchStrategy 'project',
 * default search places) can only come back empty: then a delivery need not load cosmiconfig
 * (and its YAML, TypeScript and JSON loaders) at all. Anything that cosmiconfig might read,
 * or that cannot be told without it, answers false, and cosmiconfig searches as always.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const MODULE = 'm4me';
/** cosmiconfig 9's getDefaultSearchPlaces('m4me'), package.json apart. */
const PLACES = [
  `.${MODULE}rc`, `.${MODULE}rc.json`, `.${MODULE}rc.yaml`, `.${MODULE}rc.yml`, `.${MODULE}rc.js`, `.${MODULE}rc.ts`,
  `.${MODULE}rc.cjs`, `.${MODULE}rc.mjs`, `.config/${MODULE}rc`, `.config/${MODULE}rc.json`, `.config/${MODULE}rc.yaml`,
  `.config/${MODULE}rc.yml`, `.config/${MODULE}rc.js`, `.config/${MODULE}rc.ts`, `.config/${MODULE}rc.cjs`,
  `.config/${MODULE}rc.mjs`, `${MODULE}.config.js`, `${MODULE}.config.ts`, `${MODULE}.config.cjs`, `${MODULE}.config.mjs`,
];
/** Where cosmiconfig looks for its own options (in the working directory), package.json apart. */
const META_PLACES = ['package.yaml', '.config/config.json', '.config/config.yaml', '.config/config.yml', '.config/config.js',
  '.config/config.ts', '.config/config.cjs', '.config/config.mjs'];

class Unsure extends Error {}

/** true: absent; false: present; throws Unsure when it cannot be told. */
function absent(path: string): boolean {
  try {
    statSync(path);
    return false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return true;
    throw new Unsure();
  }
}

/** A package.json without the given keys (false when it has one, is not JSON, or cannot be read). */
function packageWithout(path: string, keys: string[]): boolean {
  if (absent(path)) return true;
  try {
    const pkg = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return typeof pkg === 'object' && pkg !== null && !Array.isArray(pkg) && keys.every((k) => !(k in pkg));
  } catch {
    return false;
  }
}

export function nothingToFind(from: string): boolean {
  try {
    const cwd = process.cwd();
    if (!META_PLACES.every((p) => absent(join(cwd, p))) || !packageWithout(join(cwd, 'package.json'), ['cosmiconfig'])) return false;
    for (let dir = resolve(from); ; dir = dirname(dir)) {
      if (!packageWithout(join(dir, 'package.json'), [MODULE])) return false;
      if (!PLACES.every((p) => absent(join(dir, p)))) return false;
      // 'project': the search ends in the first folder with a package file.
      if (!absent(join(dir, 'package.json')) || !absent(join(dir, 'package.yaml'))) return true;
      if (dirname(dir) === dir) return true;
    }
  } catch {
    return false;
  }
}
