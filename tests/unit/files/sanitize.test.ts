import { describe, expect, it } from 'vitest';
import { previewKind, safeBlobType, sanitizeFileName } from '../../../client/src/core/files/sanitize.ts';

const utf8Length = (s: string) => new TextEncoder().encode(s).length;

describe('received file names', () => {
  it.each([
    ['../../etc/passwd', 'passwd'],
    ['..\\..\\Windows\\System32\\drivers\\etc\\hosts', 'hosts'],
    ['C:\\Users\\an\\Desktop\\report.pdf', 'report.pdf'],
    ['/', 'file'],
    ['..', 'file'],
    ['', 'file'],
    ['.bashrc', 'bashrc'],
    ['...hidden.txt', 'hidden.txt'],
    ['CON.txt', '_CON.txt'],
    ['con', '_con'],
    ['nul.tar.gz', '_nul.tar.gz'],
    ['LPT1', '_LPT1'],
    ['COM9.log', '_COM9.log'],
    ['console.txt', 'console.txt'],
    ['a<b>c:d"e|f?g*h.txt', 'a_b_c_d_e_f_g_h.txt'],
    ['invoice.pdf. . .', 'invoice.pdf'],
    ['  spaced   out  .txt', 'spaced out .txt'],
    ['tab\there\nnewline\u0000nul.txt', 'tabherenewlinenul.txt'],
    ['x.html', 'x.html'],
    ['Tài liệu.pdf', 'Tài liệu.pdf'],
    ['photo 📷.jpg', 'photo 📷.jpg'],
  ])('%j becomes %j', (input, expected) => {
    expect(sanitizeFileName(input)).toBe(expected);
  });

  it('a right-to-left override cannot disguise the real extension', () => {
    // Displays as "photo_exe.jpg" in a bidi-aware view; really ends in .exe.
    expect(sanitizeFileName('photo_\u202Egpj.exe')).toBe('photo_gpj.exe');
    expect(sanitizeFileName('\u202Bab\u202Ccd\u2066ef\u2067gh\u2068ij\u2069kl\u200E\u200F\u061C.txt')).toBe('abcdefghijkl.txt');
  });

  it('zero-width and other invisible characters are removed', () => {
    expect(sanitizeFileName('pa\u200Bss\u200Cwo\u200Drd\u2060\uFEFF.txt')).toBe('password.txt');
    expect(sanitizeFileName('soft\u00ADhyphen\u180E.txt')).toBe('softhyphen.txt');
    expect(sanitizeFileName('tag\u{E0041}\u{E007F}s.txt')).toBe('tags.txt');
    expect(sanitizeFileName('lone\uD800surrogate.txt')).toBe('lonesurrogate.txt');
    expect(sanitizeFileName('\u200B\u202E')).toBe('file');
  });

  it('long names are cut to the byte limit, keeping the extension and whole characters', () => {
    const long = `${'ă'.repeat(300)}.tar.gz`;
    const out = sanitizeFileName(long);
    expect(utf8Length(out)).toBeLessThanOrEqual(200);
    expect(out.endsWith('.gz')).toBe(true);
    expect(out.startsWith('ăăă')).toBe(true);
    const emoji = `${'😀'.repeat(100)}.png`;
    const cut = sanitizeFileName(emoji, { maxBytes: 50 });
    expect(cut).toBe(`${'😀'.repeat(11)}.png`);
    expect(sanitizeFileName('x'.repeat(500))).toBe('x'.repeat(200));
  });

  it('is idempotent', () => {
    for (const name of ['../../etc/passwd', 'CON.txt', 'photo_\u202Egpj.exe', `${'é'.repeat(300)}.txt`, '  .. x ..  ']) {
      const once = sanitizeFileName(name);
      expect(sanitizeFileName(once)).toBe(once);
    }
  });
});

describe('previews of received files', () => {
  it.each([
    ['image/png', 'a.png', 'image'],
    ['image/jpeg', 'a.JPG', 'image'],
    ['image/gif', 'a.gif', 'image'],
    ['image/webp', 'a.webp', 'image'],
    ['image/avif', 'a.avif', 'image'],
    ['video/mp4', 'a.mp4', 'video'],
    ['video/webm', 'a.webm', 'video'],
    ['video/ogg', 'a.ogv', 'video'],
    ['audio/mpeg', 'a.mp3', 'audio'],
    ['audio/ogg', 'a.ogg', 'audio'],
    ['audio/wav', 'a.wav', 'audio'],
    ['audio/webm', 'a.weba', 'audio'],
    ['audio/aac', 'a.aac', 'audio'],
    ['audio/flac', 'a.flac', 'audio'],
    ['Image/PNG; charset=binary', 'a.png', 'image'],
  ])('%s named %s is previewed as %s', (type, name, kind) => {
    expect(previewKind(type, name)).toBe(kind);
    expect(safeBlobType(type, name)).toBe(type.split(';')[0]!.trim().toLowerCase());
  });

  it.each([
    ['text/html', 'x.html'],
    ['image/svg+xml', 'x.svg'],
    ['application/xhtml+xml', 'x.xhtml'],
    ['text/xml', 'x.xml'],
    ['application/xml', 'x.xml'],
    ['application/pdf', 'x.pdf'],
    ['text/javascript', 'x.js'],
    ['', 'x.png'],
    ['application/octet-stream', 'x.png'],
    // A media type on a document's name, or a document's type on a media name.
    ['image/png', 'x.html'],
    ['image/png', 'x.svg'],
    ['image/png', 'x'],
    ['text/html', 'x.png'],
    ['image/svg+xml', 'x.png'],
    // An override hiding ".html" behind ".png": sanitised first, so the real extension wins.
    ['image/png', 'x\u202Egnp.html'],
  ])('%j named %j is never previewed and downloads as application/octet-stream', (type, name) => {
    expect(previewKind(type, name)).toBeNull();
    expect(safeBlobType(type, name)).toBe('application/octet-stream');
  });
});
