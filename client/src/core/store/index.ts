/**
 * The local storage layer: Dexie history database, idb keystore, retention, search,
 * encrypted backup. Framework-free; the UI reaches it only through core/chat.
 */
export { systemClock, type Clock } from './clock.ts';
export * from './limits.ts';
export {
  ChatDatabase,
  DEFAULT_DB_NAME,
  type ChunkRow,
  type ContactRow,
  type FileRow,
  type FileState,
  type MessageRow,
  type MessageStatus,
  type OutboxRow,
  type RoomRow,
} from './db.ts';
export { foldForSearch, highlightRanges, parseQuery, searchMessages, tokenize } from './search.ts';
export type { HighlightRange, ParsedQuery, SearchOptions } from './search.ts';
export {
  addMessage,
  addMessages,
  deleteMessage,
  deleteRoom,
  markDelivered,
  markSent,
  messagesSince,
  recentMessages,
} from './messages.ts';
export type { MessageCursor, NewMessage, SinceOptions } from './messages.ts';
export {
  addFile,
  countChunks,
  dexieFileStore,
  discardFile,
  lastContiguousChunk,
  putChunk,
  putChunks,
  readChunks,
  readFileBlob,
  setFileState,
} from './files.ts';
export type { DexieFileStoreOptions, NewFile } from './files.ts';
export { enqueueOutbox, pendingOutbox, removeFromOutbox } from './outbox.ts';
export type { NewOutboxEntry } from './outbox.ts';
export { countUnread, listRooms, markRoomRead, saveRoom } from './rooms.ts';
export type { RoomInfo } from './rooms.ts';
export { acceptContactKey, findContact, pinContactKey, setContactVerified } from './contacts.ts';
export type { PinResult } from './contacts.ts';
export { expiresAtFor, purgeExpired, startRetention } from './retention.ts';
export type { PurgeCounts, RetentionHooks } from './retention.ts';
export {
  DEFAULT_KEYSTORE_NAME,
  DEFAULT_SETTINGS,
  Keystore,
  openKeystore,
  SettingsSchema,
} from './keystore.ts';
export type { SettingKey, Settings, StoredIdentity } from './keystore.ts';
export {
  BACKUP_FORMAT,
  BACKUP_VERSION,
  exportBackup,
  FILE_NOT_IN_BACKUP,
  importBackup,
  readBackupData,
  restoreBackup,
  restoreBackupFile,
} from './backup.ts';
export type {
  BackupContact,
  BackupContents,
  BackupFile,
  BackupInput,
  BackupMessage,
  BackupRoom,
  ExportOptions,
  RestoreCounts,
} from './backup.ts';
export { isQuotaError, QUOTA_MESSAGE, requestPersistence, wrapQuota } from './quota.ts';
