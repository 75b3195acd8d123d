import pino from 'pino';

/**
 * Structured JSON logs. Only metadata is ever logged (event names, reasons, counts,
 * socket ids): never message content, signals, join tokens or keys.
 */
export function createLogger(level: string): pino.Logger {
  return pino({ level, base: { service: 'p2p-chat-signaling' }, redact: ['data', 'joinToken', 'sdp', 'signature'] });
}
export type Logger = pino.Logger;
