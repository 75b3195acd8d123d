import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { normalizeRoomName, normalizeUsername } from '../../signaling/src/protocol.ts';
import { DEFAULT_DELIVERY_TIMEOUT_S, DEFAULT_HOME_NAME, MAX_DELIVERY_TIMEOUT_S } from './limits.ts';

export const USAGE = `Usage: p2p-chat-cli --server URL --room ROOM [--user NAME] [options]

Joins ROOM on the signaling server at URL as NAME and chats from the terminal:
lines you type go to everyone in the room.

Options:
  --server URL       signaling server, e.g. http://localhost:8080
  --user NAME        your username (remembered in --home after the first run)
  --room ROOM        room to join (created if it does not exist)
  --password P       room password (never sent; a derived token is)
  --home DIR         identity, contacts and history (default ~/${DEFAULT_HOME_NAME})
  --downloads DIR    where verified received files go (default HOME/downloads)
  --send TEXT        send TEXT, wait for delivery receipts, exit
  --to NAME          with --send: send privately to NAME
  --send-file PATH   send a file, wait until every member verified it, exit
  --timeout S        seconds to wait for receipts or file checks (default ${DEFAULT_DELIVERY_TIMEOUT_S})
  -h, --help         this text

In the room: /msg NAME text, /verify NAME, /verified NAME, /accept NAME,
/members, /send PATH, /help, /quit.

Exit codes: 0 ok, 1 could not connect/log in/join, 2 usage, 3 delivery not confirmed.`;

export interface CliOptions {
  server: string;
  room: string;
  user?: string;
  password?: string;
  home: string;
  downloads?: string;
  send?: string;
  to?: string;
  sendFile?: string;
  timeoutS: number;
}

export type ParsedArgs = { ok: true; help: true } | { ok: true; help: false; options: CliOptions } | { ok: false; message: string };

/** Command line to options; every problem is a sentence for the user, never a throw. */
export function parseCliArgs(argv: string[], env: { home?: string } = {}): ParsedArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        server: { type: 'string' },
        user: { type: 'string' },
        room: { type: 'string' },
        password: { type: 'string' },
        home: { type: 'string' },
        downloads: { type: 'string' },
        send: { type: 'string' },
        to: { type: 'string' },
        'send-file': { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    return { ok: false, message: e instanceof Error ? e.message : String(e) };
  }
  if (values.help) return { ok: true, help: true };
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);

  const server = str('server');
  if (!server) return { ok: false, message: '--server URL is required' };
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return { ok: false, message: `--server: "${server}" is not a URL` };
  }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol)) return { ok: false, message: '--server must be an http(s) or ws(s) URL' };

  const room = str('room');
  if (room === undefined) return { ok: false, message: '--room ROOM is required' };
  const roomCheck = normalizeRoomName(room);
  if (!roomCheck.ok) return { ok: false, message: `--room: the room name is ${describeReason(roomCheck.reason)}` };

  const user = str('user');
  if (user !== undefined) {
    const check = normalizeUsername(user);
    if (!check.ok) return { ok: false, message: `--user: the name is ${describeReason(check.reason)}` };
  }
  const password = str('password');
  if (password !== undefined && password.length === 0) return { ok: false, message: '--password must not be empty' };

  const send = str('send');
  const sendFile = str('send-file');
  const to = str('to');
  if (send !== undefined && sendFile !== undefined) return { ok: false, message: 'use either --send or --send-file, not both' };
  if (send !== undefined && send.trim().length === 0) return { ok: false, message: '--send: the message is empty' };
  if (to !== undefined && send === undefined && sendFile === undefined) return { ok: false, message: '--to only goes with --send or --send-file' };
  if (to !== undefined && !normalizeUsername(to).ok) return { ok: false, message: '--to: not a valid username' };

  let timeoutS = DEFAULT_DELIVERY_TIMEOUT_S;
  const timeout = str('timeout');
  if (timeout !== undefined) {
    timeoutS = Number(timeout);
    if (!/^\d+(\.\d+)?$/.test(timeout) || !(timeoutS > 0) || timeoutS > MAX_DELIVERY_TIMEOUT_S) {
      return { ok: false, message: `--timeout: expected seconds between 0 and ${MAX_DELIVERY_TIMEOUT_S}` };
    }
  }

  const home = resolve(str('home') ?? join(env.home ?? homedir(), DEFAULT_HOME_NAME));
  const downloads = str('downloads');
  return {
    ok: true,
    help: false,
    options: {
      server,
      room,
      home,
      timeoutS,
      ...(user !== undefined ? { user } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(send !== undefined ? { send } : {}),
      ...(to !== undefined ? { to } : {}),
      ...(sendFile !== undefined ? { sendFile } : {}),
      ...(downloads !== undefined ? { downloads: resolve(downloads) } : {}),
    },
  };
}

function describeReason(reason: 'empty' | 'too-long' | 'invisible-characters'): string {
  return reason === 'empty' ? 'empty' : reason === 'too-long' ? 'too long' : 'using invisible or direction-changing characters';
}
