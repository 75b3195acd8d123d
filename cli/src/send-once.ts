import type { Writable } from 'node:stream';
import { describeError, ExitCode } from './errors.ts';
import { visible } from './format.ts';
import type { HeadlessPeer } from './headless-peer.ts';

/**
 * `--send`: one message, then exit. 0 when every member online at sending time (or the
 * `--to` recipient) sent a receipt, 3 otherwise, with who did not and why on stderr.
 * What was not confirmed stays in the outbox in --home and goes out on a later run.
 */
export interface SendOnceOptions {
  to?: string;
  timeoutMs: number;
  out: Writable;
  errors: Writable;
}

export function sendOnce(peer: HeadlessPeer, text: string, opts: SendOnceOptions): Promise<ExitCode> {
  return deliverOnce(peer, opts, () => peer.sendAndConfirm(text, { timeoutMs: opts.timeoutMs, ...(opts.to !== undefined ? { to: opts.to } : {}) }), 'delivered to');
}

/**
 * `--send-file`: the same for a file, confirmed when each recipient checked the whole file
 * against its signed SHA-256 (not merely received the announcement).
 */
export function sendFileOnce(peer: HeadlessPeer, path: string, opts: SendOnceOptions): Promise<ExitCode> {
  return deliverOnce(peer, opts, () => peer.sendFileAndConfirm(path, { timeoutMs: opts.timeoutMs, ...(opts.to !== undefined ? { to: opts.to } : {}) }), 'file verified by');
}

async function deliverOnce(
  peer: HeadlessPeer,
  opts: SendOnceOptions,
  deliver: () => Promise<{ confirmed: string[]; missing: { username: string; why: string }[]; expected: string[] }>,
  verb: string,
): Promise<ExitCode> {
  if (opts.to !== undefined && !peer.room.member(opts.to)?.online) {
    opts.errors.write(`p2p-chat-cli: ${visible(opts.to)} is not in ${visible(peer.room.name)} right now; nothing was sent\n`);
    return ExitCode.NotConfirmed;
  }
  if (opts.to === undefined && peer.deliveries.expectedFor().length === 0) {
    opts.errors.write(`p2p-chat-cli: no one else is in ${visible(peer.room.name)} right now; nothing was sent\n`);
    return ExitCode.NotConfirmed;
  }
  let report;
  try {
    report = await deliver();
  } catch (e) {
    opts.errors.write(`p2p-chat-cli: not sent: ${describeError(e)}\n`);
    return ExitCode.NotConfirmed;
  }
  const n = report.expected.length;
  if (report.missing.length === 0) {
    opts.out.write(`${verb} ${n} of ${n}: ${report.confirmed.join(', ')}\n`);
    return ExitCode.Ok;
  }
  opts.errors.write(`p2p-chat-cli: ${verb === 'delivered to' ? 'delivery confirmed by' : verb} ${report.confirmed.length} of ${n}\n`);
  for (const m of report.missing) opts.errors.write(`  ${visible(m.username)}: ${m.why}\n`);
  return ExitCode.NotConfirmed;
}
