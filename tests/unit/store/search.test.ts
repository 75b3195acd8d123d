// Must come first: Dexie picks up the global indexedDB when it is first imported.
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_WORDS_PER_MESSAGE, MAX_WORD_LENGTH } from '../../../client/src/core/store/limits.ts';
import { addMessage, addMessages, deleteMessage, deleteRoom } from '../../../client/src/core/store/messages.ts';
import {
  foldForSearch,
  highlightRanges,
  parseQuery,
  searchMessages,
  tokenize,
} from '../../../client/src/core/store/search.ts';
import type { ChatDatabase } from '../../../client/src/core/store/db.ts';
import { countRowsRead, makeMessage, ManualClock, openFreshDb, T0 } from './helpers.ts';

const dbs: ChatDatabase[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
});
function fresh(): ChatDatabase {
  const db = openFreshDb();
  dbs.push(db);
  return db;
}

const clock = new ManualClock(T0);
const VI = 'Mình đang tìm kiếm nhà ở Đà Nẵng';

function slices(text: string, query: string): string[] {
  return highlightRanges(text, query).map(([s, e]) => text.slice(s, e));
}

describe('folding and words', () => {
  it('folds Vietnamese accents, đ and case away', () => {
    expect(foldForSearch('Tìm KIẾM')).toBe('tim kiem');
    expect(foldForSearch('Đà Nẵng')).toBe('da nang');
    expect(foldForSearch('đường ĐI')).toBe('duong di');
    // Decomposed input (as macOS may produce) folds the same as composed.
    expect(foldForSearch('Tìm kiếm'.normalize('NFD'))).toBe('tim kiem');
    // Compatibility forms: full-width letters, ligatures.
    expect(foldForSearch('ＡＢＣ ﬁle')).toBe('abc file');
  });

  it('indexes each word once, bounded in number and length', () => {
    expect(tokenize('Tìm kiếm, TÌM KIẾM! tim-kiem 42')).toEqual(['tim', 'kiem', '42']);
    expect(tokenize('  ... ')).toEqual([]);
    const many = Array.from({ length: 1000 }, (_, i) => `w${i}`).join(' ');
    expect(tokenize(many)).toHaveLength(MAX_WORDS_PER_MESSAGE);
    const [long] = tokenize('x'.repeat(500));
    expect(long).toHaveLength(MAX_WORD_LENGTH);
  });

  it('treats the word being typed as a prefix, a finished word as whole', () => {
    expect(parseQuery('tim ki')).toEqual({ exact: ['tim'], prefix: 'ki' });
    expect(parseQuery('tim ki ')).toEqual({ exact: ['tim', 'ki'] });
    expect(parseQuery('')).toEqual({ exact: [] });
  });
});

