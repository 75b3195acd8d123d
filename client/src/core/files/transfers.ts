import type { Identity } from '../chat/identity.ts';
import type { PeerSession } from '../chat/peer-session.ts';
import { ChatError, ErrorCode, isChatError } from '../errors.ts';
import type { AppMessage, ChunkHeader } from '../net/wire.ts';
import { systemClock, type Clock } from '../store/clock.ts';
import type { FileRow } from '../store/db.ts';
import { toB64u } from '../crypto/bytes.ts';
import { Emitter } from '../util/emitter.ts';
import type { FileStore } from './file-store.ts';
import { HashPass } from './hash-pass.ts';
import { chooseChunkSize, DEFAULT_MAX_FILE_BYTES, PREFERRED_CHUNK_BYTES } from './limits.ts';
import {
  buildManifest,
  checkBegunManifest,
  formatBytes,
  isSigned,
  manifestFromWire,
  newFileId,
  sameFileFields,
  sameManifest,
  signedManifestOf,
  signFileManifest,
  unsignedManifest,
  verifySignedManifest,
  type SignedManifest,
} from './manifest.ts';
import type { TransferDirection, TransferProgress, TransferState } from './progress.ts';
import { TransferReceiver, type TransferReceiverParams } from './receiver.ts';
import { TransferSender } from './sender.ts';

/** What a view needs to show one transfer's line. */
export interface TransferInfo {
  id: string;
  /** The other side (case-folded): recipient when sending, sender when receiving. */
  peer: string;
  direction: TransferDirection;
  state: TransferState;
  /** Sanitised at the sender; sanitise again (sanitizeFileName) before any use. */
  name: string;
  size: number;
  error?: ChatError;
}

export interface FileTransfersEvents {
  state: (t: TransferInfo) => void;
  progress: (p: TransferProgress) => void;
}

export interface FileTransfersDeps {
  /** Manifests and chunks: IndexedDB in the browser, files on disk in the terminal peer. */
  store: FileStore;
  identity: Identity;
  /** Our username as the server registered it (manifests carry it as `from`). */
  username: string;
  /** The room key (`RoomSession.key`), which manifests are bound to. */
  room: string;
  clock?: Clock;
  /** Refuse to send or receive files larger than this (default DEFAULT_MAX_FILE_BYTES). */
  maxFileBytes?: number;
  /**
   * Keep a copy of sent files in our own store (default true): the sender sees its own
   * file in history, and can resume after its tab reloads. Costs one write of the file.
   */
  keepSentCopy?: boolean;
  /** Preferred chunk size; the link's maxMessageSize still caps it (tests lower it). */
  chunkBytes?: number;
  /** Flow-control window in bytes (tests shrink it). */
  windowBytes?: number;
}

/** The WebRTC default maxMessageSize, assumed when no recipient's channel is open to ask. */
const ASSUMED_MAX_MESSAGE = 64 * 1024;

type ReceiverParams = TransferReceiverParams;

interface Outgoing {
  /** Unsigned while the file is being hashed; every sender is given the signed one then. */
  signed: SignedManifest;
  sentAt: number;
  source: Blob | (() => Promise<Blob>);
  senders: Map<string, TransferSender>;
  /** We cancelled it (FileTransfers.cancel), possibly while it was still being hashed. */
  cancelled?: boolean;
  /** Hashing (and copying) the file, from the streams' reads: until the manifest is signed. */
  pass?: HashPass | null;
}

/**
 * Every file transfer of one room session, both directions, over the room's peer
 * sessions (one channel per member). Sending to the group is one transfer per recipient
 * channel, sharing one signed manifest. Wiring, done by RoomSession:
 *   - `attach(session)` for every PeerSession it creates (or call handleMessage,
 *     handleChunk, onSessionOpen and onSessionClosed yourself, not both);
 *   - store the 'file' chat message whose body is fileMessageBody(signedManifestOf(row)),
 *     with the message id equal to the file id.
 */
