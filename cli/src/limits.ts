/** Every bound the headless peer adds on top of core's, with why. */

/** Reaching the signaling server; socket.io keeps retrying underneath until then. */
export const CONNECT_TIMEOUT_MS = 20_000;

/** `--send` and end of input wait this long for delivery receipts unless `--timeout` says otherwise. */
export const DEFAULT_DELIVERY_TIMEOUT_S = 30;

/** Upper bound for `--timeout`: a script that hangs for a day is a bug, not patience. */
export const MAX_DELIVERY_TIMEOUT_S = 24 * 60 * 60;

/**
 * The storage file is rewritten whole on every change; past this size a bot would spend
 * its time rewriting history, so it refuses to grow further and says why (7-day expiry
 * usually keeps it far below).
 */
export const MAX_STORAGE_FILE_BYTES = 64 * 1024 * 1024;

/** Default home folder name under the user's home directory. */
export const DEFAULT_HOME_NAME = '.p2p-chat-cli';
