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
  type SearchOptions,
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

  it('lists a message once when several of its words start with the prefix', async () => {
    const db = fresh();
    const both = makeMessage({ body: 'tomato soup tomorrow' });
    const one = makeMessage({ body: 'tomorrow then', sentAt: T0 + 1 });
    await addMessages(db, [both, one], clock);
    expect((await searchMessages(db, 'tom')).map((m) => m.id)).toEqual([one.id, both.id]);
    expect((await searchMessages(db, 'soup tom')).map((m) => m.id)).toEqual([both.id]);
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

describe('search for a common word', () => {
  it('returns the newest hits in order, reading the newest rows instead of every match', async () => {
    const db = fresh();
    const read = countRowsRead(db, 'messages');
    // "hello" in 3 of 4 messages; two rooms; pairs of messages share a sentAt to test ties.
    const rows = Array.from({ length: 20_000 }, (_, i) =>
      makeMessage({
        body: i % 4 === 3 ? 'lunch today' : `hello ${i % 7 === 0 ? 'world' : 'there'}`,
        room: i % 3 === 0 ? 'family' : 'general',
        sentAt: T0 - Math.floor(i / 2),
      }),
    );
    for (let i = 0; i < rows.length; i += 5_000) await addMessages(db, rows.slice(i, i + 5_000), clock);
    const all = await db.messages.toArray();
    const expected = (keep: (m: (typeof all)[number]) => boolean, limit = 50) =>
      all
        .filter(keep)
        .sort((a, b) => b.sentAt - a.sentAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
        .slice(0, limit)
        .map((m) => m.id);
    const ids = async (query: string, options?: SearchOptions) => (await searchMessages(db, query, options)).map((m) => m.id);

    read.rows = 0;
    expect(await ids('hel')).toEqual(expected((m) => m.words.includes('hello')));
    expect(read.rows).toBeLessThan(200);

    read.rows = 0;
    expect(await ids('hello', { room: 'family', limit: 20 })).toEqual(expected((m) => m.room === 'family' && m.words.includes('hello'), 20));
    expect(read.rows).toBeLessThan(200);

    // Every word still has to match: "hello world" is in about 1 message in 9.
    expect(await ids('hello world ')).toEqual(expected((m) => m.words.includes('hello') && m.words.includes('world')));
    expect(await ids('hello zebra')).toEqual([]);

    // A room with fewer matches than the limit: every one of them, newest first.
    const tiny = Array.from({ length: 10 }, (_, i) => makeMessage({ body: 'hello tiny', room: 'tiny', sentAt: T0 - 30_000 + i }));
    await addMessages(db, tiny, clock);
    expect(await ids('hello', { room: 'tiny' })).toEqual(tiny.map((m) => m.id).reverse());
  });

  it('falls back to reading by the word when a common word is only in old messages', async () => {
    const db = fresh();
    const read = countRowsRead(db, 'messages');
    const rows = Array.from({ length: 20_000 }, (_, i) =>
      makeMessage({ body: i < 8_000 ? 'lunch today' : `hello number ${i}`, sentAt: T0 - i }),
    );
    for (let i = 0; i < rows.length; i += 5_000) await addMessages(db, rows.slice(i, i + 5_000), clock);

    read.rows = 0;
    const found = await searchMessages(db, 'hello');
    expect(found.map((m) => m.id)).toEqual(rows.slice(8_000, 8_050).map((m) => m.id));
    // The capped walk (a quarter of the matches), then the 12,000 rows under the word; the
    // cursor under Dexie's offset() also delivers the row it opens on, once per page.
    expect(read.rows).toBeGreaterThanOrEqual(3_000 + 12_000);
    expect(read.rows).toBeLessThan(3_000 + 12_000 + 20);
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
