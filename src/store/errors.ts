import { dirname } from 'node:path';
import { isTempName } from './durable.js';

/**
 * A failure the operator or a retry can fix: the message was not changed, the MTA should
 * defer it (exit 75). `status` is the RFC 3463 enhanced status code put first on stderr.
 */
export class TempFailure extends Error {
  constructor(readonly status: string, message: string) { super(message); }
}

export function describeIoError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const reasons: Record<string, string> = {
    ENOENT: 'does not exist', EACCES: 'permission denied', EPERM: 'permission denied',
    EISDIR: 'is a directory', ENOSPC: 'no space left on device', EROFS: 'read-only file system',
    EDQUOT: 'disk quota exceeded', ENOTDIR: 'a path component is not a directory', EIO: 'I/O error',
  };
  return (e?.code && reasons[e.code]) || e?.message || String(err);
}

/**
 * `<folder>: ` for an I/O error on a path (the folder a temporary file was to be made in),
 * so the operator knows which of store, attachments and outbox to look at; '' without one.
 */
export function ioWhere(err: unknown): string {
  const path = (err as NodeJS.ErrnoException)?.path;
  if (typeof path !== 'string' || !path) return '';
  return `${isTempName(path) ? dirname(path) : path}: `;
}

/** Disk full and quota errors get 4.3.1 (mail system full), other I/O errors 4.3.0. */
export function ioStatus(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' ? '4.3.1' : '4.3.0';
}
