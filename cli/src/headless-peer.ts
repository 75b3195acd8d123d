import { join } from 'node:path';
import { normalizeRoomName, normalizeUsername } from '../../signaling/src/protocol.ts';
import { ChatClient, type ClientStatus } from '../../client/src/core/chat/chat-client.ts';
import type { ChatMessage } from '../../client/src/core/chat/ports.ts';
import type { RoomSession } from '../../client/src/core/chat/room-session.ts';
import type { TransferInfo } from '../../client/src/core/files/transfers.ts';
import type { PeerLinkFactory } from '../../client/src/core/net/peer-link.ts';
import type { SignalingLink } from '../../client/src/core/net/signaling-link.ts';
import { SocketIoSignaling } from '../../client/src/core/net/socketio-signaling.ts';
import { DeliveryWatch, type DeliveryReport } from './delivery.ts';
import { CliError, CliErrorCode } from './errors.ts';
import { Home, HOME_FILES } from './home.ts';
import { nodePeerFactory } from './node-peer-link.ts';
import { fileFromPath, NodeFiles, saveVerifiedFiles, waitForFileDelivery, type SavedFile } from './files.ts';
import { CONNECT_TIMEOUT_MS } from './limits.ts';

export interface HeadlessPeerOptions {
  /** Signaling server URL. */
  server: string;
  room: string;
  /** Defaults to the username saved in `home` by an earlier run. */
  user?: string;
  password?: string;
  /** Folder holding identity, contacts and history (see home.ts). */
  home: string;
  /**
   * Called with the room session as soon as it exists, before the first roster is
   * applied, so no notice (a key change found on joining) is missed.
   */
  onRoom?: (room: RoomSession) => void;
  /** Problems ChatClient reports (the server's notices, a failed re-join). */
  onProblem?: (message: string) => void;
  /** Connection state of the signaling link, after the first connection. */
  onStatus?: (status: ClientStatus, detail?: string) => void;
  connectTimeoutMs?: number;
  /** WebRTC for peer links; core's simple-peer adapter with Node's guards by default. */
  peers?: PeerLinkFactory;
  /** The signaling transport; socket.io to `server` by default (tests pass an in-memory one). */
  signaling?: SignalingLink;
  /** Where verified received files are written; `<home>/downloads` by default. */
  downloads?: string;
  onFileSaved?: (file: SavedFile) => void;
  /** A file offered to us that was refused, failed its check, or could not be written. */
  onFileFailed?: (info: TransferInfo, why: string) => void;
}

/**
 * The chat from a terminal or a bot: core's ChatClient in Node, with a file-backed home.
 *
 * WebRTC: core's simple-peer adapter works unchanged. simple-peer 10 takes WebRTC from
 * `webrtc-polyfill`, which in Node is libdatachannel (node-datachannel) with the standard
 * API, `bufferedamountlow` included; node-peer-link.ts adds two guards libdatachannel
 * needs. See cli/README.md for why not @roamhq/wrtc.
 */
export class HeadlessPeer {
  readonly client: ChatClient;
  readonly room: RoomSession;
  readonly home: Home;
  readonly deliveries: DeliveryWatch;
  readonly #files: NodeFiles;
  #closed = false;

  private constructor(client: ChatClient, room: RoomSession, home: Home, files: NodeFiles) {
    this.client = client;
    this.room = room;
    this.home = home;
    this.#files = files;
    this.deliveries = new DeliveryWatch(room);
  }

  get username(): string {
    return this.client.username!;
  }

