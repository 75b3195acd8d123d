/** Library entry of the headless peer: bots and tests use the same pieces as the CLI. */
export { HeadlessPeer, type HeadlessPeerOptions } from './headless-peer.ts';
export { DeliveryWatch, type DeliveryReport } from './delivery.ts';
export { FileChatStorage } from './file-storage.ts';
export { Home, HOME_FILES } from './home.ts';
export { CliError, CliErrorCode, ExitCode } from './errors.ts';
export { main } from './main.ts';
export { NodeFiles, type SavedFile } from './files.ts';
export { DiskFileStore, type DiskFileStoreOptions } from './disk-file-store.ts';
export { nodePeerFactory } from './node-peer-link.ts';
