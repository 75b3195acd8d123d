#!/usr/bin/env node
/**
 * p2p-chat-cli: the chat from a terminal or a script, on the same core as the web app.
 * `--help` for usage; exit codes in errors.ts (ExitCode) and cli/README.md.
 */
import { pathToFileURL } from 'node:url';
import { parseCliArgs, USAGE } from './args.ts';
import { CliError, CliErrorCode, describeError, ExitCode } from './errors.ts';
import { formatFileProblem, formatSavedFile, visible } from './format.ts';
import { HeadlessPeer } from './headless-peer.ts';
import { Printer, runInteractive, showRoom } from './interactive.ts';
import { sendFileOnce, sendOnce } from './send-once.ts';

export async function main(argv: string[], io = { input: process.stdin, output: process.stdout, errors: process.stderr }): Promise<ExitCode> {
  const fail = (message: string) => io.errors.write(`p2p-chat-cli: ${message}\n`);
  const args = parseCliArgs(argv);
  if (!args.ok) {
    fail(args.message);
    io.errors.write(`run with --help for usage\n`);
    return ExitCode.Usage;
  }
  if (args.help) {
    io.output.write(USAGE + '\n');
    return ExitCode.Ok;
  }
  const o = args.options;
  const printer = new Printer(io.output);
  const interactive = o.send === undefined && o.sendFile === undefined;
  let peer: HeadlessPeer | undefined;
  try {
    peer = await HeadlessPeer.open({
      server: o.server,
      room: o.room,
      home: o.home,
      ...(o.user !== undefined ? { user: o.user } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.downloads !== undefined ? { downloads: o.downloads } : {}),
      onFileSaved: (f) => printer.line(formatSavedFile(f)),
      onFileFailed: (info, why) => printer.line(formatFileProblem(info, why)),
      onRoom: (room) => {
        if (interactive) showRoom(room, (l) => printer.line(l), () => peer?.username ?? o.user ?? null);
      },
      onProblem: (message) => (interactive ? printer.line(`! ${visible(message)}`) : fail(visible(message))),
      onStatus: (status, detail) => {
        if (interactive && status !== 'online') printer.line(`* signaling ${status}${detail ? ` (${visible(detail)})` : ''}; open channels keep working`);
        else if (interactive) printer.line('* signaling online again');
      },
    });
  } catch (e) {
    fail(describeError(e));
    return e instanceof CliError && e.code === CliErrorCode.Usage ? ExitCode.Usage : ExitCode.Failed;
  }

  // Asked to stop (service manager, Ctrl-C in a pipe): leave the room properly, then exit.
  const stop = (signal: NodeJS.Signals) => {
    void peer.close().finally(() => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)));
  };
  process.once('SIGTERM', stop);
  if (!(io.input as { isTTY?: boolean }).isTTY) process.once('SIGINT', stop);
  try {
    const once = { timeoutMs: o.timeoutS * 1000, out: io.output, errors: io.errors, ...(o.to !== undefined ? { to: o.to } : {}) };
    if (o.send !== undefined) return await sendOnce(peer, o.send, once);
    if (o.sendFile !== undefined) return await sendFileOnce(peer, o.sendFile, once);
    return await runInteractive(peer, printer, io, o.timeoutS * 1000);
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    await peer.close().catch((e: unknown) => fail(describeError(e)));
  }
}

/** The process around main(): exit code, and no crash on a stray rejection deep in a transfer. */
export function run(): void {
  process.on('unhandledRejection', (e) => process.stderr.write(`p2p-chat-cli: internal error: ${describeError(e)}\n`));
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`p2p-chat-cli: ${describeError(e)}\n`);
      process.exit(ExitCode.Failed);
    },
  );
}

const isEntry = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isEntry) run();
