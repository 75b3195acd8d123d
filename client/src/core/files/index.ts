/**
 * File transfers: signed manifests, streamed encrypted chunks with backpressure and
 * resume, storage as they arrive, verification at the end, and safe names and previews.
 * Framework-free; RoomSession wires FileTransfers to its peer sessions.
 */
export * from './limits.ts';
export {
  buildManifest,
  fileMessageBody,
  formatBytes,
  hashBlob,
  newFileId,
  parseFileMessageBody,
  signedManifestOf,
  signFileManifest,
  transferIdOf,
  verifyFileMessageBody,
  verifySignedManifest,
  type BuildManifestInput,
  type SignedManifest,
  type VerifyContext,
} from './manifest.ts';
export { previewKind, safeBlobType, sanitizeFileName, type PreviewKind } from './sanitize.ts';
export { FINAL_STATES, ProgressMeter, type TransferDirection, type TransferProgress, type TransferState } from './progress.ts';
export { TransferSender, type TransferSenderEvents, type TransferSenderParams } from './sender.ts';
export { ALTERED_MESSAGE, TransferReceiver, type TransferReceiverEvents, type TransferReceiverParams } from './receiver.ts';
export { OPEN_STATES, type FileRowUpdate, type FileStore, type NewFile, type StoredChunk } from './file-store.ts';
export { FileTransfers, type FileTransfersDeps, type FileTransfersEvents, type TransferInfo } from './transfers.ts';
