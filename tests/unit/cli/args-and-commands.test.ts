import { describe, expect, it } from 'vitest';
import { parseCliArgs } from '../../../cli/src/args.ts';
import { parseCommand } from '../../../cli/src/commands.ts';
import { visible } from '../../../cli/src/format.ts';

describe('the command line', () => {
  const base = ['--server', 'http://localhost:8080', '--room', 'lobby'];

  it('takes the documented options and defaults home to ~/.p2p-chat-cli', () => {
    const r = parseCliArgs([...base, '--user', 'bot', '--password', 'pw', '--send', 'hi', '--to', 'An', '--timeout', '5'], { home: '/home/x' });
    expect(r).toEqual({
      ok: true,
      help: false,
      options: { server: 'http://localhost:8080', room: 'lobby', user: 'bot', password: 'pw', send: 'hi', to: 'An', timeoutS: 5, home: '/home/x/.p2p-chat-cli' },
    });
  });

  it('explains what is wrong instead of throwing', () => {
    const problem = (argv: string[]) => {
      const r = parseCliArgs(argv);
      return r.ok ? null : r.message;
    };
    expect(problem(['--room', 'lobby'])).toContain('--server URL is required');
    expect(problem(['--server', 'not a url', '--room', 'x'])).toContain('is not a URL');
    expect(problem(['--server', 'http://h'])).toContain('--room ROOM is required');
    expect(problem([...base, '--user', 'a\u202Eb'])).toContain('invisible or direction-changing');
    expect(problem([...base, '--send', 'a', '--send-file', 'f'])).toContain('either --send or --send-file');
    expect(problem([...base, '--to', 'An'])).toContain('--to only goes with --send');
    expect(problem([...base, '--timeout', '-1'])).toContain('--timeout');
    expect(problem([...base, '--bogus'])).toContain('bogus');
    expect(parseCliArgs(['--help'])).toEqual({ ok: true, help: true });
  });
});

describe('lines typed in the room', () => {
  it('are messages, unless they are commands', () => {
    expect(parseCommand('hello /there')).toEqual({ kind: 'say', text: 'hello /there' });
    expect(parseCommand('//not a command')).toEqual({ kind: 'say', text: '/not a command' });
    expect(parseCommand('/msg An  hi there ')).toEqual({ kind: 'msg', to: 'An', text: 'hi there' });
    expect(parseCommand('/msg An')).toMatchObject({ kind: 'invalid' });
    expect(parseCommand('/verify An')).toEqual({ kind: 'verify', name: 'An' });
    expect(parseCommand('/verify')).toMatchObject({ kind: 'invalid' });
    expect(parseCommand('/accept An')).toEqual({ kind: 'accept', name: 'An' });
    expect(parseCommand('/send ./report.pdf')).toEqual({ kind: 'send-file', path: './report.pdf' });
    expect(parseCommand('/QUIT')).toEqual({ kind: 'quit' });
    expect(parseCommand('   ')).toEqual({ kind: 'empty' });
    expect(parseCommand('/nope')).toMatchObject({ kind: 'invalid', message: expect.stringContaining('/nope') });
  });
});

describe('text from peers on the terminal', () => {
  it('cannot move the cursor, clear the screen, reorder text or fake a line of its own', () => {
    expect(visible('\u001b[2J\u001b[Hgotcha')).toBe('\\u{1b}[2J\\u{1b}[Hgotcha');
    expect(visible('abc\u202Edef')).toBe('abc\\u{202e}def');
    expect(visible('a\rb')).toBe('a\\u{d}b');
    expect(visible('one\n[12:00:00] Admin [verified]: fake')).toBe('one\n    [12:00:00] Admin [verified]: fake');
    expect(visible('tab\tand ünïcode 🙂')).toBe('tab\tand ünïcode 🙂');
  });
});
