import type { RoomSummary } from '../../../../signaling/src/protocol.ts';
import type { ChatClient, ClientStatus } from '../../core/chat/chat-client.ts';
import type { ChatMessage } from '../../core/chat/ports.ts';
import type { MemberView, Notice, RoomSession, TimelineItem } from '../../core/chat/room-session.ts';
import { ErrorCode, isChatError } from '../../core/errors.ts';
import { formatBytes } from '../../core/files/manifest.ts';
import { combineSendLines, formatTimeLeft, type TransferLine } from '../../core/files/progress.ts';
import { sanitizeFileName } from '../../core/files/sanitize.ts';
import { pickLanguage, translate, type Language, type MessageKey } from '../i18n.ts';

export interface Toast {
  id: number;
  text: string;
  tone: 'info' | 'error';
}

export interface JoinedRoomView {
  key: string;
  name: string;
  locked: boolean;
  unread: number;
}

/** What a room screen renders, rebuilt from its RoomSession on every change. */
class RoomView {
  readonly session: RoomSession;
  members = $state<MemberView[]>([]);
  /** Members who deleted this chat and asked us to delete our copy. */
  deleteRequests = $state<string[]>([]);
  /** A message to bring into view (from a search result). */
  focusId = $state<string | null>(null);
  /** Live transfers by file id: a file sent to several recipients shows as one (combineSendLines). */
  transfers = $state<Record<string, TransferView>>({});
  /** Each recipient's line of the files we send, by file id then recipient. */
  readonly #sendLines = new Map<string, Map<string, TransferView>>();
  /** Files chosen to send and not yet announced (being hashed and signed), by name, in order. */
  preparing = $state<string[]>([]);
  timeline = $state<TimelineItem[]>([]);
  unread = $state(0);
  /** Which messages the unread count holds, so a late-detected duplicate can be taken back. */
  readonly unreadIds = new Set<string>();

  constructor(session: RoomSession) {
    this.session = session;
  }

  /** The line of one transfer: the file we receive, or one recipient's of a file we send. */
  lineOf(id: string, direction: TransferView['direction'], peer: string): TransferView | undefined {
    return direction === 'receive' ? this.transfers[id] : this.#sendLines.get(id)?.get(peer);
  }

  /** Shows one transfer's line, combined with the other recipients' when sending. */
  showLine(id: string, line: TransferView): void {
    if (line.direction === 'receive') {
      this.transfers[id] = line;
      return;
    }
    const lines = this.#sendLines.get(id) ?? new Map<string, TransferView>();
    lines.set(line.peer, line);
    this.#sendLines.set(id, lines);
    const { error: _one, ...shown } = line;
    this.transfers[id] = { ...shown, ...combineSendLines([...lines.values()]) };
  }

  /** What people call this chat: the other person for a direct chat, else the room's name. */
  get title(): string {
    return this.session.directWith ?? this.session.name;
  }

  get isDirect(): boolean {
    return this.session.directWith !== undefined;
  }
}

const TOAST_MS = 4_000;

export interface TransferView extends TransferLine {
  /** As the other side sent it: sanitise (sanitizeFileName) before showing it. */
  name?: string;
  direction: 'send' | 'receive';
  peer: string;
}

export interface SearchHit {
  id: string;
  room: string;
  from: string;
  body: string;
  sentAt: number;
  /** [start, end) ranges of the body that matched, for highlighting as text. */
  ranges: [number, number][];
}

/** What the views need beyond the chat client: the local database and the keystore. */
export interface AppPersistence {
  savedUsername: string | null;
  rememberUsername(username: string): Promise<void>;
  search(query: string, room?: string): Promise<SearchHit[]>;
  /** A received or sent file, assembled from its stored chunks (disk-backed in browsers). */
  readFile(id: string, type: string): Promise<Blob>;
  /** What is stored about a file: verified, failed (and why), still arriving. */
  fileState(id: string): Promise<{ state: string; error?: string } | undefined>;
  createBackup(passphrase: string, includeHistory: boolean): Promise<Uint8Array>;
  /** A room to join from the invite link the app was opened with, if any. */
  invite: { room: string; password?: string } | null;
  /** Restores, then the app restarts as the restored user. */
  restoreBackup(file: Uint8Array, passphrase: string): Promise<void>;
}

/**
 * The application's state for the views: screens, the room list, the open room, toasts.
 * Components read it and call its methods; they never touch core directly.
 */
