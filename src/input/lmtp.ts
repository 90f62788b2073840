/**
 * An LMTP (RFC 2033) input: messages handed over by a mail server (Postfix `lmtp:`), instead of
 * one process per message on standard input. The protocol is nodemailer's smtp-server
 * (`lmtp: true`): nothing here parses SMTP. This module only collects each message's bytes
 * (never more than the size limit: a bigger one is refused by the protocol, 552, and dropped
 * as it arrives), checks recipients at RCPT, and gives the replies the caller decides, one per
 * accepted recipient in RCPT order.
 */
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

/** Where to listen: a unix socket, or a TCP address. */
export type ListenAddress = { path: string } | { host: string; port: number };

/** The mode of the socket file: the owner and its group (Postfix's user in it) may connect. */
export const SOCKET_MODE = 0o660;

/** `unix:/path`, `HOST:PORT`, `[IPv6]:PORT`, `:PORT` or `PORT` (host 127.0.0.1). Throws Error with the reason. */
export function parseListen(spec: string, listenAny: boolean): ListenAddress {
  const s = spec.trim();
  if (s.startsWith('unix:')) {
    const path = s.slice(5);
    if (!path.startsWith('/')) throw new Error(`--lmtp ${spec}: a unix socket needs an absolute path (unix:/run/m4me/lmtp)`);
    return { path };
  }
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:[\]]*))?:?(\d{1,5})$/i.exec(s);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new Error(`--lmtp ${spec}: expected unix:/path/to/socket or HOST:PORT`);
  const host = m[1] ?? (m[2] || '127.0.0.1');
  if (!isLoopback(host) && !listenAny) {
    throw new Error(`--lmtp ${spec}: ${host} is not a loopback address; LMTP has no authentication: add --listen-any to listen there anyway`);
  }
  return { host, port };
}

function isLoopback(host: string): boolean {
  return /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1' || host.toLowerCase() === 'localhost';
}

/** One reply to one recipient after DATA: `code` and its text (which starts with the RFC 3463 status). */
export interface LmtpReply { code: number; text: string }

/** A message received in full. */
export interface LmtpMessage {
  /** `<connection id>.<n>`: names the delivery in the log. */
  id: string;
  raw: Buffer;
  /** MAIL FROM ('' for the null sender `<>`). */
  sender: string;
  /** RCPT TO, lower-case, in the order they were accepted. */
  recipients: string[];
  /** When the end of DATA arrived (ms, Date.now). */
  receivedAt: number;
}

export interface LmtpOptions {
  listen: ListenAddress;
  /** The size limit now (SIGHUP may change it). */
  maxBytes: number;
  maxConnections: number;
  /** A connection silent this long is closed (421). */
  idleTimeoutMs: number;
  /** DATA taking longer than this is abandoned (421, nothing applied). */
  dataTimeoutMs: number;
  /** null to accept a recipient, else the refusal (code and text). */
  checkRecipient(address: string): LmtpReply | null;
  /** Decides a message; resolves with one reply per recipient, in order. */
  deliver(message: LmtpMessage): Promise<LmtpReply[]>;
  /** A transaction abandoned before its end (client gone, data timeout): for the log. */
  aborted?(id: string, why: string): void;
}

const SHUTTING_DOWN = '4.3.2 m4me is shutting down, try again later';
const replyError = (r: LmtpReply) => Object.assign(new Error(r.text), { responseCode: r.code });

export class LmtpServer {
  private smtp: SMTPServer;
  private stopping = false;
  /** DATA transactions from their start to their replies. */
  private inflight = 0;
  private drained: (() => void)[] = [];
  private transactions = 0;

  constructor(private opts: LmtpOptions) {
    this.smtp = new SMTPServer({
      lmtp: true,
      // Replies carry m4me's own RFC 3463 status in their text (smtp-server's are off: the default).
      hideENHANCEDSTATUSCODES: true,
      size: opts.maxBytes,
      maxClients: opts.maxConnections,
      socketTimeout: opts.idleTimeoutMs,
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      disableReverseLookup: true,
      logger: false,
      banner: 'm4me',
      onConnect: (_session, cb) => cb(this.stopping ? replyError({ code: 421, text: SHUTTING_DOWN }) : undefined),
      onMailFrom: (_address, _session, cb) => cb(this.stopping ? replyError({ code: 421, text: SHUTTING_DOWN }) : undefined),
      onRcptTo: (address, _session, cb) => {
        if (this.stopping) return cb(replyError({ code: 421, text: SHUTTING_DOWN }));
        const refused = opts.checkRecipient(address.address.trim().toLowerCase());
        cb(refused ? replyError(refused) : undefined);
      },
      onData: (stream, session, cb) => this.onData(stream, session, cb),
    });
    this.smtp.on('error', () => undefined); // a client's socket error ends only that connection
  }

