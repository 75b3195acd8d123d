/// <reference lib="dom" />
/**
 * The history bench page: the app's own store code (Dexie schema, `addMessages`, the chat
 * layer's storage port, `searchMessages`, `purgeExpired`) over Chromium's real IndexedDB,
 * built with Vite like the client and driven from Node through `window.historyBench`.
 * The history is generated here, not sent from Node: 100,000 messages over the DevTools
 * protocol would cost more than storing them.
 */
import { createDbStorage } from '../../../client/src/core/chat/db-storage.ts';
import { systemClock, type Clock } from '../../../client/src/core/store/clock.ts';
import { ChatDatabase } from '../../../client/src/core/store/db.ts';
import { HISTORY_TTL_MS } from '../../../client/src/core/store/limits.ts';
import { addMessages, type NewMessage } from '../../../client/src/core/store/messages.ts';
import { purgeExpired } from '../../../client/src/core/store/retention.ts';
import { saveRoom } from '../../../client/src/core/store/rooms.ts';
import { highlightRanges, searchMessages } from '../../../client/src/core/store/search.ts';
import type { HistoryBenchApi, PopulateSpec } from './api.ts';
import { mulberry32 } from '../../support/prng.ts';

const DB_NAME = 'history-bench';

/** Room keys as the protocol layer hands them over (normalised), with their share of the traffic. */
const ROOMS: readonly (readonly [name: string, weight: number, members: readonly string[]])[] = [
  ['general', 30, ['an', 'bình', 'chi', 'dũng', 'emma', 'giang', 'hoa', 'khoa']],
  ['gia đình', 20, ['mẹ', 'bố', 'an', 'lan']],
  ['công việc', 15, ['an', 'tuấn', 'mai', 'peter', 'sarah']],
  ['bạn bè', 12, ['an', 'hùng', 'linh', 'quân', 'vy']],
  ['dự án mobile', 10, ['an', 'john', 'minh', 'thảo']],
  ['du lịch', 6, ['an', 'lan', 'hoa']],
  ['lan', 4, ['an', 'lan']],
  ['peter', 3, ['an', 'peter']],
];

/** Everyday chat words, roughly most frequent first; drawn with a Zipf law by rank. */
const VIETNAMESE = (
  'em anh không có được rồi nhé đi ơi mình là và thì với cho ạ nha bạn chị này gì làm đó vậy ' +
  'hôm nay mai tối sáng chiều ăn cơm chưa về nhà đâu thế nào biết muốn cần xem nói hỏi gặp hẹn ' +
  'lại ok vâng dạ đang sẽ đã xong luôn nữa thôi quá lắm thật nhiều ít mới cũ tốt đẹp vui buồn mệt ' +
  'cảm ơn xin lỗi giúp gửi nhận ảnh tin nhắn điện thoại gọi chờ đợi đến trước sau giờ phút tuần ' +
  'tháng năm họp dự án báo cáo công việc sếp khách hàng hợp đồng tiền lương trường học thi điểm ' +
  'xe máy đường kẹt mưa nắng trời lạnh nóng cà phê trà sữa phở bún bánh mì quán ăn uống bia ' +
  'Hà Nội Sài Gòn Đà Nẵng Huế Hội An Nha Trang Đà Lạt biển núi vé máy bay khách sạn đặt phòng ' +
  'sinh nhật quà tặng con mẹ bố ông bà cháu anh chị em họ nghỉ lễ Tết về quê đón ' +
  'đẹp trai xinh gái yêu thương nhớ quên tìm kiếm thấy mất ví chìa khóa cửa mở đóng ' +
  'bệnh viện thuốc đau đầu khỏe ngủ dậy muộn sớm nhanh chậm'
).split(' ');

const ENGLISH = (
  'the i you to a and is it that ok for of in we on be can will have this lol yes no do not ' +
  'are thanks just what so but me at see my get with there how was let me know tomorrow today ' +
  'tonight meeting call later now time good great sure please sorry send file photo link back ' +
  'home work office project deadline report client budget review release bug fix deploy build ' +
  'test merge branch server laptop phone battery charger coffee lunch dinner beer pizza sushi ' +
  'weekend holiday trip flight hotel booking beach mountain rain sunny cold hot traffic train ' +
  'bus taxi birthday party gift mom dad kids school exam homework doctor sick tired sleep ' +
  'happy sad love miss remember forget found lost keys wallet door open closed ready done ' +
  'soon late early quick slow awesome cool nice funny weird crazy really maybe probably ' +
  'Danang Hanoi Saigon Hoi An Vietnam London Berlin airport visa passport'
).split(' ');