export class FileTransfers {
  readonly #deps: Required<Omit<FileTransfersDeps, 'chunkBytes' | 'windowBytes'>> & Pick<FileTransfersDeps, 'windowBytes'>;
  readonly #chunkBytes: number;
  readonly #events = new Emitter<FileTransfersEvents>();
  readonly #sessions = new Map<string, PeerSession>();
  readonly #outgoing = new Map<string, Outgoing>();
  readonly #incoming = new Map<string, TransferReceiver>();
  /** Offers being checked, so a repeated offer does not create the file twice. */
  readonly #pendingOffers = new Map<string, Promise<void>>();
  readonly #restoring = new Map<string, Promise<TransferReceiver>>();

  constructor(deps: FileTransfersDeps) {
    this.#deps = {
      clock: systemClock,
      maxFileBytes: DEFAULT_MAX_FILE_BYTES,
      keepSentCopy: true,
      ...deps,
    };
    this.#chunkBytes = deps.chunkBytes ?? PREFERRED_CHUNK_BYTES;
  }

  on<K extends keyof FileTransfersEvents>(event: K, handler: FileTransfersEvents[K]): () => void {
    return this.#events.on(event, handler);
  }

  get maxFileBytes(): number {
    return this.#deps.maxFileBytes;
  }

  /** Transfers in memory now (finished ones included until the room is left). */
  list(): TransferInfo[] {
    const out: TransferInfo[] = [];
    for (const o of this.#outgoing.values()) for (const s of o.senders.values()) out.push(this.#senderInfo(s));
    for (const r of this.#incoming.values()) out.push(this.#receiverInfo(r));
    return out;
  }

  /** Wires a PeerSession's events here; returns the unsubscribe. */
  attach(session: PeerSession): () => void {
    const offs = [
      session.on('chunk', (header, data) => this.handleChunk(session, header, data)),
      session.on('message', (m) => void this.handleMessage(session, m)),
      session.on('state', (state) => {
        if (state === 'open') this.onSessionOpen(session);
        else if (state === 'closed' || state === 'failed') this.onSessionClosed(session);
      }),
    ];
    if (session.isOpen) this.onSessionOpen(session);
    return () => offs.forEach((off) => off());
  }

  // ---- sending -------------------------------------------------------------------

  /**
   * Sends a file to everyone with an open channel (or `recipients`), or privately to `to`.
   * The chunks start at once (file-begin): the file is hashed meanwhile (HashPass), from
   * the reads that send it, which also write our own copy if configured, and the
   * manifest, signed once the hash is known, follows (file-manifest); recipients verify
   * against it when the last chunk is in. Resolves with the stored row once the manifest
   * is signed (the 'file' chat message carries it). Measured before, hashing first (files
   * bench, 128 MiB): 0.5-0.9 s passed before the first chunk left, on top of the transfer. Recipients without an open
   * channel get it when their channel opens, while this FileTransfers lives (or, with the
   * kept copy, also after a reload, when they ask).
   */
  async send(file: Blob & { name?: string; type?: string }, to?: string, opts: { recipients?: string[] } = {}): Promise<FileRow> {
    const { store, maxFileBytes, keepSentCopy } = this.#deps;
    if (file.size > maxFileBytes) {
      throw new ChatError(ErrorCode.FileTooLarge, `This file is ${formatBytes(file.size)}; files are limited to ${formatBytes(maxFileBytes)}.`);
    }
    const recipients = to ? [to.toLowerCase()] : (opts.recipients?.map((r) => r.toLowerCase()) ?? [...this.#sessions.keys()]);
    const me = this.#deps.username.toLowerCase();
    const targets = [...new Set(recipients)].filter((r) => r !== me);
    const linkSizes = targets.map((r) => this.#sessions.get(r)?.link.maxMessageSize).filter((n): n is number => n !== undefined);
    const chunkSize = chooseChunkSize(linkSizes.length > 0 ? Math.min(...linkSizes) : ASSUMED_MAX_MESSAGE, this.#chunkBytes);
    const id = newFileId();
    const sentAt = this.#deps.clock.now();
    const begun = unsignedManifest(
      buildManifest({
        file,
        name: file.name ?? 'file',
        type: file.type ?? '',
        room: this.#deps.room,
        from: this.#deps.username,
        ...(to ? { to } : {}),
        chunkSize,
        sha256: '',
        id,
      }),
    );
    if (!(await store.add({ ...begun.manifest, signature: '', sentAt, state: 'sending' }))) {
      throw new ChatError(ErrorCode.Malformed, 'This file could not be stored (is the clock right?).');
    }
    let signed: SignedManifest;
    const outgoing: Outgoing = { signed: begun, sentAt, source: file, senders: new Map() };
    try {
      const pass = await HashPass.create(file, chunkSize, keepSentCopy ? { store, id } : undefined);
      outgoing.pass = pass;
      this.#outgoing.set(id, outgoing);
      let streamExpected = false;
      for (const peer of targets) {
        const sender = this.#newSender(outgoing, peer);
        const session = this.#sessions.get(peer);
        if (!session?.isOpen) continue;
        streamExpected = true;
        void sender.attach(session);
      }
      const sha256 = await pass.run(streamExpected);
      signed = await signFileManifest(this.#deps.identity.privateKey, { ...begun.manifest, sha256 });
      await store.update(id, { sha256, signature: signed.sig });
      // Cancelled just as its hash was done: nothing is announced either.
      if (outgoing.cancelled) throw new ChatError(ErrorCode.FileCancelled, 'You cancelled this file.');
    } catch (e) {
      // Cancelled while being hashed (its pass was stopped) or since: say so, whatever failed.
      const error = outgoing.cancelled ? new ChatError(ErrorCode.FileCancelled, 'You cancelled this file.') : asChatError(e);
      this.#outgoing.delete(id);
      for (const sender of outgoing.senders.values()) sender.abandon(error);
      // No message will refer to it: remove the row too, not only its chunks.
      await store.delete(id).catch(() => undefined);
      throw error;
    } finally {
      outgoing.pass = null;
    }
    outgoing.signed = signed;
    for (const sender of outgoing.senders.values()) sender.sign(signed);
    if (targets.length === 0) await store.setState(id, 'sent');
    else await this.#maybeFinishOutgoing(outgoing);
    const stored = await store.get(id);
    if (!stored) throw new ChatError(ErrorCode.Malformed, 'This file is no longer stored on this device.');
    return stored;
  }

  #newSender(outgoing: Outgoing, peer: string): TransferSender {
    const sender = new TransferSender({
      signed: outgoing.signed,
      sentAt: outgoing.sentAt,
      peer,
      source: outgoing.source,
      tap: (from) => outgoing.pass?.open(from) ?? null,
      now: () => this.#deps.clock.now(),
      ...(this.#deps.windowBytes ? { windowBytes: this.#deps.windowBytes } : {}),
    });
    outgoing.senders.set(peer, sender);
    sender.on('progress', (p) => this.#events.emit('progress', p));
    sender.on('state', () => {
      this.#events.emit('state', this.#senderInfo(sender));
      if (sender.finished) void this.#maybeFinishOutgoing(outgoing).catch(ignoreClosed);
    });
    this.#events.emit('state', this.#senderInfo(sender));
    return sender;
  }

  async #maybeFinishOutgoing(outgoing: Outgoing): Promise<void> {
    const senders = [...outgoing.senders.values()];
    // Still being hashed (and copied): send() finishes it once signed.
    if (!isSigned(outgoing.signed) || !senders.every((s) => s.finished)) return;
    const id = outgoing.signed.manifest.id;
    const { store } = this.#deps;
    const row = await store.get(id);
    if (row?.state === 'sending') await store.setState(id, 'sent');
    // Let go of the original (a pasted image lives in memory); a late request for it is
    // served from our stored copy.
    outgoing.source = () => store.readBlob(id, 'application/octet-stream');
  }

  // ---- receiving -----------------------------------------------------------------

  async #onOffer(session: PeerSession, msg: OfferMessage): Promise<void> {
    const offered = offeredManifest(msg);
    const id = offered.manifest.id;
    const peer = session.peerUsername.toLowerCase();
    const known = this.#incoming.get(id);
    if (known) {
      if (await this.#sameFileOrRefuse(session, known, offered)) known.answerOffer(session);
      return;
    }
    const pending = this.#pendingOffers.get(id);
    if (pending) return pending.then(() => this.#onOffer(session, msg));
    const task = this.#acceptOffer(session, offered, msg.sentAt, peer).finally(() => this.#pendingOffers.delete(id));
    this.#pendingOffers.set(id, task);
    return task;
  }

  #verifyContext(session: PeerSession) {
    return {
      peerKey: session.peerKey,
      peer: session.peerUsername,
      room: this.#deps.room,
      me: this.#deps.username,
      maxFileBytes: this.#deps.maxFileBytes,
    };
  }

  /**
   * Whether an offer for a file we already know (`receiver`) is that file, from its sender;
   * if not, it is refused, unless its signed manifest has just failed the file (the sender
   * was told why then).
   */
  async #sameFileOrRefuse(session: PeerSession, receiver: TransferReceiver, offered: SignedManifest): Promise<boolean> {
    const wasFinished = receiver.finished;
    if (receiver.peer === session.peerUsername.toLowerCase() && (await this.#agrees(session, receiver, offered))) return true;
    if (wasFinished || !receiver.finished) this.#refuse(session, offered, idInUse(session));
    return false;
  }

  /**
   * Whether `offered` is the file `receiver` is receiving: the same fields, and the same
   * signature once both are signed. A signed offer for a file begun unsigned brings its
   * manifest (checked first); one whose signature does not hold fails the file.
   */
  async #agrees(session: PeerSession, receiver: TransferReceiver, offered: SignedManifest): Promise<boolean> {
    if (!sameFileFields(receiver.signed.manifest, offered.manifest)) return false;
    if (!isSigned(offered)) return true;
    if (isSigned(receiver.signed)) return sameManifest(receiver.signed, offered);
    await this.#applyManifest(session, receiver, offered);
    return !receiver.finished;
  }

  /** The signed manifest of a file begun unsigned: checked, then kept and verified against. */
  async #applyManifest(session: PeerSession, receiver: TransferReceiver, signed: SignedManifest): Promise<void> {
    try {
      await verifySignedManifest(signed, this.#verifyContext(session));
    } catch (e) {
      await receiver.refuseManifest(asChatError(e));
      return;
    }
    await receiver.applyManifest(signed);
  }

  async #onManifest(session: PeerSession, msg: Extract<AppMessage, { t: 'file-manifest' }>): Promise<void> {
    const signed = signedFromOffer(msg);
    const id = signed.manifest.id;
    await this.#pendingOffers.get(id);
    await this.#restoring.get(id);
    const receiver = this.#incoming.get(id);
    if (!receiver || receiver.peer !== session.peerUsername.toLowerCase() || receiver.finished) return;
    if (isSigned(receiver.signed)) return; // told twice (a re-offer brought it too)
    if (!sameFileFields(receiver.signed.manifest, signed.manifest)) {
      await receiver.refuseManifest(new ChatError(ErrorCode.BadSignature, `${session.peerUsername}'s file was refused: its signed manifest describes another file.`));
      return;
    }
    await this.#applyManifest(session, receiver, signed);
  }

  async #acceptOffer(session: PeerSession, offered: SignedManifest, sentAt: number, peer: string): Promise<void> {
    const { store } = this.#deps;
    try {
      if (isSigned(offered)) await verifySignedManifest(offered, this.#verifyContext(session));
      else await checkBegunManifest(offered.manifest, this.#verifyContext(session));
    } catch (e) {
      this.#refuse(session, offered, asChatError(e));
      return;
    }
    const id = offered.manifest.id;
    const existing = await store.get(id);
    let receiver: TransferReceiver;
    if (existing) {
      // Seen before (a reload, or a re-offer after a drop): same file, or refused.
      const params: ReceiverParams = { store, signed: signedManifestOf(existing), peer, now: () => this.#deps.clock.now() };
      if (existing.from.toLowerCase() !== peer || !sameFileFields(existing, offered.manifest)) {
        this.#refuse(session, offered, idInUse(session));
        return;
      }
      receiver = await this.#restoreReceiver(existing, params);
      if (!(await this.#sameFileOrRefuse(session, receiver, offered))) return;
    } else {
      try {
        const added = await store.add({ ...offered.manifest, signature: offered.sig, sentAt, state: 'receiving' });
        if (!added) {
          this.#refuse(session, offered, new ChatError(ErrorCode.Malformed, `${session.peerUsername}'s file was refused: it is older than the 7-day history.`));
          return;
        }
      } catch (e) {
        const error = asChatError(e);
        this.#refuse(session, offered, error, error.code === ErrorCode.Quota ? 'quota' : 'refused');
        return;
      }
      receiver = await TransferReceiver.create({ store, signed: offered, peer, now: () => this.#deps.clock.now() });
      this.#trackReceiver(receiver);
    }
    receiver.answerOffer(session);
  }

  /** One receiver per file even when a re-offer and a reconnect both ask at once. */
  #restoreReceiver(row: FileRow, params: ReceiverParams): Promise<TransferReceiver> {
    const existing = this.#incoming.get(row.id);
    if (existing) return Promise.resolve(existing);
    let pending = this.#restoring.get(row.id);
    if (!pending) {
      pending = TransferReceiver.restore(params, row.state)
        .then((receiver) => {
          this.#trackReceiver(receiver);
          return receiver;
        })
        .finally(() => this.#restoring.delete(row.id));
      this.#restoring.set(row.id, pending);
    }
    return pending;
  }

  #trackReceiver(receiver: TransferReceiver): void {
    this.#incoming.set(receiver.id, receiver);
    receiver.on('progress', (p) => this.#events.emit('progress', p));
    receiver.on('state', () => this.#events.emit('state', this.#receiverInfo(receiver)));
    this.#events.emit('state', this.#receiverInfo(receiver));
  }

  /** An offer we will not take: tell the sender, warn our user. Nothing is stored. */
  #refuse(session: PeerSession, signed: SignedManifest, error: ChatError, reason?: 'refused' | 'too-large' | 'quota'): void {
    const why = reason ?? (error.code === ErrorCode.FileTooLarge ? 'too-large' : 'refused');
    if (session.isOpen) void session.sendMessage({ t: 'file-cancel', id: signed.manifest.id, reason: why }).catch(() => undefined);
    this.#events.emit('state', {
      id: signed.manifest.id,
      peer: session.peerUsername.toLowerCase(),
      direction: 'receive',
      state: 'failed',
      name: signed.manifest.name,
      size: signed.manifest.size,
      error,
    });
  }

  /**
   * Fetches a file announced in a 'file' chat message (e.g. one relayed in history, or
   * sent while we were away) from its author, over the author's open channel. The author
   * serves it from its stored copy if it still has one, else says it is unavailable.
   */
  request(session: PeerSession, signed: SignedManifest, sentAt: number): Promise<void> {
    return this.#onOffer(session, { t: 'file-offer', manifest: signed.manifest, sig: signed.sig, sentAt });
  }

  // ---- wiring --------------------------------------------------------------------

  /** Routes a file control message; true when it was one (consumed), false otherwise. */
  handleMessage(session: PeerSession, msg: AppMessage): boolean {
    const peer = session.peerUsername.toLowerCase();
    switch (msg.t) {
      case 'file-offer':
      case 'file-begin':
        void this.#onOffer(session, msg).catch((e: unknown) => this.#refuse(session, offeredManifest(msg), asChatError(e)));
        return true;
      case 'file-manifest':
        void this.#onManifest(session, msg).catch(ignoreClosed);
        return true;
      case 'file-resume':
        void this.#onResume(session, msg.id, msg.from).catch(ignoreClosed);
        return true;
      case 'file-ack':
        this.#outgoing.get(msg.id)?.senders.get(peer)?.acknowledge(msg.upTo);
        return true;
      case 'file-verified':
        this.#outgoing.get(msg.id)?.senders.get(peer)?.verified();
        return true;
      case 'file-end': {
        const r = this.#incoming.get(msg.id);
        if (r && r.peer === peer) r.handleEnd(session);
        return true;
      }
      case 'file-cancel': {
        const sender = this.#outgoing.get(msg.id)?.senders.get(peer);
        if (sender) {
          sender.remoteCancel(msg.reason);
          return true;
        }
        // A sender that could not read its file cancels right after beginning it: the
        // offer may still be being checked here.
        const pending = this.#pendingOffers.get(msg.id) ?? Promise.resolve();
        void pending.then(() => {
          const r = this.#incoming.get(msg.id);
          if (r && r.peer === peer) return r.remoteCancel(msg.reason);
        }).catch(ignoreClosed);
        return true;
      }
      default:
        return false;
    }
  }

  /** A sealed chunk frame arrived (PeerSession 'chunk'). */
  handleChunk(session: PeerSession, header: ChunkHeader, data: Uint8Array): void {
    const r = this.#incoming.get(toB64u(header.transferId));
    if (!r || r.peer !== session.peerUsername.toLowerCase()) return;
    r.handleChunk(session, header, data);
  }

  /**
   * A channel to a member opened (first time or again). Files we were receiving from them
   * resume from the last chunk stored, including files left over from before a reload;
   * files we were sending them are offered if they never answered.
   */
  onSessionOpen(session: PeerSession): void {
    const peer = session.peerUsername.toLowerCase();
    this.#sessions.set(peer, session);
    for (const o of this.#outgoing.values()) {
      const sender = o.senders.get(peer);
      if (sender && !sender.finished) void sender.attach(session);
    }
    void this.#resumeIncoming(session, peer).catch(ignoreClosed);
  }

  async #resumeIncoming(session: PeerSession, peer: string): Promise<void> {
    const rows = await this.#deps.store.inRoom(this.#deps.room);
    for (const row of rows) {
      if (row.from.toLowerCase() !== peer || (row.state !== 'receiving' && row.state !== 'verifying')) continue;
      if (this.#sessions.get(peer) !== session) return;
      let receiver = this.#incoming.get(row.id);
      if (!receiver) {
        receiver = await this.#restoreReceiver(row, {
          store: this.#deps.store,
          signed: signedManifestOf(row),
          peer,
          now: () => this.#deps.clock.now(),
        });
      }
      if (receiver.finished && receiver.state !== 'verified') continue;
      receiver.bind(session);
      receiver.requestResume(session);
    }
  }

  /** A channel closed: its transfers are interrupted until the member is back. */
  onSessionClosed(session: PeerSession): void {
    const peer = session.peerUsername.toLowerCase();
    if (this.#sessions.get(peer) === session) this.#sessions.delete(peer);
    for (const o of this.#outgoing.values()) o.senders.get(peer)?.detach(session);
    for (const r of this.#incoming.values()) if (r.peer === peer) r.unbind(session);
  }

  async #onResume(session: PeerSession, id: string, from: number): Promise<void> {
    const peer = session.peerUsername.toLowerCase();
    let outgoing = this.#outgoing.get(id);
    if (!outgoing) outgoing = await this.#reviveOutgoing(id, peer);
    if (!outgoing) {
      if (session.isOpen) void session.sendMessage({ t: 'file-cancel', id, reason: 'unavailable' }).catch(() => undefined);
      return;
    }
    let sender = outgoing.senders.get(peer);
    if (!sender) {
      const { to } = outgoing.signed.manifest;
      // Only the addressee of a private file may fetch it; a group file, any room member.
      if (to !== undefined && to.toLowerCase() !== peer) {
        if (session.isOpen) void session.sendMessage({ t: 'file-cancel', id, reason: 'unavailable' }).catch(() => undefined);
        return;
      }
      sender = this.#newSender(outgoing, peer);
    }
    sender.resume(session, from);
  }

  /** After a reload: a file we sent, resumable from our stored copy if it is complete. */
  async #reviveOutgoing(id: string, peer: string): Promise<Outgoing | undefined> {
    const { store } = this.#deps;
    const row = await store.get(id);
    if (!row || row.room !== this.#deps.room || row.from.toLowerCase() !== this.#deps.username.toLowerCase()) return undefined;
    if (row.state !== 'sending' && row.state !== 'sent') return undefined;
    // Never signed (the page closed while hashing): no recipient could ever verify it.
    if (row.signature === '') return undefined;
    if (row.to !== undefined && row.to.toLowerCase() !== peer) return undefined;
    if ((await store.countChunks(id)) !== row.chunkCount) return undefined;
    const again = this.#outgoing.get(id);
    if (again) return again;
    const outgoing: Outgoing = {
      signed: signedManifestOf(row),
      sentAt: row.sentAt,
      source: () => store.readBlob(id, 'application/octet-stream'),
      senders: new Map(),
    };
    this.#outgoing.set(id, outgoing);
    return outgoing;
  }

  // ---- user actions --------------------------------------------------------------

  /** Cancels a file in either direction; the other side is told, stored chunks removed. */
  async cancel(id: string): Promise<void> {
    const outgoing = this.#outgoing.get(id);
    if (outgoing) {
      outgoing.cancelled = true;
      outgoing.pass?.stop(new ChatError(ErrorCode.FileCancelled, 'You cancelled this file.'));
      for (const s of outgoing.senders.values()) s.cancel();
      if (this.#deps.keepSentCopy) await this.#deps.store.discard(id, 'You cancelled this file.');
      else await this.#deps.store.setState(id, 'failed', 'You cancelled this file.');
    }
    await this.#incoming.get(id)?.cancel();
  }

  /** Stops everything (leaving the room); transfers in progress resume when we come back. */
  close(): void {
    for (const s of [...this.#sessions.values()]) this.onSessionClosed(s);
    this.#events.clear();
  }

  #senderInfo(s: TransferSender): TransferInfo {
    const m = s.signed.manifest;
    return { id: s.id, peer: s.peer, direction: 'send', state: s.state, name: m.name, size: m.size, ...(s.error ? { error: s.error } : {}) };
  }

  #receiverInfo(r: TransferReceiver): TransferInfo {
    const m = r.signed.manifest;
    return { id: r.id, peer: r.peer, direction: 'receive', state: r.state, name: m.name, size: m.size, ...(r.error ? { error: r.error } : {}) };
  }
}

type OfferMessage = Extract<AppMessage, { t: 'file-offer' | 'file-begin' }>;

function signedFromOffer(msg: Extract<AppMessage, { t: 'file-offer' | 'file-manifest' }>): SignedManifest {
  return { manifest: manifestFromWire(msg.manifest), sig: msg.sig };
}

/** The manifest an offer carries: signed (file-offer), or not yet (file-begin). */
function offeredManifest(msg: OfferMessage): SignedManifest {
  if (msg.t === 'file-offer') return signedFromOffer(msg);
  return unsignedManifest({ ...manifestFromWire(msg.manifest), sha256: '' });
}

/** Why an offer naming a file we know as another is refused. */
function idInUse(session: PeerSession): ChatError {
  return new ChatError(ErrorCode.Malformed, `${session.peerUsername}'s file was refused: its id is already in use.`);
}

/** Background store work after the database closed (the room was left): nothing to do. */
function ignoreClosed(e: unknown): void {
  if (e instanceof Error && e.name === 'DatabaseClosedError') return;
  console.error('file transfer', e);
}

function asChatError(e: unknown): ChatError {
  return isChatError(e) ? e : new ChatError(ErrorCode.Malformed, e instanceof Error ? e.message : String(e), { cause: e });
}
