/**
 * A private Postfix instance for the end-to-end tests (postfix.test.ts: the README's pipe
 * transport and alias; lmtp.test.ts: LMTP into `m4me serve`): its own configuration, queue,
 * data folder and log file under one temp folder, no network listener, /etc/postfix
 * untouched. Each test adds its own main.cf settings and master.cf services to the ones
 * every instance needs.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SBIN = '/usr/sbin';
/** Every wait is bounded by this. */
export const WAIT_MS = 30_000;

export interface Cmd { code: number; stdout: string; stderr: string }

export function run(cmd: string, args: string[], opts: { input?: string; cwd?: string } = {}): Cmd {
  const r = spawnSync(cmd, args, { input: opts.input ?? '', cwd: opts.cwd, encoding: 'utf8', timeout: WAIT_MS, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' } });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

export function must(cmd: string, args: string[], opts: { input?: string; cwd?: string } = {}): string {
  const r = run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()} ${r.stdout.trim()}`);
  return r.stdout;
}

/** Why this machine cannot run a private Postfix with `tools`, or null. */
export function postfixUnavailable(tools: string[]): string | null {
  if (process.env.M4ME_SKIP_POSTFIX === '1') return 'M4ME_SKIP_POSTFIX=1';
  if (process.platform !== 'linux') return `platform ${process.platform}`;
  if (process.getuid?.() !== 0) return 'not running as root (Postfix must be started as root)';
  const missing = ['postfix', 'postconf', 'postmap', 'postqueue', 'postsuper', 'sendmail', ...tools].filter((t) => !existsSync(join(SBIN, t)));
  if (missing.length) return `Postfix is not installed (missing ${missing.map((t) => join(SBIN, t)).join(', ')}; test/postfix/setup.sh installs it as root on Debian)`;
  if (run('getent', ['passwd', 'postfix']).code !== 0) return 'no postfix user';
  return null;
}

const MAIN_CF = (base: string, maillog: string) => [
  'compatibility_level = 3.6',
  `queue_directory = ${base}/queue`,
  `data_directory = ${base}/data`,
  `maillog_file_prefixes = ${base}`,
  `maillog_file = ${maillog}`,
  'myhostname = mx.m4me.test',
  'mydomain = m4me.test',
  'mydestination = $myhostname, localhost',
  'inet_interfaces = loopback-only',
  'inet_protocols = ipv4',
  'enable_long_queue_ids = yes',
  // Nothing leaves this machine: other mail waits in the queue, visibly.
  'default_transport = retry:4.4.1 no mail leaves the m4me Postfix test',
];

const MASTER_CF = [
  'pickup    unix  n       -       n       60      1       pickup',
  'cleanup   unix  n       -       n       -       0       cleanup',
  'qmgr      unix  n       -       n       300     1       qmgr',
  'rewrite   unix  -       -       n       -       -       trivial-rewrite',
  'bounce    unix  -       -       n       -       0       bounce',
  'defer     unix  -       -       n       -       0       bounce',
  'trace     unix  -       -       n       -       0       bounce',
  'flush     unix  n       -       n       1000?   0       flush',
  'proxymap  unix  -       -       n       -       -       proxymap',
  'showq     unix  n       -       n       -       -       showq',
  'error     unix  -       -       n       -       -       error',
  'retry     unix  -       -       n       -       -       error',
  'anvil     unix  -       -       n       -       1       anvil',
  'scache    unix  -       -       n       -       1       scache',
  'postlog   unix-dgram n  -       n       -       1       postlogd',
];

export interface QueueEntry { queue_name: string; queue_id: string; sender: string; recipients: Array<{ address: string; delay_reason?: string }> }

export class PostfixInstance {
  readonly etc: string;
  readonly maillog: string;
  private started = false;
  /** Whether start() was called (Postfix running, or to be stopped). */
  get running(): boolean { return this.started; }

  /** `base`: an empty folder (mode 0755) that the instance's folders go in. */
  constructor(readonly base: string, private context: () => string = () => '') {
    this.etc = join(base, 'etc');
    this.maillog = join(base, 'maillog');
    for (const d of [this.etc, join(base, 'queue'), join(base, 'data')]) mkdirSync(d, { recursive: true });
    chownSync(join(base, 'data'), Number(must('id', ['-u', 'postfix']).trim()), 0);
  }

  postfix(...args: string[]): Cmd { return run(join(SBIN, 'postfix'), ['-c', this.etc, ...args]); }
  log(): string { return existsSync(this.maillog) ? readFileSync(this.maillog, 'utf8') : ''; }
  queue(): QueueEntry[] {
    return must(join(SBIN, 'postqueue'), ['-c', this.etc, '-j']).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as QueueEntry);
  }
  /** The delivery results Postfix logged for a queue ID (status=sent/deferred/bounced lines). */
  results(qid: string): string[] { return this.log().split('\n').filter((l) => l.includes(` ${qid}: to=<`) && / status=/.test(l)); }

  async until<T>(what: string, probe: () => T | undefined | null | false): Promise<T> {
    const end = Date.now() + WAIT_MS;
    for (;;) {
      const v = probe();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out after ${WAIT_MS / 1000} s waiting for ${what}\n--- maillog ---\n${this.log().split('\n').slice(-25).join('\n')}${this.context()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Submits with sendmail(1); resolves with the queue ID Postfix gave the message of Message-ID `id`. */
  async submit(from: string, to: string, message: string, id: string): Promise<string> {
    must(join(SBIN, 'sendmail'), ['-C', this.etc, '-i', '-f', from, '--', to], { input: message });
    return this.until(`Postfix to queue <${id}>`, () => new RegExp(`\\b([0-9A-Za-z]+): message-id=<${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}>`).exec(this.log())?.[1]);
  }

  /** Waits (bounded) for the queue to drain; returns what is left. */
  async drained(): Promise<QueueEntry[]> {
    const end = Date.now() + 10_000;
    while (this.queue().length && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
    return this.queue();
  }

  /** Writes main.cf and master.cf: every instance's lines, then these (before postmap and postalias read them). */
  configure(mainCf: string[], masterCf: string[]): void {
    writeFileSync(join(this.etc, 'main.cf'), [...MAIN_CF(this.base, this.maillog), ...mainCf, ''].join('\n'));
    writeFileSync(join(this.etc, 'master.cf'), [...MASTER_CF, ...masterCf, ''].join('\n'));
  }

  /** Checks the configuration and starts Postfix. */
  async start(): Promise<void> {
    must(join(SBIN, 'postfix'), ['-c', this.etc, 'check']);
    const start = this.postfix('start');
    this.started = true;
    if (start.code !== 0) throw new Error(`postfix start failed: ${start.stderr}\n${this.log()}`);
    await this.until('the Postfix master to run', () => this.postfix('status').code === 0 && this.log().includes('daemon started'));
  }

  /** Stops Postfix (bounded; its master killed if it would not stop). */
  async stop(): Promise<void> {
    if (!this.started) return;
    if (this.postfix('stop').code !== 0) this.postfix('abort');
    const end = Date.now() + WAIT_MS;
    while (this.postfix('status').code === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
    const pidFile = join(this.base, 'queue', 'pid', 'master.pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
    if (pid > 0 && this.postfix('status').code === 0) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
}
