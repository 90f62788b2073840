const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;
/** C0 and C1 controls, DEL, and the bidi controls that make `fdp.exe` read as `exe.pdf`. */
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const MAX = 200;

/**
 * A display name for a file name from the mail. It is never used as a path (files are
 * stored by their sha256); this only keeps what is shown harmless and short.
 */
export function displayName(name: string | null, contentType: string): string {
  let n = (name ?? '').replace(INVISIBLE, '').split(/[\\/]/).pop()!.trim().replace(/^\.+/, '');
  if (WINDOWS_RESERVED.test(n)) n = `_${n}`;
  const chars = [...n];
  if (chars.length > MAX) {
    const ext = /\.[A-Za-z0-9]{1,10}$/.exec(n)?.[0] ?? '';
    n = chars.slice(0, MAX - ext.length).join('') + ext;
  }
  if (!n) {
    const sub = (contentType.split('/')[1] ?? '').replace(/[^a-z0-9]/gi, '');
    n = `attachment.${sub && sub.length <= 10 ? sub : 'bin'}`;
  }
  return n;
}
