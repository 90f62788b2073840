/**
 * A deterministic mbox of `n` messages against the demo store: new requests, thread replies,
 * attachments (some shared), unknown senders (rejected, with an 'Email Rejected' reply) and
 * messages without a Message-ID. Returns the mbox and the ledger key each message must get.
 */
const PEOPLE = ['Ellen Brown <ellen.brown@widget.example>', 'Beatrice Baldwin <beatrice.baldwin@widget.example>', 'Howard Tanner <howard.tanner@widget.example>'];

export interface Workload { mbox: Buffer; messageIds: (string | null)[] }

export function workload(n: number, tag = 'w'): Workload {
  const parts: string[] = [];
  const messageIds: (string | null)[] = [];
  const base = Date.parse('2026-03-02T06:00:00Z');
  for (let i = 0; i < n; i++) {
    const id = i % 17 === 8 ? null : `${tag}${i}@load.example`;
    messageIds.push(id);
    const from = i % 13 === 5 ? `Stranger ${i} <stranger${i}@elsewhere.example>` : PEOPLE[i % PEOPLE.length]!;
    const date = new Date(base + i * 1000).toUTCString().replace('GMT', '+0000');
    const replyTo = i % 7 === 3 && i >= 3 && messageIds[i - 3] ? [`In-Reply-To: <${messageIds[i - 3]}>`] : [];
    const head = [
      `From: ${from}`, 'To: widget-it@mail.4me.com', `Subject: ${replyTo.length ? 'Re: ' : ''}Load ${tag} ${i}: printer ${i % 11}`,
      `Date: ${date}`, ...(id ? [`Message-ID: <${id}>`] : []), ...replyTo, 'MIME-Version: 1.0',
    ];
    const text = `Message ${i} of the load test.\n\nThe printer on floor ${i % 5} prints blank pages.\n`;
    let body: string;
    if (i % 10 === 0) {
      const payload = Buffer.from(`attachment ${i % 50} `.repeat(40)).toString('base64').replace(/.{76}/g, '$&\n');
      body = [...head, 'Content-Type: multipart/mixed; boundary="b"', '', '--b', 'Content-Type: text/plain; charset=utf-8', '', text,
        '--b', `Content-Type: application/octet-stream; name="log${i % 50}.txt"`, 'Content-Transfer-Encoding: base64',
        `Content-Disposition: attachment; filename="log${i % 50}.txt"`, '', payload, '--b--', ''].join('\n');
    } else {
      body = [...head, 'Content-Type: text/plain; charset=utf-8', '', text].join('\n');
    }
    parts.push(`From ${from.replace(/.*<|>.*/g, '')} Mon Mar  2 06:00:00 2026\n${body.replace(/^(>*From )/gm, '>$1')}\n`);
  }
  return { mbox: Buffer.from(parts.join('')), messageIds };
}
