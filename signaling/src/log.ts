import pino from 'pino';

/**
 * Structured JSON logs. Only metadata is ever logged (event names, reasons, counts,
 * socket and process ids): never signals, join tokens, keys, signatures or names. The
 * redaction list is a second line of defence should a field slip into a log call.
 */
export function createLogger(level: string): pino.Logger {
  return pino({
    level,
    base: { service: 'p2p-chat-signaling' },
    redact: ['data', 'joinToken', 'sdp', 'signature', 'challenge', 'publicKey', 'username', 'password', 'credential'],
  });
}
export type Logger = pino.Logger;