/** Picks from `items` with probability ∝ weight, by binary search over the running sums. */
function picker<T>(items: readonly T[], weights: readonly number[], rnd: () => number): () => T {
  const sums: number[] = [];
  let total = 0;
  for (const w of weights) sums.push((total += w));
  return () => {
    const x = rnd() * total;
    let lo = 0;
    let hi = sums.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sums[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return items[lo]!;
  };
}

const zipf = <T>(items: readonly T[], rnd: () => number) => picker(items, items.map((_, rank) => 1 / (rank + 1)), rnd);

function textMaker(rnd: () => number): () => string {
  const vi = zipf(VIETNAMESE, rnd);
  const en = zipf(ENGLISH, rnd);
  return () => {
    const word = rnd() < 0.65 ? vi : en;
    // Mostly short lines, some paragraphs, like a real chat.
    const r = rnd();
    const length = r < 0.4 ? 1 + Math.floor(rnd() * 4) : r < 0.88 ? 5 + Math.floor(rnd() * 11) : 16 + Math.floor(rnd() * 45);
    const words: string[] = [];
    for (let i = 0; i < length; i++) words.push(word());
    if (rnd() < 0.05) words.push(`https://example.com/p/${Math.floor(rnd() * 1e9).toString(36)}`);
    if (rnd() < 0.08) words.push(String(Math.floor(rnd() * 1000)));
    const text = words.join(' ');
    return text.charAt(0).toUpperCase() + text.slice(1) + (rnd() < 0.3 ? '?' : rnd() < 0.5 ? '!' : '');
  };
}

function randomId(rnd: () => number): string {
  // Same shape as the app's ids (16 random bytes, base64url): random order in the primary key.
  let id = '';
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (let i = 0; i < 22; i++) id += alphabet[Math.floor(rnd() * 64)];
  return id;
}

let db: ChatDatabase | undefined;

async function openDb(): Promise<ChatDatabase> {
  if (!db) {
    db = new ChatDatabase(DB_NAME);
    await db.open();
  }
  return db;
}

async function populate(spec: PopulateSpec) {
  const started = performance.now();
  const store = await openDb();
  const rnd = mulberry32(spec.seed);
  const text = textMaker(rnd);
  const room = picker(ROOMS, ROOMS.map(([, w]) => w), rnd);
  const end = Date.now();
  const span = HISTORY_TTL_MS / (1 - spec.expiredFraction);
  const start = end - span;
  for (const [name] of ROOMS) await saveRoom(store, { name, locked: false, ...(name === 'lan' || name === 'peter' ? { direct: name } : {}) }, { now: () => start });

  const perRoom = new Map<string, number>();
  let stored = 0;
  for (let first = 0; first < spec.total; first += spec.batch) {
    const batch: NewMessage[] = [];
    let last = start;
    for (let i = first; i < Math.min(spec.total, first + spec.batch); i++) {
      const [name, , members] = room();
      const sentAt = Math.round(start + (i / spec.total) * span + rnd() * 1000);
      last = Math.max(last, sentAt);
      perRoom.set(name, (perRoom.get(name) ?? 0) + 1);
      batch.push({
        id: randomId(rnd),
        room: name,
        from: members[Math.floor(rnd() * members.length)]!,
        sentAt,
        kind: 'text',
        body: text(),
        signature: randomId(rnd) + randomId(rnd) + randomId(rnd) + randomId(rnd).slice(0, 20),
      });
    }
    // Each batch arrives when it was sent, as live messages do; stored with a clock of
    // today, a message over 7 days old would be refused rather than left for the purge.
    const arrival: Clock = { now: () => last + 1000 };
    stored += await addMessages(store, batch, arrival);
  }
  const expired = await store.messages.where('expiresAt').belowOrEqual(Date.now()).count();
  return {
    rows: stored,
    expired,
    ms: performance.now() - started,
    rooms: [...perRoom].map(([name, rows]) => ({ name, rows })).sort((a, b) => b.rows - a.rows),
  };
}

async function timed(fn: () => Promise<number>): Promise<{ ms: number; rows: number }> {
  const started = performance.now();
  const rows = await fn();
  return { ms: performance.now() - started, rows };
}

const api: HistoryBenchApi = {
  async reset() {
    db?.close();
    db = undefined;
    await new ChatDatabase(DB_NAME).delete();
  },
  populate,
  async open(room, limit) {
    const storage = createDbStorage(await openDb(), systemClock);
    return timed(async () => (await storage.messages.recent(room, limit)).length);
  },
  async search(query) {
    const store = await openDb();
    // As boot.ts wires the search box: every room, the default limit, ranges to highlight.
    return timed(async () => {
      const hits = (await searchMessages(store, query)).map((m) => ({ id: m.id, room: m.room, body: m.body, ranges: highlightRanges(m.body, query) }));
      return hits.length;
    });
  },
  async scan() {
    const store = await openDb();
    return timed(async () => (await store.messages.toArray()).length);
  },
  async scanCursor() {
    const store = await openDb();
    return timed(async () => {
      let rows = 0;
      await store.messages.each(() => void rows++);
      return rows;
    });
  },
  async purge() {
    const store = await openDb();
    const result = await timed(async () => (await purgeExpired(store, systemClock)).messages);
    return { ...result, left: await store.messages.count() };
  },
  async prefixCount(prefix) {
    return (await openDb()).messages.where('words').startsWith(prefix).count();
  },
};

window.historyBench = api;
