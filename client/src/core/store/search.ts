import Dexie, { type Collection } from 'dexie';
import type { ChatDatabase, MessageRow } from './db.ts';
import { MAX_QUERY_WORDS, MAX_WORDS_PER_MESSAGE, MAX_WORD_LENGTH, SEARCH_LIMIT } from './limits.ts';

/**
 * Accent-insensitive full-text search over the local history, served by the `*words`
 * multiEntry index: each message stores its folded words, and a query looks words up in
 * the index instead of scanning the table.
 *
 * Known limit: words are runs of letters and digits, so scripts written without spaces
 * (Chinese, Japanese, Thai) index a whole run as one word and match by prefix only.
 */

const WORD = /[\p{L}\p{N}]+/gu;

/**
 * Folds text so "Tìm KIẾM" and "tim kiem" compare equal: compatibility-decompose, lower
 * case, drop every combining mark, map đ to d (Vietnamese đ is a letter of its own, not
 * d plus a mark, so decomposition leaves it alone), then recompose.
 * Marks are stripped after lower-casing because lower-casing can add one (İ -> i + ̇).
 */
export function foldForSearch(text: string): string {
  return text
    .normalize('NFKD')
    .toLowerCase()
    .replace(/\p{M}+/gu, '')
    .replace(/đ/g, 'd')
    .normalize('NFKC');
}

function cutWord(word: string): string {
  if (word.length <= MAX_WORD_LENGTH) return word;
  // Cut by code point so a surrogate pair is never split.
  return Array.from(word).slice(0, MAX_WORD_LENGTH).join('');
}

/** The folded, unique words of a text, bounded in number and length (see limits.ts). */
export function tokenize(text: string, maxWords: number = MAX_WORDS_PER_MESSAGE): string[] {
  const words = new Set<string>();
  for (const match of foldForSearch(text).matchAll(WORD)) {
    if (words.size >= maxWords) break;
    words.add(cutWord(match[0]));
  }
  return [...words];
}

export interface ParsedQuery {
  /** Words that must appear whole. */
  exact: string[];
  /** The word being typed: matches any word starting with it. */
  prefix?: string;
}

/**
 * Splits a query into whole words and, when the query does not end in a space or
 * punctuation, a last word matched as a prefix (search as you type).
 */
export function parseQuery(query: string): ParsedQuery {
  const words = tokenize(query, MAX_QUERY_WORDS);
  const last = words.at(-1);
  const typingLastWord = /[\p{L}\p{N}\p{M}]$/u.test(query);
  if (last === undefined || !typingLastWord) return { exact: words };
  // A repeated word ("a b a") is already required whole; no extra prefix clause.
  const exact = words.slice(0, -1);
  return exact.includes(last) ? { exact } : { exact, prefix: last };
}

interface Clause {
  word: string;
  prefix: boolean;
}

function clausesOf(query: ParsedQuery): Clause[] {
  const clauses = query.exact.map((word) => ({ word, prefix: false }));
  if (query.prefix !== undefined) clauses.push({ word: query.prefix, prefix: true });
  return clauses;
}

/**
 * A plain key range of the words index. For a prefix, one message with two words sharing
 * it is under the range twice: readers drop the repeat themselves, since Dexie's
 * distinct() (like filter()) would turn one getAll into a cursor step per row.
 */
function selectClause(db: ChatDatabase, clause: Clause) {
  const where = db.messages.where('words');
  return clause.prefix ? where.startsWith(clause.word) : where.equals(clause.word);
}

function countClause(db: ChatDatabase, clause: Clause): Promise<number> {
  // A plain key range count touches index keys only, never the rows. For a prefix it
  // counts index entries, which over-counts slightly; it is only used to pick the rarest.
  return selectClause(db, clause).count();
}

function matchesClause(words: readonly string[], clause: Clause): boolean {
  return clause.prefix ? words.some((w) => w.startsWith(clause.word)) : words.includes(clause.word);
}

/**
 * Reading newest first costs about `limit × rows ÷ matches` rows, read by a reverse cursor
 * in pages: in Chromium 3 to 6 times the cost per row of one getAll under the word
 * (tests/bench/history.ts).
 */
const WALK_COST = 4;

/**
 * The first `limit` rows of `newest()` (a time-ordered index, read in reverse) that pass
 * `keep`, reading pages that double in size so a dense word stops after a few rows.
 * Undefined once `maxRows` are read without filling `limit`: the matches are bunched in
 * older messages, and the caller reads them by the word instead.
 */
