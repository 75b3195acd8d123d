/**
 * Why the CLI stopped, with a stable code a script can match and a message a person can
 * act on. Core's own failures (ChatError) keep their codes and are shown as they are.
 */
export const CliErrorCode = {
  Usage: 'ERR_CLI_USAGE',
  HomeLocked: 'ERR_CLI_HOME_LOCKED',
  Identity: 'ERR_CLI_IDENTITY',
  Storage: 'ERR_CLI_STORAGE',
  Connect: 'ERR_CLI_CONNECT',
  Login: 'ERR_CLI_LOGIN',
  Join: 'ERR_CLI_JOIN',
} as const;
export type CliErrorCode = (typeof CliErrorCode)[keyof typeof CliErrorCode];

export class CliError extends Error {
  readonly code: CliErrorCode;
  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.code = code;
  }
}

/** Process exit codes, documented in cli/README.md. */
export const ExitCode = {
  Ok: 0,
  /** Could not connect, log in, join, or open the home folder. */
  Failed: 1,
  /** Bad command line (or a file to send that cannot be read). */
  Usage: 2,
  /** `--send`: at least one online member did not confirm delivery before the timeout. */
  NotConfirmed: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export function describeError(e: unknown): string {
  if (e instanceof Error) return 'code' in e && typeof e.code === 'string' ? `${e.message} (${e.code})` : e.message;
  return String(e);
}
