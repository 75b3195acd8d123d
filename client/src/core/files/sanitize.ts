import { MAX_DOWNLOAD_NAME_BYTES } from './limits.ts';

/**
 * Safe handling of names and types that came from a peer. Both are attacker-chosen: a
 * name can hide its real extension behind a right-to-left override ("photo\u202Egpj.exe"
 * shows as "photoexe.jpg"), climb out of the download folder ("../../etc/passwd"), or be
 * a Windows device ("CON.txt"); a type can ask the browser to render HTML or SVG, which
 * would run script in our origin. Names are rewritten; previews are an allow-list.
 */

/**
 * Characters removed from names: C0/C1 controls, bidi embeddings, overrides, isolates and
 * marks, zero-width and other invisible formatting characters, line/paragraph separators,
 * interlinear annotations, Unicode tags, and lone surrogates.
 */
const INVISIBLE =
  /[\u0000-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0e\ufeff\uffa0\ufff0-\ufffb]|\udb40[\udc00-\udcff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Characters Windows refuses in names (and '/' '\\' handled as separators before). */
const WINDOWS_RESERVED_CHARS = /[<>:"|?*]/g;

/** Device names Windows opens instead of a file, with or without an extension. */
const WINDOWS_DEVICES = /^(con|prn|aux|nul|conin\$|conout\$|clock\$|com[0-9¹²³]|lpt[0-9¹²³])$/i;

/** Longest extension kept apart when a name is shortened. */
const MAX_EXTENSION_CHARS = 16;

const encoder = new TextEncoder();
const utf8Length = (s: string) => encoder.encode(s).length;

/**
 * A name that is safe to show and to offer as a download name: no invisible or
 * direction-changing characters, no path, no reserved device or character, no leading dot,
 * at most `maxBytes` UTF-8 bytes with the extension kept. Never empty.
 */
export function sanitizeFileName(name: string, opts: { maxBytes?: number; fallback?: string } = {}): string {
  const maxBytes = opts.maxBytes ?? MAX_DOWNLOAD_NAME_BYTES;
  const fallback = opts.fallback ?? 'file';
  let s = typeof name === 'string' ? name : '';
  s = s.replace(INVISIBLE, '');
  s = s.normalize('NFC');
  // Only the last path segment: "../../etc/passwd" is "passwd", "C:\\x\\y.txt" is "y.txt".
  const segments = s.split(/[/\\]/).filter((p) => p.trim() !== '');
  s = segments.length > 0 ? segments[segments.length - 1]! : '';
  s = s.replace(WINDOWS_RESERVED_CHARS, '_');
  // Any whitespace run (tabs were removed above; this catches exotic spaces) is one space.
  s = s.replace(/\s+/gu, ' ');
  // No hidden files, no "..", and Windows drops trailing dots and spaces silently.
  s = s.replace(/^[\s.]+/u, '').replace(/[\s.]+$/u, '');
  if (s === '') return fallback;
  const stem = s.includes('.') ? s.slice(0, s.indexOf('.')) : s;
  if (WINDOWS_DEVICES.test(stem.trim())) s = `_${s}`;
  return truncateKeepingExtension(s, maxBytes);
}

function truncateKeepingExtension(s: string, maxBytes: number): string {
  if (utf8Length(s) <= maxBytes) return s;
  const dot = s.lastIndexOf('.');
  const ext = dot > 0 && s.length - dot - 1 <= MAX_EXTENSION_CHARS && !/\s/.test(s.slice(dot)) ? s.slice(dot) : '';
  const budget = Math.max(0, maxBytes - utf8Length(ext));
  let stem = '';
  let used = 0;
  // By code point, so a surrogate pair is never cut in half.
  for (const ch of s.slice(0, s.length - ext.length)) {
    const n = utf8Length(ch);
    if (used + n > budget) break;
    stem += ch;
    used += n;
  }
  stem = stem.replace(/[\s.]+$/u, '');
  return (stem || 'file') + ext;
}

export type PreviewKind = 'image' | 'video' | 'audio';

/**
 * Types shown inline, each with the extensions it may carry. Only raster images and
 * media that play in <img>, <video> and <audio>: none of these can run script. SVG, HTML,
 * XML, PDF and everything else are never previewed.
 */
const PREVIEWABLE: ReadonlyMap<string, { kind: PreviewKind; ext: readonly string[] }> = new Map([
  ['image/png', { kind: 'image', ext: ['png'] }],
  ['image/apng', { kind: 'image', ext: ['png', 'apng'] }],
  ['image/jpeg', { kind: 'image', ext: ['jpg', 'jpeg', 'jpe', 'jfif'] }],
  ['image/gif', { kind: 'image', ext: ['gif'] }],
  ['image/webp', { kind: 'image', ext: ['webp'] }],
  ['image/avif', { kind: 'image', ext: ['avif'] }],
  ['video/mp4', { kind: 'video', ext: ['mp4', 'm4v'] }],
  ['video/webm', { kind: 'video', ext: ['webm'] }],
  ['video/ogg', { kind: 'video', ext: ['ogv', 'ogg'] }],
  ['audio/mpeg', { kind: 'audio', ext: ['mp3', 'mpga'] }],
  ['audio/mp4', { kind: 'audio', ext: ['m4a', 'mp4'] }],
  ['audio/aac', { kind: 'audio', ext: ['aac', 'm4a'] }],
  ['audio/ogg', { kind: 'audio', ext: ['ogg', 'oga', 'opus'] }],
  ['audio/opus', { kind: 'audio', ext: ['opus'] }],
  ['audio/wav', { kind: 'audio', ext: ['wav'] }],
  ['audio/wave', { kind: 'audio', ext: ['wav'] }],
  ['audio/x-wav', { kind: 'audio', ext: ['wav'] }],
  ['audio/webm', { kind: 'audio', ext: ['webm', 'weba'] }],
  ['audio/flac', { kind: 'audio', ext: ['flac'] }],
  ['audio/x-flac', { kind: 'audio', ext: ['flac'] }],
]);

/** "image/PNG; charset=x" -> "image/png". */
function essence(type: string): string {
  return (typeof type === 'string' ? type : '').split(';')[0]!.trim().toLowerCase();
}

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot >= 0 ? name.slice(dot + 1).toLowerCase() : '';
}

/**
 * How a received file may be previewed, or null. Both the declared type and the
 * (sanitised) name's extension must be on the allow-list and agree: "x.html" declared as
 * image/png is not previewed, so nothing named like a document is ever shown as media.
 */
export function previewKind(type: string, name: string): PreviewKind | null {
  const entry = PREVIEWABLE.get(essence(type));
  if (!entry) return null;
  return entry.ext.includes(extensionOf(sanitizeFileName(name))) ? entry.kind : null;
}

/**
 * The type to give the Blob of a received file: its own type when previewable, else
 * application/octet-stream. NOTE: a Blob URL is served with the Blob's type; an HTML or
 * SVG blob opened in a tab would run script in our origin, with our keys in reach.
 */
export function safeBlobType(type: string, name: string): string {
  return previewKind(type, name) ? essence(type) : 'application/octet-stream';
}