export class AppState {
  readonly client: ChatClient;
  status = $state<ClientStatus>('connecting');
  statusDetail = $state<string | undefined>(undefined);
  username = $state<string | null>(null);
  rooms = $state<RoomSummary[]>([]);
  joined = $state<RoomView[]>([]);
  /** Group rooms and direct chats, listed apart like Signal or Element do. */
  readonly groupRooms = $derived(this.joined.filter((r) => !r.isDirect));
  readonly directChats = $derived(this.joined.filter((r) => r.isDirect));
  currentKey = $state<string | null>(null);
  toasts = $state<Toast[]>([]);
  lang = $state<Language>('en');
  /** 'default' until the user answers; we only ask when they press the button. */
  notifications = $state<NotificationPermission | 'unsupported'>(
    typeof Notification === 'undefined' ? 'unsupported' : Notification.permission,
  );
  /** A password room waiting for its password (clicked in the list, or from an invite link). */
  passwordPrompt = $state<RoomSummary | null>(null);
  /** The user's own switch for system notifications (Settings). */
  notifyWanted = $state(true);
  /** Latest message text for screen readers. */
  announcement = $state('');
  #toastSeq = 0;

  /** True while a returning user is being logged in silently. */
  restoring = $state(false);
  readonly #persist: AppPersistence;

  constructor(client: ChatClient, languages: readonly string[], persist: AppPersistence) {
    this.client = client;
    this.lang = pickLanguage(languages);
    this.#persist = persist;
    this.restoring = persist.savedUsername !== null;
    client.on('status', (status, detail) => {
      this.status = status;
      this.statusDetail = detail;
      if (status === 'online' && !this.username && persist.savedUsername) void this.#restore(persist.savedUsername);
      else if (status !== 'online' && status !== 'connecting') this.restoring = false;
    });
    client.on('rooms', (rooms) => (this.rooms = rooms));
    client.on('joined', (session) => this.#track(session));
    client.on('left', (key) => {
      this.joined = this.joined.filter((r) => r.session.key !== key);
      if (this.currentKey === key) this.currentKey = null;
    });
    client.on('problem', (message) => this.toast(message, 'error'));
    client.on('direct', (_room, withUser, startedByMe) => {
      if (!startedByMe) this.toast(this.t('direct.started', { name: withUser }));
    });
  }

  t = (key: MessageKey, params?: Record<string, string | number>): string => translate(this.lang, key, params);

  /** One formatter per language: creating Intl formatters per message is costly. */
  readonly #timeFormat = $derived(new Intl.DateTimeFormat(this.lang, { hour: '2-digit', minute: '2-digit' }));
  formatTime = (at: number): string => this.#timeFormat.format(at);

  /** "23 MB of 168 MB · 25 MB/s · 6 s left"; speed and time left once they are known. */
  transferProgress = (t: { bytes: number; total: number; bytesPerSecond: number; etaMs: number | null }): string => {
    const done = formatBytes(t.bytes);
    const total = formatBytes(t.total);
    if (t.bytesPerSecond <= 0 || t.etaMs === null) return this.t('file.amount', { done, total });
    return this.t('file.progress', { done, total, speed: formatBytes(t.bytesPerSecond), eta: formatTimeLeft(t.etaMs) });
  };

  get current(): RoomView | undefined {
    return this.joined.find((r) => r.session.key === this.currentKey);
  }

  toast(text: string, tone: Toast['tone'] = 'info'): void {
    const id = ++this.#toastSeq;
    this.toasts = [...this.toasts, { id, text, tone }].slice(-4);
    setTimeout(() => (this.toasts = this.toasts.filter((t) => t.id !== id)), TOAST_MS);
  }

  dismissToast(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }

  async enableNotifications(): Promise<void> {
    if (typeof Notification === 'undefined') return;
    this.notifications = await Notification.requestPermission();
  }

  async login(name: string): Promise<string | null> {
    const r = await this.client.login(name);
    if (!r.ok) return this.#explain(r.error, r.message);
    this.username = r.value;
    await this.#persist.rememberUsername(r.value);
    void this.#acceptInvite();
    return null;
  }

  /** Opened from an invite link: join that room (asking for its password if it has one). */
  async #acceptInvite(): Promise<void> {
    const invite = this.#persist.invite;
    if (!invite) return;
    this.#persist.invite = null;
    const known = this.rooms.find((r) => r.name.toLowerCase() === invite.room.toLowerCase());
    if (known?.locked && !invite.password) {
      this.passwordPrompt = known;
      return;
    }
    const error = await this.join(invite.room, invite.password ? { password: invite.password } : {});
    if (error) this.toast(error, 'error');
  }

  /**
   * A link that opens this room directly. NOTE: the room travels in the URL fragment,
   * which browsers never send to any server; a password is never put in it.
   */
  inviteLink(view: RoomView): string {
    const url = new URL(window.location.href);
    url.search = '';
    url.hash = new URLSearchParams({ join: view.session.name }).toString();
    return url.href;
  }