  /** The size limit for messages from now on (SIGHUP). */
  set maxBytes(n: number) { this.smtp.options.size = n; this.opts.maxBytes = n; }

  /** Listens; resolves with where, as the log says it. */
  async start(): Promise<string> {
    const { listen } = this.opts;
    if ('path' in listen) {
      await removeStaleSocket(listen.path);
      // Created with the mode already (no moment where others may connect), then set exactly.
      const umask = process.umask(0o777 & ~SOCKET_MODE);
      try {
        await this.listen(() => this.smtp.listen(listen.path));
      } finally {
        process.umask(umask);
      }
      chmodSync(listen.path, SOCKET_MODE);
      return `unix:${listen.path} (mode 0${SOCKET_MODE.toString(8)})`;
    }
    await this.listen(() => this.smtp.listen(listen.port, listen.host));
    const a = this.smtp.server.address();
    const port = typeof a === 'object' && a ? a.port : listen.port;
    return `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${port}`;
  }

  private listen(start: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = this.smtp.server;
      const onError = (err: Error) => { server.off('listening', onListening); reject(err); };
      const onListening = () => { server.off('error', onError); resolve(); };
      server.once('error', onError);
      server.once('listening', onListening);
      start();
    });
  }

  /**
   * Stops: no new connection, no new transaction (421 4.3.2); the messages whose DATA has
   * begun are received and answered; then every connection is closed (421 4.3.2) and the
   * socket file removed.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    const closed = new Promise<void>((resolve) => this.smtp.server.close(() => resolve()));
    if (this.inflight) await new Promise<void>((resolve) => this.drained.push(resolve));
    for (const c of [...this.smtp.connections]) c.send(421, SHUTTING_DOWN);
    await Promise.race([closed, new Promise((r) => setTimeout(r, 2000).unref())]);
    for (const c of [...this.smtp.connections]) (c as unknown as { _socket?: { destroy(): void } })._socket?.destroy();
    if ('path' in this.opts.listen) {
      try { unlinkSync(this.opts.listen.path); } catch { /* node removed it */ }
    }
  }

  private done(): void {
    if (--this.inflight === 0) for (const d of this.drained.splice(0)) d();
  }

  private onData(stream: SMTPServerDataStream, session: SMTPServerSession, cb: (err?: Error | null, message?: (string | Error)[]) => void): void {
    this.inflight++;
    const id = `${session.id}.${++this.transactions}`;
    const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const recipients = session.envelope.rcptTo.map((r) => r.address.trim().toLowerCase());
    const limit = this.opts.maxBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    let state: 'reading' | 'ended' | 'aborted' = 'reading';
    const timer = setTimeout(() => {
      if (state !== 'reading') return;
      // Closing the connection destroys the stream: the message is abandoned (close below).
      const conn = [...this.smtp.connections].find((c) => c.session === session);
      conn?.send(421, `4.4.2 DATA took longer than ${this.opts.dataTimeoutMs} ms, closing`);
      if (!conn) stream.destroy();
    }, this.opts.dataTimeoutMs);
    timer.unref();
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit nothing more is kept: smtp-server answers 552 for every recipient.
      if (size <= limit) chunks.push(chunk);
      else chunks.length = 0;
    });
    stream.on('error', () => undefined); // the client went away: 'close' follows
    stream.on('close', () => {
      if (state !== 'reading') return;
      state = 'aborted';
      clearTimeout(timer);
      this.opts.aborted?.(id, 'the connection closed before the end of DATA: nothing was applied');
      this.done();
    });
    stream.on('end', () => {
      if (state !== 'reading') return;
      state = 'ended';
      clearTimeout(timer);
      if (stream.sizeExceeded || size > limit) {
        // smtp-server refuses it (552, once per recipient) whatever is answered here.
        cb(null, recipients.map(() => replyError({ code: 552, text: `5.3.4 message larger than ${limit} bytes` })));
        this.done();
        return;
      }
      const message: LmtpMessage = { id, raw: Buffer.concat(chunks, size), sender, recipients, receivedAt: Date.now() };
      this.opts.deliver(message).then(
        (replies) => cb(null, replies.map((r) => (r.code < 300 ? `${r.text}` : replyError(r)))),
        (err: unknown) => cb(null, recipients.map(() => replyError({ code: 451, text: `4.3.0 internal error: ${(err as Error)?.message ?? String(err)}` }))),
      ).finally(() => this.done());
    });
  }
}

/** A socket file left by a server that is gone (nothing answers on it) is removed; one in use is an error. */
async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try { st = lstatSync(path); } catch { return; }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket: not replaced`);
  const inUse = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
  if (inUse) throw new Error(`${path}: another server is listening there`);
  unlinkSync(path);
}
