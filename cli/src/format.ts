import type { ChatMessage, TrustState } from '../../client/src/core/chat/ports.ts';
import type { MemberView, Notice } from '../../client/src/core/chat/room-session.ts';
import { formatBytes, parseFileMessageBody } from '../../client/src/core/files/manifest.ts';
import { sanitizeFileName } from '../../client/src/core/files/sanitize.ts';
import type { TransferInfo } from '../../client/src/core/files/transfers.ts';
import type { SavedFile } from './files.ts';

/**
 * How the terminal shows things. One line each, plain text, stable enough for scripts to
 * match: `[HH:MM:SS] NAME [trust]: text`. Message text is printed with control characters
 * made visible, so a peer cannot move the cursor, clear the screen or fake a line.
 */

export const TRUST_LABEL: Record<TrustState, string> = {
  verified: 'verified',
  new: 'unverified',
  changed: 'KEY CHANGED',
};

export function clock(at: number): string {
  const d = new Date(at);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** NOTE: terminal escape sequences from a peer would let it rewrite what the user sees. */
export function visible(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`).replace(/\n/g, '\n    ');
}

export function formatMessage(m: ChatMessage, trust: TrustState, opts: { history?: boolean } = {}): string {
  const tag = opts.history ? ' (earlier)' : '';
  const privately = m.to !== undefined ? ' → you (private)' : '';
  return `[${clock(m.sentAt)}]${tag} ${visible(m.from)} [${TRUST_LABEL[trust]}]${privately}: ${m.kind === 'file' ? describeFile(m.body) : visible(m.body)}`;
}

function describeFile(body: string): string {
  const signed = parseFileMessageBody(body);
  if (!signed) return '(a file whose description could not be read)';
  return `sends a file: ${visible(sanitizeFileName(signed.manifest.name))} (${formatBytes(signed.manifest.size)})`;
}

export function formatSavedFile(f: SavedFile): string {
  return `[${clock(Date.now())}] * file from ${visible(f.from)} verified (SHA-256 ${f.sha256}) and saved: ${visible(f.path)}`;
}

export function formatFileProblem(info: TransferInfo, why: string): string {
  return `[${clock(Date.now())}] ! file ${visible(sanitizeFileName(info.name))} from ${visible(info.peer)} not saved: ${visible(why)}`;
}

/** Our own file, per recipient, once final. */
export function formatSentFile(info: TransferInfo): string {
  const name = visible(sanitizeFileName(info.name));
  if (info.state === 'done') return `[${clock(Date.now())}] ✓ file ${name} verified by ${visible(info.peer)}`;
  return `[${clock(Date.now())}] ! file ${name} not delivered to ${visible(info.peer)}: ${info.state}${info.error ? ` (${visible(info.error.message)})` : ''}`;
}

export function formatOwnDelivery(m: ChatMessage, total: number): string {
  const what = m.kind === 'file' ? 'file announcement' : m.to !== undefined ? `private message to ${visible(m.to)}` : 'message';
  return `[${clock(Date.now())}] ✓ ${what} delivered to ${m.deliveredTo.length} of ${total}`;
}

export function formatNotice(n: Notice): string {
  const who = visible(n.user);
  const detail = n.detail ? `: ${visible(n.detail)}` : '';
  const code = n.code ? ` (${n.code})` : '';
  const at = `[${clock(n.at)}]`;
  switch (n.kind) {
    case 'joined':
      return `${at} * ${who} joined`;
    case 'back':
      return `${at} * ${who} is back`;
    case 'left':
      return `${at} * ${who} left`;
    case 'key-changed':
      return `${at} ! ${who}'s key changed. Nothing is sent to ${who} until you check it: compare /verify ${who} with them, then /accept ${who}`;
    case 'verify-failed':
      return `${at} ! could not verify ${who}${detail}${code}`;
    case 'rejected-frame':
      return `${at} ! dropped data from ${who}${detail}${code}`;
    case 'refused-message':
      return `${at} ! refused a message from ${who}${detail}${code}`;
    case 'refused-invite':
      return `${at} ! refused a direct-chat invitation from ${who}${detail}${code}`;
    case 'deleted':
      return `${at} * ${who} deleted this chat`;
  }
}

export function formatMembers(roomName: string, members: MemberView[]): string[] {
  if (members.length === 0) return [`no one else has been in ${visible(roomName)} yet`];
  const width = Math.max(...members.map((m) => [...m.username].length));
  return [
    `members of ${visible(roomName)}:`,
    ...members.map((m) => {
      const conn = m.online ? m.connection : '-';
      const err = m.error ? ` (${m.error.code})` : '';
      return `  ${visible(m.username).padEnd(width)}  ${m.online ? 'online ' : 'offline'}  ${conn.padEnd(10)}  ${TRUST_LABEL[m.trust]}${err}`;
    }),
  ];
}

export function formatSafetyNumber(name: string, digits: string): string[] {
  return [
    `safety number with ${visible(name)}: ${digits}`,
    `compare it with what ${visible(name)} sees for you; if every digit matches, type /verified ${visible(name)}`,
  ];
}