  /** Connects, logs in (signing up on first use), joins the room. Throws CliError. */
  static async open(opts: HeadlessPeerOptions): Promise<HeadlessPeer> {
    const roomName = normalizeRoomName(opts.room);
    if (!roomName.ok) throw new CliError(CliErrorCode.Usage, `invalid room name (${roomName.reason})`);
    const home = await Home.open(opts.home);
    let files: NodeFiles;
    try {
      files = await NodeFiles.open(home.identity, join(home.dir, HOME_FILES.files));
    } catch (e) {
      await home.close().catch(() => undefined);
      throw new CliError(CliErrorCode.Storage, `cannot use ${join(home.dir, HOME_FILES.files)}: ${(e as Error).message}`, { cause: e });
    }
    const downloads = opts.downloads ?? join(home.dir, 'downloads');
    let client: ChatClient | undefined;
    try {
      const user = opts.user ?? home.username;
      if (!user) throw new CliError(CliErrorCode.Usage, `no username: give --user NAME (it is remembered in ${home.dir} afterwards)`);
      if (!normalizeUsername(user).ok) throw new CliError(CliErrorCode.Usage, `invalid username "${user}"`);

      client = new ChatClient({
        signaling: opts.signaling ?? new SocketIoSignaling(opts.server),
        peers: opts.peers ?? nodePeerFactory(),
        identity: home.identity,
        storage: home.storage,
        files: files.transfersFor,
        // The CLI is in exactly the room its command line names, not in rooms of earlier runs.
        rejoinSavedRooms: false,
      });
      const c = client;
      c.on('joined', (session) => {
        if (session.key !== roomName.key) return;
        saveVerifiedFiles(session, files.store, downloads, {
          saved: (f) => opts.onFileSaved?.(f),
          failed: (info, why) => opts.onFileFailed?.(info, why),
        });
        opts.onRoom?.(session);
      });
      if (opts.onProblem) c.on('problem', opts.onProblem);
      await waitOnline(c, opts.server, opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
      if (opts.onStatus) c.on('status', opts.onStatus);

      const login = await c.login(user);
      if (!login.ok) {
        const hint = login.error === 'username-taken' ? ` (the name belongs to another identity; this one is in ${home.dir})` : '';
        throw new CliError(CliErrorCode.Login, `could not log in as "${user}": ${login.message}${hint}`);
      }
      await home.saveUsername(login.value);

      const joined = await c.joinRoom(opts.room, { create: true, ...(opts.password !== undefined ? { password: opts.password } : {}) });
      if (!joined.ok) throw new CliError(CliErrorCode.Join, `could not join "${opts.room}": ${joined.message}`);
      return new HeadlessPeer(c, joined.value, home, files);
    } catch (e) {
      client?.close();
      files.close();
      await home.close().catch(() => undefined);
      throw e;
    }
  }

  /** Group message (or private with `to`); resolves once stored and queued for sending. */
  send(text: string, to?: string): Promise<ChatMessage> {
    return this.room.sendText(text, to);
  }

  /**
   * Sends and waits for receipts from every member online now (or from `to`), at most
   * `timeoutMs`. The report says who confirmed and, for the others, why not.
   */
  async sendAndConfirm(text: string, opts: { to?: string; timeoutMs: number }): Promise<DeliveryReport> {
    const expected = this.deliveries.expectedFor(opts.to);
    const message = await this.send(text, opts.to);
    return this.deliveries.wait(message, expected, opts.timeoutMs);
  }

  /** Sends a file from disk to everyone (or `to`); resolves once it is announced. */
  async sendFile(path: string, to?: string): Promise<ChatMessage> {
    return this.room.sendFile(await fileFromPath(path), to);
  }

  /**
   * Sends a file and waits until every member online now (or `to`) has verified it against
   * its signed SHA-256, at most `timeoutMs`.
   */
  async sendFileAndConfirm(path: string, opts: { to?: string; timeoutMs: number }): Promise<{ message: ChatMessage; confirmed: string[]; missing: { username: string; why: string }[]; expected: string[] }> {
    const expected = this.deliveries.expectedFor(opts.to);
    const message = await this.sendFile(path, opts.to);
    const report = await this.waitForFile(message.id, expected, opts.timeoutMs);
    return { message, expected, ...report };
  }

  waitForFile(id: string, expected: string[], timeoutMs: number): Promise<{ confirmed: string[]; missing: { username: string; why: string }[] }> {
    const files = this.room.files;
    if (!files) return Promise.resolve({ confirmed: [], missing: expected.map((username) => ({ username, why: 'files are not available' })) });
    return waitForFileDelivery(files, id, expected, timeoutMs);
  }

  /** The 60 digits both people compare out of band, or null when `username` was never in this room. */
  safetyNumber(username: string): Promise<string | null> {
    return this.room.safetyNumber(username);
  }

  /** True when every member online has a verified, open channel. */
  get allConnected(): boolean {
    return this.room.members.filter((m) => m.online).every((m) => m.connection === 'open');
  }

  /** Leaves the room, closes every channel and the server connection, saves, unlocks home. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.deliveries.close();
    this.client.close();
    this.#files.close();
    await this.home.close();
  }
}

function waitOnline(client: ChatClient, server: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let last = '';
    const done = (error?: CliError) => {
      clearTimeout(timer);
      off();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(
      () => done(new CliError(CliErrorCode.Connect, `could not reach the signaling server at ${server} within ${timeoutMs / 1000} s${last ? ` (${last})` : ''}`)),
      timeoutMs,
    );
    const off = client.on('status', (status, detail) => {
      if (detail) last = detail;
      if (status === 'online') done();
      else if (status === 'incompatible') done(new CliError(CliErrorCode.Connect, `the server at ${server} speaks another protocol version${detail ? `: ${detail}` : ''}`));
    });
    client.start();
  });
}
