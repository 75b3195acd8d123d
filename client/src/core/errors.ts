/**
 * Every failure a user may need explained carries a stable code, so the UI can
 * translate it into words and tests can assert on it.
 */
export const ErrorCode = {
  Malformed: 'ERR_MALFORMED',
  Version: 'ERR_VERSION',
  BadSignature: 'ERR_BAD_SIGNATURE',
  Decrypt: 'ERR_DECRYPT',
  BadNonce: 'ERR_BAD_NONCE',
  Replay: 'ERR_REPLAY',
  CounterTooFar: 'ERR_COUNTER_TOO_FAR',
  FingerprintMismatch: 'ERR_FINGERPRINT_MISMATCH',
  IdentityMismatch: 'ERR_IDENTITY_MISMATCH',
  KeyChanged: 'ERR_KEY_CHANGED',
  RoomProof: 'ERR_ROOM_PROOF',
  HandshakeTimeout: 'ERR_HANDSHAKE_TIMEOUT',
  Renegotiation: 'ERR_RENEGOTIATION',
  FileHash: 'ERR_FILE_HASH',
  FileTooLarge: 'ERR_FILE_TOO_LARGE',
  FileSize: 'ERR_FILE_SIZE',
  FileOrder: 'ERR_FILE_ORDER',
  Quota: 'ERR_QUOTA',
  Backup: 'ERR_BACKUP',
  BackupPassphrase: 'ERR_BACKUP_PASSPHRASE',
  FileCancelled: 'ERR_FILE_CANCELLED',
  FileUnavailable: 'ERR_FILE_UNAVAILABLE',
  /** A direct-chat invitation was refused (changed key, too many, not from a member here). */
  InviteRefused: 'ERR_INVITE_REFUSED',
  /** The member is not connected right now, so nothing could be sent to them. */
  NotConnected: 'ERR_NOT_CONNECTED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class ChatError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ChatError';
    this.code = code;
  }
}

export function isChatError(e: unknown, code?: ErrorCode): e is ChatError {
  return e instanceof ChatError && (code === undefined || e.code === code);
}
