import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { ChatMessage } from '../../client/src/core/chat/ports.ts';
import type { Notice, RoomSession } from '../../client/src/core/chat/room-session.ts';
import { COMMAND_HELP, parseCommand } from './commands.ts';
import { describeError, ExitCode } from './errors.ts';
import { FINAL_STATES } from '../../client/src/core/files/progress.ts';
import { formatMembers, formatMessage, formatNotice, formatOwnDelivery, formatSafetyNumber, formatSentFile, visible } from './format.ts';
import type { HeadlessPeer } from './headless-peer.ts';

/** Prints lines without trampling what the user is typing (on a terminal). */
export class Printer {
  readonly #out: Writable;
  #rl: Interface | null = null;

  constructor(out: Writable) {
    this.#out = out;
  }

  attach(rl: Interface | null): void {
    this.#rl = rl;
  }

  line(text: string): void {
    const tty = (this.#out as { isTTY?: boolean }).isTTY === true && this.#rl !== null;
    if (tty) this.#out.write('\r\x1b[2K');
    this.#out.write(text + '\n');
    if (tty) this.#rl!.prompt(true);
  }
}

/** Shows a room's messages and notices; attached before the first roster so nothing is missed. */
export function showRoom(room: RoomSession, print: (line: string) => void, me: () => string | null): () => void {
  const announced = new Set<string>();
  const offMessage = room.on('message', (m: ChatMessage, incoming: boolean) => {
    const mine = m.from.toLowerCase() === me()?.toLowerCase();
    if (incoming) return print(formatMessage(m, room.member(m.from)?.trust ?? 'new'));
    if (!mine) return print(formatMessage(m, room.member(m.from)?.trust ?? 'new', { history: true }));
    // Our own message: say once when everyone it was meant for has confirmed it.
    const total = room.recipientCount(m);
    if (m.deliveredTo.length > 0 && m.deliveredTo.length >= total && !announced.has(m.id)) {
      announced.add(m.id);
      print(formatOwnDelivery(m, total));
    }
  });
  const offNotice = room.on('notice', (n: Notice) => print(formatNotice(n)));
  const reported = new Set<string>();
  const offFiles = room.files?.on('state', (info) => {
    const key = `${info.id}\u0000${info.peer}`;
    if (info.direction !== 'send' || !FINAL_STATES.has(info.state) || reported.has(key)) return;
    reported.add(key);
    print(formatSentFile(info));
  });
  return () => {
    offMessage();
    offNotice();
    offFiles?.();
  };
}

export interface InteractiveIo {
  input: Readable;
  output: Writable;
  errors: Writable;
}

/**
 * The room at a terminal: lines typed are sent, commands act on the room. Ends on /quit
 * (at once) or at the end of input (after waiting up to `timeoutMs` for receipts of what
 * was sent, so `echo hi | p2p-chat-cli ...` really delivers).
 */
export async function runInteractive(peer: HeadlessPeer, printer: Printer, io: InteractiveIo, timeoutMs: number): Promise<ExitCode> {
  const tty = (io.input as { isTTY?: boolean }).isTTY === true;
  const rl = createInterface({ input: io.input, output: tty ? io.output : undefined, terminal: tty, prompt: '> ' });
  printer.attach(tty ? rl : null);
  const say = (text: string) => printer.line(text);
  const sent: { message: ChatMessage; expected: string[] }[] = [];
  const sentFiles: { message: ChatMessage; expected: string[] }[] = [];

  say(`joined ${visible(peer.room.name)} as ${visible(peer.username)}; /help lists commands`);
  for (const line of formatMembers(peer.room.name, peer.room.members)) say(line);
  if (tty) rl.prompt();

  const send = async (text: string, to?: string) => {
    const expected = peer.deliveries.expectedFor(to);
    try {
      sent.push({ message: await peer.send(text, to), expected });
    } catch (e) {
      say(`! not sent: ${describeError(e)}`);
    }
  };

  let quitting = false;
  const handle = async (line: string): Promise<void> => {
    const cmd = parseCommand(line);
    switch (cmd.kind) {
      case 'empty':
        return;
      case 'say':
        return send(cmd.text);
      case 'msg':
        if (!peer.room.member(cmd.to)) return say(`! ${visible(cmd.to)} is not in this room`);
        return send(cmd.text, cmd.to);
      case 'verify': {
        const digits = await peer.safetyNumber(cmd.name);
        if (!digits) return say(`! ${visible(cmd.name)} is not in this room`);
        if (peer.room.member(cmd.name)?.trust === 'changed') say(`! ${visible(cmd.name)}'s key changed; this number is for the key you pinned before`);
        for (const l of formatSafetyNumber(peer.room.member(cmd.name)?.username ?? cmd.name, digits)) say(l);
        return;
      }
      case 'verified': {
        const m = peer.room.member(cmd.name);
        if (!m) return say(`! ${visible(cmd.name)} is not in this room`);
        if (m.trust === 'changed') return say(`! ${visible(m.username)}'s key changed: /accept it first, then verify again`);
        await peer.room.setVerified(cmd.name, true);
        return say(`* ${visible(m.username)} is now verified`);
      }
      case 'accept': {
        const m = peer.room.member(cmd.name);
        if (m?.trust !== 'changed') return say(`! ${visible(cmd.name)} has no changed key to accept`);
        await peer.room.acceptKey(cmd.name);
        return say(`* accepted ${visible(m.username)}'s new key (unverified: compare /verify ${visible(m.username)} with them)`);
      }
      case 'members':
        for (const l of formatMembers(peer.room.name, peer.room.members)) say(l);
        return;
      case 'send-file': {
        const expected = peer.deliveries.expectedFor();
        try {
          sentFiles.push({ message: await peer.sendFile(cmd.path), expected });
        } catch (e) {
          say(`! not sent: ${describeError(e)}`);
        }
        return;
      }
      case 'help':
        for (const l of COMMAND_HELP) say(`  ${l}`);
        return;
      case 'quit':
        quitting = true;
        rl.close();
        return;
      case 'invalid':
        return say(`! ${cmd.message}`);
    }
  };

  // Lines are handled one at a time, in order.
  let queue = Promise.resolve();
  rl.on('line', (line) => {
    queue = queue.then(() => handle(line)).catch((e: unknown) => say(`! ${describeError(e)}`));
  });
  if (tty) rl.on('SIGINT', () => {
    quitting = true;
    rl.close();
  });
  await new Promise<void>((resolve) => rl.once('close', resolve));
  await queue;
  printer.attach(null);
  if (quitting) return ExitCode.Ok;

  // End of input: give what was sent a chance to arrive.
  const deadline = Date.now() + timeoutMs;
  let allConfirmed = true;
  for (const { message, expected } of sent) {
    const report = await peer.deliveries.wait(message, expected, Math.max(0, deadline - Date.now()));
    if (report.missing.length > 0) {
      allConfirmed = false;
      for (const m of report.missing) io.errors.write(`p2p-chat-cli: "${visible(short(message.body))}" not confirmed by ${visible(m.username)}: ${m.why}\n`);
    }
  }
  for (const { message, expected } of sentFiles) {
    const report = await peer.waitForFile(message.id, expected, Math.max(0, deadline - Date.now()));
    if (report.missing.length > 0) {
      allConfirmed = false;
      for (const m of report.missing) io.errors.write(`p2p-chat-cli: file not verified by ${visible(m.username)}: ${m.why}\n`);
    }
  }
  return allConfirmed ? ExitCode.Ok : ExitCode.NotConfirmed;
}

function short(text: string): string {
  return [...text].length > 40 ? [...text].slice(0, 39).join('') + '…' : text;
}