async function newestMatching(
  newest: () => Collection<MessageRow, string, unknown>,
  keep: (m: MessageRow) => boolean,
  limit: number,
  maxRows: number,
): Promise<MessageRow[] | undefined> {
  const found: MessageRow[] = [];
  let read = 0;
  for (let page = 2 * limit; found.length < limit; page *= 2) {
    if (read >= maxRows) return undefined;
    const want = Math.min(page, maxRows - read);
    // A fresh collection each time: Dexie's reverse/offset/limit change the one they are called on.
    const rows = await newest().reverse().offset(read).limit(want).toArray();
    read += rows.length;
    for (const m of rows) if (keep(m) && found.push(m) === limit) break;
    if (rows.length < want) break;
  }
  return found;
}

export interface SearchOptions {
  room?: string;
  limit?: number;
}

/**
 * Messages matching every word of the query, newest first.
 * Reads only the rows under the rarest query word in the index (counted first from the
 * index keys), then checks the other words on those rows: never a table scan. When even
 * the rarest word is in a large share of the messages (a common word, or the first
 * letter typed), reading all of its rows to keep the newest `limit` costs far more than
 * reading the newest rows until `limit` of them match, so that is done instead.
 */
export async function searchMessages(
  db: ChatDatabase,
  query: string,
  { room, limit = SEARCH_LIMIT }: SearchOptions = {},
): Promise<MessageRow[]> {
  const clauses = clausesOf(parseQuery(query));
  if (clauses.length === 0 || limit <= 0) return [];

  return db.transaction('r', db.messages, async () => {
    const counts = await Promise.all(clauses.map((c) => countClause(db, c)));
    let rarest = 0;
    counts.forEach((n, i) => {
      if (n < (counts[rarest] ?? Infinity)) rarest = i;
    });
    if (counts[rarest] === 0) return [];
    const driver = clauses[rarest] as Clause;
    const others = clauses.filter((_, i) => i !== rarest);

    // Ids are random, so the words index gives no time order; the time indexes do.
    const newest = () =>
      room === undefined
        ? db.messages.orderBy('sentAt')
        : db.messages.where('[room+sentAt]').between([room, Dexie.minKey], [room, Dexie.maxKey], true, true);
    // Counting index keys reads no row; a rare word cannot pay off the walk, so it skips even that.
    const matches = counts[rarest] ?? 0;
    if (matches > WALK_COST * limit && matches * matches > WALK_COST * limit * (await newest().count())) {
      // Same order as the sort below: the index breaks sentAt ties by primary key. Capped
      // so that when the guess is wrong the search costs at most 2× reading by the word.
      const keep = (m: MessageRow) => clauses.every((c) => matchesClause(m.words, c));
      const found = await newestMatching(newest, keep, limit, Math.ceil(matches / WALK_COST));
      if (found) return found;
    }

    const seen = new Set<string>();
    const rows = (await selectClause(db, driver).toArray()).filter((m) => {
      if (seen.has(m.id)) return false;
      seen.add(m.id);
      return (room === undefined || m.room === room) && others.every((c) => matchesClause(m.words, c));
    });
    rows.sort((a, b) => b.sentAt - a.sentAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    return rows.slice(0, limit);
  });
}

/** A half-open range [start, end) of UTF-16 offsets into the original text. */
export type HighlightRange = [start: number, end: number];

/**
 * Where the query matches in the ORIGINAL text, with the same rules as the search
 * (whole words, the last word by prefix), so the UI can wrap those slices in <mark>
 * while rendering everything as text, never as HTML.
 */
export function highlightRanges(text: string, query: string): HighlightRange[] {
  const parsed = parseQuery(query);
  const exact = new Set(parsed.exact);
  const prefix = parsed.prefix;
  if (exact.size === 0 && prefix === undefined) return [];

  // Fold cluster by cluster (a base character with its marks) and remember, for every
  // folded UTF-16 unit, the original cluster it came from.
  let folded = '';
  const originStart: number[] = [];
  const originEnd: number[] = [];
  for (const cluster of text.matchAll(/\P{M}\p{M}*|\p{M}+/gu)) {
    const start = cluster.index;
    const end = start + cluster[0].length;
    const piece = foldForSearch(cluster[0]);
    folded += piece;
    for (let i = 0; i < piece.length; i++) {
      originStart.push(start);
      originEnd.push(end);
    }
  }

  const ranges: HighlightRange[] = [];
  for (const match of folded.matchAll(WORD)) {
    const word = cutWord(match[0]);
    let length = 0;
    if (exact.has(word)) length = match[0].length;
    else if (prefix !== undefined && word.startsWith(prefix)) length = prefix.length;
    if (length === 0) continue;
    const start = originStart[match.index];
    const end = originEnd[match.index + length - 1];
    if (start === undefined || end === undefined) continue;
    const previous = ranges.at(-1);
    if (previous && previous[1] >= start) previous[1] = Math.max(previous[1], end);
    else ranges.push([start, end]);
  }
  return ranges;
}