  async copyInvite(view: RoomView): Promise<void> {
    const link = this.inviteLink(view);
    try {
      await navigator.clipboard.writeText(link);
      this.toast(this.t('invite.copied'));
    } catch {
      this.toast(link);
    }
  }

  /** A returning user is logged in by signing the server's challenge; no typing needed. */
  async #restore(name: string): Promise<void> {
    const error = await this.login(name);
    this.restoring = false;
    if (error) this.toast(error, 'error');
  }

  async join(name: string, opts: { password?: string; create?: boolean } = {}): Promise<string | null> {
    const r = await this.client.joinRoom(name, opts);
    if (!r.ok) return this.#explain(r.error, r.message);
    this.open(r.value.key);
    return null;
  }

  open(key: string | null): void {
    this.currentKey = key;
    const view = this.current;
    if (view) {
      view.unread = 0;
      view.unreadIds.clear();
    }
  }

  /**
   * Opens (or re-opens) a two-person chat with a member of the open room. Returns an
   * explanation when it could not.
   */
  async startDirect(username: string): Promise<string | null> {
    const from = this.currentKey;
    if (!from) return null;
    const r = await this.client.startDirect(from, username);
    if (!r.ok) {
      const error = this.#explain(r.error, r.message);
      this.toast(error, 'error');
      return error;
    }
    this.open(r.value.key);
    return null;
  }

  async leave(key: string): Promise<void> {
    await this.client.leaveRoom(key);
  }

  async send(text: string, to?: string): Promise<string | null> {
    const view = this.current;
    if (!view) return null;
    try {
      await view.session.sendText(text, to);
      return null;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }

  search(query: string): Promise<SearchHit[]> {
    return this.#persist.search(query);
  }

  /** Opens the room of a search hit and brings the message into view. */
  openHit(hit: SearchHit): void {
    this.open(hit.room);
    const view = this.current;
    if (view) view.focusId = hit.id;
  }

  async deleteChat(key: string, askOthers: boolean): Promise<void> {
    await this.client.deleteChat(key, askOthers);
    this.toast(this.t('delete.done'));
  }

  async answerDeleteRequest(view: RoomView, accept: boolean): Promise<void> {
    const from = view.deleteRequests;
    view.deleteRequests = [];
    if (!accept) return;
    await this.client.clearRoom(view.session.key);
    for (const user of from) {
      view.timeline = [...view.timeline, { type: 'notice', notice: { id: `deleted-${user}-${Date.now()}`, at: Date.now(), kind: 'deleted', user } }];
    }
  }

  async sendFiles(files: readonly File[], to?: string): Promise<string | null> {
    const view = this.current;
    if (!view) return null;
    const names = files.map((f) => f.name);
    view.preparing = [...view.preparing, ...names];
    let done = 0;
    try {
      for (const file of files) {
        try {
          await view.session.sendFile(file, to);
        } catch (e) {
          // Cancelled by the user before its card appeared: nothing to report.
          if (isChatError(e) && e.code === ErrorCode.FileCancelled) continue;
          return e instanceof Error ? e.message : String(e);
        } finally {
          view.preparing = dropFirst(view.preparing, file.name);
          done++;
        }
      }
      return null;
    } finally {
      // Files after one that failed are not sent.
      for (const name of names.slice(done)) view.preparing = dropFirst(view.preparing, name);
    }
  }

  readFile(id: string, type: string): Promise<Blob> {
    return this.#persist.readFile(id, type);
  }

  fileState(id: string): Promise<{ state: string; error?: string } | undefined> {
    return this.#persist.fileState(id);
  }

  cancelTransfer(view: RoomView, id: string): void {
    void view.session.files?.cancel(id);
  }

  createBackup(passphrase: string, includeHistory: boolean): Promise<Uint8Array> {
    return this.#persist.createBackup(passphrase, includeHistory);
  }

  restoreBackup(file: Uint8Array, passphrase: string): Promise<void> {
    return this.#persist.restoreBackup(file, passphrase);
  }

  async safetyNumber(room: RoomSession, username: string): Promise<string> {
    return (await room.safetyNumber(username)) ?? '';
  }

  #explain(code: string, message: string): string {
    const key = `error.${code}` as MessageKey;
    if (code === 'unavailable') return this.t('error.unreachable');
    const text = this.t(key);
    return text === key ? this.t('error.generic', { detail: message }) : text;
  }

  #track(session: RoomSession): void {
    const view = new RoomView(session);
    this.joined = [...this.joined, view];
    const refresh = () => (view.members = session.members);
    session.on('changed', refresh);
    session.on('message', (m, incoming) => this.#onMessage(view, m, incoming));
    session.on('notice', (n) => this.#onNotice(view, n));
    session.on('deleteRequest', (user) => {
      if (!view.deleteRequests.includes(user)) view.deleteRequests = [...view.deleteRequests, user];
    });
    session.on('cleared', () => (view.timeline = []));
    session.files?.on('state', (t) => {
      const prev = view.lineOf(t.id, t.direction, t.peer);
      view.showLine(t.id, {
        ...(prev ?? { bytes: 0, total: t.size, bytesPerSecond: 0, etaMs: null }),
        state: t.state,
        name: t.name,
        direction: t.direction,
        peer: t.peer,
        ...(t.error ? { error: t.error.message } : {}),
      });
      // In the room being looked at, the card itself says so.
      if (t.direction === 'receive' && t.state === 'verified' && !this.#lookingAt(view)) this.toast(this.t('file.received', { name: sanitizeFileName(t.name) }));
    });
    session.files?.on('progress', (p) => {
      const prev = view.lineOf(p.id, p.direction, p.peer);
      view.showLine(p.id, { ...(prev ?? { state: p.direction === 'send' ? 'sending' : 'receiving', direction: p.direction, peer: p.peer }), bytes: p.bytes, total: p.total, bytesPerSecond: p.bytesPerSecond, etaMs: p.etaMs });
    });
    session.on('duplicate', (id) => {
      if (view.unreadIds.delete(id)) view.unread = Math.max(0, view.unread - 1);
    });
    refresh();
    void session.history().then((messages) => {
      const known = new Set(view.timeline.map(itemId));
      const older: TimelineItem[] = messages.filter((m) => !known.has(m.id)).map((message) => ({ type: 'message', message }));
      view.timeline = [...older, ...view.timeline];
    });
  }

  #onMessage(view: RoomView, m: ChatMessage, incoming: boolean): void {
    const i = view.timeline.findIndex((it) => it.type === 'message' && it.message.id === m.id);
    if (i >= 0) view.timeline[i] = { type: 'message', message: m };
    else view.timeline = insertByTime(view.timeline, { type: 'message', message: m });
    if (!incoming) return;
    this.announcement = `${m.from}: ${m.body}`;
    if (!this.#lookingAt(view)) {
      view.unread++;
      view.unreadIds.add(m.id);
    }
    if (!tabVisible() && this.notifyWanted) notifyHidden(this.t('toast.newMessage', { name: m.from }), m.body);
  }

  /** The user has this room open in a visible tab. */
  #lookingAt(view: RoomView): boolean {
    return this.currentKey === view.session.key && tabVisible();
  }

  #onNotice(view: RoomView, n: Notice): void {
    view.timeline = [...view.timeline, { type: 'notice', notice: n }];
    const text = this.t(`notice.${n.kind}` as MessageKey, { name: n.user, detail: n.detail ?? '' });
    if (n.kind === 'joined' || n.kind === 'left') {
      // In a direct chat the other person coming and going is the whole roster: the
      // timeline says it, a toast naming them twice ("Binh joined Binh") would only confuse.
      if (!view.isDirect) this.toast(this.t(n.kind === 'joined' ? 'toast.joined' : 'toast.left', { name: n.user, room: view.title }));
    } else if (n.kind !== 'back') {
      this.toast(text, 'error');
    }
    this.announcement = text;
  }
}

function itemTime(it: TimelineItem): number {
  return it.type === 'message' ? it.message.sentAt : it.notice.at;
}

/** Relayed history can be older than what is shown; keep the timeline in time order. */
function insertByTime(timeline: TimelineItem[], item: TimelineItem): TimelineItem[] {
  let i = timeline.length;
  while (i > 0 && itemTime(timeline[i - 1]!) > itemTime(item)) i--;
  return [...timeline.slice(0, i), item, ...timeline.slice(i)];
}

function itemId(it: TimelineItem): string {
  return it.type === 'message' ? it.message.id : it.notice.id;
}

/** A system notification while the tab is hidden, if the user allowed them. */
function notifyHidden(title: string, body: string): void {
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  try {
    new Notification(title, { body: body.slice(0, 120), tag: 'chat-message' });
  } catch {
    // Some platforms only allow notifications from a service worker.
  }
}

/** `list` without the first `item` in it (names repeat when the same file is sent twice). */
function dropFirst(list: readonly string[], item: string): string[] {
  const i = list.indexOf(item);
  return i < 0 ? [...list] : [...list.slice(0, i), ...list.slice(i + 1)];
}

function tabVisible(): boolean {
  return typeof document === 'undefined' || document.visibilityState === 'visible';
}
