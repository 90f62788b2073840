/** A parsed inbound message: plain data, everything the engine may look at. */
import type { UnusedId } from './message-id.js';

export interface Address { address: string; name: string }

/** One `#name: value` or `#shortcut` line from the top of the body. */
export interface ParameterLine {
  /** The name as written, lower-cased except the `ID`/`sourceID` spellings kept as the spec writes them. */
  name: string;
  /** Trimmed value; '' for a shortcut. */
  value: string;
  /** The account id of a trailing `@account` qualifier. */
  account: string | null;
  /** The line as it stood in the body. */
  line: string;
}

export interface AttachmentPart {
  filename: string | null;
  contentType: string;
  size: number;
  content: Buffer;
  /** Hex SHA-256 of the content. */
  sha256: string;
  contentId: string | null;
  /** An image shown in the body (referenced by cid: from the HTML, or disposition inline). */
  inline: boolean;
}

export interface AuthResult {
  authservId: string;
  /** Method → result, e.g. { dmarc: 'pass', spf: 'fail' }. */
  results: Record<string, string>;
}

export interface InboundEmail {
  /** Message-ID without angle brackets; null when the message has none. */
  messageId: string | null;
  /** A stable key for idempotency: the Message-ID, or a hash of the header block. */
  key: string;
  /** 16 hex digits of the content without hop-added fields (./content-hash.ts): tells a reused Message-ID from a re-delivery. */
  contentHash: string;
  from: Address | null;
  /** Envelope sender (Return-Path / `From ` line / --sender), lower-case, '' for a null sender. */
  envelopeSender: string | null;
  to: Address[];
  cc: Address[];
  deliveredTo: string[];
  xOriginalTo: string[];
  subject: string;
  /** Date header as ISO 8601, or null when missing or unparseable. */
  date: string | null;
  inReplyTo: string[];
  references: string[];
  /** Message-IDs of Message-ID, In-Reply-To and References left out as unusable (./message-id.ts). */
  unusedIds: UnusedId[];
  /** Parameter lines at the top of the body. */
  parameters: ParameterLine[];
  /** Body text with the parameter block removed. */
  text: string;
  /** Body text as it stood, parameter lines included. */
  fullText: string;
  attachments: AttachmentPart[];
  authResults: AuthResult[];
  /** Selected raw header values, lower-case names. */
  headers: {
    autoSubmitted: string | null;
    precedence: string | null;
    xAutoResponseSuppress: string | null;
    x4meFrom: string | null;
    x4meAuth: string | null;
    contentType: string | null;
  };
  size: number;
}
