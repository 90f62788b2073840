// First: commander's load then finds the stand-in for node:child_process (./lazy-builtins.ts).
import './lazy-builtins.js';
import { Argument, Command, CommanderError, Option } from 'commander';
import { TempFailure } from '../store/errors.js';
import { EX, UsageError } from './exit.js';

const collect = (value: string, previous: string[]) => [...previous, value];
/** CONTRACT §7: `store` is a file path (the JSON store) or a PostgreSQL URL. */
const STORE_HELP = 'the store: a JSON file, or a postgres:// URL';

export function program(): Command {
  const p = new Command('m4me')
    .description('Inbound Mail API processor: mail becomes requests and notes in a store (a JSON file or PostgreSQL)')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      // A usage error is one line with its status, as every other failure ("Did you mean" included).
      outputError: (s, write) => write(`5.5.4 m4me: ${s.replace(/^error: /, '').split('\n').map((l) => l.trim()).filter(Boolean).join(' ')}\n`),
    })
    .showSuggestionAfterError(true)
    // Options after a subcommand are its own (outbox purge --dry-run is purge's, not outbox's).
    .enablePositionalOptions();

  p.command('process')
    .description('run messages through the engine')
    .argument('[input...]', '.eml files, mbox files, directories (*.eml, Maildir), or - for stdin')
    .option('--store <store>', STORE_HELP)
    .option('--config <file>', 'configuration file')
    .option('--recipient <addr>', 'envelope recipient, repeatable (Postfix ${recipient})', collect, [])
    .option('--sender <addr>', 'envelope sender (Postfix ${sender})')
    .option('--dry-run', 'decide everything, change nothing', false)
    .option('--explain', 'print every rule evaluated, in order, with why', false)
    .option('--json', 'one JSON object per message (JSON Lines) on stdout', false)
    .option('--now <iso8601>', 'the clock used for every time rule')
    .addOption(new Option('--clock <source>', 'message: use each message\'s Date: header as the clock').choices(['message', 'system']))
    .option('--reprocess', 'a message rejected before (e.g. before its sender was imported) is processed again, not a duplicate', false)
    .addOption(new Option('--replies <mode>', 'queue: write automatic replies to the outbox; none: write none (the default with --clock message)').choices(['queue', 'none']))
    .option('--quiet', 'no spinner, no summary', false)
    .option('--verbose', 'the summary also says where the time went (parsing, rules, store; slowest message and rule)', false)
    .addOption(new Option('--from-quarantine', 'used by quarantine retry: a message that fails again is not quarantined again').hideHelp())
    .addHelpText('after', `
Examples:
  m4me process --store m4me-store.json message.eml
  m4me process --json --recipient example@mail.4me.com < message.eml     (as Postfix pipe(8) runs it)
  m4me process --dry-run --explain --now 2026-03-02T09:00:00+00:00 alert.eml
  m4me process --clock message --quiet archive.mbox                    (replay an archive)`)
    .action(async (inputs: string[], opts) => {
      const { runProcess } = await import('./process.js');
      process.exitCode = await runProcess(inputs, opts);
    });

  p.command('serve')
    .description('serve LMTP: a mail server hands over messages, each processed as process does')
    .requiredOption('--lmtp <addr>', 'unix:/path/to/socket (mode 0660), or HOST:PORT (HOST 127.0.0.1 unless given)')
    .option('--config <file>', 'configuration file')
    .option('--store <store>', STORE_HELP)
    .option('--listen-any', 'allow a HOST that is not a loopback address (LMTP has no authentication)', false)
    .option('--max-connections <n>', 'connections at once (more get 421)', '32')
    .option('--idle-timeout <seconds>', 'close a connection silent this long', '300')
    .option('--data-timeout <seconds>', 'abandon a message whose DATA takes longer (nothing applied)', '600')
    .option('--now <iso8601>', 'the clock used for every time rule (tests, replays)')
    .addHelpText('after', `
SIGTERM or SIGINT: stop accepting, finish the messages in flight, exit 0. SIGHUP: read the
configuration again (a bad one is refused, the old one kept). One line per delivery on stderr.

Examples:
  m4me serve --lmtp unix:/var/spool/postfix/private/m4me      (Postfix: mailbox_transport = lmtp:unix:private/m4me)
  m4me serve --lmtp 127.0.0.1:2424 --config /etc/m4me/m4merc.yaml`)
    .action(async (opts) => {
      const { runServe } = await import('./serve.js');
      process.exitCode = await runServe(opts);
    });

  p.command('init')
    .description('create a store (with --demo: a demo account showing every feature)')
    .option('--demo', 'fill the store with the demo data', false)
    .option('--store <store>', 'where to create the store: a JSON file, or a postgres:// URL')
    .option('--config <file>', 'configuration file')
    .option('--force', 'replace an existing store', false)
    .option('--quiet', 'print nothing', false)
    .addHelpText('after', `
Examples:
  m4me init --store /var/lib/m4me/store.json
  m4me init --demo --store demo/m4me-store.json`)
    .action(async (opts) => {
      const { runInit } = await import('./init.js');
      process.exitCode = await runInit(opts);
    });

  p.command('copy-store')
    .description('copy one store into another (JSON file or postgres:// URL), attachments included')
    .argument('<src>', 'the store to copy: a JSON file or a postgres:// URL')
    .argument('<dst>', 'where to copy it: absent or empty, unless --force')
    .option('--force', 'replace the content of DST', false)
    .option('--quiet', 'print nothing', false)
    .addHelpText('after', `
Examples:
  m4me copy-store /var/lib/m4me/store.json 'postgresql://m4me@/m4me?host=/run/postgresql'
  m4me copy-store 'postgresql://m4me@/m4me?host=/run/postgresql' backup.json`)
    .action(async (src: string, dst: string, opts) => {
      const { runCopyStore } = await import('./copy-store.js');
      process.exitCode = await runCopyStore(src, dst, opts);
    });

  p.command('show')
    .description('print one record with its notes')
    .argument('<type>', 'request, problem, release, workflow, workflow_task, project or project_task')
    .argument('<id>', 'the record ID')
    .option('--store <store>', STORE_HELP)
    .option('--config <file>', 'configuration file')
    .option('--json', 'print the record and its notes as JSON', false)
    .addHelpText('after', `
Examples:
  m4me show request 100001
  m4me show problem 100010 --json`)
    .action(async (type: string, id: string, opts) => {
      const { runShow } = await import('./inspect.js');
      process.exitCode = await runShow(type, id, opts);
    });

  p.command('list')
    .description('list records of a type, newest first')
    .argument('<type>', 'request, problem, release, workflow, workflow_task, project or project_task')
    .option('--store <store>', STORE_HELP)
    .option('--config <file>', 'configuration file')
    .option('--since <date>', 'only records created since: a date (2026-03-01), a time with offset, or an age (36h, 7d)')
    .option('--status <status>', 'only records with this status')
    .option('--team <team>', 'only records of this team (name or ID)')
    .option('--source <source>', 'only records with this source')
    .option('--json', 'one JSON object per record', false)
    .addHelpText('after', `
Examples:
  m4me list requests --since 2026-03-01 --status assigned
  m4me list request --since 7d --team 'Service Desk'
  m4me list request --source nagios --json`)
    .action(async (type: string, opts) => {
      const { runList } = await import('./inspect.js');
      process.exitCode = await runList(type, opts);
    });

  p.command('outbox')
    .enablePositionalOptions()
    .description('list outgoing mail (Email Rejected replies, acknowledgements); --send hands it to sendmail')
    .option('--store <store>', STORE_HELP)
    .option('--config <file>', 'configuration file')
    .option('--send', 'send each message with the configured sendmail command, moving sent ones to sent/', false)
    .option('--dry-run', 'with --send: show what would be sent', false)
    .option('--json', 'one JSON object per message', false)
    .addHelpText('after', `
Examples:
  m4me outbox
  m4me outbox --send --dry-run
  m4me outbox --send`)
    .action(async (opts) => {
      const { runOutbox } = await import('./outbox.js');
      process.exitCode = await runOutbox(opts);
    })
    .command('purge')
    .description('remove queued replies nobody should get: dated before a date, or never recorded by the store')
    .option('--before <date>', 'queued and sent replies dated before this: a date (2026-03-01), a time with offset, or an age (30d)')
    .option('--orphans', 'queued replies the store does not record (left by a run killed before its commit)', false)
    .option('--store <store>', STORE_HELP)
    .option('--config <file>', 'configuration file')
    .option('--dry-run', 'say what would be purged, change nothing', false)
    .addHelpText('after', `
Examples:
  m4me outbox purge --before 1d --dry-run       (after replaying an archive with --replies queue)
  m4me outbox purge --orphans`)
    .action(async (opts) => {
      const { runOutboxPurge } = await import('./outbox.js');
      process.exitCode = await runOutboxPurge(opts);
    });

  p.command('check-config')
    .description('validate the configuration and the store, and say what is wrong (exit 78)')
    .option('--store <store>', STORE_HELP)
    .option('--config <file>', 'configuration file')
    .addHelpText('after', `
Examples:
  m4me check-config
  m4me check-config --config /etc/m4me/.m4merc`)
    .action(async (opts) => {
      const { runCheckConfig } = await import('./check-config.js');
      process.exitCode = await runCheckConfig(opts);
    });

  p.command('import')
    .description('add or update records of a reference collection (accounts, people, teams, …) from CSV, JSON or JSON Lines')
    .argument('<type>', 'accounts, people, teams, organizations, service_instances, configuration_items, first_line_support_agreements, workflow_templates or request_templates')
    .argument('<file>', 'a .csv file (header row; lists separated by ;, nested fields as email_policy.allow_new_requests), a .json array or .jsonl')
    .option('--store <store>', STORE_HELP)
    .option('--config <file>', 'configuration file')
    .option('--dry-run', 'check every row, change nothing', false)
    .option('--quiet', 'print nothing on success', false)
    .addHelpText('after', `
Examples:
  m4me import accounts samples/site/accounts.csv
  m4me import people people.csv --dry-run
  m4me import teams teams.jsonl`)
    .action(async (type: string, file: string, opts) => {
      const { runImport } = await import('./import.js');
      process.exitCode = await runImport(type, file, opts);
    });

  p.command('export')
    .description('print the records of a reference collection, to edit and import again')
    .argument('<type>', 'a reference collection, as for import')
    .option('--store <store>', STORE_HELP)
    .option('--config <file>', 'configuration file')
    .addOption(new Option('--format <format>', 'csv or json').choices(['csv', 'json']).default('json'))
    .addHelpText('after', `
Examples:
  m4me export people --format csv > people.csv
  m4me export accounts > accounts.json`)
    .action(async (type: string, opts) => {
      const { runExport } = await import('./import.js');
      process.exitCode = await runExport(type, opts);
    });

  p.command('log')
    .description('the messages processed (the inbound ledger): when, from, to, Message-ID, outcome, rule, record')
    .option('--store <store>', STORE_HELP)
    .option('--config <file>', 'configuration file')
    .option('--since <date>', 'only messages since: a date (2026-03-01), a time with offset, or an age (36h, 7d)')
    .option('--from <address>', 'only messages from this address')
    .option('--message-id <id>', 'only the message with this Message-ID')
    .option('--outcome <outcome>', 'only this outcome: request_created, note_added, unchanged or rejected')
    .option('--explain', 'with the trace each message was decided by', false)
    .option('--json', 'one JSON object per message', false)
    .addHelpText('after', `
Examples:
  m4me log --since 2h --from bob@corp.example
  m4me log --message-id 'abc@mail.corp.example' --explain
  m4me log --outcome rejected --since 7d --json`)
    .action(async (opts) => {
      const { runLog } = await import('./log.js');
      process.exitCode = await runLog(opts);
    });

  p.command('compact')
    .description('remove ledger entries, automatic replies and delivery log lines older than a date')
    .requiredOption('--before <date>', 'a date (2026-01-01), a time with offset, or an age (90d)')
    .option('--store <store>', STORE_HELP)
    .option('--config <file>', 'configuration file')
    .option('--dry-run', 'say what would be removed, change nothing', false)
    .addHelpText('after', `
Examples:
  m4me compact --before 90d --dry-run
  m4me compact --before 2026-01-01`)
    .action(async (opts) => {
      const { runCompact } = await import('./log.js');
      process.exitCode = await runCompact(opts);
    });

  const quarantine = p.command('quarantine')
    .description('messages that could not be read as email, kept whole: list them, or process them again');
  quarantine.command('list')
    .description('list the quarantined messages with why each was quarantined and its envelope')
    .option('--store <store>', STORE_HELP)
    .option('--config <file>', 'configuration file')
    .option('--json', 'one JSON object per message', false)
    .addHelpText('after', `
Examples:
  m4me quarantine list
  m4me quarantine list --json`)
    .action(async (opts) => {
      const { runQuarantineList } = await import('./quarantine.js');
      process.exitCode = await runQuarantineList(opts);
    });
  quarantine.command('retry')
    .description('process quarantined messages again with their own envelope; those read this time leave the quarantine')
    .argument('[name...]', 'messages as quarantine list names them')
    .option('--all', 'every quarantined message', false)
    .option('--store <store>', STORE_HELP)
    .option('--config <file>', 'configuration file')
    .option('--dry-run', 'decide, change nothing (the quarantine included)', false)
    .addHelpText('after', `
Examples:
  m4me quarantine retry --all --dry-run
  m4me quarantine retry 20260302090000-3f2a9c1d0e4b5a69.eml`)
    .action(async (names: string[], opts) => {
      const { runQuarantineRetry } = await import('./quarantine.js');
      process.exitCode = await runQuarantineRetry(names, opts);
    });

  p.command('completion')
    .description('print a shell completion script')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .addHelpText('after', `
Examples:
  eval "$(m4me completion bash)"
  m4me completion bash > /etc/bash_completion.d/m4me
  m4me completion zsh > "\${fpath[1]}/_m4me"`)
    .action(async (shell: 'bash' | 'zsh') => {
      const { completionScript } = await import('./docs.js');
      process.stdout.write(completionScript(program(), shell));
    });
  return p;
}

