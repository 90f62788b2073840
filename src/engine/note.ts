import { displayName } from '../mail/filename.js';
import type { AttachmentPart, InboundEmail } from '../mail/types.js';
import type { InlineImage, Note, RecordRef, StoredFile } from '../store/schema.js';
import type { MessageContext } from './context.js';
import { isoTime, type Trace } from './trace.js';
import type { Clock, Policy } from './types.js';

export interface NoteParts {
  attachments: StoredFile[];
  inline_images: InlineImage[];
  files: { sha256: string; content: Buffer }[];
}

/** Attachments and inline images of the mail, at most `maxAttachments` attachments. */
export function noteFiles(email: InboundEmail, policy: Policy, trace: Trace): NoteParts {
  const stored = (a: AttachmentPart): StoredFile => ({
    filename: displayName(a.filename, a.contentType), content_type: a.contentType, size: a.size,
    sha256: a.sha256, path: `${policy.filesDir}/${a.sha256.slice(0, 2)}/${a.sha256}`,
  });
  const inline = email.attachments.filter((a) => a.inline);
  const regular = email.attachments.filter((a) => !a.inline);
  const kept = regular.slice(0, policy.maxAttachments);
  const dropped = regular.slice(policy.maxAttachments);
  if (dropped.length) {
    trace.warn('note.attachments', `${dropped.length} attachments over the limit of ${policy.maxAttachments} dropped: ${dropped.map((a) => displayName(a.filename, a.contentType)).join(', ')}`);
  }
  if (kept.length || inline.length) trace.add('note.attachments', 'applied', `${kept.length} attachment(s), ${inline.length} inline image(s)`);
  const files = new Map<string, Buffer>();
  for (const a of [...kept, ...inline]) files.set(a.sha256, a.content);
  return {
    attachments: kept.map(stored),
    inline_images: inline.map((a) => ({ ...stored(a), content_id: a.contentId ?? '' })),
    files: [...files].map(([sha256, content]) => ({ sha256, content })),
  };
}

export function buildNote(
  id: number, record: RecordRef, person: number, text: string, flags: { internal: boolean; markdown: boolean },
  email: InboundEmail, parts: NoteParts, clock: Clock,
): Note {
  return {
    id, record, person, text, internal: flags.internal, markdown: flags.markdown,
    created_at: isoTime(clock.now), message_id: email.messageId,
    attachments: parts.attachments, inline_images: parts.inline_images,
  };
}

/**
 * The note the message adds to `record` (its text, by the sender, with its files). With
 * `skipEmpty` (a new request) a message without text, attachments or inline images adds none.
 */
export function noteFromMessage(
  ctx: MessageContext, record: RecordRef, text: string, flags: { internal: boolean; markdown: boolean }, opts: { skipEmpty?: boolean } = {},
): { note?: Note; files: NoteParts['files'] } {
  const parts = noteFiles(ctx.email, ctx.policy, ctx.trace);
  if (opts.skipEmpty && !text.trim() && !parts.attachments.length && !parts.inline_images.length) return { files: parts.files };
  return { note: buildNote(ctx.view.nextNoteId(), record, ctx.sender.id, text, flags, ctx.email, parts, ctx.clock), files: parts.files };
}