describe('search', () => {
  it('finds "tìm kiếm" typed as "tim kiem", and the other way round', async () => {
    const db = fresh();
    const accented = makeMessage({ body: VI });
    const plain = makeMessage({ body: 'ai tim kiem giup minh voi', sentAt: T0 + 1 });
    const other = makeMessage({ body: 'nothing to see', sentAt: T0 + 2 });
    await addMessages(db, [accented, plain, other], clock);

    const ids = async (q: string) => (await searchMessages(db, q)).map((m) => m.id);
    expect(await ids('tim kiem')).toEqual([plain.id, accented.id]);
    expect(await ids('TÌM KIẾM')).toEqual([plain.id, accented.id]);
    expect(await ids('da nang')).toEqual([accented.id]);
    expect(await ids('Đà Nẵng')).toEqual([accented.id]);
    expect(await ids('ĐÀ NẴNG')).toEqual([accented.id]);
  });

  it('needs every word of a multi-word query, the last one as a prefix', async () => {
    const db = fresh();
    const a = makeMessage({ body: 'coffee with Lan tomorrow' });
    const b = makeMessage({ body: 'coffee is ready', sentAt: T0 + 1 });
    const c = makeMessage({ body: 'tomorrow maybe', sentAt: T0 + 2 });
    await addMessages(db, [a, b, c], clock);

    expect((await searchMessages(db, 'coffee tomorrow')).map((m) => m.id)).toEqual([a.id]);
    expect((await searchMessages(db, 'coffee tomo')).map((m) => m.id)).toEqual([a.id]);
    expect((await searchMessages(db, 'tomo')).map((m) => m.id)).toEqual([c.id, a.id]);
    // A finished word must match whole.
    expect(await searchMessages(db, 'tomo ')).toEqual([]);
    expect(await searchMessages(db, 'coffee tea')).toEqual([]);
    expect(await searchMessages(db, '   ')).toEqual([]);
  });

  it('searches one room when asked, newest first, up to the limit', async () => {
    const db = fresh();
    const rows = Array.from({ length: 6 }, (_, i) =>
      makeMessage({ body: 'hẹn gặp lại', room: i % 2 === 0 ? 'general' : 'family', sentAt: T0 + i }),
    );
    await addMessages(db, rows, clock);

    const family = await searchMessages(db, 'hen gap', { room: 'family' });
    expect(family.map((m) => m.sentAt)).toEqual([T0 + 5, T0 + 3, T0 + 1]);
    const two = await searchMessages(db, 'hen gap', { limit: 2 });
    expect(two.map((m) => m.sentAt)).toEqual([T0 + 5, T0 + 4]);
  });

  it('finds file messages by file name, not by their JSON body', async () => {
    const db = fresh();
    const file = makeMessage({ kind: 'file', body: '{"sha256":"abc"}', searchText: 'Báo cáo tháng 5.pdf' });
    await addMessage(db, file, clock);
    expect((await searchMessages(db, 'bao cao')).map((m) => m.id)).toEqual([file.id]);
    expect(await searchMessages(db, 'sha256')).toEqual([]);
  });

  it('stops finding a message once it or its room is deleted', async () => {
    const db = fresh();
    const keep = makeMessage({ body: 'tìm kiếm một', room: 'a' });
    const gone = makeMessage({ body: 'tìm kiếm hai', room: 'a', sentAt: T0 + 1 });
    const inRoom = makeMessage({ body: 'tìm kiếm ba', room: 'b', sentAt: T0 + 2 });
    await addMessages(db, [keep, gone, inRoom], clock);
    expect(await db.messages.where('words').equals('kiem').count()).toBe(3);

    await deleteMessage(db, gone.id);
    expect((await searchMessages(db, 'tim kiem')).map((m) => m.id)).toEqual([inRoom.id, keep.id]);
    expect(await searchMessages(db, 'hai')).toEqual([]);

    await deleteRoom(db, 'b');
    expect((await searchMessages(db, 'tim kiem')).map((m) => m.id)).toEqual([keep.id]);
    // The index holds no entries for deleted rows.
    expect(await db.messages.where('words').equals('kiem').count()).toBe(1);
    expect(await db.messages.where('words').equals('ba').count()).toBe(0);
  });

  it('reads only matching rows, not the whole history, among 20,000 messages', async () => {
    const db = fresh();
    const read = countRowsRead(db, 'messages');
    const filler = ['hello', 'world', 'lunch', 'coffee', 'meeting', 'today', 'photo', 'thanks'];
    const rows = Array.from({ length: 20_000 }, (_, i) =>
      makeMessage({ body: `${filler[i % 8]} ${filler[(i * 3) % 8]}`, sentAt: T0 - i }),
    );
    const targets = [17, 9_001, 19_999].map((i) => {
      const row = rows[i];
      if (!row) throw new Error('bad index');
      row.body = `hello, hẹn gặp ở Đà Nẵng nhé (${i})`;
      return row;
    });
    for (let i = 0; i < rows.length; i += 5_000) await addMessages(db, rows.slice(i, i + 5_000), clock);

    read.rows = 0;
    const found = await searchMessages(db, 'da nang');
    expect(found.map((m) => m.id)).toEqual(targets.map((t) => t.id));
    expect(read.rows).toBe(3);

    // A common word with a rare one is driven by the rare one.
    read.rows = 0;
    expect(await searchMessages(db, 'hello nang')).toHaveLength(3);
    expect(read.rows).toBe(3);

    // The counter is honest: a table scan for the same thing reads every row.
    read.rows = 0;
    expect(await db.messages.filter((m) => m.body.includes('Nẵng')).count()).toBe(3);
    expect(read.rows).toBe(20_000);
  });
});

describe('highlighting', () => {
  it('marks the matched words in the original, accented text', () => {
    expect(slices(VI, 'tim kiem')).toEqual(['tìm', 'kiếm']);
    expect(slices(VI, 'DA NANG')).toEqual(['Đà', 'Nẵng']);
    // The word being typed is marked up to what was typed; finished words only whole.
    expect(slices(VI, 'da na')).toEqual(['Đà', 'Nẵ']);
    expect(slices('no match here', 'tim')).toEqual([]);
  });

  it('maps ranges into decomposed text without splitting a letter from its accents', () => {
    const nfd = VI.normalize('NFD');
    const ranges = highlightRanges(nfd, 'kiem');
    expect(ranges).toHaveLength(1);
    const [range] = ranges;
    expect(nfd.slice(range?.[0], range?.[1]).normalize('NFC')).toBe('kiếm');
  });
});