/** Whether a run only reads: when its reader goes away there is nothing left to finish. */
function readsOnly(args: string[]): boolean {
  const [cmd] = args;
  if (cmd === undefined || args.includes('--help') || args.includes('-h') || args.includes('--version') || args.includes('-V')) return true;
  if (['process', 'import', 'outbox'].includes(cmd)) return args.includes('--dry-run') || (cmd === 'outbox' && !args.includes('--send'));
  return !['init', 'copy-store', 'serve'].includes(cmd);
}

/**
 * A reader that went away (`| less` quit, `| head` had enough) is no failure and no stack
 * trace: a run that only reads ends with 0 at once; one that changes the store stops writing
 * output and finishes its work, so what it did is still committed before it exits.
 */
function quietWhenReaderLeaves(args: string[]): void {
  const onError = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    if (readsOnly(args)) process.exit(0);
  };
  process.stdout.on('error', onError);
  process.stderr.on('error', onError);
}

/** One line on stderr, an RFC 3463 status first, and the sysexits code: never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  quietWhenReaderLeaves(argv.slice(2));
  try {
    await program().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? 0 : EX.USAGE; // help and version exit 0; the message is already printed
    }
    if (err instanceof UsageError) {
      process.stderr.write(`5.5.4 m4me: ${err.message}\n`);
      return EX.USAGE;
    }
    if ((err as Error)?.name === 'ConfigError') {
      // An operator command run with a broken configuration (`process` defers with 75 instead).
      process.stderr.write(`4.3.5 m4me: invalid configuration: ${(err as Error).message} (m4me check-config lists every problem)\n`);
      return EX.CONFIG;
    }
    if (err instanceof TempFailure) {
      process.stderr.write(`${err.status} m4me: ${err.message}\n`);
      return EX.TEMPFAIL;
    }
    // An unexpected fault is still a temporary failure: the MTA keeps the message and retries.
    const e = err as Error;
    process.stderr.write(`4.3.0 m4me: internal error: ${e?.message ?? String(err)}\n`);
    if (process.env.M4ME_DEBUG) process.stderr.write(`${e?.stack}\n`);
    return EX.TEMPFAIL;
  }
}
