/**
 * commander requires node:child_process when it is loaded, for git-style subcommands (which
 * m4me does not have); loading it costs a single delivery about a tenth of a bare node start.
 * This module, imported before commander, hands commander a stand-in that loads the real
 * module the first time one of its properties is read.
 */
import Module from 'node:module';
import { sep } from 'node:path';

type Load = (request: string, parent: { filename?: string } | null | undefined, isMain: boolean) => unknown;
const M = Module as unknown as { _load: Load };
const load = M._load;
if (typeof load === 'function') {
  let real: Record<string | symbol, unknown> | undefined;
  const get = () => (real ??= load.call(M, 'node:child_process', null, false) as Record<string | symbol, unknown>);
  const standIn = new Proxy({}, {
    get: (_t, prop) => get()[prop],
    has: (_t, prop) => prop in get(),
    ownKeys: () => Reflect.ownKeys(get()),
    getOwnPropertyDescriptor: (_t, prop) => {
      const d = Reflect.getOwnPropertyDescriptor(get(), prop);
      return d ? { ...d, configurable: true } : undefined;
    },
  });
  const marker = `${sep}node_modules${sep}commander${sep}`;
  M._load = function (this: unknown, request, parent, isMain) {
    if ((request === 'node:child_process' || request === 'child_process') && !real && parent?.filename?.includes(marker)) return standIn;
    return load.apply(this, arguments as unknown as Parameters<Load>);
  } as Load;
}
