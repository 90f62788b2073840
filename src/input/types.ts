/** One raw message as read from an input, before any parsing. */
export interface RawMessage {
  /** Where it came from, as printed in the JSON output: a path, `mbox:FILE#N`, or `stdin`. */
  input: string;
  /** The message bytes, without any mbox `From ` line, mboxrd/mboxo quoting removed. */
  raw: Buffer;
  /** The envelope sender of a leading `From ` line (mbox or local(8)), if there was one. */
  envelopeFrom?: string;
}
