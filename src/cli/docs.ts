/**
 * The manual page and the shell completions, both made from the commander definitions in
 * main.ts, so neither can drift from what the commands accept. `npm run build` writes
 * man/m4me.1 (scripts/build-man.mjs); `m4me completion bash|zsh` prints a completion script.
 */
import type { Command, Option } from 'commander';

/** The example lines a command prints after its --help (main.ts adds them with addHelpText). */
function examplesOf(cmd: Command): string[] {
  let text = '';
  // commander's documented help event; its listeners write through the context.
  (cmd as unknown as NodeJS.EventEmitter).emit('afterHelp', { error: false, command: cmd, write: (s: string) => { text += s; } });
  const at = text.indexOf('Examples:\n');
  return at < 0 ? [] : text.slice(at + 10).split('\n').map((l) => l.trim()).filter(Boolean);
}

/** roff text: a backslash, a leading dot or quote, and hyphens in options escaped. */
const roff = (s: string) => s.replace(/\\/g, '\\e').replace(/-/g, '\\-').replace(/^([.'])/gm, '\\&$1')
  // groff reads its input as Latin-1: anything else as a named Unicode character.
  .replace(/[^\x00-\x7f]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);

/** Every command a user types, a group's subcommands as `group sub` (quarantine list). */
function leaves(program: Command): { name: string; cmd: Command }[] {
  return program.commands.flatMap((c) => (c.commands.length ? c.commands.map((s) => ({ name: `${c.name()} ${s.name()}`, cmd: s })) : [{ name: c.name(), cmd: c }]));
}
const shown = (c: Command) => c.options.filter((o) => !o.hidden);

const usage = (c: Command, name = c.name()) =>
  [name, ...(shown(c).length ? ['[options]'] : []), ...c.registeredArguments.map((a) => {
    const n = `${a.name()}${a.variadic ? '...' : ''}`;
    return a.required ? `<${n}>` : `[${n}]`;
  })].join(' ');

const optionText = (o: Option) => `${o.description}${o.argChoices ? ` (one of: ${o.argChoices.join(', ')})` : ''}`;

/** The manual page, m4me(1). */
export function manPage(program: Command, date: string): string {
  const out: string[] = [
    `.TH M4ME 1 "${date}" "m4me ${program.version() ?? ''}" "User Commands"`,
    '.SH NAME',
    `m4me \\- ${roff(program.description())}`,
    '.SH SYNOPSIS',
    ...leaves(program).map(({ name, cmd }) => `.B m4me\n${roff(usage(cmd, name))}\n.br`),
    '.SH DESCRIPTION',
    roff('m4me reads mail (a message on standard input, .eml files, mbox archives, Maildir folders) and applies the inbound Mail API: ' +
      'a new request, a note on an existing record, or an Email Rejected reply. It is run by the mail system for each message ' +
      '(a Postfix pipe(8) transport, an aliases(5) entry, procmail, maildrop) or by the operator.'),
    '.SH COMMANDS',
  ];
  for (const { name, cmd: c } of leaves(program)) {
    out.push(`.SS "${roff(usage(c, name))}"`, roff(c.description()));
    for (const a of c.registeredArguments) out.push(`.TP\n.I ${roff(a.name())}\n${roff(a.description)}`);
    for (const o of shown(c)) out.push(`.TP\n.B ${roff(o.flags)}\n${roff(optionText(o))}`);
    const ex = examplesOf(c);
    if (ex.length) out.push('.PP\nExamples:', '.RS', '.nf', ...ex.map(roff), '.fi', '.RE');
  }
  out.push(
    '.SH EXIT STATUS',
    roff('The sysexits(3) codes that Postfix pipe(8) and local(8) read: every failure is one line on standard error, ' +
      'an RFC 3463 status first.'),
    ...[
      ['0', 'the message was processed (a request, a note, a rejection reply, or a duplicate): it is stored durably'],
      ['1', 'show found no record with that type and ID'],
      ['64', 'a usage error'],
      ['65', 'the message cannot be read (quarantined first): the mail system bounces it'],
      ['75', 'a temporary failure (store locked or unavailable, disk full): the mail system keeps the message and retries'],
      ['78', 'an operator command found the configuration invalid'],
    ].map(([code, text]) => `.TP\n.B ${code}\n${roff(text!)}`),
    '.SH ENVIRONMENT',
    `.TP\n.B NO_COLOR\n${roff('set (to anything): no colours; FORCE_COLOR=1 forces them')}`,
    `.TP\n.B RECIPIENT, ORIGINAL_RECIPIENT, SENDER\n${roff('set by local(8): the envelope of the one message on standard input')}`,
    '.SH FILES',
    `.TP\n.I .m4merc.json\n${roff('the configuration, found by cosmiconfig from the current folder up, unless --config names it')}`,
    `.TP\n.I <store>.files/, <store>.outbox/, <store>.quarantine/\n${roff('attachments, outgoing mail and unreadable messages, beside the store')}`,
    '.SH SEE ALSO',
    'postfix(1), pipe(8), local(8), aliases(5), procmail(1), maildrop(1)',
    '',
  );
  return out.join('\n');
}

const words = (xs: string[]) => xs.join(' ');

/** A completion script for bash or zsh: commands, their options, the choices of an option. */
export function completionScript(program: Command, shell: 'bash' | 'zsh'): string {
  const cmds = program.commands.map((c) => c.name());
  if (shell === 'bash') {
    const cases = program.commands.map((c) => {
      // A group (quarantine): its subcommands second, then the options of them all.
      const group = c.commands.length > 0;
      const opts = [...shown(c), ...c.commands.flatMap(shown)];
      const choices = opts.filter((o) => o.argChoices).map((o) => `      ${o.long}) COMPREPLY=($(compgen -W "${words(o.argChoices!)}" -- "$cur")); return;;`);
      const files = [...new Set(opts.filter((o) => (o.required || o.optional) && !o.argChoices).map((o) => o.long!))].join('|');
      return [
        `    ${c.name()})`,
        ...(group ? [`      if [ "$COMP_CWORD" -eq 2 ] && [[ "$cur" != -* ]]; then COMPREPLY=($(compgen -W "${words(c.commands.map((s) => s.name()))}" -- "$cur")); return; fi`] : []),
        '      case "$prev" in',
        ...choices,
        ...(files ? [`      ${files}) COMPREPLY=($(compgen -f -- "$cur")); return;;`] : []),
        '      esac',
        `      if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "${words([...new Set(opts.map((o) => o.long!))])} --help" -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi;;`,
      ].join('\n');
    });
    return [
      '# bash completion for m4me: eval "$(m4me completion bash)", or save it in /etc/bash_completion.d/m4me',
      '_m4me() {',
      '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
      `  if [ "$COMP_CWORD" -eq 1 ]; then COMPREPLY=($(compgen -W "${words(cmds)} --help --version" -- "$cur")); return; fi`,
      '  case "${COMP_WORDS[1]}" in',
      ...cases,
      '  esac',
      '}',
      'complete -o filenames -F _m4me m4me',
      '',
    ].join('\n');
  }
  const esc = (s: string) => s.replace(/'/g, "'\\''").replace(/[[\]:]/g, '\\$&');
  const subs = program.commands.map((c) => {
    if (c.commands.length && !shown(c).length) return `    ${c.name()}) _values 'subcommand' ${c.commands.map((s) => `'${s.name()}[${esc(s.description())}]'`).join(' ')} ;;`;
    const opts = shown(c).map((o) => {
      const arg = o.argChoices ? `:value:(${o.argChoices.join(' ')})` : o.required || o.optional ? ':value:_files' : '';
      return `'${o.long}[${esc(o.description)}]${arg}'`;
    });
    const sub = c.commands.length ? [`'1::subcommand:(${c.commands.map((x) => x.name()).join(' ')})'`] : [];
    return `    ${c.name()}) _arguments ${[...opts, ...sub, "'*:file:_files'"].join(' ')} ;;`;
  });
  return [
    '#compdef m4me',
    '# zsh completion for m4me: save as _m4me in a folder of $fpath, or: source <(m4me completion zsh)',
    '_m4me() {',
    '  if (( CURRENT == 2 )); then',
    `    _values 'command' ${program.commands.map((c) => `'${c.name()}[${esc(c.description())}]'`).join(' ')}`,
    '    return',
    '  fi',
    '  shift words; (( CURRENT-- ))',
    '  case "${words[1]}" in',
    ...subs,
    '  esac',
    '}',
    'if [ "$funcstack[1]" = "_m4me" ]; then _m4me "$@"; else compdef _m4me m4me; fi',
    '',
  ].join('\n');
}
