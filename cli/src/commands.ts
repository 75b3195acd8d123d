/** What a line typed in the room asks for. Anything not starting with `/` is a group message. */
export type Command =
  | { kind: 'say'; text: string }
  | { kind: 'msg'; to: string; text: string }
  | { kind: 'verify'; name: string }
  | { kind: 'verified'; name: string }
  | { kind: 'accept'; name: string }
  | { kind: 'members' }
  | { kind: 'send-file'; path: string }
  | { kind: 'help' }
  | { kind: 'quit' }
  | { kind: 'empty' }
  | { kind: 'invalid'; message: string };

export const COMMAND_HELP = [
  'text            send to everyone in the room',
  '/msg NAME text  send privately to NAME',
  '/verify NAME    show the safety number to compare with NAME',
  '/verified NAME  mark NAME verified (after the numbers matched)',
  '/accept NAME    accept NAME\'s changed key (after checking with them)',
  '/members        who is here, connection and trust',
  '/send PATH      send a file to everyone (saved by them once verified)',
  '/quit           leave',
  '//text          send a message starting with /',
];

export function parseCommand(line: string): Command {
  const trimmed = line.trim();
  if (trimmed.length === 0) return { kind: 'empty' };
  if (trimmed.startsWith('//')) return { kind: 'say', text: trimmed.slice(1) };
  if (!trimmed.startsWith('/')) return { kind: 'say', text: trimmed };
  const [head = '', ...rest] = trimmed.split(/\s+/u);
  const arg = trimmed.slice(head.length).trim();
  const needName = (kind: 'verify' | 'verified' | 'accept'): Command =>
    rest.length === 1 ? { kind, name: rest[0]! } : { kind: 'invalid', message: `usage: ${head} NAME` };
  switch (head.toLowerCase()) {
    case '/msg': {
      const [to, ...words] = rest;
      const text = to ? arg.slice(to.length).trim() : '';
      if (!to || words.length === 0 || !text) return { kind: 'invalid', message: 'usage: /msg NAME text' };
      return { kind: 'msg', to, text };
    }
    case '/verify':
      return needName('verify');
    case '/verified':
      return needName('verified');
    case '/accept':
      return needName('accept');
    case '/members':
      return { kind: 'members' };
    case '/send':
      return arg ? { kind: 'send-file', path: arg } : { kind: 'invalid', message: 'usage: /send PATH' };
    case '/help':
      return { kind: 'help' };
    case '/quit':
    case '/exit':
      return { kind: 'quit' };
    default:
      return { kind: 'invalid', message: `unknown command ${head} (/help lists them)` };
  }
}
